"""``//line`` directives (worker/line_directives.py) and bidirectional control characters.

The lexer and the Go rules on their own; then, with the real compilers in the sandbox and
no mocks: the compiler never sees a live directive, every decision stays on its physical
line with the directive's position beside it, the mapping agrees with what the compiler
itself prints when the directives are live, and no directive's file name reaches the
page unescaped or the Markdown export at all.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string

from explorer.render import build_view, highlight_lines
from tests.conftest import NEWEST_GO, OLDEST_GO
from tests.test_sarif import validate
from worker import compiler, sandbox
from worker.analysis import HEAP_KINDS, Analysis, SourceFile
from worker.compare import compare
from worker.compiler import CompileRequest, compile_request
from worker.inputs import find_bidi
from worker.line_directives import comments, directive_position, directives, neutralize
from worker.parse.diagnostics import POSITION_RE
from worker.review import Links, anchor, render_markdown
from worker.sarif import to_sarif

GO_VERSIONS = [OLDEST_GO, NEWEST_GO]
LONG_NAME = "A" * 496 + ".go"  # 500 characters, no newline
HOSTILE = {
    "colon": "evil:name.go",
    "blanks": "my file.go",
    "markdown": "](https://evil) ![x](https://evil/img.png) [y](https://evil",
    "html": "<img src=x onerror=alert(1)>",
    "long": LONG_NAME,
}

PROGRAM = f"""package main

type T struct{{ a, b int }}

var sink *T

//line {HOSTILE["colon"]}:100
func newT() *T {{
	t := T{{1, 2}}
	return &t
}}

//line {HOSTILE["blanks"]}:200:3
func keep(p *T) {{ sink = p }}

//line {HOSTILE["markdown"]}:10
func box(v int) any {{ return v }}

//line {HOSTILE["html"]}:20:1
func mk(n int) []int {{ return make([]int, n) }}

func grow() *[]int {{ /*line {HOSTILE["long"]}:30:5*/ s := []int{{1}}; return &s }}

