"""Regenerate the captured compiler output of tests/test_directives.py's unit tests.

Usage (from the repository root)::

    .venv/bin/python tests/data/directives/capture.py

Compiles ``main.go`` here with the engine (worker/compiler.py: the same flags and sandbox
as every request) under each toolchain of VERSIONS and writes the compiler's own combined
output (``Analysis.raw_output``: diagnostics and the -S=2 listing, sandbox paths already
cut) to ``<version>.txt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from worker.analysis import SourceFile  # noqa: E402
from worker.compiler import CompileRequest, compile_request  # noqa: E402

VERSIONS = ("1.21.13", "1.27.3")


def main() -> None:
    files = [SourceFile("main.go", (HERE / "main.go").read_text())]
    for version in VERSIONS:
        analysis = compile_request(CompileRequest(files, go=version))
        assert analysis.status == "ok", analysis.errors
        (HERE / f"{version}.txt").write_text(analysis.raw_output)
        print(version, len(analysis.raw_output), "characters")


if __name__ == "__main__":
    main()
