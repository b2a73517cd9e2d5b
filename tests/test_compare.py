"""The semantic diff on hand-made pairs with known answers, compiled by the real toolchains."""

from __future__ import annotations

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker.analysis import Analysis, SourceFile
from worker.compare import compare, decisions_of, expression_at
from worker.compiler import CompileRequest, compile_request
from worker.review import render_markdown, render_text

BASE = """package main

type T struct{ a, b int }

func newT() T {
	t := T{1, 2}
	return t
}

func sum(s []int) int {
	return s[0] + s[1] + s[2] + s[3]
}

var sink []*T

func keep(p *T, i int) { sink[i] = p }

func main() {
	t := newT()
	println(t.a, sum([]int{1, 2, 3, 4}))
	keep(nil, 0)
}
"""


def analyse(source: str, **settings) -> Analysis:
    analysis = compile_request(CompileRequest([SourceFile("main.go", source)], **settings))
    assert analysis.status == "ok", analysis.errors
    return analysis


def test_identical_programs_give_an_empty_diff():
    a = analyse(BASE)
    diff = compare(a, analyse(BASE))
    assert diff.empty and diff.added == [] and diff.removed == []
    assert diff.summary.headline == "No change in the compiler's decisions."


def test_moving_a_function_down_the_file_gives_an_empty_diff():
    moved = (
        BASE.replace("func sum(s []int) int {\n\treturn s[0] + s[1] + s[2] + s[3]\n}\n\n", "")
        + "\nfunc sum(s []int) int {\n\treturn s[0] + s[1] + s[2] + s[3]\n}\n"
    )
    a, b = analyse(BASE), analyse(moved)
    assert [d.line for d in decisions_of(a) if d.function == "main.sum"] != [
        d.line for d in decisions_of(b) if d.function == "main.sum"
    ], "the function really moved"
    diff = compare(a, b)
    assert diff.added == [] and diff.removed == [] and diff.changed == [] and diff.frames == []


def test_returning_the_address_gives_exactly_one_new_heap_escape():
    before = "package main\n\ntype T struct{ a, b int }\n\n//go:noinline\nfunc newT() T {\n\tt := T{1, 2}\n\treturn t\n}\n\nfunc main() { println(newT().a) }\n"
    after = before.replace("func newT() T {", "func newT() *T {").replace("return t\n", "return &t\n")
    diff = compare(analyse(before), analyse(after))
    heap = [d for d in diff.added if d.group == "heap"]
    assert [(d.function, d.subject, d.message) for d in heap] == [("main.newT", "t", "moved to heap: t")]
    assert heap[0].line == 7
    assert not [d for d in diff.removed if d.group == "heap"]
    assert diff.summary.heap_added == 1 and diff.summary.heap_removed == 0
    assert "+1 heap allocation in newT" in diff.summary.phrases


def test_a_bounds_check_hint_removes_exactly_the_checks_it_covers():
    hinted = BASE.replace("func sum(s []int) int {\n", "func sum(s []int) int {\n\t_ = s[3]\n")
    diff = compare(analyse(BASE), analyse(hinted))
    removed = [d for d in diff.removed if d.group == "bounds-check"]
    assert sorted(d.subject for d in removed) == ["s[0]", "s[1]", "s[2]"]
    assert all(d.function == "main.sum" and d.line == 11 for d in removed)
    assert not [d for d in diff.added if d.group == "bounds-check"], "s[3] is checked once, as before"
    assert "\u22123 bounds checks in sum" in diff.summary.phrases


def test_identical_decisions_are_a_multiset():
    two = "package main\n\n//go:noinline\nfunc f() (*int, *int) {\n\treturn new(int), new(int)\n}\n\nfunc main() { f() }\n"
    one = two.replace("return new(int), new(int)", "return new(int), nil")
    a, b = analyse(two), analyse(one)
    assert [d.subject for d in decisions_of(a) if d.group == "heap"] == ["new(int)", "new(int)"]
    diff = compare(a, b)
    assert [(d.function, d.subject) for d in diff.removed if d.group == "heap"] == [("main.f", "new(int)")]
    assert not [d for d in diff.added if d.group == "heap"]
    assert "\u22121 heap allocation in f" in diff.summary.phrases


def test_a_function_that_grows_past_the_budget_is_no_longer_inlinable():
    small = 'package main\n\nfunc parse(s string) int {\n\treturn len(s)\n}\n\nfunc main() { println(parse("x")) }\n'
    body = "".join(f"\tn += len(s) * {i}\n" for i in range(40))
    big = small.replace("\treturn len(s)\n", f"\tn := 0\n{body}\treturn n\n")
    diff = compare(analyse(small), analyse(big))
    change = next(c for c in diff.changed if c.group == "inlinability")
    assert (
        change.function == "main.parse" and change.before.kind == "can-inline" and change.after.kind == "cannot-inline"
    )
    assert change.description.startswith("parse is no longer inlinable: ")
    assert "exceeds budget 80" in change.description
    assert "parse is no longer inlinable" in diff.summary.phrases
    assert [(d.group, d.subject) for d in diff.removed] == [("inlined-call", "parse")]


def test_language_version_changes_loop_closure_capture():
    program = (
        "package main\n\nfunc main() {\n\tvar fs []func()\n\tfor i := 0; i < 3; i++ {\n"
        "\t\tfs = append(fs, func() { println(i) })\n\t}\n\tfor _, f := range fs {\n\t\tf()\n\t}\n}\n"
    )
    diff = compare(analyse(program, lang="go1.21"), analyse(program, lang="go1.22"))
    assert ("main.main", "i") in {(d.function, d.subject) for d in diff.removed if d.group == "heap"}
    assert diff.a.lang == "go1.21" and diff.b.lang == "go1.22"


@pytest.mark.parametrize(("before", "after"), [(OLDEST_GO, NEWEST_GO)])
def test_two_go_versions_of_one_program(before, after):
    diff = compare(analyse(BASE, go=before), analyse(BASE, go=after))
    assert (diff.a.go, diff.b.go) == (before, after)
    assert not [d for d in diff.added + diff.removed if d.group == "heap"], "the same escapes in both"


def test_renderings_name_every_change():
    hinted = BASE.replace("func sum(s []int) int {\n", "func sum(s []int) int {\n\t_ = s[3]\n")
    diff = compare(analyse(BASE), analyse(hinted))
    text = render_text(diff)
    assert diff.summary.headline in text and "Found IsInBounds (s[0])" in text
    markdown = render_markdown(diff)
    assert markdown.count("| ➖ |") == 3 and "`sum`" in markdown


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("\treturn s[0] + s[i+1]", 10, "s[0]"),
        ("\treturn s[0] + s[i+1]", 17, "s[i+1]"),
        ("\tx := b[lo:hi]", 8, "b[lo:hi]"),
        ("\tn += p.next.v", 8, "p.next"),
        ("\tsink[i] = p", 10, "sink[i]"),
        ("\tkeep(&t, 0)", 6, "keep(…)"),
        ("\tq := *p", 7, "*p"),
        ("\tq := größe[1]", 14, "größe[1]"),
    ],
)
def test_expression_at_finds_the_checked_expression(line, column, expected):
    assert expression_at([line], 1, column) == expected