func main() {{
	keep(newT())
	println(box(1), mk(3), grow())
}}
"""
# The same program with the directives turned into plain comments (same lines, same columns).
PLAIN = PROGRAM.replace("//line ", "//nope ").replace("/*line ", "/*nope ")
# (physical line of the heap decision's subject, message) -> (file, line, column, directive line)
EXPECTED = {
    (9, "moved to heap: t"): (HOSTILE["colon"], 101, 0, 7),
    (17, "v escapes to heap"): (HOSTILE["markdown"], 10, 0, 16),
    (20, "make([]int, n) escapes to heap"): (HOSTILE["html"], 20, 35, 19),
    # column 500-something: the compiler prints none (from 255 on), so none is known
    (22, "moved to heap: s"): (HOSTILE["long"], 30, 0, 22),
}


def analyse(source: str, go: str) -> Analysis:
    analysis = compile_request(CompileRequest([SourceFile("main.go", source)], go=go))
    assert analysis.status == "ok", analysis.errors
    return analysis


def where(found, line: int, column: int) -> tuple[str, int, int]:
    pos = directive_position(found, line, column)
    assert pos is not None
    return pos.file, pos.line, pos.column


def heap(analysis: Analysis) -> list:
    return [d for d in analysis.diagnostics if d.kind in ("moved-to-heap", "escapes-to-heap")]


# --- the lexer ---------------------------------------------------------------------------


def test_directives_in_string_raw_string_and_rune_literals_are_text():
    source = (
        "package main\n"
        'var a = "/*line x.go:1*/ //line y.go:2"\n'
        "var b = `\n//line raw.go:5\n/*line raw.go:6*/\n`\n"
        "var c = '\"'\n"  # a rune holding a double quote opens no string
        'var d = "\\"//line q.go:3"\n'  # an escaped quote does not end the string
        "var e = '\\''\n"
        "// a comment quoting /*line c.go:4*/ is one comment\n"
    )
    assert directives(source) == []
    assert neutralize(source) == source


def test_the_scanner_ends_literals_where_go_does():
    # an unterminated string or rune ends at the newline: the next line is code again
    for opening in ('var s = "abc\\', "var s = 'a", 'var s = "abc'):
        source = f"package main\n{opening}\n//line x.go:5\nfunc f() {{}}\n"
        assert [(d.line, d.file, d.target_line) for d in directives(source)] == [(3, "x.go", 5)], opening
    # an unterminated raw string runs to the end of the file
    assert directives("package main\nvar s = `\n//line x.go:5\n") == []
    # an unterminated general comment is no directive
    assert directives("package main\n/*line x.go:5\n") == []


def test_line_comments_are_directives_only_in_column_1():
    for text in (" //line x.go:5\n", "\t//line x.go:5\n", "var x = 1 //line x.go:5\n", "\ufeff//line x.go:5\n"):
        assert directives(f"{text}func f() {{}}\n") == [], repr(text)
    found = directives("package main\n//line x.go:5\nfunc f() {}\n")
    assert [(d.line, d.column, d.start_line, d.start_column) for d in found] == [(2, 1, 3, 1)]


def test_block_directives_apply_mid_line_from_the_character_after_them():
    source = "package main\nfunc f() { g(/*line x.go:50:7*/ y) }\n"
    (d,) = directives(source)
    assert (d.line, d.column, d.block, d.file, d.target_line, d.target_column) == (2, 14, True, "x.go", 50, 7)
    assert (d.start_line, d.start_column) == (2, 14 + len("/*line x.go:50:7*/"))
    # before the comment: not in its range; after it, columns count on from 7
    assert directive_position([d], 2, 13) is None
    assert where([d], 2, 33) == ("x.go", 50, 8)
    assert where([d], 3, 5) == ("x.go", 51, 5)  # later lines: physical columns


def test_names_with_blanks_and_colons_are_peeled_from_the_back():
    cases = {
        "//line C:\\a b:c.go:12:4": ("C:\\a b:c.go", 12, 4),
        "//line a:b:10": ("a:b", 10, 0),
        "//line evil:name.go:100": ("evil:name.go", 100, 0),
        "//line  spaced  .go:7": (" spaced  .go", 7, 0),
        "//line x.go:5\r": ("x.go", 5, 0),
    }
    for comment, expected in cases.items():
        (d,) = directives(f"{comment}\nfunc f() {{}}\n", "main.go")
        assert (d.file, d.target_line, d.target_column) == expected, comment
    # not directives, or ones the compiler rejects: no effect
    for comment in (
        "//line x.go",
        "//line x.go:0",
        "//line x.go:1:0",
        "//line x.go:abc",
        "//line\tx.go:5",
        "//linex.go:5",
    ):
        assert directives(f"{comment}\nfunc f() {{}}\n") == [], comment


def test_empty_file_names_follow_go():
    source = "package main\n//line :40\nvar a = 1\n//line :60:5\nvar b = 2\n//line n.go:7\nvar c = 3\n//line :9:2\nvar d = 4\n"
    found = directives(source, "main.go")
    assert [(d.file, d.target_line, d.target_column) for d in found] == [
        ("", 40, 0),  # no name, no column: the name becomes empty
        ("", 60, 5),  # no name, a column: the most recent name, here the empty one
        ("n.go", 7, 0),
        ("n.go", 9, 2),
    ]
    # before any directive, a column without a name inherits the file's own name
    (d,) = directives("//line :3:1\nvar a = 1\n", "main.go")
    assert (d.file, d.target_line) == ("main.go", 3)
    # no column: unknown in the whole range, not only on the first line
    assert where(found, 3, 5) == ("", 40, 0)
    assert where(found, 5, 5) == ("", 60, 9)


def test_neutralize_keeps_every_byte_offset_line_and_column():
    source = PROGRAM + "//line\tnot.go:1\n"
    out = neutralize(source)
    assert len(out.encode()) == len(source.encode())
    assert [len(line.encode()) for line in out.splitlines()] == [len(line.encode()) for line in source.splitlines()]
    assert directives(out) == [] and "//LINE " in out and "/*LINE " in out
    assert "//line\tnot.go:1" in out  # no directive, left alone
    # a //line comment outside column 1 is no directive, but is disabled too (it changes nothing)
    assert neutralize("var x = 1 //line x.go:5\n") == "var x = 1 //LINE x.go:5\n"
    assert [c.block for c in comments(source)].count(True) == 1


# --- with the real compilers -------------------------------------------------------------


def compile_live(go: str, text: str) -> str:
    """The compiler's -m=2 output with the directives live: what it did before this module."""
    tc = compiler.resolve_toolchain(go, "amd64")
    req = CompileRequest([SourceFile("main.go", text)], go=go, groups=("escape",))
    workdir = Path(tempfile.mkdtemp(prefix="ee-live-"))
    try:
        (workdir / "main.go").write_text(text, encoding="utf-8")
        argv = [a for a in compiler.compiler_argv(tc, req, tc.lang, workdir) if not a.startswith("-json=")]
        result = sandbox.run(
            argv,
            env=compiler.compiler_env(tc, "amd64"),
            ro_paths=[tc.root],
            input_dir=workdir,
            cwd=str(workdir),
            limits=req.limits,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result.stdout.replace(f"{workdir}/", "")


def _printed_as(go: str, name: str) -> str:
    """The name as the compiler prints it: 1.22+ cleans it, an empty one is "??"."""
    if not name:
        return "??"
    return posixpath.normpath(name) if go != OLDEST_GO else name


@pytest.mark.parametrize("go", GO_VERSIONS)
def test_the_mapping_agrees_with_the_compiler_with_live_directives(go):
    source = PROGRAM + "\n//line :40\nfunc f1() *int { x := 1; return &x }\n"
    source += "\n//line :60:5\nfunc f2() *int { x := 1; return &x }\n"
    live = compile_live(go, source).splitlines()
    physical = compile_request(CompileRequest([SourceFile("main.go", source)], go=go, groups=("escape",)))
    assert physical.status == "ok", physical.errors
    printed = [line for line in physical.raw_output.splitlines() if line.strip()]
    assert len(printed) == len(live) > 20
    found = directives(source, "main.go")
    for ours, theirs in zip(printed, live, strict=True):
        m = POSITION_RE.match(ours)
        assert m and m["file"] == "main.go", ours  # the compiler saw no directive
        pos = directive_position(found, int(m["line"]), int(m["col"] or 0))
        if pos is None:
            expected = f"main.go:{m['line']}" + (f":{m['col']}" if m["col"] else "")
        else:
            expected = f"{_printed_as(go, pos.file)}:{pos.line}" + (f":{pos.column}" if pos.column else "")
        if m["col"] is None and pos is not None:
            # column 255 or beyond on the physical line: not printed, so not known to us; the
            # compiler, counting from the directive, still knew it
            assert re.match(re.escape(expected) + r"(:\d+)?: ", theirs), (ours, theirs, expected)
        else:
            assert theirs.startswith(expected + ": "), (ours, theirs, expected)


@pytest.mark.parametrize("go", GO_VERSIONS)
def test_every_decision_stays_on_its_physical_line_with_the_directive_beside_it(go):
    analysis = analyse(PROGRAM, go)
    plain = analyse(PLAIN, go)
    assert {d.file for d in analysis.diagnostics} == {"main.go"}
    assert "evil" not in analysis.raw_output and "onerror" not in analysis.raw_output
    # the same heap decisions, at the same places, as without directives
    key = [(d.line, d.column, d.message) for d in heap(analysis)]
    assert key == [(d.line, d.column, d.message) for d in heap(plain)] and len(key) >= 4
    assert sum(d.kind in HEAP_KINDS for d in analysis.diagnostics) == sum(
        d.kind in HEAP_KINDS for d in plain.diagnostics
    )
    by_place = {(d.line, d.message): d for d in heap(analysis)}
    for (line, message), (file, target_line, column, directive_line) in EXPECTED.items():
        d = by_place[(line, message)]
        assert d.details["line_directive"] == {
            "file": file,
            "line": target_line,
            "column": column,
            "directive_file": "main.go",
            "directive_line": directive_line,
        }
        if d.flow:
            assert all(s["file"] == file for s in d.details["flow_line_directives"])
    # decisions before the first directive carry none
    assert not any("line_directive" in d.details for d in analysis.diagnostics if d.line < 7)
    assert not any("line_directive" in d.details for d in plain.diagnostics)


@pytest.mark.parametrize("go", GO_VERSIONS)
def test_sarif_keeps_the_physical_location_and_adds_the_directive(go):
    log = to_sarif(analyse(PROGRAM, go))
    validate(log)
    results = log["runs"][0]["results"]
    moved = next(r for r in results if r["message"]["text"] == "moved to heap: t")
    physical = moved["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "main.go" and physical["region"]["startLine"] == 9
    assert moved["properties"]["lineDirective"] == {
        "file": "evil:name.go",
        "line": 101,
        "column": 0,
        "directiveFile": "main.go",
        "directiveLine": 7,
    }
    step = moved["codeFlows"][0]["threadFlows"][0]["locations"][0]["location"]
    assert step["physicalLocation"]["artifactLocation"]["uri"] == "main.go"
    assert step["properties"]["lineDirective"]["file"] == "evil:name.go"
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results if r["locations"]} == {
        "main.go"
    }


LIVE_LINK = re.compile(r"!?\[[^\]]*\]\(https?://evil|<img|\]\(https://evil")


@pytest.mark.parametrize("go", GO_VERSIONS)
def test_the_markdown_export_carries_no_directive_name(go):
    a = analyse(PROGRAM, go)
    b = analyse(PROGRAM.replace("\treturn &t\n", "\t_ = t\n\treturn nil\n"), go)
    links = Links(compare="https://ee.test/c/a/b", a="https://ee.test/s/a", b="https://ee.test/s/b")
    same = compare(a, a)
    changed = compare(a, b)
    assert same.empty and not changed.empty
    for diff in (same, changed):
        markdown = render_markdown(diff, links)
        assert "evil" not in markdown and "onerror" not in markdown and not LIVE_LINK.search(markdown)
    # the diff counts the decisions as it counts any others
    # (t in newT, and t of newT inlined into main)
    assert (changed.summary.heap_added, changed.summary.heap_removed) == (0, 2) == (0, len(heap(a)) - len(heap(b)))
    assert compare(analyse(PLAIN, go), a).empty


def test_markdown_links_cannot_be_broken_out_of():
    two_files = SimpleNamespace(files=[1, 2])
    fragment = anchor(two_files, "a) ![x](https://evil/img.png", 3)
    assert fragment.startswith("#") and not set("()[] !") & set(fragment)
    a = Analysis(go="1.27.3", goarch="amd64", lang="go1.27", files=[SourceFile("main.go", "package main\n")])
    hostile = "https://ee.test/s/a) ![x](https://evil/img.png"
    markdown = render_markdown(compare(a, a), Links(compare=hostile, a=hostile, b=hostile))
    assert not LIVE_LINK.search(markdown), markdown
    assert "](https://ee.test/s/a%29%20!%5Bx%5D%28https://evil/img.png)" in markdown


@pytest.mark.parametrize("go", [NEWEST_GO])
def test_the_page_notes_the_directive_on_the_physical_line_escaped(go):
    analysis = analyse(PROGRAM, go)
    view = build_view(analysis.to_dict(), analysis.files)
    lines = {line.number: line for line in view["files"][0].lines}
    (make,) = [d for d in lines[20].diagnostics if d["message"] == "make([]int, n) escapes to heap"]
    assert make["line_directive"] == {"directive_line": 19, "position": f"{HOSTILE['html']}:20:35", "unnamed": False}
    (moved,) = [d for d in lines[9].diagnostics if d["message"] == "moved to heap: t"]
    assert moved["line_directive"]["position"] == "evil:name.go:101"
    assert not view["unplaced"]
    assert [d["line"] for d in view["source_warnings"]["line_directives"]] == [7, 13, 16, 19, 22]
    html = "".join(render_to_string("partials/decision_group.html", {"g": g}) for g in lines[20].groups)
    assert "the //line directive on line 19 reports this as" in html
    assert "&lt;img src=x onerror=alert(1)&gt;:20:35" in html and "<img" not in html
    html = "".join(render_to_string("partials/decision_group.html", {"g": g}) for g in lines[17].groups)
    assert "](https://evil)" in html and '<a href="https://evil' not in html  # text, never a link
    banner = render_to_string("partials/source_warnings.html", {"view": view})
    assert "5 //line directives" in banner and 'href="#L7"' in banner


def test_the_ssa_page_is_compiled_from_the_same_neutralized_files():
    from worker import ssa

    request = CompileRequest([SourceFile("main.go", PROGRAM)], go=NEWEST_GO)
    html = ssa.ssa_html(request, "main.newT")  # a function inside a directive's range
    assert re.search(r"main\.go:9:\d+", html) and "evil" not in html


# --- bidirectional control characters ----------------------------------------------------

BIDI = (
    "package main\n\n"
    "func main() {\n"
    '\taccess := "user\u202e \u2066// Check if admin\u2069 \u2066"\n'
    "\tprintln(access) // \u200f\u061c\n"
    "}\n"
)


def test_highlight_lines_marks_bidi_characters():
    lines = highlight_lines(BIDI)
    assert len(lines) == 6
    for index, codes in ((3, ["U+202E", "U+2066", "U+2069", "U+2066"]), (4, ["U+200F", "U+061C"])):
        assert re.findall(r"\u27e8(U\+[0-9A-F]{4})\u27e9", lines[index]) == codes
        assert lines[index].startswith('<span class="bidi-line">')
    assert 'title="U+202E RIGHT-TO-LEFT OVERRIDE"' in lines[3]
    assert not re.search("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", "".join(lines))
    assert "bidi" not in lines[0] + lines[2]


def test_find_bidi_and_the_page_flag_them():
    files = [SourceFile("main.go", BIDI), SourceFile("b.go", "package main\n\n// \u202dé\u202a\n")]
    found = find_bidi(files)
    assert [(b["file"], b["line"], b["codepoint"]) for b in found] == [
        ("main.go", 4, "U+202E"),
        ("main.go", 4, "U+2066"),
        ("main.go", 4, "U+2069"),
        ("main.go", 4, "U+2066"),
        ("main.go", 5, "U+200F"),
        ("main.go", 5, "U+061C"),
        ("b.go", 3, "U+202D"),
        ("b.go", 3, "U+202A"),
    ]
    assert found[0]["name"] == "RIGHT-TO-LEFT OVERRIDE" and found[0]["column"] == len('\taccess := "user') + 1
    assert found[-1]["column"] == len("// \u202dé".encode()) + 1  # bytes, as the compiler counts
    view = build_view({}, files)
    line = view["files"][0].lines[3]
    assert [m["kind"] for m in line.markers] == ["bidi"] and len(line.bidi) == 4
    warnings = view["source_warnings"]
    assert warnings["bidi_count"] == 8
    assert [(w["file"], w["line"], w["count"]) for w in warnings["bidi_lines"]] == [
        ("main.go", 4, 4),
        ("main.go", 5, 2),
        ("b.go", 3, 2),
    ]
    banner = render_to_string("partials/source_warnings.html", {"view": view})
    assert "8 bidirectional control characters" in banner and 'href="#b.go-L3"' in banner
