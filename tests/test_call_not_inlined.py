"""Calls not inlined at their site (the compiler's optimization log), on both toolchains."""

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker.compare import compare
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files

BIG_BODY = "".join(f"\tif a[{i % 8}] > {i} {{ sink += a[{i * 3 % 8}] * {i} }}\n" for i in range(700))


def program(caller_is_big: bool) -> str:
    body = BIG_BODY if caller_is_big else ""
    return (
        "package main\n\nfunc medium(x int) int {\n\tif x > 10 {\n\t\treturn x*3 + x/2 - x%7\n\t}\n"
        "\treturn x*x + 2*x - 1\n}\n\nvar sink int\n\n"
        f"func caller(a []int) {{\n{body}\tsink += medium(a[0])\n}}\n\n"
        "func main() { caller(make([]int, 8)) }\n"
    )


@pytest.mark.parametrize("go", [OLDEST_GO, NEWEST_GO])
def test_a_big_caller_does_not_inline_a_medium_callee_and_says_why(go):
    src = program(caller_is_big=True)
    analysis = compile_request(CompileRequest(split_files(src), go=go))
    [d] = [d for d in analysis.diagnostics if d.kind == "call-not-inlined"]
    call_line = src.splitlines().index("\tsink += medium(a[0])") + 1
    assert (d.file, d.line, d.column) == ("main.go", call_line, 16)
    assert d.message == "cost 26 of main.medium exceeds max caller cost 20"
    assert d.details | {"callee": "main.medium", "cost": 26, "max_cost": 20} == d.details
    assert d.function == "main.caller"
    # the same call in a small caller is simply inlined
    small = compile_request(CompileRequest(split_files(program(caller_is_big=False)), go=go))
    assert not [d for d in small.diagnostics if d.kind == "call-not-inlined"]
    assert any(d.kind == "inlining-call" and d.details.get("callee") == "medium" for d in small.diagnostics)


def test_the_diff_reports_the_call_that_stopped_being_inlined():
    before = compile_request(CompileRequest(split_files(program(caller_is_big=False))))
    after = compile_request(CompileRequest(split_files(program(caller_is_big=True))))
    diff = compare(before, after)
    added = [d for d in diff.added if d.group == "call-not-inlined"]
    assert [d.message for d in added] == ["cost 26 of main.medium exceeds max caller cost 20"]
