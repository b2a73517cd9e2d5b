"""Go modules for tests: a file:// module proxy on disk and a git repository of a module
with two revisions whose diff in the compiler's decisions is known.

The proxy layout is the GOPROXY protocol's (https://go.dev/ref/mod#goproxy-protocol):
``<module>/@v/list``, ``<version>.info``, ``<version>.mod``, ``<version>.zip`` whose
entries are ``<module>@<version>/<file>``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

# Two modules the shop imports through the proxy: dep requires util.
PROXY_MODULES: dict[str, dict[str, str]] = {
    "example.test/util@v1.2.0": {
        "go.mod": "module example.test/util\n\ngo 1.21\n",
        "util.go": "package util\n\n// Clamp is small: inlinable into other modules.\nfunc Clamp(x, lo, hi int) int {\n"
        "\tif x < lo {\n\t\treturn lo\n\t}\n\tif x > hi {\n\t\treturn hi\n\t}\n\treturn x\n}\n",
        # a function in assembly (amd64; generic Go elsewhere), as x/sys and x/crypto have
        "add_amd64.go": "package util\n\n// Add is written in assembly.\nfunc Add(a, b int) int\n",
        "add_amd64.s": '#include "textflag.h"\n\nTEXT \u00b7Add(SB), NOSPLIT, $0-24\n\tMOVQ a+0(FP), AX\n'
        "\tADDQ b+8(FP), AX\n\tMOVQ AX, ret+16(FP)\n\tRET\n",
        "add_other.go": "//go:build !amd64\n\npackage util\n\nfunc Add(a, b int) int { return a + b }\n",
    },
    "example.test/dep@v1.0.0": {
        "go.mod": "module example.test/dep\n\ngo 1.21\n\nrequire example.test/util v1.2.0\n",
        "dep.go": 'package dep\n\nimport "example.test/util"\n\n// Max is inlinable.\nfunc Max(a, b int) int {\n'
        "\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n\n"
        "// Percent uses util across modules.\nfunc Percent(x int) int { return util.Clamp(util.Add(x, 0), 0, 100) }\n",
    },
}


def world_readable_dir(prefix: str) -> Path:
    """A temporary directory the sandbox's user (nobody, when the tests run as root) can read."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def make_proxy(root: Path, modules: dict[str, dict[str, str]] = PROXY_MODULES) -> str:
    """Write a file:// proxy of ``modules`` ("path@version" -> files) under ``root``; its GOPROXY value."""
    versions: dict[str, list[str]] = {}
    for name, files in modules.items():
        path, version = name.split("@")
        vdir = root / path / "@v"
        vdir.mkdir(parents=True, exist_ok=True)
        versions.setdefault(path, []).append(version)
        (vdir / f"{version}.info").write_text(json.dumps({"Version": version, "Time": "2026-01-02T03:04:05Z"}))
        (vdir / f"{version}.mod").write_text(files["go.mod"])
        with zipfile.ZipFile(vdir / f"{version}.zip", "w") as z:
            for file, text in files.items():
                z.writestr(f"{path}@{version}/{file}", text)
    for path, vs in versions.items():
        (root / path / "@v" / "list").write_text("\n".join(vs) + "\n")
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    return f"file://{root}"


def proxy_env(proxy: str, modcache: Path) -> dict[str, str]:
    """The go command's settings for the fake modules: through the proxy, no checksum database."""
    return {"GOPROXY": proxy, "GONOSUMDB": "example.test", "GOMODCACHE": str(modcache), "GOFLAGS": "-mod=mod"}


