"""worker/ssa_sanitize.py: the compiler's ssa.html through an allow-list, and its CSP.

On the compiler's real pages (tests/data/captured/ssa/, made by capture.py there from
payload.go: HTML in a struct tag of a generic type argument, which the compiler prints
unescaped) and on hand-written hostile fragments. The output is read back with
html.parser (the sanitized page is canonical, so a browser reads it the same way;
tests/browser/test_ssa.py checks that in Chromium).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker import compiler, ssa
from worker.analysis import SourceFile
from worker.ssa_sanitize import HANDLERS, TAGS, csp_for, head_script, sanitize, script_hashes

CAPTURED = Path(__file__).resolve().parent / "data" / "captured" / "ssa"
PAGES = sorted(CAPTURED.glob("*.html"))
PAYLOAD = (
    'json:\\"</title><script>alert(document.domain)</script>'
    "<meta http-equiv=refresh content='0;url=https://evil.example'>\\\""
)


def raw_page(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class Reader(HTMLParser):
    """What a browser makes of a sanitized page: elements, where they are, the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], bool]] = []  # tag, attrs, in body
        self.in_body = False
        self.body_text: list[str] = []
        self.scripts: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), f"duplicate attribute in <{tag}>"
        self.elements.append((tag, dict(attrs), self.in_body))
        if tag == "body":
            self.in_body = True
        if tag == "script":
            self._script = []

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)
        elif self.in_body:
            self.body_text.append(data)

    def handle_comment(self, data):
        raise AssertionError(f"a comment came through: {data!r}")

    def handle_decl(self, decl):
        raise AssertionError(f"a declaration came through: {decl!r}")

    def handle_pi(self, data):
        raise AssertionError(f"a processing instruction came through: {data!r}")

    def unknown_decl(self, data):
        raise AssertionError(f"a marked section came through: {data!r}")


def read(page: str) -> Reader:
    reader = Reader()
    reader.feed(page)
    reader.close()
    return reader


def assert_safe(page: str) -> Reader:
    """The invariants of every sanitized page."""
    reader = read(page)
    scripts = [(attrs, in_body) for tag, attrs, in_body in reader.elements if tag == "script"]
    assert len(scripts) <= 1, scripts
    for attrs, in_body in scripts:
        assert not in_body and attrs == {"type": "text/javascript"}
    for tag, attrs, in_body in reader.elements:
        assert tag in TAGS, f"<{tag}> is not the compiler's"
        if tag in ("meta", "style", "script", "head", "html"):
            assert not in_body, f"<{tag}> in the body"
        for name, value in attrs.items():
            assert name in TAGS[tag], f"<{tag} {name}>"
            if name.startswith("on"):
                assert value == HANDLERS[tag], f"<{tag} {name}={value!r}>"
            if name == "href":
                assert re.fullmatch(r"#[\w-]*", value or ""), value
            assert "javascript:" not in (value or "").lower()
        if tag == "meta":
            assert attrs == {"http-equiv": "Content-Type", "content": "text/html;charset=UTF-8"}
    assert sum(tag == "meta" for tag, _, _ in reader.elements) <= 1
    assert sanitize(page) == page, "not idempotent"
    return reader


def compilers_script(page: str) -> str:
    start = page.index('<script type="text/javascript">') + len('<script type="text/javascript">')
    return page[start : page.index("</script>", start)]


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# -- the compiler's real pages ---------------------------------------------------------


