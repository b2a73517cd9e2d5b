"""Regenerate the compiler's own ssa.html pages used by tests/test_ssa_sanitize.py.

Usage (from the repository root)::

    .venv/bin/python tests/data/captured/ssa/capture.py            # every case
    .venv/bin/python tests/data/captured/ssa/capture.py 1.27.3     # one Go version

``payload.go`` puts HTML in a struct tag of a generic function's type argument; the
compiler prints that tag unescaped inside the shape type's name. Each page is made the
way the engine makes it (``worker.ssa.ssa_html``: the real compiler in the sandbox with
GOSSAFUNC), but saved BEFORE ``worker.ssa_sanitize.sanitize``: these files are the
compiler's raw output, hostile markup included. Never serve them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
sys.path.insert(0, str(REPO))

from worker import compiler, ssa, ssa_sanitize  # noqa: E402
from worker.analysis import SourceFile  # noqa: E402

# (Go version, function, file): the generic instantiation on the newest Go, and the
# smaller page of main (G inlined into it) on the oldest, whose page differs (1.21 prints
# "buildssa-enter <nil>" unescaped too).
CASES = (
    ("1.27.3", "main.G[main.S]", "go1.27.3-G.html"),
    ("1.21.13", "main.main", "go1.21.13-main.html"),
)


def capture(go: str, function: str, name: str) -> None:
    source = (HERE / "payload.go").read_text()
    request = compiler.CompileRequest(files=[SourceFile("main.go", source)], go=go)
    analysis = compiler.compile_request(request)
    functions = ssa.user_functions(analysis.functions, ["main.go"], "main")
    with mock.patch.object(ssa_sanitize, "sanitize", lambda page: page):
        page = ssa.ssa_html(request, function, functions)
    assert "<script>alert(document.domain)</script>" in page, f"{go} {function}: no raw payload"
    (HERE / name).write_text(page)
    meta = {"go": go, "function": function, "source": "payload.go", "bytes": len(page.encode())}
    (HERE / name).with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{go} {function}: {name}, {len(page)} characters")


def main(argv: list[str]) -> int:
    for go, function, name in CASES:
        if not argv or go in argv:
            capture(go, function, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
