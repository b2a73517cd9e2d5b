"""Bad input and limits through the real engine (no Django)."""

import pytest

from worker import sandbox
from worker.compiler import CompileRequest, compile_request, format_source
from worker.inputs import InvalidInput, decode_source, split_files

SMALL = "package main\n\nfunc main() {\n\tx := 1\n\t_ = &x\n}\n"


def request(source: str, **kwargs) -> CompileRequest:
    return CompileRequest(split_files(source), **kwargs)


def test_a_compile_that_runs_past_its_time_limit_is_stopped_with_a_message():
    analysis = compile_request(request(SMALL, limits=sandbox.Limits(wall_seconds=0.001)))
    assert analysis.status == "limit"
    assert "time limit" in analysis.errors[0]
    assert analysis.diagnostics == []


def test_output_flood_is_cut_and_reported():
    analysis = compile_request(request(SMALL, limits=sandbox.Limits(output_bytes=1000)))
    assert analysis.status == "limit" and "printed more than" in analysis.errors[0]


def test_nested_closures_flood_the_output_and_are_stopped():
    # 2,000 nested closures: -m=2 explains each capture along the whole chain, quadratically
    src = (
        "package main\n\nfunc main() {\n\tx := 0\n" + "\tfunc() { x++\n" * 2000 + "\t}()\n" * 2000 + "\tprintln(x)\n}\n"
    )
    analysis = compile_request(request(src))
    assert analysis.status == "limit"
    assert "printed more than 8 MiB" in analysis.errors[0]
    assert analysis.timings.compile_ms < 10_000


def test_a_huge_function_runs_past_a_tight_time_limit():
    # 6,000 branches in one function take the compiler about a second here
    body = "".join(f"\tif s[{i % 64}] > {i} {{ p = &s[{i * 7 % 64}] }}\n" for i in range(6000))
    src = f"package main\n\nvar s [64]int\nvar p *int\n\nfunc main() {{\n{body}}}\n"
    analysis = compile_request(request(src, groups=("inline",), limits=sandbox.Limits(wall_seconds=0.3)))
    assert analysis.status == "limit" and "time limit (0.3 s)" in analysis.errors[0]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "empty"),
        (b"\n\n  \t", "empty"),
        (b"package main\n" + b"/" * (300 * 1024), "limit is 256 KiB"),
        (b"package main\n\xff\xfe", "not valid UTF-8"),
        (b"package main\x00\x01", "NUL byte"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(raw, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        split_files(decode_source(raw))


def test_txtar_with_bad_file_names_is_refused():
    with pytest.raises(InvalidInput, match="not allowed"):
        split_files("-- ../etc/passwd.go --\npackage main\n")
    with pytest.raises(InvalidInput, match="twice"):
        split_files("-- a.go --\npackage main\n-- a.go --\npackage main\n")


def test_syntax_error_comes_back_at_its_line():
    analysis = compile_request(request("package main\n\nfunc main() {\n\tx := \n}\n"))
    assert analysis.status == "compile-error"
    assert analysis.errors and analysis.errors[0].startswith("main.go:5:1:")
    assert any(d.kind == "error" and d.line == 5 for d in analysis.diagnostics)


def test_unknown_import_is_named_without_running_the_compiler():
    analysis = compile_request(
        request(
            'package main\n\nimport (\n\t"fmt"\n\t"golang.org/x/exp/slices"\n)\n\nfunc main() { fmt.Println(slices.Max([]int{1})) }\n'
        )
    )
    assert analysis.status == "compile-error"
    assert analysis.errors == [
        'main.go:5:2: package "golang.org/x/exp/slices" is not in the standard library of Go '
        f"{analysis.go}: only standard library packages can be imported here."
    ]
    assert analysis.timings.compile_ms == 0


def test_internal_and_cgo_imports_are_refused():
    analysis = compile_request(request('package main\n\nimport "C"\nimport "internal/abi"\n\nfunc main() {}\n'))
    assert len(analysis.errors) == 2
    assert "cgo" in analysis.errors[0] and "internal" in analysis.errors[1]


def test_hostile_text_stays_verbatim_in_the_engine_output():
    src = 'package main\n\nfunc main() {\n\t_ = "<script>alert(1)</script>" + undefinedName\n}\n'
    analysis = compile_request(request(src))
    assert any("undefined: undefinedName" in e for e in analysis.errors)


def test_gofmt_formats_in_the_sandbox_and_reports_syntax_errors():
    (formatted,) = format_source(split_files("package main\nfunc main(){\nx:=1\n_=x}\n"))
    assert formatted.text == "package main\n\nfunc main() {\n\tx := 1\n\t_ = x\n}\n"
    with pytest.raises(InvalidInput, match="main.go:2"):
        format_source(split_files("package main\nfunc main( {\n"))
