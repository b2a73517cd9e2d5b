"""worker.summary against real compiles of the programs in tests/data/kinds."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker.analysis import Analysis, SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.summary import FunctionSummary, summaries_to_dicts, summarize

KINDS_DIR = Path(__file__).parent / "data" / "kinds"
VERSIONS = (OLDEST_GO, NEWEST_GO)


@cache
def analyse(program: str, version: str, groups: tuple[str, ...] | None = None) -> Analysis:
    request = CompileRequest([SourceFile("main.go", (KINDS_DIR / f"{program}.go").read_text())], go=version)
    if groups is not None:
        request.groups = groups
    analysis = compile_request(request)
    assert analysis.status == "ok", analysis.errors
    return analysis


def by_name(summaries: list[FunctionSummary]) -> dict[str, FunctionSummary]:
    return {s.name: s for s in summaries}


@pytest.mark.parametrize("version", VERSIONS)
def test_allocations_inlining_and_frames(version: str) -> None:
    summaries = summarize(analyse("alloc", version))
    assert [s.name for s in summaries] == [
        "main.newPoint",
        "main.makeInts",
        "main.join",
        "main.grow",
        "main.sumArray",
        "main.leaf",
        "main.main",
    ]  # by line; no compiler-generated type:.eq… functions
    fns = by_name(summaries)
    new_point = fns["main.newPoint"]
    assert (new_point.file, new_point.line) == ("main.go", 8)
    assert (new_point.heap_allocations, new_point.where) == (1, [9])
    assert (new_point.inlinable, new_point.inline_cost, new_point.inline_reason) == (False, None, "marked go:noinline")
    assert (fns["main.makeInts"].heap_allocations, fns["main.makeInts"].where) == (1, [14])
    assert (fns["main.join"].heap_allocations, fns["main.join"].where) == (1, [19])
    # 1.21 prints no escape line for append; its growslice call still counts.
    assert (fns["main.grow"].heap_allocations, fns["main.grow"].where) == (1, [24])
    # fmt.Println's four interface conversions on one line.
    main = fns["main.main"]
    assert (main.heap_allocations, main.where) == (4, [45])
    assert (main.inlinable, main.inline_cost) == (False, 456)
    assert main.inline_reason == "function too complex: cost 456 exceeds budget 80"
    sum_array = fns["main.sumArray"]
    assert sum_array.heap_allocations == 0 and sum_array.where == []
    assert sum_array.frame_size == (536 if version == OLDEST_GO else 520)
    assert sum_array.bounds_checks == 1
    assert fns["main.leaf"].frame_size == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_checks_and_barriers_per_function(version: str) -> None:
    fns = by_name(summarize(analyse("checks", version)))
    push = fns["main.push"]
    assert (push.write_barriers, push.nil_checks, push.bounds_checks) == (2, 1, 0)
    assert (push.inlinable, push.inline_cost, push.inline_reason) == (True, 7, "")
    assert (fns["main.at"].bounds_checks, fns["main.window"].bounds_checks) == (1, 2)
    assert fns["main.val"].nil_checks == 0  # its only nil check was removed
    main = fns["main.main"]
    # push inlined into main brings its two barriers along; &Node{...} is main's allocation.
    assert (main.write_barriers, main.heap_allocations, main.where) == (2, 1, [28])
    assert (main.inlinable, main.inline_cost) == (True, 57)


@pytest.mark.parametrize("version", VERSIONS)
def test_closures_and_inlined_allocations(version: str) -> None:
    fns = by_name(summarize(analyse("closure", version)))
    counter = fns["main.counter"]
    # moved to heap: n (line 6); the closure object and append's growth (line 7).
    assert (counter.heap_allocations, counter.where) == (3, [6, 7])
    assert (counter.inlinable, counter.inline_cost) == (True, 25)
    closure = fns["main.counter.func1"]
    assert (closure.line, closure.heap_allocations, closure.inline_cost) == (7, 0, 5)
    # counter and adder are inlined into main: their allocations happen in main.
    assert (fns["main.main"].heap_allocations, fns["main.main"].where) == (5, [20, 21])


@pytest.mark.parametrize("version", VERSIONS)
def test_escape_program(version: str) -> None:
    fns = by_name(summarize(analyse("escape", version)))
    assert (fns["main.newT"].heap_allocations, fns["main.newT"].where) == (1, [8])
    assert fns["main.boxed"].where == [33]
    assert fns["main.local"].heap_allocations == 0  # &T{...} does not escape
    assert (fns["main.keep"].write_barriers, fns["main.stash"].write_barriers) == (1, 1)
    # newT's t inlined at line 42, and q := &T{} at 43 (stash(&q) leaks it).
    assert (fns["main.main"].heap_allocations, fns["main.main"].where) == (2, [42, 43])
    assert fns["main.main"].inline_reason == "function too complex: cost 81 exceeds budget 80"


def test_dict_form_gives_the_same_summary_and_serialises() -> None:
    analysis = analyse("alloc", NEWEST_GO)
    from_object = summarize(analysis)
    stored = json.loads(json.dumps(analysis.to_dict()))
    assert summarize(stored) == from_object
    payload = summaries_to_dicts(from_object)
    assert json.loads(json.dumps(payload)) == payload
    assert payload[0] == {
        "name": "main.newPoint",
        "file": "main.go",
        "line": 8,
        "heap_allocations": 1,
        "heap_allocations_in_loops": 0,
        "where": [9],
        "inlinable": False,
        "inline_cost": None,
        "inline_reason": "marked go:noinline",
        "frame_size": 40,
        "bounds_checks": 0,
        "nil_checks": 0,
        "write_barriers": 0,
        "large_copies": 0,
    }


def test_without_assembly_frames_are_unknown_and_escapes_still_count() -> None:
    analysis = analyse("alloc", NEWEST_GO, ("escape", "inline", "wb", "bce", "nil", "loopvar"))
    assert analysis.functions == []
    fns = by_name(summarize(analysis))
    assert set(fns) == {
        "main.newPoint",
        "main.makeInts",
        "main.join",
        "main.grow",
        "main.sumArray",
        "main.leaf",
        "main.main",
    }
    assert all(s.frame_size is None for s in fns.values())
    assert (fns["main.newPoint"].heap_allocations, fns["main.newPoint"].where) == (1, [9])
    assert fns["main.main"].heap_allocations == 4  # four "escapes to heap" on line 45
    assert fns["main.sumArray"].bounds_checks == 1
