"""Costly decisions on lines that run in a loop, read off the compiled code's control-flow graph.

The programs under tests/data/loops/marked_*.go mark the line of every costly decision of
interest: ``// loop`` (``details.in_loop`` must be true) or ``// once`` (false). They are
compiled by the real toolchains: the oldest and newest on amd64, the newest on arm64, 386
and riscv64.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker import cfg
from worker.analysis import Analysis
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files
from worker.loops import PER_EXECUTION_KINDS, LoopFacts, function_loops, is_register_shuffle, mark_loops
from worker.summary import summarize

DATA = Path(__file__).parent / "data" / "loops"
SHAPES = (DATA / "marked_shapes.go").read_text()
RANGEFUNC = (DATA / "marked_rangefunc.go").read_text()
CONFIGS = [(OLDEST_GO, "amd64"), (NEWEST_GO, "amd64"), (NEWEST_GO, "arm64"), (NEWEST_GO, "386"), (NEWEST_GO, "riscv64")]

PROGRAM = """package main

type P struct{ x, y int }

var sink []*P

func build(n int) {
	first := &P{0, 0}
	sink = append(sink, first)
	for i := 0; i < n; i++ {
		p := &P{i, i}
		sink = append(sink, p)
	}
}

func main() { build(3) }
"""

_compiled: dict[tuple[str, str, str], Analysis] = {}


def compiled(source: str, go: str, goarch: str) -> Analysis:
    key = (source, go, goarch)
    if key not in _compiled:
        _compiled[key] = compile_request(CompileRequest(split_files(source), go=go, goarch=goarch))
        assert _compiled[key].status == "ok", _compiled[key].errors
    return _compiled[key]


def costly(analysis: Analysis, function: str | None = None):
    return [
        d
        for d in analysis.diagnostics
        if d.kind in PER_EXECUTION_KINDS and d.file == "main.go" and (function is None or d.function == function)
    ]


def marks(source: str) -> dict[int, bool]:
    lines = source.splitlines()
    return {
        n: line.endswith("// loop") for n, line in enumerate(lines, start=1) if line.endswith(("// loop", "// once"))
    }


def check_marked(analysis: Analysis, source: str) -> None:
    expected = marks(source)
    wrong = [
        (d.line, d.kind, d.function, d.message, d.details["in_loop"])
        for d in costly(analysis)
        if d.line in expected and d.details["in_loop"] is not expected[d.line]
    ]
    assert not wrong
    # every marked line is checked: it has a costly decision
    assert set(expected) <= {d.line for d in costly(analysis)}


def line_of(source: str, text: str) -> int:
    [n] = [n for n, line in enumerate(source.splitlines(), start=1) if text in line]
    return n


@pytest.mark.parametrize(("go", "goarch"), CONFIGS)
def test_every_marked_line(go, goarch):
    """After a loop, between two loops, nested loops, break/continue/goto, an irreducible
    goto cycle, an inlined callee, recursion, a loop header's one-time work, large copies
    (Go 1.25+ copies them with a loop of their own) and a jump table."""
    check_marked(compiled(SHAPES, go, goarch), SHAPES)


def test_the_issue_case_on_the_oldest_go_a_spill_inside_the_loop_carries_the_later_line():
    """Regression: go1.21.13 gave ``t := &T{total, n}`` after a counted loop in_loop: true.

    The register allocator spills ``total`` in the loop's header and labels the spill with
    the line that reads it after the loop; only that spill is in the loop.
    """
    analysis = compiled(SHAPES, OLDEST_GO, "amd64")
    line = line_of(SHAPES, "t := &T{total, n}")
    facts = LoopFacts(analysis)
    labelled = [
        (f.fn.asm[i].text, f.in_loop(i)) for f, i in facts.lines[("main.go", line)] if f.fn.name == "main.after"
    ]
    in_loop = [text for text, looping in labelled if looping]
    assert in_loop and all(is_register_shuffle(text, "amd64") for text in in_loop), (
        in_loop
    )  # e.g. MOVQ DX, main.total+40(SP)
    decisions = [d for d in costly(analysis, "main.after") if d.line in (line, line + 1)]
    assert {d.kind for d in decisions} == {"escapes-to-heap", "heap-alloc-call"}
    assert all(d.details["in_loop"] is False for d in decisions)


@pytest.mark.parametrize(("go", "goarch"), CONFIGS)
def test_the_graph_behind_the_answers(go, goarch):
    analysis = compiled(SHAPES, go, goarch)
    functions = {fn.name: fn for fn in analysis.functions}
    twist = function_loops(functions["main.twist"], goarch).loops
    assert twist is not None and twist.irreducible  # no dominating header: found by the components
    fib = function_loops(functions["main.fib"], goarch).loops
    assert fib is not None and not fib.natural and not fib.cyclic  # recursion is not a loop
    nested = function_loops(functions["main.nested"], goarch).loops
    assert nested is not None and len({header for header, _ in nested.natural}) >= 2
    if goarch in ("amd64", "arm64"):  # a jump table's targets read from its data symbol
        assert any(cfg.classify(a.text, a.pc, goarch).kind == "indirect" for a in functions["main.dispatch"].asm)


@pytest.mark.parametrize("goarch", ["amd64", "arm64", "386", "riscv64"])
def test_range_over_func_bodies_and_range_over_int(goarch):
    analysis = compiled(RANGEFUNC, NEWEST_GO, goarch)
    check_marked(analysis, RANGEFUNC)
    body = line_of(RANGEFUNC, "sink = append(sink, &T{i, 0})")
    assert {d.function for d in costly(analysis) if d.line == body} == {"main.opaque-range1"}


def test_wasm_cannot_tell_except_a_range_over_func_body():
    analysis = compiled(RANGEFUNC, NEWEST_GO, "wasm")
    body = line_of(RANGEFUNC, "sink = append(sink, &T{i, 0})")
    decisions = costly(analysis)
    assert decisions
    for d in decisions:
        assert "in_loop" in d.details
        assert d.details["in_loop"] is (True if d.function == "main.opaque-range1" else None), (d.line, d.message)
    assert any(d.line == body for d in decisions)
    summary = {s.name: s for s in summarize(analysis)}["main.ints"]
    assert summary.heap_allocations > 0 and summary.heap_allocations_in_loops == 0  # unknowns are not counted


def test_without_assembly_nothing_is_claimed():
    analysis = compile_request(CompileRequest(split_files(PROGRAM), groups=("escape", "inline")))
    decisions = costly(analysis)
    assert decisions and all(d.details["in_loop"] is None for d in decisions)
    build = {s.name: s for s in summarize(analysis)}["main.build"]
    assert build.heap_allocations_in_loops == 0


def test_a_function_whose_branches_cannot_be_read_gives_null():
    analysis = copy.deepcopy(compiled(SHAPES, NEWEST_GO, "amd64"))
    between = next(fn for fn in analysis.functions if fn.name == "main.between")
    branch = next(a for a in between.asm if cfg.classify(a.text, a.pc, "amd64").kind == "branch")
    branch.text = "JUNKNOWN\t" + branch.text.partition("\t")[2]
    mark_loops(analysis)
    assert function_loops(between, "amd64").loops is None
    decisions = costly(analysis, "main.between")
    assert decisions and all(d.details["in_loop"] is None for d in decisions)
    # the other functions are still read
    assert all(d.details["in_loop"] is not None for d in costly(analysis, "main.nested"))


@pytest.mark.parametrize(("go", "goarch"), CONFIGS)
def test_allocations_inside_the_loop_are_marked_and_those_before_it_are_not(go, goarch):
    analysis = compiled(PROGRAM, go, goarch)
    looping = {d.line for d in costly(analysis, "main.build") if d.details["in_loop"]}
    assert looping == {11, 12}
    heap_on_8 = [d for d in analysis.diagnostics if d.line == 8 and d.kind == "escapes-to-heap"]
    assert heap_on_8 and all(d.details["in_loop"] is False for d in heap_on_8)
    # build inlined into main: its loop runs at main's call site
    assert any(d.details["in_loop"] for d in costly(analysis, "main.main") if d.line == 16)
    build = next(s for s in summarize(analysis) if s.name == "main.build")
    assert (build.heap_allocations, build.heap_allocations_in_loops) == (4, 2)


LOOPVAR = """package main

