"""Decisions the compiler prints without a position are shown and exported, not lost."""

from explorer.render import build_view
from tests.test_sarif import validate
from worker.analysis import Analysis, Diagnostic, SourceFile
from worker.sarif import to_sarif

SOURCE = "package main\n\nfunc find() {}\n\nfunc main() {}\n"


def analysis_with_an_unplaced_capture() -> Analysis:
    # the shape the parser gives "find capturing by ref: #next (…)" (see test_parse_diagnostics)
    unplaced = Diagnostic(
        "",
        0,
        0,
        "closure-capture",
        "find capturing by ref: #next (addr=false assign=true width=8)",
        function="main.find",
        details={"subject": "#next", "by": "ref"},
    )
    placed = Diagnostic(
        "main.go", 3, 6, "can-inline", "can inline find with cost 2 as: func() {  }", function="main.find"
    )
    return Analysis(
        go="1.27.3",
        goarch="amd64",
        lang="go1.27",
        files=[SourceFile("main.go", SOURCE)],
        diagnostics=[placed, unplaced],
    )


def test_the_page_lists_decisions_without_a_position():
    view = build_view(analysis_with_an_unplaced_capture().to_dict(), [SourceFile("main.go", SOURCE)])
    assert [d["message"] for d in view["unplaced"]] == ["find capturing by ref: #next (addr=false assign=true width=8)"]
    assert sum(len(line.diagnostics) for f in view["files"] for line in f.lines) == 1


def test_sarif_gives_them_a_logical_location_only():
    sarif = to_sarif(analysis_with_an_unplaced_capture())
    validate(sarif)
    results = sarif["runs"][0]["results"]
    unplaced = next(r for r in results if r["ruleId"] == "closure-capture")
    assert unplaced["locations"] == [{"logicalLocations": [{"fullyQualifiedName": "main.find", "kind": "function"}]}]
    placed = next(r for r in results if r["ruleId"] == "can-inline")
    assert placed["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
