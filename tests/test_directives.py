"""//gcassert: directives (worker/directives.py), decided from the compiler's output.

* Unit tests on captured real compiler output (tests/data/directives: main.go compiled by
  the engine under go1.21.13 and go1.27.3, see capture.py): every directive there, held,
  violated, undecided and unknown, in both placements.
* The finder on its own: placement, comma lists, comments inside strings, the end of file.
* The engine with the real toolchains: the same program, and a function with several calls
  one of which is not inlined (its caller is "big").
* The reports: text, Markdown (user text escaped), SARIF (validated against the schema).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import go_versions_under_test
from worker import directive_report, directives
from worker.analysis import Analysis, SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.parse import parse_compiler_output
from worker.sarif import to_sarif

DATA = Path(__file__).parent / "data" / "directives"
SOURCE = (DATA / "main.go").read_text()
VERSIONS = ("1.21.13", "1.27.3")
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-schema.json").read_text())

# (line it is about, directive) -> status, for tests/data/directives/main.go
EXPECTED = {
    (25, "inline"): "held",  # on func helper: both calls inlined
    (30, "inline"): "undecided",  # on func unused: never called
    (35, "bce"): "held",  # trailing, t += xs[i] in a range loop
    (38, "bce"): "violated",  # above, t += xs[5]
    (44, "noescape"): "violated",  # above, t := T{1, 2}; return &t
    (49, "noescape"): "held",  # trailing, t := T{1, 2}; p := &t; return p.a
    (55, "noalloc"): "violated",  # return make([]int, n)
    (59, "noalloc"): "held",  # b := make([]int, 8) that stays on the stack
    (64, "bce"): "undecided",  # in a generic function never instantiated
    (68, "inline"): "held",  # a := small(1)
    (71, "inline"): "violated",  # above, past a blank line: b := big(2)
    (74, "frobnicate"): "unknown",
    (75, "noalloc"): "violated",  # "// gcassert:" with a space; fmt.Println("<img …>")
}


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), start=1) if needle in line)


def captured_analysis(version: str) -> Analysis:
    """The analysis the engine builds from the captured output (no optimization log)."""
    files = [SourceFile("main.go", SOURCE)]
    parsed = parse_compiler_output((DATA / f"{version}.txt").read_text(), ["main.go"], exit_code=0, package="main")
    return Analysis(
        go=version,
        goarch="amd64",
        lang="go1." + version.split(".")[1],
        files=files,
        diagnostics=parsed.diagnostics,
        functions=parsed.functions,
    )


def by_key(results) -> dict:
    return {(r.line, r.directive): r for r in results}


def test_the_expected_lines_are_the_ones_in_the_program():
    """EXPECTED names lines of main.go: a guard against editing the program without it."""
    assert line_of(SOURCE, "func helper") == 25 and line_of(SOURCE, "func unused") == 30
    assert line_of(SOURCE, "t += xs[5]") == 38 and line_of(SOURCE, "b := big(2)") == 71
    assert line_of(SOURCE, "onerror") == 75


@pytest.mark.parametrize("version", VERSIONS)
def test_every_directive_of_the_captured_program(version):
    results = directives.check(captured_analysis(version))
    assert {(r.line, r.directive): r.status for r in results} == EXPECTED
    for r in results:
        assert r.held is {"held": True, "violated": False}.get(r.status)
        assert r.reason


@pytest.mark.parametrize("version", VERSIONS)
def test_violations_carry_the_compilers_own_message(version):
    results = by_key(directives.check(captured_analysis(version)))
    assert results[(38, "bce")].reason == "Found IsInBounds (column 9)"
    noescape = results[(44, "noescape")].reason
    assert noescape.startswith("moved to heap: t (t escapes to heap")
    assert "from &t (address-of) at main.go:45:9" in noescape  # the -m=2 flow
    assert results[(71, "inline")].reason == "cannot inline big: function too complex: cost 203 exceeds budget 80"
    noalloc = results[(55, "noalloc")].reason
    assert "runtime.makeslice call (heap allocation)" in noalloc and "make([]int, n) escapes to heap" in noalloc
    assert results[(75, "noalloc")].reason.startswith('"<img src=x onerror=alert(1)>" escapes to heap')
    assert "frobnicate" in results[(74, "frobnicate")].reason


@pytest.mark.parametrize("version", VERSIONS)
def test_held_directives_say_why(version):
    results = by_key(directives.check(captured_analysis(version)))
    helper = results[(25, "inline")]
    assert helper.target == "function" and helper.function == "helper"
    assert [(s.line, s.column, s.inlined) for s in helper.sites] == [(72, 13, True), (72, 25, True)]
    assert "every call of helper is inlined (2: main.go:72:13, main.go:72:25)" in helper.reason
    assert results[(68, "inline")].reason == "inlining call to small"
    assert results[(30, "inline")].reason.startswith("unused is never called")
    assert "no code" in results[(64, "bce")].reason


def test_placement_on_the_line_or_above_it():
    results = by_key(directives.check(captured_analysis("1.27.3")))
    assert results[(35, "bce")].comment_line == 35  # trailing
    assert results[(38, "bce")].comment_line == 37  # the line above
    assert results[(71, "inline")].comment_line == 69  # above, past a blank line
    assert results[(30, "inline")].comment_line == 29  # the last line of a doc comment


def test_a_directive_is_undecided_when_its_diagnostics_were_not_collected():
    analysis = captured_analysis("1.27.3")
    results = by_key(directives.check(analysis, groups=("escape", "inline", "wb", "nil", "loopvar", "asm")))
    assert results[(38, "bce")].status == "undecided" and "bce" in results[(38, "bce")].reason
    results = by_key(directives.check(analysis, groups=("inline", "bce")))
    assert results[(44, "noescape")].status == "undecided"
    assert results[(55, "noalloc")].status == "undecided"


def test_without_the_assembly_inline_is_still_decided_from_the_declarations_reason():
    analysis = captured_analysis("1.27.3")
    analysis.functions = []
    results = by_key(directives.check(analysis, groups=("escape", "inline", "bce")))
    assert results[(71, "inline")].reason == "cannot inline big: function too complex: cost 203 exceeds budget 80"
    assert results[(59, "noalloc")].status == "held" and "runtime calls not checked" in results[(59, "noalloc")].reason
    assert results[(64, "bce")].status == "held"  # nothing says its function was never compiled


def test_a_program_that_did_not_compile_decides_nothing():
    analysis = captured_analysis("1.27.3")
    analysis.status = "compile-error"
    statuses = {r.status for r in directives.check(analysis)}
    assert statuses == {"undecided", "unknown"}


def test_the_finder():
    text = (
        "package main\n"
        "\n"
        "func f(xs []int) int {\n"  # 3
        '\ts := "//gcassert:bce in a string"\n'  # 4: not a comment
        "\t/* //gcassert:bce in a block comment */\n"  # 5: not a // comment
        "\t//gcassert:bce,noalloc\n"  # 6
        "\t// another comment\n"  # 7
        "\n"  # 8
        "\treturn xs[0] + len(s) // gcassert:inline\n"  # 9: trailing, with a space
        "}\n"  # 10
        "\n"
        "//gcassert:inline\n"  # 12
        "func (r *T[K]) Get() int { return 0 }\n"  # 13
        "// see gcassert:bce\n"  # 14: not at the comment's start
        "//gcassert:noescape\n"  # 15: nothing follows
    )
    found = directives.find([SourceFile("main.go", text)])
    assert [(f.comment_line, f.line, f.names) for f in found] == [
        (6, 9, ("bce", "noalloc")),
        (9, 9, ("inline",)),
        (12, 13, ("inline",)),
        (15, 0, ("noescape",)),
    ]
    assert found[2].declaration == ("T", "Get") and found[0].declaration is None


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("big", ("", "big")),
        ("(*T).Get", ("T", "Get")),
        ("T.Val", ("T", "Val")),
        ("Map[go.shape.int]", ("", "Map")),
        ("main.(*T).Get", ("T", "Get")),
        ("main.Pair[go.shape.int,go.shape.string].Swap", ("Pair", "Swap")),
        ("fmt.Println", ("fmt", "Println")),
    ],
)
def test_function_keys(name, key):
    assert directives.function_key(name, "main") == key


def test_results_round_trip_through_the_analysis_json():
    analysis = captured_analysis("1.27.3")
    analysis.directives = directives.check(analysis)
    again = Analysis.from_dict(json.loads(json.dumps(analysis.to_dict())))
    assert again.directives == analysis.directives
    assert again.directives[0].sites[0].inlined is True


def test_text_and_markdown_reports_escape_user_text():
    analysis = captured_analysis("1.27.3")
    results = directives.check(analysis)
    text = directive_report.render_text(results)
    assert "main.go:71: //gcassert:inline VIOLATED: cannot inline big" in text
    assert "gcassert: 13 directives: 5 held, 6 violated, 2 undecided" in text
    assert "main.go:68" not in text  # held ones only counted
    markdown = directive_report.render_markdown(results)
    assert "\\<img src=x onerror=alert\\(1\\)\\>" in markdown
    assert "<img" not in markdown.replace("\\<img", "")  # every < is escaped
    assert "| ✗ | main.go:38 | bce | Found IsInBounds \\(column 9\\) |" in markdown


def test_sarif_has_a_rule_per_directive_and_validates():
    analysis = captured_analysis("1.27.3")
    analysis.directives = directives.check(analysis)
    log = to_sarif(analysis)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {"gcassert/inline", "gcassert/bce", "gcassert/noescape", "gcassert/noalloc", "gcassert/unknown"} <= set(
        rules
    )
    gcassert = [r for r in run["results"] if r["ruleId"].startswith("gcassert/")]
    assert len(gcassert) == 13
    for r in gcassert:
        assert rules[r["ruleIndex"]] == r["ruleId"]
    bce = next(r for r in gcassert if r["ruleId"] == "gcassert/bce" and r["kind"] == "fail")
    assert bce["level"] == "error" and bce["locations"][0]["physicalLocation"]["region"]["startLine"] == 38
    assert "Found IsInBounds" in bce["message"]["text"]
    assert {r["kind"] for r in gcassert} == {"pass", "fail", "open"}
    assert all(r["level"] == "none" for r in gcassert if r["kind"] != "fail")


# --- the engine, with the real toolchains ------------------------------------------------


@pytest.mark.parametrize("go", go_versions_under_test())
def test_the_engine_decides_the_programs_directives(go):
    analysis = compile_request(CompileRequest([SourceFile("main.go", SOURCE)], go=go))
    assert analysis.status == "ok", analysis.errors
    assert {(r.line, r.directive): r.status for r in analysis.directives} == EXPECTED


def big_caller_program() -> str:
    """medium (cost 30) is inlined into small callers, but not into huge: with 700
    statements huge is "big", and a big function may only inline callees of cost <= 20."""
    body = "\n".join(f"\tsink += x*{i} + (x>>{i % 7}) - x/{i + 1}" for i in range(700))
    return (
        "package main\n\nvar sink int\n\n"
        "//gcassert:inline\n"
        "func medium(x int) int {\n\ts := x * 3\n\ts += x / 7\n\ts ^= x << 2\n\ts += x % 5\n\treturn s + x*x - 1\n}\n\n"
        "func small() int {\n\treturn medium(4)\n}\n\n"
        f"func huge(x int) {{\n{body}\n\tsink += medium(x) //gcassert:inline\n}}\n\n"
        "func main() {\n\tsink = small()\n\thuge(3)\n}\n"
    )


@pytest.mark.parametrize("go", go_versions_under_test())
def test_inline_on_a_function_with_several_calls_one_of_which_is_not_inlined(go):
    source = big_caller_program()
    analysis = compile_request(CompileRequest([SourceFile("main.go", source)], go=go))
    assert analysis.status == "ok", analysis.errors
    huge_call = line_of(source, "sink += medium(x)")
    on_func = next(r for r in analysis.directives if r.target == "function")
    assert on_func.line == line_of(source, "func medium") and on_func.status == "violated"
    assert [(s.line, s.inlined) for s in on_func.sites] == [
        (line_of(source, "return medium(4)"), True),
        (huge_call, False),
        (line_of(source, "sink = small()"), True),  # medium inlined into small, inlined here
    ]
    why = "cost 30 of main.medium exceeds max caller cost 20"
    assert on_func.reason == f"call at main.go:{huge_call}:16 not inlined: {why}"
    on_call = next(r for r in analysis.directives if r.target == "line")
    assert on_call.line == huge_call and on_call.status == "violated" and on_call.reason == why


def test_hostile_directive_names_are_cut_and_counted():
    text = "package main\n\nfunc main() {\n\t//gcassert:" + ",".join(["x" * 5000] * 50) + "\n\tprintln()\n}\n"
    found = directives.find([SourceFile("main.go", text)])
    assert len(found[0].names) == directives.MAX_PER_COMMENT
    assert all(len(n) == directives.MAX_NAME for n in found[0].names)