var ps []*int

func capture(n int) {
	for i := 0; i < n; i++ {
		ps = append(ps, &i)
	}
}

func main() { capture(3) }
"""


@pytest.mark.parametrize(("go", "per_iteration"), [(OLDEST_GO, False), (NEWEST_GO, True)])
def test_a_captured_loop_variable_is_allocated_once_before_go1_22_and_per_iteration_since(go, per_iteration):
    """Both report "moved to heap: i" on the for line; its allocation tells which it is."""
    analysis = compiled(LOOPVAR, go, "amd64")
    on_for = [d for d in costly(analysis, "main.capture") if d.line == 6]
    assert {d.kind for d in on_for} == {"moved-to-heap", "heap-alloc-call"}
    assert all(d.details["in_loop"] is per_iteration for d in on_for)


def test_the_review_summary_says_when_new_allocations_are_in_a_loop():
    from worker.compare import compare

    before = PROGRAM.replace("\t\tp := &P{i, i}\n\t\tsink = append(sink, p)\n", "\t\t_ = i\n")
    diff = compare(
        compile_request(CompileRequest(split_files(before))), compile_request(CompileRequest(split_files(PROGRAM)))
    )
    # &P{i, i} and the append that stores it: both per iteration
    assert "+2 heap allocations in build (in a loop)" in diff.summary.phrases


@pytest.mark.parametrize(
    ("text", "goarch", "kind", "target"),
    [
        ("JMP\t39", "amd64", "jump", 39),
        ("JLS\t178", "amd64", "branch", 178),
        ("JMP\t(DI)(SI*8)", "amd64", "indirect", None),
        ("JMP\truntime.morestack(SB)", "386", "exit", None),
        ("CALL\truntime.panicIndex(SB)", "amd64", "call", None),
        ("CBZW\tR1, 120", "arm64", "branch", 120),
        ("TBNZ\t$3, R2, 88", "arm64", "branch", 88),
        ("BIC\tR1, R2, R3", "arm64", "plain", None),
        ("RET\t(R30)", "arm64", "exit", None),
        ("BNE\tX6, X10, $-72", "riscv64", "branch", 40),
        ("JAL\tX0, $10", "riscv64", "jump", 122),
        ("JAL\tX1, slices.Insert[go.shape.[]go.shape.string,go.shape.string](SB)", "riscv64", "call", None),
        ("JALR\tX0, X1", "riscv64", "exit", None),
    ],
)
def test_branch_forms(text, goarch, kind, target):
    flow = cfg.classify(text, 112, goarch)
    assert (flow.kind, flow.target) == (kind, target)


def test_unknown_forms_are_refused():
    for text, goarch in [("JXYZ\t12", "amd64"), ("JMP\t12, 13", "amd64"), ("BEQ\tX1, X2, 40", "riscv64")]:
        with pytest.raises(cfg.CannotTell):
            cfg.classify(text, 0, goarch)
    with pytest.raises(cfg.CannotTell):
        cfg.classify("Br\t$1", 0, "wasm")