def test_the_captured_pages_are_the_compilers_and_carry_the_payload_raw():
    assert {p.name for p in PAGES} == {"go1.27.3-G.html", "go1.21.13-main.html"}
    for path in PAGES:
        meta = json.loads(path.with_suffix(".json").read_text())
        page = raw_page(path)
        assert meta["go"] in (NEWEST_GO, OLDEST_GO)
        assert page.startswith("<html><head>") and "genssa" in page
        assert "<script>alert(document.domain)</script>" in page  # what the compiler left
        assert "<meta http-equiv=refresh" in page


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_payload_markup_survives(path):
    page = sanitize(raw_page(path))
    reader = assert_safe(page)
    assert "<script>alert" not in page and "<meta http-equiv=refresh" not in page
    assert "&lt;script&gt;alert(document.domain)" in page
    assert "&lt;meta http-equiv=refresh content='0;url=https://evil.example'&gt;" in page
    assert [tag for tag, _, _ in reader.elements].count("script") == 1
    assert not any(tag == "title" for tag, _, _ in reader.elements)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_the_payload_is_shown_as_the_compiler_printed_it(path):
    text = "".join(read(sanitize(raw_page(path))).body_text)
    assert f'go.shape.struct {{ X int "{PAYLOAD}" }}' in text


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_only_less_than_and_greater_than_signs_were_escaped(path):
    """Nothing dropped, nothing added: the page reads the same once "<" and ">" are
    escaped where the compiler had not, and all of its own markup is still markup."""
    raw = raw_page(path)
    page = sanitize(raw)

    def unescaped(html: str) -> str:
        return html.replace("&lt;", "<").replace("&gt;", ">")

    assert unescaped(page) == unescaped(raw)
    # The compiler's elements, all of them; the payload's, none.
    payload = ("script", "meta", "nil")  # "nil": 1.21 prints "buildssa-enter <nil>"
    expected = [(tag, attrs) for tag, attrs, in_body in read(raw).elements if not (in_body and tag in payload)]
    assert [(tag, attrs) for tag, attrs, _ in read(page).elements] == expected
    for handler in HANDLERS.values():
        assert page.count(f'onclick="{handler}"') == raw.count(f'onclick="{handler}"') > 0


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_the_compilers_script_is_kept_byte_for_byte(path):
    raw = raw_page(path)
    page = sanitize(raw)
    script = compilers_script(raw)
    assert len(script) > 5000 and "function toggle_visibility" in script
    assert compilers_script(page) == script
    assert read(page).scripts == [script]
    assert head_script(page) == script == head_script(raw)
    assert page[: page.index("</head>")] == raw[: raw.index("</head>")]  # the whole head


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_the_policy_allows_the_compilers_script_and_handlers_by_hash_only(path):
    page = sanitize(raw_page(path))
    csp = csp_for(page)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert csp.startswith("sandbox allow-scripts;")
    assert directives["sandbox"] == "allow-scripts"
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == "'unsafe-inline'"
    assert directives["img-src"] == "data:"
    assert directives["form-action"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "navigate-to" not in directives and "allow-same-origin" not in csp
    sources = directives["script-src"].split()
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert set(sources) == {
        "'unsafe-hashes'",
        sha256_source(compilers_script(page)),
        *(sha256_source(handler) for handler in HANDLERS.values()),
    }
    assert script_hashes(page) == [s for s in sources if s != "'unsafe-hashes'"]
    assert sha256_source("toggleDarkMode();") in sources  # the strings, exactly


def test_the_allow_list_is_what_both_compilers_write():
    """Every tag and attribute of TAGS occurs in the captured pages (nothing allowed
    that the compiler does not use), the handlers are on the tags they are allowed on."""
    seen: dict[str, set[str]] = {}
    for path in PAGES:
        for tag, attrs, _ in read(sanitize(raw_page(path))).elements:
            seen.setdefault(tag, set()).update(attrs)
    assert set(seen) == set(TAGS)
    for tag, rules in TAGS.items():
        assert seen[tag] == set(rules), tag


def test_ssa_html_returns_the_sanitized_page():
    source = (CAPTURED / "payload.go").read_text()
    request = compiler.CompileRequest(files=[SourceFile("main.go", source)], go=NEWEST_GO)
    functions = ssa.user_functions(compiler.compile_request(request).functions, ["main.go"], "main")
    page = ssa.ssa_html(request, "main.G[main.S]", functions)
    assert_safe(page)
    assert "<script>alert" not in page and "&lt;script&gt;alert(document.domain)" in page
    assert head_script(page) == compilers_script(raw_page(CAPTURED / "go1.27.3-G.html"))
    assert sanitize(page) == page


# -- hand-written hostile fragments ------------------------------------------------------


@pytest.fixture(scope="module")
def head() -> str:
    """The compiler's head, up to and including <body>."""
    page = sanitize(raw_page(CAPTURED / "go1.27.3-G.html"))
    return page[: page.index("<body>") + len("<body>")]


# Each is shown as the characters it is: no markup of it survives.
ESCAPED = [
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)" onclick="toggle_visibility(\'help\');return false;">x</a>',
    '<a href="https://evil.example">x</a>',
    '<a href="//evil.example">x</a>',
    '<a href=" #">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<form action="https://evil.example"><input type=submit value=go></form>',
    '<base href="https://evil.example/">',
    "<svg onload=alert(1)>",
    '<svg><script href="data:,alert(1)" /></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    "<!-- a comment -->",
    "<!--><script>alert(1)</script>-->",
    "<!--x--!><script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    '<ScRiPt type="text/javascript">alert(1)</sCrIpT>',
    '<script type="text/javascript">alert(1)</script>',
    "<script>alert(1)</script ><script>alert(2)</script>",
    "<scr<script>ipt>alert(1)</script>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<meta http-equiv="Content-Type" content="text/html;charset=UTF-8">',
    "<style>body{background:url(https://evil.example/x)}</style>",
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<object data="https://evil.example"></object><embed src="https://evil.example">',
    "<title>x</title><textarea><img src=x onerror=alert(1)></textarea><noscript>x</noscript>",
    "<xmp><script>alert(1)</script></xmp><plaintext><img src=x>",
    "<template><script>alert(1)</script></template>",
    '<button onclick="alert(1)">-</button>',
    '<button onclick="hideBlock(this);alert(1)">-</button>',
    '<span onclick="hideBlock(this)">-</span>',
    '<input type="checkbox" onclick="toggleDarkMode();" autofocus onfocus="alert(1)" />',
    '<input type="text" id="x" />',
    '<div style="background:url(https://evil.example/x)">x</div>',
    '<div style="width: 8%; position: fixed">x</div>',
    '<a href="#" href="javascript:alert(1)">x</a>',
    "<a href>x</a>",
    "<div/>",
    "<!DOCTYPE html>",
    "<?xml version='1.0'?>",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<![x[ <b>x</b>",
    "</>",
    "</ script>",
    "</div></span></td></tr></table>",
    "<html><head><body>",
    "< script>alert(1)</script>",
    "&pi; &copy &notin &r[*int] &#;&#x; & &amp",
]


@pytest.mark.parametrize("fragment", ESCAPED)
def test_a_hostile_fragment_is_only_text(head, fragment):
    page = sanitize(head + fragment + "</body></html>")
    reader = assert_safe(page)
    assert page.endswith("</body></html>")
    body = page[len(head) : -len("</body></html>")]
    assert "<" not in body, body
    shown = "".join(reader.body_text)
    if "&" not in fragment:
        assert shown == fragment, (shown, fragment)


def test_references_are_kept_as_the_compiler_wrote_them(head):
    """Entities keep meaning what they meant; one without ";" (a closure's "&r" or a
    variable named "pi") is shown as printed, not decoded."""
    page = sanitize(head + "&pi; &copy &notin &r[*int] &#;&#x; & &amp &lt;b&gt; &#60;i&#x3e;</body></html>")
    assert page[len(head) :] == (
        "&pi; &amp;copy &amp;notin &amp;r[*int] &amp;#;&amp;#x; &amp; &amp;amp &lt;b&gt; &#60;i&#x3e;</body></html>"
    )
    assert "".join(read(page).body_text) == "π &copy &notin &r[*int] &#;&#x; & &amp <b> <i>"


@pytest.mark.parametrize(
    "fragment",
    [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&#60;script&#62;alert(1)&#60;/script&#62;",
        "&#x3C;script&#x3E;alert(1)&#x3c;/script&#x3e;",
        "&LT;script&GT;alert(1)",
        "&amp;lt;script&amp;gt;",
    ],
)
def test_escaped_markup_stays_text(head, fragment):
    page = sanitize(head + fragment + "</body></html>")
    reader = assert_safe(page)
    assert page[len(head) :] == fragment + "</body></html>"  # entities survive as they are
    assert [tag for tag, _, _ in reader.elements].count("script") == 1
    assert "<script>" not in page[len(head) :]


def test_the_compilers_own_markup_in_the_body_is_kept(head):
    fragment = (
        '<a href="#" onclick="toggle_visibility(\'help\');return false;" id="helplink">help</a>'
        '<div style="width: 8%"><span class="v1 ssa-value">v1</span></div>'
        '<button onclick="hideBlock(this)">-</button>'
        '<input type="checkbox" onclick="toggleDarkMode();" id="dark-mode-button" style="cursor: pointer" />'
    )
    page = sanitize(head + fragment + "</body></html>")
    assert_safe(page)
    assert page[len(head) :] == fragment + "</body></html>"


def test_a_script_after_the_body_ends_is_text(head):
    page = sanitize(head + "x</body><script>alert(1)</script><meta http-equiv=refresh content=0>")
    reader = assert_safe(page)
    assert [tag for tag, _, _ in reader.elements].count("script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;meta http-equiv=refresh content=0&gt;" in page


def test_a_script_split_across_attributes_is_an_attribute_value(head):
    """Quotes in the compiler's unescaped text cannot open markup inside an attribute:
    a value is written double-quoted and escaped."""
    page = sanitize(head + "<div class='x\"><script>alert(1)</script>'>y</div></body></html>")
    reader = assert_safe(page)
    assert '<div class="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">y</div>' in page
    assert [tag for tag, _, _ in reader.elements].count("script") == 1
    page = sanitize(head + '<span class="a" title="</span><script>alert(1)</script>">x</span></body></html>')
    assert_safe(page)
    assert "<script>alert" not in page


@pytest.mark.parametrize(
    "tail",
    [
        "<img src=x onerror=alert(1)",
        '<a href="javascript:alert(1)',
        "<script>alert(1)",
        '<script type="text/javascript">alert(1)',
        "<!-- x",
        "<!DOCTYPE",
        "</scr",
        "<",
        "&lt",
        "&#60",
        "<div",
    ],
)
def test_a_tag_cut_off_at_the_end_is_text(head, tail):
    page = sanitize(head + tail)
    reader = assert_safe(page)
    assert "<" not in page[len(head) :]
    assert "".join(reader.body_text) in (tail, tail.replace("&lt", "<").replace("&#60", "<"))


def test_null_bytes_are_replaced_not_kept(head):
    page = sanitize(head + "a\x00b<scr\x00ipt>alert(1)</script><a\x00 href=#>x</a></body></html>")
    assert "\x00" not in page
    reader = assert_safe(page)
    assert "".join(reader.body_text) == "a\ufffdb<scr\ufffdipt>alert(1)</script><a\ufffd href=#>x</a>"


def test_the_head_allows_one_of_each_and_nothing_after_it():
    script = '<script type="text/javascript">var a = 1;</script>'
    meta = '<meta http-equiv="Content-Type" content="text/html;charset=UTF-8">'
    page = sanitize(f"<html><head>{meta}<style>b{{}}</style>{script}{meta}<style>i{{}}</style>{script}</head>{script}")
    reader = assert_safe(page)
    assert [tag for tag, _, _ in reader.elements] == ["html", "head", "meta", "style", "script"]
    assert reader.scripts == ["var a = 1;"]
    # Text in the head ends it, as in a browser: a script after it is no longer the head's.
    page = sanitize(f"<html><head>x{script}</head><body>")
    assert [tag for tag, _, _ in read(page).elements] == ["html", "head"]  # the body had begun
    # A script that would end early or late in a browser is not kept.
    for text in ("a</script x>b", "a<!--<script>b", "a\x00"):
        page = sanitize(f'<html><head><script type="text/javascript">{text}</script></head><body>')
        assert head_script(page) is None and "<script" not in page, text
    assert sanitize("<html><head><style>a</style x>b</style></head>").count("<style>") == 0


def test_a_page_without_a_script_gets_no_script_hash():
    csp = csp_for(sanitize("<html><head></head><body><script>alert(1)</script></body></html>"))
    script_src = re.search(r"script-src ([^;]*);", csp).group(1).split()
    assert script_src == ["'unsafe-hashes'", *(sha256_source(h) for h in HANDLERS.values())]