def worker_proxy_env(proxy: str, modcache: Path) -> dict[str, str]:
    """A worker's settings (worker/modules.py FetchConfig.from_env) for the fake modules."""
    return {"EXPLORER_GOPROXY": proxy, "EXPLORER_GONOSUMDB": "example.test", "EXPLORER_GOMODCACHE": str(modcache)}


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_tree(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text)


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    write_tree(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def init_repo(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")


def go_mod_tidy(go: Path, moddir: Path, env: dict[str, str]) -> None:
    """go.sum of the module, as a team commits it (the real go command, through the proxy)."""
    scratch = Path(tempfile.mkdtemp(prefix="ee-tidy-"))
    full = {
        "PATH": f"{go.parent}:/usr/bin:/bin",
        "HOME": str(scratch),
        "GOCACHE": str(scratch / "cache"),
        "GOPATH": str(scratch / "gopath"),
        "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off",
        **env,
    }
    subprocess.run([str(go), "mod", "tidy"], cwd=moddir, env=full, check=True, capture_output=True)


# --- the shop: a module with two revisions whose diff is known ---------------------------

GO_MOD = "module example.test/shop\n\ngo 1.22\n\nrequire example.test/dep v1.0.0\n\nrequire example.test/util v1.2.0 // indirect\n"

BASE = {
    "go.mod": GO_MOD,
    # alpha: gains a heap escape (a pointer to a local is returned)
    "alpha/alpha.go": 'package alpha\n\nimport "example.test/dep"\n\ntype Counter struct{ N [4]int }\n\n'
    "func NewCounter(n int) Counter {\n\tc := Counter{}\n\tc.N[0] = dep.Max(n, 0)\n\treturn c\n}\n",
    # beta: Small stops being inlinable (a loop and more), so Use loses an inlined call
    "beta/beta.go": "package beta\n\nfunc Small(x int) int { return x + 1 }\n\nfunc Use(x int) int { return Small(x) * 2 }\n",
    # gamma: First loses its bounds check (a length check before the index)
    "gamma/gamma.go": "package gamma\n\nfunc First(s []int) int {\n\treturn s[0]\n}\n",
    # delta and epsilon do not change (epsilon imports a module through the proxy)
    "delta/delta.go": "package delta\n\nfunc Twice(x int) int { return 2 * x }\n",
    "epsilon/epsilon.go": 'package epsilon\n\nimport "example.test/dep"\n\nfunc Score(x int) int { return dep.Percent(x) }\n',
    "cmd/shop/main.go": 'package main\n\nimport (\n\t"fmt"\n\n\t"example.test/shop/delta"\n)\n\n'
    "func main() { fmt.Println(delta.Twice(2)) }\n",
}

HEAD = {
    "alpha/alpha.go": 'package alpha\n\nimport "example.test/dep"\n\ntype Counter struct{ N [4]int }\n\n'
    "var last *Counter\n\n"
    "func NewCounter(n int) Counter {\n\tc := Counter{}\n\tc.N[0] = dep.Max(n, 0)\n\tlast = &c\n\treturn c\n}\n",
    "beta/beta.go": "package beta\n\nfunc Small(x int) int {\n\tfor i := 0; i < 8; i++ {\n"
    + "".join(f"\t\tx = x*{k} + i\n\t\tx ^= x >> {k % 7 + 1}\n" for k in range(3, 12))
    + "\t}\n\treturn x + 1\n}\n\nfunc Use(x int) int { return Small(x) * 2 }\n",
    "gamma/gamma.go": "package gamma\n\nfunc First(s []int) int {\n\tif len(s) == 0 {\n\t\treturn 0\n\t}\n\treturn s[0]\n}\n",
}


def make_shop(repo: Path, go: Path, proxy: str, modcache: Path) -> tuple[str, str]:
    """The shop's git repository: (base commit, head commit)."""
    init_repo(repo)
    write_tree(repo, BASE)
    go_mod_tidy(go, repo, proxy_env(proxy, modcache))
    base = commit(repo, {}, "base")
    head = commit(repo, HEAD, "head: an escape in alpha, a lost inline in beta, a bounds check gone in gamma")
    return base, head


def readable(path: Path) -> None:
    """Make a tree readable by all (the sandbox's user)."""
    for dirpath, _, filenames in os.walk(path):
        os.chmod(dirpath, os.stat(dirpath).st_mode | stat.S_IROTH | stat.S_IXOTH)
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chmod(p, os.stat(p).st_mode | stat.S_IROTH)
