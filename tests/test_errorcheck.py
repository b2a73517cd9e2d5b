"""Errorcheck tests (the Go project's format) through the explorer and the raw compiler.

Three parts (the rules are tests/errorcheck.py's):

- the harness itself, without a compiler: headers, expectations, RE2 regexps, the Go
  harness's matching rule, build constraints;
- our own cases, tests/data/errorcheck/*.go, always: every expectation is met by the
  raw compiler and through the explorer, on the oldest and the newest toolchain (a
  file whose build constraint excludes a toolchain is skipped on it);
- the Go repository's escape*.go and inline*.go tests, when ``GO_TEST_DIR`` names a
  copy of its test/ folder: nothing the raw compiler meets may be missed through the
  explorer. Run it with
  ``GO_TEST_DIR=/tmp/gotest .venv/bin/python -m pytest tests/test_errorcheck.py -q -s``
  (``-s`` prints the per-file report), or ``.venv/bin/python scripts/errorcheck.py
  /tmp/gotest`` for the report alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import errorcheck as ec
from tests.conftest import NEWEST_GO, OLDEST_GO, ROOT, go_versions_under_test

OWN_CASES = ROOT / "tests" / "data" / "errorcheck"
OWN_FILES = sorted(OWN_CASES.glob("*.go"))
VERSIONS = tuple(go_versions_under_test())


# --- the harness, without a compiler ---------------------------------------------------


def test_header_words_that_are_not_compiler_flags():
    h = ec.parse_header("// errorcheck -0 -m -l\n\npackage p\n")
    assert (h.action, h.flags, h.want_error, h.want_auto) == ("errorcheck", ("-m", "-l"), False, False)
    h = ec.parse_header("// errorcheck -m=2\npackage p\n")
    assert h.want_error and h.flags == ("-m=2",)
    h = ec.parse_header("// errorcheckwithauto -0 -t 10 -goexperiment aliastypeparams -m -d=inlfuncswithclosures=1\n")
    assert h.action == "errorcheckwithauto" and h.want_auto and not h.want_error
    assert h.flags == ("-m", "-d=inlfuncswithclosures=1") and h.goexperiment == "aliastypeparams"
    # The recipe is the first non-empty line that is not a build constraint.
    h = ec.parse_header("//go:build amd64\n// +build amd64\n\n// errorcheck -0 -live\n\npackage p\n")
    assert (h.action, h.flags) == ("errorcheck", ("-live",))
    assert ec.parse_header("// run\n\npackage main\n").action == "run"


def test_expectations_per_quoted_regexp():
    src = "\n".join(
        [
            "// errorcheck -0 -m",  # 1
            "package p",  # 2
            'func f(x *int) { // ERROR "leaking param: x$" `moved to heap: y`',  # 3
            '\tg() //// ERROR "disabled by the double comment"',  # 4
            '\th() /* // ERROR "inside a block comment" */',  # 5
            '\tk() // ERROR "at LINE-1 and LINE+2", "comma between"',  # 6
            '\t// ERRORAUTO "inlining call to T.meth"',  # 7
            '\tm() // GC_ERROR "gc only"',  # 8
        ]
    )
    got = [(e.line, e.regexp, e.auto) for e in ec.wanted_errors(src, "p.go")]
    assert got == [
        (3, "leaking param: x$", False),
        (3, "moved to heap: y", False),
        (5, "inside a block comment", False),
        (6, "at p.go:5 and p.go:8", False),
        (6, "comma between", False),
        (7, "inlining call to T.meth", True),
        (8, "gc only", False),
    ]


@pytest.mark.parametrize(
    ("rx", "text", "matches"),
    [
        ("moved to heap: x$", "moved to heap: x", True),
        ("moved to heap: x$", "moved to heap: x2", False),
        ("x$", "x\n", False),  # RE2's $ is the end of the text, Python's also before a last \n
        (r"a\z", "a", True),
        (r"\Q(*T).m\E does", "(*T).m does not escape", True),
        ("[[:digit:]]+ bytes", "width 12 bytes", True),
        ("[^]x]y", "]y zy", True),
        ("&T{...} escapes", "&T{...} escapes to heap", True),  # { not followed by a repeat is literal
        ("(?P<n>a)|(?<m>b)", "b", True),
        (r"\x{41}", "A", True),
    ],
)
def test_go_regexps_translated(rx, text, matches):
    assert bool(ec.compile_go_regexp(rx).search(text)) is matches


def test_untranslatable_regexps_are_reported_not_guessed():
    for rx in (r"\pL", r"[\p{Greek}]", "(?U)a+"):
        with pytest.raises(ec.Untranslatable):
            ec.translate_go_regexp(rx)
    [exp] = ec.wanted_errors('x // ERROR "\\pL"', "p.go")
    assert exp.pattern is None and "not translated" in exp.problem


def test_matching_follows_the_go_harness():
    exps = ec.wanted_errors(
        "\n".join(
            [
                'a // ERROR "moved to heap: x" "does not escape"',  # 1
                'b // ERROR "generated nil check" "generated nil check"',  # 2
                'c // ERROR "have \\(\\)"',  # 3
                'd // ERROR "x"',  # 4: nothing printed at line 4
                'e // ERROR "stmt"',  # 5
            ]
        ),
        "p.go",
    )
    out = "\n".join(
        [
            "/abs/dir/p.go:1:7: moved to heap: x",
            "p.go:1:9: p does not escape",
            "p.go:2:3: generated nil check",
            "p.go:2:9: generated nil check",
            "p.go:3:1: not enough arguments",
            "\thave ()",  # continues the message above
            "p.go:40:2: x does not escape",  # line 40 is not line 4
            "p.go:5:4:[1] f stmt: x := 1",  # a prefix followed by "[" counts
            "# command-line-arguments",
        ]
    )
    messages = ec.split_output(out)
    assert len(messages) == 7
    # A regexp takes every message it matches at its line: the second identical one
    # finds nothing left (as in the Go repository's harness).
    assert ec.check_expectations(exps, messages, "p.go") == [True, True, True, False, True, False, True]


def test_build_constraints():
    tags = frozenset({"linux", "amd64", "gc", "go1.21", "go1.22", "goexperiment.regabiargs"})
    assert ec.should_test("//go:build amd64 && !386\n\npackage p\n", tags)[0]
    assert not ec.should_test("//go:build goexperiment.unified\n\npackage p\n", tags)[0]
    assert ec.should_test("//go:build (386 || amd64) && !gcflags_noopt\npackage p\n", tags)[0]
    assert not ec.should_test("//go:build go1.23\npackage p\n", tags)[0]
    assert ec.should_test("// +build 386 amd64\n// +build !nacl\npackage p\n", tags)[0]
    assert not ec.should_test("// +build !amd64,linux\npackage p\n", tags)[0]
    # Only the header counts: a constraint-looking line after package is code.
    assert ec.should_test("package p\n//go:build never\n", tags)[0]


# --- our own cases: always -------------------------------------------------------------


def test_own_cases_cover_the_flags():
    headers = {p.name: ec.parse_header(p.read_text(encoding="utf-8")) for p in OWN_FILES}
    assert len(headers) >= 8 and all(h.action == "errorcheck" and not h.want_error for h in headers.values())
    flags = [" ".join(h.flags) for h in headers.values()]
    for wanted in ("-m -l", "-m=2", "-d=ssa/prove/debug=1", "-d=escapedebug=1", "-N", "-live", "-d=defer=1"):
        assert any(wanted in f for f in flags), f"no own case with {wanted}"
    assert any("-d=closure=1" in f or "capturing by" in p.read_text() for f, p in zip(flags, OWN_FILES, strict=True))
    for p in OWN_FILES:
        assert len(ec.wanted_errors(p.read_text(encoding="utf-8"), p.name)) >= 3, p.name


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("version", VERSIONS)
def test_own_case_through_raw_compiler_and_explorer(version: str, path: Path):
    result = ec.check_file(path, version)
    if result.skipped:
        # Only a build constraint may leave a case out, and never on the newest toolchain.
        assert version != NEWEST_GO and result.skipped.startswith("build constraint"), result.skipped
        pytest.skip(result.skipped)
    assert not result.refused, result.refused
    assert result.raw_exit == 0 and result.explorer_status == "ok"
    assert result.expectations and not result.untranslated
    raw_missed = [str(e) for e, met in zip(result.expectations, result.raw_met, strict=True) if not met]
    assert not raw_missed, f"the raw compiler (Go {version}) misses {raw_missed}"
    assert not result.gaps, "\n".join(result.describe_gap(i) for i in result.gaps)
    assert all(result.explorer_met)


def test_escapedebug_case_needs_go122():
    if OLDEST_GO not in VERSIONS:
        pytest.skip(f"Go {OLDEST_GO} is not under test")
    result = ec.check_file(OWN_CASES / "escapedebug.go", OLDEST_GO)
    assert result.skipped == "build constraint //go:build go1.22 excludes linux/amd64"


# --- the Go repository's test files: with GO_TEST_DIR ----------------------------------


def test_go_repository_errorcheck_files():
    directory = ec.go_test_dir()
    if directory is None:
        pytest.skip(
            "GO_TEST_DIR is not set: copy the Go repository's test/ folder (escape*.go, inline*.go) to a "
            "directory outside this repository and run "
            "GO_TEST_DIR=/that/dir .venv/bin/python -m pytest tests/test_errorcheck.py -q -s"
        )
    assert directory.is_dir(), f"GO_TEST_DIR={directory} is not a directory"
    results = ec.check_directory(directory, NEWEST_GO)
    assert results, f"no escape*.go or inline*.go in {directory}"
    print(f"\nGo {NEWEST_GO}, {directory}:\n{ec.format_report(results)}")
    totals = ec.totals(results)
    assert totals.checked - totals.refused > 0, "no file ran through the explorer"
    gaps = [r.describe_gap(i) for r in results for i in r.gaps]
    assert not gaps, f"{len(gaps)} expectations the raw compiler meets and the explorer misses:\n" + "\n".join(gaps)
    # Every skip and refusal says why.
    assert all(re.search(r"\w", r.skipped or r.refused or "ok") for r in results)


# --- gaps this harness found in the engine, fixed; kept as regression tests -------------


def test_m3_statement_lines_are_shown(tmp_path):
    case = tmp_path / "m3.go"
    case.write_text(
        "// errorcheck -0 -m=3 -l\n\npackage p\n\nvar sink *int\n\n"
        'func f(x int) { // ERROR "moved to heap: x"\n\tsink = &x // ERROR "f stmt: sink = &x"\n}\n',
        encoding="utf-8",
    )
    result = ec.check_file(case, NEWEST_GO)
    assert all(result.raw_met)
    assert not result.gaps, "\n".join(result.describe_gap(i) for i in result.gaps)


def test_a_bare_m_flag_asks_for_level_one():
    from worker.compiler import compile_request

    src = "package p\n\nvar sink *int\n\nfunc f(x int) {\n\tsink = &x\n}\n"
    request, _ = ec.explorer_request(NEWEST_GO, "p.go", src, ("-m", "-l"), {})
    analysis = compile_request(request)
    level3 = [line for line in analysis.raw_output.splitlines() if re.match(r"^p\.go:\d+:\d+:\[\d+\] ", line)]
    assert not level3, f"-m printed level-3 lines: {level3}"
