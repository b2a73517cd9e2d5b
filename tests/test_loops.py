"""Costly decisions on lines that run in a loop, read off the compiled code's backward branches."""

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files
from worker.summary import summarize

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


def in_loop_lines(analysis, function: str) -> set[int]:
    return {d.line for d in analysis.diagnostics if d.function == function and d.details.get("in_loop")}


@pytest.mark.parametrize(
    ("go", "goarch"), [(OLDEST_GO, "amd64"), (NEWEST_GO, "amd64"), (NEWEST_GO, "arm64"), (NEWEST_GO, "386")]
)
def test_allocations_inside_the_loop_are_marked_and_those_before_it_are_not(go, goarch):
    analysis = compile_request(CompileRequest(split_files(PROGRAM), go=go, goarch=goarch))
    assert in_loop_lines(analysis, "main.build") == {11, 12}
    heap_on_8 = [d for d in analysis.diagnostics if d.line == 8 and d.kind == "escapes-to-heap"]
    assert heap_on_8 and not any(d.details.get("in_loop") for d in heap_on_8)
    # build inlined into main: its loop runs at main's call site
    assert 16 in in_loop_lines(analysis, "main.main")
    build = next(s for s in summarize(analysis) if s.name == "main.build")
    assert (build.heap_allocations, build.heap_allocations_in_loops) == (4, 2)


def test_without_assembly_nothing_is_claimed():
    analysis = compile_request(CompileRequest(split_files(PROGRAM), groups=("escape", "inline")))
    assert not any(d.details.get("in_loop") for d in analysis.diagnostics)


def test_the_review_summary_says_when_new_allocations_are_in_a_loop():
    from worker.compare import compare

    before = PROGRAM.replace("\t\tp := &P{i, i}\n\t\tsink = append(sink, p)\n", "\t\t_ = i\n")
    diff = compare(
        compile_request(CompileRequest(split_files(before))), compile_request(CompileRequest(split_files(PROGRAM)))
    )
    # &P{i, i} and the append that stores it: both per iteration
    assert "+2 heap allocations in build (in a loop)" in diff.summary.phrases
