"""The diagnostics parser against real compiler output (tests/data/captured, see capture.py)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from worker.analysis import KINDS, Diagnostic
from worker.parse import ParsedOutput, diagnostic_lines, parse_compiler_output
from worker.parse.diagnostics import parse_diagnostics

CAPTURED = Path(__file__).parent / "data" / "captured"
VERSIONS = ("1.21.13", "1.27.3")
CAPTURES = sorted(CAPTURED.glob("1.*/*.txt"))

# Independent of the parser: a compiler diagnostic line starts with "file:line[:col]: ";
# an error's continuation lines ("\thave ()") start with a tab but are not assembly.
_RAW_DIAGNOSTIC_RE = re.compile(r"^[^\s:]+:\d+(?::\d+)?: ")
_RAW_ASM_RE = re.compile(r"^\t(?:0x[0-9a-f]+ |rel )")


def raw_diagnostic_lines(text: str) -> list[str]:
    found: list[str] = []
    in_diagnostic = False
    for line in text.splitlines():
        if _RAW_DIAGNOSTIC_RE.match(line):
            found.append(line)
            in_diagnostic = True
        elif in_diagnostic and line.startswith("\t") and not _RAW_ASM_RE.match(line):
            found.append(line)
        else:
            in_diagnostic = False
    return found


def parse(version: str, case: str) -> ParsedOutput:
    meta = json.loads((CAPTURED / version / f"{case}.json").read_text())
    text = (CAPTURED / version / f"{case}.txt").read_text()
    return parse_compiler_output(text, meta["files"], exit_code=meta["exit_code"])


def find(parsed: ParsedOutput, kind: str, message: str | None = None, line: int | None = None) -> list[Diagnostic]:
    return [
        d
        for d in parsed.diagnostics
        if d.kind == kind and (message is None or d.message == message) and (line is None or d.line == line)
    ]


def test_captures_exist_for_both_versions() -> None:
    for version in VERSIONS:
        cases = {p.stem for p in (CAPTURED / version).glob("*.txt")}
        assert {"escape", "closure", "alloc", "checks", "inlining", "multifile", "typeerror"} <= cases


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fidelity_every_printed_line_is_reconstructed(path: Path) -> None:
    text = path.read_text()
    meta = json.loads(path.with_suffix(".json").read_text())
    parsed = parse_compiler_output(text, meta["files"], exit_code=meta["exit_code"])
    raw = Counter(raw_diagnostic_lines(text))
    rebuilt = Counter(line for d in parsed.diagnostics for line in diagnostic_lines(d))
    assert raw, "the capture has diagnostics"
    assert raw - rebuilt == Counter(), "lines the parser dropped"
    assert rebuilt - raw == Counter(), "lines the parser invented"
    assert parsed.unparsed == []
    assert all(d.kind in KINDS for d in parsed.diagnostics)


@pytest.mark.parametrize("version", VERSIONS)
def test_moved_to_heap_with_its_flow(version: str) -> None:
    parsed = parse(version, "escape")
    [t] = find(parsed, "moved-to-heap", "moved to heap: t")
    assert (t.file, t.line, t.column) == ("main.go", 6, 2)
    assert t.function == "main.newT"
    assert t.details["subject"] == "t"
    expected_header = "t escapes to heap in newT:" if version >= "1.25" else "t escapes to heap:"
    assert t.explanation == expected_header
    assert [(s.depth, s.line, s.column) for s in t.flow] == [(1, 6, 2), (2, 7, 9), (2, 7, 2)]
    arrow = "←" if version >= "1.25" else "="
    assert t.flow[0].message == f"flow: ~r0 {arrow} &t:"
    assert t.flow[-1].message == "from return &t (return) at main.go:7:2"
    assert diagnostic_lines(t)[0] == f"main.go:6:2: {expected_header}"
    assert diagnostic_lines(t)[-1] == "main.go:6:2: moved to heap: t"
    # Every header of this program explains a decision: none is left as escape-flow.
    assert find(parsed, "escape-flow") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_leaking_params(version: str) -> None:
    parsed = parse(version, "escape")
    assert [d.message for d in find(parsed, "leaking-param")] == [
        "leaking param: p",
        "leaking param: p to result ~r0 level=0",
        "leaking param: pp to result ~r0 level=1",
    ]
    heap = [d for d in find(parsed, "leaking-param") if d.details["to"] == "heap"]
    assert [(d.line, d.column, d.function) for d in heap] == [(12, 12, "main.store")]
    [pp] = [d for d in find(parsed, "leaking-param") if d.details["param"] == "pp"]
    assert pp.details == pp.details | {"to": "result ~r0", "level": 1, "flow_derefs": 1}
    assert pp.explanation.startswith("parameter pp leaks to ~r0 ")


@pytest.mark.parametrize("version", VERSIONS)
def test_inlining_decisions(version: str) -> None:
    parsed = parse(version, "inlining")
    [add] = find(parsed, "can-inline", line=11)
    assert add.details["subject"] == "add" and add.details["cost"] == 4
    [mul] = find(parsed, "cannot-inline", line=14)
    assert mul.details["reason"] == "marked go:noinline"
    [big] = find(parsed, "cannot-inline", line=23)
    assert (big.details["cost"], big.details["budget"]) == (209, 80)
    calls: dict[tuple[int, int], list[str]] = {}
    for d in find(parsed, "inlining-call"):
        calls.setdefault((d.line, d.column), []).append(d.details["callee"])
    assert calls[(49, 17)] == ["add"]
    # 1.22+ also inlines the devirtualized call inside the inlined speak; 1.21 does not.
    assert calls[(49, 68)] == (["speak"] if version < "1.22" else ["speak", "(*Dog).Sound"])
    assert (49, 28) not in calls  # mul is go:noinline
    [speak_call] = [d for d in find(parsed, "inlining-call") if d.details["callee"] == "speak"]
    assert speak_call.details["callee_symbol"] == "main.speak"
    assert speak_call.function == "main.main"


@pytest.mark.parametrize("version", VERSIONS)
def test_devirtualization_and_inlined_from(version: str) -> None:
    parsed = parse(version, "inlining")
    [in_speak] = find(parsed, "devirtualized", line=41)
    assert in_speak.details == in_speak.details | {"subject": "a.Sound", "to": "*Dog"}
    assert in_speak.function == "main.speak"
    assert in_speak.inlined_from == ""  # the user's own call in speak
    [in_main] = find(parsed, "devirtualized", line=49)
    assert in_main.inlined_from == "main.speak"  # reported inside speak's body inlined into main
    assert in_main.function == "main.main"


@pytest.mark.parametrize("version", VERSIONS)
def test_closure_captures_by_value_with_per_iteration_loop_vars(version: str) -> None:
    parsed = parse(version, "closure")
    captures = {d.details["subject"]: d for d in find(parsed, "closure-capture")}
    if version == "1.21.13":
        # Go 1.21 semantics: one shared i, captured by reference and moved to the heap.
        assert captures["i"].details["by"] == "ref"
        assert [d.message for d in find(parsed, "moved-to-heap")] == ["moved to heap: i", "moved to heap: v"]
        assert find(parsed, "loop-var") == []
    else:
        assert captures["i"].details["by"] == "value"
        assert find(parsed, "moved-to-heap") == []
        [loopvar] = find(parsed, "loop-var", line=7)
        assert loopvar.details == loopvar.details | {"subject": "i", "allocation": "stack"}
    if version == "1.21.13":
        assert captures["counter"].details["by"] == "ref"
    else:
        assert "counter" not in captures  # the closure was inlined at its only call
    assert captures["i"].function == "main.main"
    assert captures["i"].details["width"] == 8


def test_lang_go121_on_new_toolchain_keeps_shared_loop_variables() -> None:
    old = parse("1.27.3", "closure-go1.21")
    [i] = [d for d in find(old, "closure-capture") if d.details["subject"] == "i"]
    assert i.details["by"] == "ref"
    assert [d.message for d in find(old, "moved-to-heap")] == ["moved to heap: i", "moved to heap: v"]
    assert find(old, "loop-var") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_write_barriers_bounds_and_nil_checks(version: str) -> None:
    parsed = parse(version, "checks")
    wb_lines = {(d.line, d.function) for d in find(parsed, "write-barrier")}
    assert (11, "main.push") in wb_lines and (15, "main.link") in wb_lines
    bounds = {(d.line, d.details["op"]) for d in find(parsed, "bounds-check")}
    assert (19, "IsInBounds") in bounds and (23, "IsSliceInBounds") in bounds
    # s[0] + s[1] + s[2]: all three checks are kept (no len(s) > 2 hint).
    assert [d.column for d in find(parsed, "bounds-check", line=27)] == [10, 17, 24]
    nil = find(parsed, "nil-check")
    assert nil and all(d.details["removed"] == (d.message == "removed nil check") for d in nil)
    val_checks = find(parsed, "nil-check", line=31)
    assert val_checks and val_checks[0].function == "main.val"


@pytest.mark.parametrize("version", VERSIONS)
def test_escapes_and_does_not_escape(version: str) -> None:
    parsed = parse(version, "alloc")
    [box] = find(parsed, "escapes-to-heap", "n escapes to heap", line=12)
    assert box.function == "main.box" and box.details["subject"] == "n"
    assert box.flow and box.explanation.startswith("n escapes to heap")
    # makeBuf(100) inlined: 1.27 sees the constant size and keeps the buffer on the
    # stack; 1.21 still reports the non-constant make([]byte, n) as escaping.
    [at_call] = [
        d
        for d in parsed.diagnostics
        if (d.line, d.column) == (50, 13) and d.kind in ("escapes-to-heap", "does-not-escape")
    ]
    if version == "1.21.13":
        assert (at_call.kind, at_call.message) == ("escapes-to-heap", "make([]byte, n) escapes to heap")
        assert at_call.flow[-1].message == "from make([]byte, n) (non-constant size) at main.go:50:13"
    else:
        assert (at_call.kind, at_call.message) == ("does-not-escape", "make([]byte, 100) does not escape")
    assert at_call.function == "main.main" and at_call.inlined_from == "main.makeBuf"


@pytest.mark.parametrize("version", VERSIONS)
def test_multiple_files(version: str) -> None:
    parsed = parse(version, "multifile")
    files = {d.file for d in parsed.diagnostics}
    assert files == {"main.go", "point.go"}
    [new_point] = find(parsed, "can-inline", line=5)
    assert new_point.file == "point.go" and new_point.function == "main.NewPoint"
    [inl] = find(parsed, "inlining-call", line=4)
    assert inl.file == "main.go" and inl.details["callee"] == "NewPoint"
    assert all(d.details["user_file"] for d in parsed.diagnostics)


@pytest.mark.parametrize("version", VERSIONS)
def test_type_errors(version: str) -> None:
    parsed = parse(version, "typeerror")
    assert parsed.functions == []
    assert "main.go:6:7: undefined: undefinedThing" in parsed.errors
    assert "main.go:8:2: not enough arguments in call to f\n\thave ()\n\twant (int)" in parsed.errors
    assert len(parsed.errors) == 5
    assert {d.kind for d in parsed.diagnostics} == {"error"}
    [unused_x] = find(parsed, "error", line=6)[:1]
    assert unused_x.column == 2 and "declared and not used" in unused_x.message


@pytest.mark.parametrize("version", VERSIONS)
def test_syntax_error_without_exit_code(version: str) -> None:
    text = (CAPTURED / version / "syntaxerror.txt").read_text()
    parsed = parse_compiler_output(text, ["main.go"])
    assert parsed.errors == ["main.go:5:1: syntax error: unexpected }, expected expression"]


# ---- shapes not in the captures -----------------------------------------------------


def test_unknown_positioned_line_is_kept_as_other() -> None:
    parsed = parse_diagnostics(["main.go:3:1: some future message", "not a diagnostic at all"])
    [d] = parsed.diagnostics
    assert (d.kind, d.message, d.column) == ("other", "some future message", 1)
    assert parsed.unparsed == ["not a diagnostic at all"]
    assert parsed.errors == []


def test_autogenerated_position_has_no_column() -> None:
    [d] = parse_diagnostics(["<autogenerated>:1: inlining call to (*T).M"]).diagnostics
    assert (d.file, d.line, d.column, d.kind) == ("<autogenerated>", 1, 0, "inlining-call")
    assert diagnostic_lines(d) == ["<autogenerated>:1: inlining call to (*T).M"]


def test_unmatched_header_stays_escape_flow_and_duplicates_are_kept() -> None:
    lines = [
        "main.go:5:2: x escapes to heap in f:",
        "main.go:5:2:   flow: {heap} ← &x:",
        "main.go:5:2:     from &x (address-of) at main.go:6:7",
        "main.go:5:2: x escapes to heap in f:",
        "main.go:5:2:   flow: {heap} ← &x:",
        "main.go:5:2:     from &x (address-of) at main.go:6:7",
        "main.go:5:2: moved to heap: x",
        "main.go:9:1: write barrier",
        "main.go:9:1: write barrier",
    ]
    diagnostics = parse_diagnostics(lines).diagnostics
    assert [d.kind for d in diagnostics] == ["escape-flow", "moved-to-heap", "write-barrier", "write-barrier"]
    moved = diagnostics[1]
    assert moved.flow[1].file == "main.go" and (moved.flow[1].line, moved.flow[1].column) == (6, 7)
    assert Counter(line for d in diagnostics for line in diagnostic_lines(d)) == Counter(lines)


def test_leak_header_with_braced_destination() -> None:
    lines = [
        "main.go:44:18: parameter d leaks to {storage for d.Sound} for methodValue with derefs=0:",
        "main.go:44:18:   flow: {temp} ← d:",
        "main.go:44:18: leaking param: d",
    ]
    [d] = parse_diagnostics(lines).diagnostics
    assert d.details["flow_to"] == "{storage for d.Sound}"
    assert d.details["explained_in"] == "methodValue"


def test_decision_printed_without_a_position() -> None:
    """Range-over-func (1.23+): the made-up #next has no position, nor has its capture."""
    lines = [
        "main.go:16:8: find capturing by ref: #state1 (addr=false assign=true width=8)",
        "find capturing by ref: #next (addr=false assign=true width=8)",
    ]
    parsed = parse_compiler_output("\n".join(lines), ["main.go"], exit_code=0)
    assert parsed.unparsed == []
    state, nxt = parsed.diagnostics
    assert (nxt.kind, nxt.file, nxt.line, nxt.column) == ("closure-capture", "", 0, 0)
    assert nxt.details | {"subject": "#next", "by": "ref", "closure_of": "find"} == nxt.details
    assert (state.function, nxt.function) == ("main.find", "main.find")
    assert nxt.details["user_file"] is False
    assert [line for d in parsed.diagnostics for line in diagnostic_lines(d)] == lines
    # In a failed compile, an unpositioned line stays an error line.
    failed = parse_diagnostics(lines[1:], failed=True)
    assert failed.diagnostics == [] and failed.errors == lines[1:]
