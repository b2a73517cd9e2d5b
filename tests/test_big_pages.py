"""Big programs' pages (explorer/bigpage.py): the first chunk of lines inline, the others
loaded from /s/<id>/lines?chunk=N, pages of lines for the reader without JavaScript,
listings and the per-function summary on demand, the editor's decisions as JSON.

Real web server, Redis, Celery worker and Go toolchain. The thresholds are lowered for
most tests (a 400-line program is "big" with 40-line chunks), so compiles stay quick; one
test compiles a 14,000-case switch with the default thresholds.
"""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request

import pytest

from tests.httpclient import compile_and_wait

HOSTILE = '</code></li><script>alert("x")</script><img src=x onerror=alert(1)>'


def big_program(functions: int = 90) -> str:
    """~400 lines: heap decisions on many lines, a raw string and a block comment that
    span chunk boundaries (the highlighting of a chunk must not start inside them), and
    hostile text in strings and comments."""
    parts = ['package main\n\nimport "fmt"\n\ntype T struct{ s string }\n\nvar sink *T\n']
    raw = "\n".join(f"raw line {i} {HOSTILE}" for i in range(60))
    parts.append(f"\nconst banner = `{raw}`\n")
    for i in range(functions):
        if i == 40:
            parts.append("\n/* a block comment\n" + "\n".join(f" * {HOSTILE} {j}" for j in range(50)) + "\n */\n")
        parts.append(
            f'\nfunc f{i}(n int) *T {{\n\tt := T{{s: fmt.Sprint("{html.escape(HOSTILE)[:20]}", n)}}\n\treturn &t\n}}\n'
        )
    calls = "\n".join(f"\tsink = f{i}({i})" for i in range(functions))
    parts.append(f"\nfunc main() {{\n{calls}\n\tfmt.Println(banner, sink)\n}}\n")
    return "".join(parts)


SOURCE = big_program()
LINES = SOURCE.count("\n")
LINE_ID = re.compile(r'<li class="src-line[^"]*" id="L(\d+)"')


