"""Every kind of decision, each from a Go program written for it (tests/data/kinds/*.go),
through the real engine (``compile_request``: sandboxed compiler + parser) on the oldest
and the newest installed toolchain.

Line numbers refer to the programs in tests/data/kinds; keep them in step.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO, go_versions_under_test
from worker.analysis import KINDS, Analysis, Diagnostic, Function, SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.parse import diagnostic_lines, parse_compiler_output
from worker.parse.diagnostics import parse_diagnostics

KINDS_DIR = Path(__file__).parent / "data" / "kinds"
VERSIONS = tuple(go_versions_under_test())  # oldest and newest (+ EE_TEST_GO_VERSIONS)
PROGRAMS = sorted(p.stem for p in KINDS_DIR.glob("*.go"))


@cache
def analyse(program: str, version: str, lang: str | None = None) -> Analysis:
    source = (KINDS_DIR / f"{program}.go").read_text()
    analysis = compile_request(CompileRequest([SourceFile("main.go", source)], go=version, lang=lang))
    assert analysis.status == "ok", analysis.errors
    return analysis


def find(
    analysis: Analysis,
    kind: str,
    line: int | None = None,
    *,
    message: str | None = None,
    function: str | None = None,
) -> list[Diagnostic]:
    return [
        d
        for d in analysis.diagnostics
        if d.kind == kind
        and (line is None or d.line == line)
        and (message is None or d.message == message)
        and (function is None or d.function == function)
    ]


def function(analysis: Analysis, name: str) -> Function:
    [fn] = [f for f in analysis.functions if f.name == name]
    return fn


def minor(version: str) -> int:
    """1.22.10 -> 22: where the compiler's output differs between releases."""
    return int(version.split(".")[1])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("program", PROGRAMS)
def test_program_output_is_fully_reconstructed(program: str, version: str) -> None:
    analysis = analyse(program, version)
    raw = Counter(line for line in analysis.raw_output.splitlines() if line.startswith("main.go:"))
    rebuilt = Counter(line for d in analysis.diagnostics for line in diagnostic_lines(d) if d.file == "main.go")
    assert raw and raw == rebuilt
    assert all(d.kind in KINDS and d.kind != "other" for d in analysis.diagnostics)


# ---- escape analysis (escape.go) ----------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_moved_to_heap_with_flow(version: str) -> None:
    a = analyse("escape", version)
    [t] = find(a, "moved-to-heap", 8, function="main.newT")
    assert (t.column, t.message, t.details["subject"]) == (2, "moved to heap: t", "t")
    # The compiler names the function in the header ("… in newT:") from 1.25 on.
    assert t.explanation == ("t escapes to heap:" if minor(version) < 25 else "t escapes to heap in newT:")
    assert [(s.depth, s.line, s.column) for s in t.flow] == [(1, 8, 2), (2, 9, 9), (2, 9, 2)]
    assert t.flow[1].message == "from &t (address-of) at main.go:9:9"


@pytest.mark.parametrize("version", VERSIONS)
def test_escapes_to_heap(version: str) -> None:
    a = analyse("escape", version)
    [n] = find(a, "escapes-to-heap", 33, function="main.boxed")
    assert (n.column, n.message) == (9, "n escapes to heap")
    # The interface conversion allocates: the runtime call sits on the same line.
    [conv] = find(a, "heap-alloc-call", 33, function="main.boxed")
    assert conv.details["callee"] == "runtime.convT64"


@pytest.mark.parametrize("version", VERSIONS)
def test_does_not_escape(version: str) -> None:
    a = analyse("escape", version)
    [p] = find(a, "does-not-escape", 28, function="main.sum")
    assert (p.column, p.details["subject"]) == (10, "p")
    [lit] = find(a, "does-not-escape", 37, function="main.local")
    assert (lit.column, lit.message) == (7, "&T{...} does not escape")
    assert find(a, "heap-alloc-call", function="main.local") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_leaking_params(version: str) -> None:
    a = analyse("escape", version)
    leaks = {d.function: d for d in find(a, "leaking-param")}
    assert set(leaks) == {"main.keep", "main.identity", "main.first", "main.stash"}
    keep = leaks["main.keep"]
    assert (keep.line, keep.column, keep.message) == (12, 11, "leaking param: p")
    assert keep.details["to"] == "heap" and "content" not in keep.details
    identity = leaks["main.identity"]
    assert (identity.line, identity.column) == (16, 15)
    assert identity.details | {"to": "result ~r0", "level": 0} == identity.details
    first = leaks["main.first"]
    assert (first.line, first.message) == (20, "leaking param: pp to result ~r0 level=1")
    assert first.details["level"] == 1
    stash = leaks["main.stash"]
    assert (stash.line, stash.column, stash.message) == (24, 12, "leaking param content: pp")
    assert stash.details["content"] is True and stash.details["flow_derefs"] == 1
    assert stash.flow[-1].message == "from sink = *pp (assign) at main.go:25:7"


