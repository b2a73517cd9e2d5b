"""python -m worker.review_cli, locally (the real compiler through worker.compiler)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO, ROOT
from worker.review_cli import EXIT_ERROR, EXIT_NEW_HEAP, EXIT_OK, main

BEFORE = """package main

type T struct{ a, b int }

//go:noinline
func newT() T {
	t := T{1, 2}
	return t
}

func main() { println(newT().a) }
"""
AFTER = BEFORE.replace("func newT() T {", "func newT() *T {").replace("return t\n", "return &t\n")


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "before.go").write_text(BEFORE)
    (tmp_path / "after.go").write_text(AFTER)
    return tmp_path / "before.go", tmp_path / "after.go"


def test_text_diff_of_two_files(pair, capsys):
    assert main([str(p) for p in pair]) == EXIT_OK
    out = capsys.readouterr().out
    assert "+1 heap allocation in newT" in out
    assert "+ main.go:7" in out and "moved to heap: t" in out


def test_fail_on_new_heap_is_opt_in(pair, capsys):
    assert main([*map(str, pair), "--fail-on-new-heap"]) == EXIT_NEW_HEAP
    assert "1 new heap allocation" in capsys.readouterr().err
    before, after = pair
    assert main([str(after), str(before), "--fail-on-new-heap"]) == EXIT_OK, "a removed allocation passes"


def test_json_output_lists_added_and_removed(pair, capsys):
    main([*map(str, pair), "--format", "json"])
    payload = json.loads(capsys.readouterr().out)
    assert [(d["kind"], d["function"], d["line"]) for d in payload["added"] if d["group"] == "heap"] == [
        ("moved-to-heap", "main.newT", 7)
    ]
    assert payload["removed"] == [] or all(d["group"] != "heap" for d in payload["removed"])
    assert payload["summary"]["heap_added"] == 1


def test_markdown_output_is_a_pr_comment(pair, capsys):
    main([*map(str, pair), "--format", "markdown"])
    out = capsys.readouterr().out
    assert out.startswith("### ") and "| ➕ | `moved to heap: t` | `newT` | main.go:7 |" in out


def test_two_package_directories_at_two_revisions(tmp_path, capsys):
    for rev, text in (("old", BEFORE), ("new", AFTER)):
        pkg = tmp_path / rev / "pkg"
        pkg.mkdir(parents=True)
        (pkg / "t.go").write_text(text.replace("func main() { println(newT().a) }\n", ""))
        (pkg / "use.go").write_text("package main\n\nfunc main() { println(newT().a) }\n")
        (pkg / "t_test.go").write_text("package main\n\nthis is skipped\n")
    assert main([str(tmp_path / "old" / "pkg"), str(tmp_path / "new" / "pkg"), "--fail-on-new-heap"]) == EXIT_NEW_HEAP
    assert "+ t.go:7" in capsys.readouterr().out


def test_one_program_under_two_go_versions(pair, capsys):
    before, _ = pair
    assert main([str(before), str(before), "--go", OLDEST_GO, "--go", NEWEST_GO]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"before: Go {OLDEST_GO}" in out and f"after:  Go {NEWEST_GO}" in out


def test_bad_input_exits_2(tmp_path, pair, capsys):
    assert main([str(tmp_path / "missing.go"), str(pair[1])]) == EXIT_ERROR
    assert "neither a file nor a directory" in capsys.readouterr().err
    broken = tmp_path / "broken.go"
    broken.write_text("package main\n\nfunc main() { undefined() }\n")
    assert main([str(pair[0]), str(broken)]) == EXIT_ERROR
    assert "did not compile" in capsys.readouterr().err


def test_runs_as_a_module():
    before = ROOT / "explorer" / "examples" / "01-return-address.go"
    proc = subprocess.run(
        [sys.executable, "-m", "worker.review_cli", str(before), str(before)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "No change in the compiler's decisions." in proc.stdout
