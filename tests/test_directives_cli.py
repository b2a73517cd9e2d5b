"""//gcassert: directives from the command line, with the real compiler: ``python -m worker
--check-directives`` and ``python -m worker.review_cli … --check-directives`` (exit codes,
text, JSON, Markdown)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO, ROOT
from worker.review_cli import EXIT_DIRECTIVE_VIOLATED, EXIT_ERROR, EXIT_OK, main

HOLDING = """package main

func small(x int) int { return x + 1 }

func sum(xs []int) int {
	t := 0
	for i := range xs {
		t += xs[i] //gcassert:bce
	}
	return t
}

func main() {
	//gcassert:inline,noalloc
	a := small(1)
	println(a, sum([]int{1, 2}))
}
"""
# The same program, with a bounds check the compiler keeps under a directive.
VIOLATING = HOLDING.replace("\treturn t\n", "\t//gcassert:bce\n\tt += xs[3]\n\treturn t\n")
BROKEN = "package main\n\nfunc main() {\n\tundefined() //gcassert:inline\n}\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, text in (("holding", HOLDING), ("violating", VIOLATING), ("broken", BROKEN)):
        paths[name] = tmp_path / f"{name}.go"
        paths[name].write_text(text)
    return paths


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("go", [OLDEST_GO, NEWEST_GO])
def test_engine_cli_exit_codes(files, go):
    held = run_module("worker", str(files["holding"]), "--go", go, "--check-directives")
    assert held.returncode == 0, held.stdout + held.stderr
    lines = held.stdout.splitlines()
    assert lines == [
        "main.go:8: //gcassert:bce held: no bounds check left on this line (check_bce reported none).",
        "main.go:15: //gcassert:inline held: inlining call to small",
        "main.go:15: //gcassert:noalloc held: no heap allocation on this line: "
        "no escape to the heap and no allocating runtime call.",
    ]
    violated = run_module("worker", str(files["violating"]), "--go", go, "--check-directives")
    assert violated.returncode == 1
    assert "main.go:11: //gcassert:bce VIOLATED: Found IsInBounds (column 9)" in violated.stdout
    broken = run_module("worker", str(files["broken"]), "--go", go, "--check-directives")
    assert broken.returncode == 1 and "did not compile" in broken.stderr
    assert "undecided: the program did not compile" in broken.stdout


def test_engine_cli_json_carries_the_directives(files):
    proc = run_module("worker", str(files["violating"]))
    assert proc.returncode == 0
    results = json.loads(proc.stdout)["directives"]
    assert [(r["line"], r["directive"], r["held"]) for r in results] == [
        (8, "bce", True),
        (11, "bce", False),
        (17, "inline", True),
        (17, "noalloc", True),
    ]
    assert set(results[0]) >= {"file", "line", "directive", "held", "reason"}


def test_review_cli_reports_violations_and_exits_1(files, capsys):
    code = main([str(files["holding"]), str(files["violating"]), "--check-directives"])
    captured = capsys.readouterr()
    assert code == EXIT_DIRECTIVE_VIOLATED == 1
    assert "main.go:11: //gcassert:bce VIOLATED: Found IsInBounds (column 9)" in captured.out
    assert "gcassert: 4 directives: 3 held, 1 violated, 0 undecided" in captured.out
    assert "1 //gcassert: directive(s) violated" in captured.err


def test_review_cli_passes_when_every_directive_holds(files, capsys):
    assert main([str(files["violating"]), str(files["holding"]), "--check-directives"]) == EXIT_OK
    assert "gcassert: 3 directives: 3 held, 0 violated, 0 undecided" in capsys.readouterr().out
    # without the option, directives are not checked: the same violating side passes
    assert main([str(files["holding"]), str(files["violating"])]) == EXIT_OK
    assert "gcassert" not in capsys.readouterr().out


def test_review_cli_json_and_markdown(files, capsys):
    main([str(files["holding"]), str(files["violating"]), "--check-directives", "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert [(r["line"], r["status"]) for r in payload["directives"]] == [
        (8, "held"),
        (11, "violated"),
        (17, "held"),
        (17, "held"),
    ]
    assert payload["directives"][1]["reason"] == "Found IsInBounds (column 9)"
    main([str(files["holding"]), str(files["violating"]), "--check-directives", "--format", "markdown"])
    markdown = capsys.readouterr().out
    assert "### //gcassert: directives" in markdown
    assert "| ✗ | main.go:11 | bce | Found IsInBounds \\(column 9\\) |" in markdown


def test_review_cli_side_that_does_not_compile_exits_2(files, capsys):
    assert main([str(files["holding"]), str(files["broken"]), "--check-directives"]) == EXIT_ERROR
    assert "did not compile" in capsys.readouterr().err


def test_review_cli_as_a_module():
    proc = run_module(
        "worker.review_cli",
        str(ROOT / "tests" / "data" / "directives" / "main.go"),
        str(ROOT / "tests" / "data" / "directives" / "main.go"),
        "--check-directives",
    )
    assert proc.returncode == 1, proc.stderr
    assert "main.go:71: //gcassert:inline VIOLATED: cannot inline big: function too complex" in proc.stdout
    assert "main.go:74: //gcassert:frobnicate UNKNOWN" in proc.stdout