# ---- closures (closure.go) -----------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_closure_captures_by_reference_and_by_value(version: str) -> None:
    a = analyse("closure", version)
    [n] = find(a, "closure-capture", 6, function="main.counter")
    assert n.message == "counter capturing by ref: n (addr=false assign=true width=8)"
    assert n.details | {"subject": "n", "by": "ref", "assign": True, "width": 8} == n.details
    # Captured by reference and outliving counter: n itself moves to the heap.
    [moved] = find(a, "moved-to-heap", 6, function="main.counter")
    assert moved.details["subject"] == "n"
    [k] = find(a, "closure-capture", 13, function="main.adder")
    assert k.details | {"subject": "k", "by": "value", "assign": False} == k.details
    assert find(a, "moved-to-heap", 13) == []
    # The func literal is the enclosing function's value, not the closure's own decision.
    [lit] = find(a, "escapes-to-heap", 7, message="func literal escapes to heap", function="main.counter")
    assert lit.column == 24


# ---- inlining and devirtualization (inline.go) --------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_can_inline_with_cost(version: str) -> None:
    a = analyse("inline", version)
    costs = {d.details["subject"]: (d.line, d.details["cost"]) for d in find(a, "can-inline")}
    assert costs["add"] == (11, 4)
    assert costs["box"] == (38, 11)
    assert costs["big"] == (16, 77)  # just under the budget of 80
    assert costs["Square.Area"] == (7, 6)
    [add] = find(a, "can-inline", 11)
    assert add.function == "main.add" and add.details["body"] == "func(int, int) int { return a + b }"


@pytest.mark.parametrize("version", VERSIONS)
def test_cannot_inline_with_reason(version: str) -> None:
    a = analyse("inline", version)
    [mul] = find(a, "cannot-inline", 14)
    assert (mul.function, mul.details["reason"]) == ("main.mul", "marked go:noinline")
    [main] = find(a, "cannot-inline", 44)
    assert main.details["reason"] == "function too complex: cost 317 exceeds budget 80"
    assert (main.details["cost"], main.details["budget"]) == (317, 80)


@pytest.mark.parametrize("version", VERSIONS)
def test_inlining_calls(version: str) -> None:
    a = analyse("inline", version)
    calls = {(d.line, d.column): d for d in find(a, "inlining-call", function="main.main") if d.line in (45, 51)}
    assert calls[(45, 10)].details["callee_symbol"] == "main.add"
    assert calls[(51, 12)].details["callee_symbol"] == "main.box"
    assert find(a, "inlining-call", 46) == []  # mul is go:noinline
    # big's own call of add, and the copy of it inlined into main with big.
    [in_big] = find(a, "inlining-call", 29)
    assert (in_big.function, in_big.column, in_big.details["callee"]) == ("main.big", 27, "add")
    assert [d.details["callee"] for d in find(a, "inlining-call", 47)] == ["big", "add"]


@pytest.mark.parametrize("version", VERSIONS)
def test_devirtualization(version: str) -> None:
    a = analyse("inline", version)
    [direct] = find(a, "devirtualized", 50)
    assert direct.message == "devirtualizing s.Area to Square"
    assert (direct.column, direct.function, direct.inlined_from) == (12, "main.main", "")
    assert direct.details | {"subject": "s.Area", "to": "Square", "partial": False} == direct.details
    # s.Area() inside area(), devirtualized once area is inlined into main.
    [inside] = find(a, "devirtualized", 48)
    assert (inside.column, inside.function, inside.inlined_from) == (10, "main.main", "main.area")


@pytest.mark.parametrize("version", VERSIONS)
def test_decisions_in_inlined_code_name_the_inlined_function(version: str) -> None:
    a = analyse("inline", version)
    # box's new(int) escapes: reported at main's call site, naming box.
    [own] = find(a, "escapes-to-heap", 39, function="main.box")
    assert own.message == "new(int) escapes to heap" and own.inlined_from == ""
    [inlined] = find(a, "escapes-to-heap", 51)
    assert inlined.message == "new(int) escapes to heap"
    assert (inlined.column, inlined.function, inlined.inlined_from) == (12, "main.main", "main.box")
    assert inlined.details["inline_chain"] == ["main.box"]
    # The allocation in the assembly: main's line 51, inlined from box.
    [alloc] = find(a, "heap-alloc-call", 51)
    assert (alloc.function, alloc.inlined_from) == ("main.main", "main.box")
    main = function(a, "main.main")
    [call] = [x for x in main.asm if x.heap_alloc]
    assert (call.line, call.inlined_from, call.inline_chain) == (51, "main.box", ["main.box"])
    # add inlined into big inlined into main: the chain is outermost first.
    chains = {tuple(x.inline_chain) for x in main.asm if x.line == 47}
    assert ("main.big", "main.add") in chains and ("main.big",) in chains
    # The store to sink is main's own code on the same line.
    assert any(x.line == 51 and x.write_barrier and not x.inlined_from for x in main.asm)