def get(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def lines_of(page: str) -> dict[int, str]:
    """Each annotated line's <li>, by its number."""
    return {int(n): li for li, n in re.findall(r'(<li class="src-line[^"]*" id="L(\d+)".*?\n      </li>)', page, re.S)}


SHOWN_CHUNK = re.compile(r'<template class="chunk-shown">(.*?)</template>', re.S)


def placeholders(page: str) -> list[dict]:
    """The placeholders in the page (not the shown chunk's own, kept in a <template>)."""
    found = re.findall(
        r'<li class="line-chunk" data-url="([^"]+)" data-file="([^"]+)" data-first="(\d+)" data-last="(\d+)">',
        SHOWN_CHUNK.sub("", page),
    )
    return [{"url": html.unescape(u), "file": f, "first": int(a), "last": int(b)} for u, f, a, b in found]


# ---------- The highlighting of some lines only (no server) ----------


def test_highlighting_a_span_gives_the_same_html_as_the_whole_file(settings):
    from explorer.bigpage import highlight_span, safe_span
    from explorer.render import highlight_lines

    whole = highlight_lines(SOURCE)
    assert len(whole) == LINES
    for first in range(1, LINES + 1, 7):
        last = min(LINES, first + 30)
        assert highlight_span(SOURCE, first, last) == whole[first - 1 : last], (first, last)
    start_of_raw = SOURCE[: SOURCE.index("`")].count("\n") + 1
    end_of_raw = start_of_raw + 59
    # inside the raw string: lex from its start to its end
    assert safe_span(SOURCE, start_of_raw + 20, start_of_raw + 30) == (start_of_raw, end_of_raw)
    assert safe_span(SOURCE, 2, 3) == (2, 3)


def test_leading_blank_lines_keep_their_numbers():
    from explorer.render import highlight_lines

    lines = highlight_lines("\n\npackage main\n\nfunc main() {}\n")
    assert len(lines) == 5 and lines[0] == "" and "package" in lines[2] and "func" in lines[4]


# ---------- End to end ----------


@pytest.fixture
def small_chunks(settings):
    from django.core.cache import cache

    settings.EXPLORER_INLINE_LINES = 150
    settings.EXPLORER_PAGE_LINES = 40
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def big(live_server_url, small_chunks) -> dict:
    result = compile_and_wait(live_server_url, {"source": SOURCE})
    assert result["status"] == "done", result
    status, page, _ = get(f"{live_server_url}/s/{result['id']}")
    assert status == 200
    return {"base": live_server_url, "id": result["id"], "page": page, "result": result}


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_page_holds_the_first_chunk_and_placeholders_for_the_rest(big):
    page, cid = big["page"], big["id"]
    shown = [int(n) for n in LINE_ID.findall(page)]
    assert shown[0] == 1 and shown == list(range(1, len(shown) + 1)) and len(shown) <= 40
    holders = placeholders(page)
    assert holders and holders[0]["first"] == shown[-1] + 1 and holders[-1]["last"] == LINES
    assert all(h["url"].startswith(f"/s/{cid}/lines?chunk=") for h in holders)
    assert f'data-decisions-url="/s/{cid}/decisions"' in page
    # the reader without JavaScript: each placeholder is a link to its page of lines
    assert f'href="/s/{cid}?page=2#L{holders[0]["first"]}"' in page
    assert 'class="line-pages"' in page
    # the shown chunk's own placeholder, for the script to put back when it is scrolled far away
    [shown_holder] = [placeholders(inner) for inner in SHOWN_CHUNK.findall(page)]
    assert shown_holder == [{"url": f"/s/{cid}/lines?chunk=1", "file": "main.go", "first": 1, "last": shown[-1]}]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_every_line_is_reachable_through_the_chunks_once(big):
    seen = [int(n) for n in LINE_ID.findall(big["page"])]
    for holder in placeholders(big["page"]):
        status, fragment, _ = get(big["base"] + holder["url"], {"HX-Request": "true"})
        assert status == 200
        lines = [int(n) for n in LINE_ID.findall(fragment)]
        assert lines == list(range(holder["first"], holder["last"] + 1)), holder
        assert "<section" not in fragment and "annotated-source" not in fragment  # the lines alone
        seen += lines
    assert seen == list(range(1, LINES + 1))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_every_line_is_reachable_through_the_pages_without_javascript(big):
    pages = sorted({int(n) for n in re.findall(rf"/s/{big['id']}\?page=(\d+)", big["page"])})
    assert pages == list(range(1, pages[-1] + 1)) and len(pages) > 5
    seen = []
    for number in pages:
        status, page, _ = get(f"{big['base']}/s/{big['id']}?page={number}")
        assert status == 200
        assert 'aria-current="page"' in page
        seen += [int(n) for n in LINE_ID.findall(page)]
    assert seen == list(range(1, LINES + 1))
    # a page number past the end shows the last page, never an error
    status, page, _ = get(f"{big['base']}/s/{big['id']}?page=99999")
    assert status == 200 and f'id="L{LINES}"' in page


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_chunk_holds_the_same_lines_as_the_whole_page_of_a_small_program(big, small_chunks):
    from django.core.cache import cache

    fragments = {}
    for holder in placeholders(big["page"]):
        fragments.update(lines_of(get(big["base"] + holder["url"])[1]))
    small_chunks.EXPLORER_INLINE_LINES = 100_000  # the same program, shown whole
    small_chunks.EXPLORER_INLINE_DECISIONS = 100_000
    cache.clear()
    whole = get(f"{big['base']}/s/{big['id']}")[1]
    assert "line-chunk" not in whole
    everything = lines_of(whole)
    assert len(everything) == LINES and set(fragments) == set(everything) - set(lines_of(big["page"]))
    for number, li in fragments.items():
        assert li == everything[number], number


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_hostile_strings_stay_escaped_in_chunked_lines(big):
    for holder in placeholders(big["page"]):
        fragment = get(big["base"] + holder["url"])[1]
        assert "<script>" not in fragment and "<img" not in fragment
    raw_line = SOURCE.split("\n").index(f"raw line 50 {HOSTILE}") + 1
    holder = next(h for h in placeholders(big["page"]) if h["first"] <= raw_line <= h["last"])
    fragment = get(big["base"] + holder["url"])[1]
    assert "&lt;script&gt;alert(" in fragment
    # still highlighted as a string, though the chunk starts inside the raw string
    line = re.search(rf'id="L{raw_line}".*?</li>', fragment, re.S).group()
    assert 'class="s"' in line or 'class="sb"' in line or 'class="s2"' in line


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_editors_decisions_cover_every_line(big):
    status, body, headers = get(f"{big['base']}/s/{big['id']}/decisions")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    heap_lines = {d["line"] for d in data["lines"] if any(k["kind"] == "moved-to-heap" for k in d["kinds"])}
    expected = {n for n, text in enumerate(SOURCE.split("\n"), start=1) if text.startswith("\tt := T{")}
    assert expected and expected <= heap_lines
    assert max(heap_lines) > 40  # beyond the first chunk
    some = next(d for d in data["lines"] if d["line"] == max(expected))
    assert any("moved to heap: t" in d["message"] for d in some["decisions"])
    assert data["asm"]["main.go"], "lines with instructions name their function"
    assert data["chunks"][-1]["last"] == LINES


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_listings_and_the_summary_are_loaded_on_demand(big):
    page, base, cid = big["page"], big["base"], big["id"]
    assert 'class="asm-line' not in page  # no instruction in the page itself
    urls = re.findall(r'<details class="asm-function" id="[^"]+" data-url="([^"]+)"', page)
    assert urls and all(u.startswith(f"/s/{cid}/asm/") for u in urls)
    main = next(
        u for u in urls if re.search(rf'data-url="{re.escape(u)}">\s*<summary><span class="fn-name">main.main<', page)
    )
    status, rows, _ = get(base + main, {"HX-Request": "true"})
    assert status == 200 and 'class="asm-line' in rows and "CALL" in rows
    status, own_page, _ = get(base + main)  # without JavaScript: a page of its own
    assert status == 200 and "<!doctype html>" in own_page and "Assembly of <code>main.main</code>" in own_page
    assert get(f"{base}{main}?part=99", {"HX-Request": "true"})[0] == 404
    assert get(f"{base}/s/{cid}/asm/9999")[0] == 404
    status, table, _ = get(f"{base}/s/{cid}/functions", {"HX-Request": "true"})
    assert status == 200 and "summary-table" in table and "f89" in table
    assert get(f"{base}/s/{cid}/functions")[0] == 200


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("query", ["chunk=0", "chunk=abc", "chunk=99999", "chunk=", "", "chunk=1e3"])
def test_a_bad_chunk_is_a_404(big, query):
    assert get(f"{big['base']}/s/{big['id']}/lines?{query}")[0] == 404


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_small_program_is_shown_whole_as_before(live_server_url, small_chunks):
    source = "package main\n\nfunc leak() *int {\n\tx := 1\n\treturn &x\n}\n\nfunc main() { println(*leak()) }\n"
    result = compile_and_wait(live_server_url, {"source": source})
    page = get(f"{live_server_url}/s/{result['id']}")[1]
    assert [int(n) for n in LINE_ID.findall(page)] == list(range(1, 9))
    assert "line-chunk" not in page and "data-decisions-url" not in page and 'class="asm-line' in page


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_14000_case_switch_makes_a_small_page_with_the_default_thresholds(live_server_url):
    from django.core.cache import cache

    cache.clear()
    cases = "".join(f"\tcase {i}: n++\n" for i in range(14_000))
    source = f"package main\n\nfunc pick(x int) *int {{\n\tn := 0\n\tswitch x {{\n{cases}\t}}\n\treturn &n\n}}\n\nfunc main() {{ println(*pick(3)) }}\n"
    result = compile_and_wait(live_server_url, {"source": source}, timeout=120)
    assert result["status"] == "done", result
    status, page, _ = get(f"{live_server_url}/s/{result['id']}")
    assert status == 200
    assert len(page) < 1_000_000  # 13 MB before
    assert len(LINE_ID.findall(page)) <= 250
    last = source.count("\n")
    holder = placeholders(page)[-1]
    assert holder["last"] == last
    assert f'id="L{last}"' in get(live_server_url + holder["url"])[1]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_every_line_of_every_file_is_reachable_in_a_txtar(live_server_url, small_chunks):
    other = "package main\n\n" + "".join(f"func g{i}() *int {{\n\tx := {i}\n\treturn &x\n}}\n" for i in range(30))
    archive = f"-- main.go --\n{SOURCE}-- other.go --\n{other}"
    result = compile_and_wait(live_server_url, {"source": archive})
    assert result["status"] == "done", result
    base, cid = live_server_url, result["id"]
    page = get(f"{base}/s/{cid}")[1]
    found: dict[str, list[int]] = {"main.go": [], "other.go": []}
    anchors = re.compile(r'<li class="src-line[^"]*" id="((?:other\.go-)?L\d+)" data-line="(\d+)" data-file="([^"]+)"')
    for _anchor, line, file in anchors.findall(page):
        found[file].append(int(line))
    holders = placeholders(page)
    assert {h["file"] for h in holders} == {"main.go", "other.go"}
    for holder in holders:
        for anchor, line, file in anchors.findall(get(base + holder["url"])[1]):
            assert file == holder["file"] and anchor == (f"L{line}" if file == "main.go" else f"other.go-L{line}")
            found[file].append(int(line))
    assert found["main.go"] == list(range(1, LINES + 1))
    assert found["other.go"] == list(range(1, other.count("\n") + 1))
    # the pages of the second file link to its own anchors
    assert re.search(rf'href="/s/{cid}\?page=\d+#other\.go-L1"', page)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_editors_decisions_of_a_big_program_carry_its_directives(live_server_url, small_chunks):
    """A big page's editor takes its chips from /decisions: the //gcassert: results too."""
    source = SOURCE + "\nfunc g(n int) *T {\n\tt := T{s: fmt.Sprint(n)} //gcassert:noescape\n\treturn &t\n}\n"
    result = compile_and_wait(live_server_url, {"source": source})
    assert result["status"] == "done", result
    line = source.count("\n") - 2  # the line of t := … //gcassert:noescape
    status, body, _ = get(f"{live_server_url}/s/{result['id']}/decisions")
    assert status == 200
    entry = next(d for d in json.loads(body)["lines"] if d["line"] == line)
    assert entry["kinds"][0]["kind"] == "directive-violated"
    directive = next(d for d in entry["decisions"] if d["kind"] == "directive-violated")
    assert directive["message"].startswith("//gcassert:noescape") and "moved to heap: t" in directive["message"]
    assert any(k["kind"] == "moved-to-heap" for k in entry["kinds"]), "the decisions stay beside it"
