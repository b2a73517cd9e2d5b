"""Regenerate the captured compiler outputs used by the parser tests.

Usage (from the repository root)::

    python3 tests/data/captured/capture.py            # every installed version in VERSIONS
    python3 tests/data/captured/capture.py 1.27.3     # one version

For each case directory under ``cases/`` (its ``*.go`` files are the package) and each
language version that makes sense for the toolchain, the compiler is run ONCE, exactly
as the engine runs it (``compile`` called directly, cwd = a temporary directory holding
the user's files, ``-trimpath "<dir>=>"``), and its combined stdout+stderr is written
to ``<goversion>/<case>.txt``; ``<goversion>/<case>.json`` records the argv (with the
temporary directory replaced by ``<dir>``) and the exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from worker import toolchains  # noqa: E402

VERSIONS = ("1.21.13", "1.27.3")
CASES_DIR = HERE / "cases"
# Cases compiled a second time with an older language version (suffix "-go1.21").
OLD_LANG_CASES = ("closure",)


def debug_flags(minor: int, lang_minor: int) -> str:
    """The -d flags: loopvar=2 only where per-iteration loop variables are the semantics.

    -d=loopvar=2 FORCES per-iteration loop variables (it is "1 + logging"), whatever
    -lang says, so passing it with -lang=go1.21 (or to a 1.21 toolchain) would change
    the program's meaning.
    """
    flags = ["wb", "ssa/check_bce/debug=1", "nil", "pctab=pctoinline"]
    if minor >= 22 and lang_minor >= 22:
        flags.append("loopvar=2")
    return ",".join(flags)


def compile_argv(tc: toolchains.Toolchain, workdir: Path, lang: str, files: list[str]) -> list[str]:
    lang_minor = int(lang.split(".")[1])
    return [
        str(tc.compile),
        "-p", "main",
        "-c=1",
        "-importcfg", str(tc.importcfg("amd64")),
        f"-lang={lang}",
        "-trimpath", f"{workdir}=>",
        "-m=2",
        f"-d={debug_flags(tc.minor, lang_minor)}",
        "-S=2",
        "-o", str(workdir / "out.o"),
        *files,
    ]  # fmt: skip


def capture(tc: toolchains.Toolchain, case: Path, lang: str, name: str) -> None:
    files = sorted(p.name for p in case.glob("*.go"))
    with tempfile.TemporaryDirectory(prefix="capture-") as tmp:
        workdir = Path(tmp)
        for f in files:
            shutil.copy(case / f, workdir / f)
        argv = compile_argv(tc, workdir, lang, files)
        env = {"GOROOT": str(tc.goroot), "PATH": os.environ.get("PATH", ""), "HOME": tmp}
        proc = subprocess.run(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.stdout.decode()
        assert tmp not in out, f"sandbox path leaked into {name}"
        shown = [a.replace(str(workdir), "<dir>").replace(str(tc.root), "<toolchain>") for a in argv]
    out_dir = HERE / tc.version
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"{name}.txt").write_text(out)
    meta = {"case": case.name, "files": files, "lang": lang, "argv": shown, "exit_code": proc.returncode}
    (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{tc.version} {name}: exit {proc.returncode}, {len(out.splitlines())} lines")


def main(argv: list[str]) -> int:
    versions = argv or list(VERSIONS)
    for version in versions:
        tc = toolchains.get(version)
        if tc is None:
            print(f"toolchain {version} not installed: python3 -m worker.toolchains install {version}")
            return 1
        for case in sorted(p for p in CASES_DIR.iterdir() if p.is_dir()):
            capture(tc, case, tc.lang, case.name)
            if case.name in OLD_LANG_CASES and tc.minor > 21:
                capture(tc, case, "go1.21", f"{case.name}-go1.21")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