# ---- write barriers, bounds and nil checks (checks.go) ------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_write_barriers(version: str) -> None:
    a = analyse("checks", version)
    assert [(d.line, d.column) for d in find(a, "write-barrier", function="main.push")] == [(11, 9), (12, 7)]
    inlined = find(a, "write-barrier", 29)
    assert len(inlined) == 2 and all(d.inlined_from == "main.push" for d in inlined)
    push = function(a, "main.push")
    # In the assembly both stores share one buffered barrier (4 slots: old and new value
    # of each), emitted at the first store's line.
    barriers = [x for x in push.asm if x.write_barrier]
    assert [x.line for x in barriers] == [11, 11]
    assert barriers[0].text == "CMPL\truntime.writeBarrier(SB), $0"
    assert barriers[1].text == "CALL\truntime.gcWriteBarrier4(SB)"


@pytest.mark.parametrize("version", VERSIONS)
def test_bounds_checks(version: str) -> None:
    a = analyse("checks", version)
    [index] = find(a, "bounds-check", function="main.at")
    assert (index.line, index.column, index.details["op"]) == (16, 10, "IsInBounds")
    window = find(a, "bounds-check", function="main.window")
    assert [(d.line, d.column, d.details["op"]) for d in window] == [(20, 10, "IsSliceInBounds")] * 2
    assert find(a, "bounds-check", function="main.main") == []  # constant indexes, proven


@pytest.mark.parametrize("version", VERSIONS)
def test_nil_checks(version: str) -> None:
    a = analyse("checks", version)
    [kept] = find(a, "nil-check", function="main.push")
    assert (kept.line, kept.column, kept.message, kept.details["removed"]) == (11, 3, "generated nil check", False)
    [removed] = find(a, "nil-check", function="main.val")
    assert (removed.line, removed.column, removed.details["removed"]) == (24, 10, True)


# ---- loop variables (loopvar.go) ----------------------------------------------------


@pytest.mark.parametrize("version", [v for v in VERSIONS if minor(v) >= 22])
def test_loop_variables_per_iteration_since_go122(version: str) -> None:
    a = analyse("loopvar", version)
    own = {(d.line, d.column): d for d in find(a, "loop-var") if "loop_inlined_into" not in d.details}
    assert own[(13, 6)].message == "loop variable i now per-iteration, heap-allocated"
    assert own[(13, 6)].details | {"subject": "i", "allocation": "heap"} == own[(13, 6)].details
    assert own[(13, 6)].function == "main.addresses"
    assert own[(7, 9)].details | {"subject": "v", "allocation": "stack"} == own[(7, 9)].details
    assert own[(20, 9)].details["allocation"] == "stack" and own[(20, 9)].function == "main.local"
    # addresses() is inlined into main (line 29): its loop is reported again, at its own line.
    [copy] = [d for d in find(a, "loop-var", 13) if "loop_inlined_into" in d.details]
    assert copy.message == "loop variable i now per-iteration, heap-allocated (loop inlined into main.go:29)"
    assert copy.details["loop_inlined_into"] == "main.go:29"
    # The per-iteration i whose address is kept is still moved to the heap, each iteration.
    [moved] = find(a, "moved-to-heap", 13, function="main.addresses")
    assert moved.message == "moved to heap: i"


def test_loop_variables_on_oldest_toolchain_are_shared() -> None:
    a = analyse("loopvar", OLDEST_GO)
    assert find(a, "loop-var") == []  # -d=loopvar does not exist before 1.22
    [v] = find(a, "closure-capture", 7, function="main.closures")
    assert v.details["by"] == "ref"
    assert [d.details["subject"] for d in find(a, "moved-to-heap", 7)] == ["v"]


@pytest.mark.parametrize(("lang", "by", "moved"), [("go1.21", "ref", ["v"]), ("go1.22", "value", [])])
def test_language_version_changes_closure_over_range_variable(lang: str, by: str, moved: list[str]) -> None:
    a = analyse("loopvar", NEWEST_GO, lang)
    assert a.lang == lang
    [v] = find(a, "closure-capture", 7, function="main.closures")
    assert v.details["by"] == by
    assert [d.details["subject"] for d in find(a, "moved-to-heap", 7)] == moved
    if lang == "go1.21":
        assert find(a, "loop-var") == []
        assert v.details["assign"] is True
    else:
        assert [d.details["allocation"] for d in find(a, "loop-var", 7)] == ["stack", "stack"]


# ---- stack frames and heap-allocating runtime calls (alloc.go) ----------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_stack_frame_size_per_function(version: str) -> None:
    a = analyse("alloc", version)
    frames = {f.name: f for f in a.functions}
    declared = {
        "main.newPoint": 8,
        "main.makeInts": 13,
        "main.join": 18,
        "main.grow": 23,
        "main.sumArray": 28,
        "main.leaf": 37,
        "main.main": 41,
    }
    for name, line in declared.items():
        assert (frames[name].file, frames[name].line) == ("main.go", line)
    assert 512 <= frames["main.sumArray"].frame_size < 600  # var buf [64]int lives in the frame
    assert frames["main.leaf"].frame_size == 0
    assert frames["main.main"].frame_size > 0


@pytest.mark.parametrize("version", VERSIONS)
def test_heap_allocating_runtime_calls_on_source_lines(version: str) -> None:
    a = analyse("alloc", version)
    calls = [(d.line, d.function, d.details["callee"]) for d in find(a, "heap-alloc-call")]
    # 1.27 calls size-specialised mallocgc variants directly instead of runtime.newobject.
    new_object = "runtime.newobject" if minor(version) < 27 else "runtime.mallocgcSmallNoScanSC2"
    assert calls == [
        (9, "main.newPoint", new_object),
        (14, "main.makeInts", "runtime.makeslice"),
        (19, "main.join", "runtime.concatstring2"),
        (24, "main.grow", "runtime.growslice"),
        (45, "main.main", "runtime.convTstring"),
        (45, "main.main", "runtime.convT64"),
        (45, "main.main", "runtime.convT64"),
        (45, "main.main", "runtime.convT64"),
    ]
    assert all(d.column == 0 and diagnostic_lines(d) == [] for d in find(a, "heap-alloc-call"))
    # The escape decision and the allocation agree on the line.
    [point] = find(a, "escapes-to-heap", 9)
    assert point.message == "&Point{...} escapes to heap"


# ---- lines no program prints on purpose ---------------------------------------------


def test_unknown_message_is_kept_as_other() -> None:
    lines = ["main.go:7:3: the compiler decided something new", "main.go:8:1: write barrier"]
    parsed = parse_diagnostics(lines)
    other, barrier = parsed.diagnostics
    assert (other.kind, other.file, other.line, other.column) == ("other", "main.go", 7, 3)
    assert other.message == "the compiler decided something new" and "note" not in other.details
    assert barrier.kind == "write-barrier"
    assert parsed.errors == [] and parsed.unparsed == []
    assert [line for d in parsed.diagnostics for line in diagnostic_lines(d)] == lines
    # In a whole run it survives next to the assembly, and a successful run is not an error.
    out = parse_compiler_output("\n".join(lines), ["main.go"], exit_code=0)
    assert [d.kind for d in out.diagnostics] == ["other", "write-barrier"] and out.errors == []


@pytest.mark.parametrize(
    ("line", "kind", "details"),
    [
        ("scan.go:98:14: index bounds check elided", "other", {"note": "bounds-check-elided"}),
        ("a.go:5:9: zero-copy string->[]byte conversion", "other", {"note": "zero-copy-conversion"}),
        ("a.go:5:9: assuming p is unsafe uintptr", "other", {"note": "unsafe-uintptr", "subject": "p"}),
        (
            "a.go:3:6: function init considered 'big'; reducing max cost of inlinees",
            "other",
            {"note": "big-function", "subject": "init"},
        ),
        ("a.go:5:9: marking p as escaping uintptr", "leaking-param", {"to": "heap", "uintptr": True}),
        (
            "a.go:7:6: (*Reader).fill ignoring self-assignment in b.w -= b.r",
            "escape-flow",
            {"note": "self-assignment", "in": "(*Reader).fill", "subject": "b.w -= b.r"},
        ),
        (
            "m.go:9:4: sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}]).initSlow capturing by value:"
            " .autotmp_2 (addr=false assign=false width=8)",
            "closure-capture",
            {
                "by": "value",
                "subject": ".autotmp_2",
                "closure_of": "sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}]).initSlow",
            },
        ),
    ],
)
def test_lines_found_in_the_standard_library(line: str, kind: str, details: dict) -> None:
    [d] = parse_diagnostics([line]).diagnostics
    assert d.kind == kind
    assert d.details | details == d.details
    assert diagnostic_lines(d) == [line]
