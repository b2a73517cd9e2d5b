"""A big program's page in real Chromium (explorer/bigpage.py, static/js/bigpage.js):
scrolling to the end loads the last lines, a permalink to a line beyond the first chunk
loads it and shows it, the editor gets every line's decisions, listings load when opened.
The thresholds are lowered (a 400-line program is "big", in 40-line chunks)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.httpclient import compile_and_wait
from tests.test_big_pages import HOSTILE, LINES, SOURCE

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def big_id(live_server_url, settings) -> str:
    from django.core.cache import cache

    settings.EXPLORER_INLINE_LINES = 150
    settings.EXPLORER_PAGE_LINES = 40
    cache.clear()
    result = compile_and_wait(live_server_url, {"source": SOURCE})
    assert result["status"] == "done", result
    yield result["id"]
    cache.clear()


def test_scrolling_to_the_end_loads_the_last_lines(page, live_server_url, big_id):
    page.goto(f"{live_server_url}/s/{big_id}")
    expect(page.locator("#L1")).to_be_attached()
    assert page.locator(f"#L{LINES}").count() == 0
    page.evaluate(
        """async (last) => {
          const body = document.querySelector('#source-body');
          for (let i = 0; i < 400 && !document.getElementById('L' + last); i++) {
            body.scrollTop = body.scrollHeight;
            await new Promise((r) => setTimeout(r, 50));
          }
        }""",
        LINES,
    )
    expect(page.locator(f"#L{LINES}")).to_be_attached()
    # every line shown once, in order (the chunks scrolled far away are placeholders again)
    numbers = page.eval_on_selector_all(".annotated-source .src-line", "els => els.map(e => +e.dataset.line)")
    assert numbers == sorted(set(numbers)) and numbers[-1] == LINES
    assert page.locator(".line-chunk.load-failed").count() == 0
    # the user's text stays text in the loaded lines (a block comment of it in the middle)
    middle = next(n for n, text in enumerate(SOURCE.splitlines(), 1) if "a block comment" in text) + 3
    page.evaluate("(n) => { location.hash = '#L' + n; }", middle)
    expect(page.locator(f"#L{middle}")).to_be_in_viewport()
    assert page.locator(".annotated-source script, .annotated-source img").count() == 0
    assert HOSTILE[:20] in page.locator(".annotated-source").inner_text()


def scroll_through(page, to_end: bool) -> None:
    """Scroll the annotated source a screen at a time, as a reader would, to its end or top."""
    page.evaluate(
        """async (down) => {
          const body = document.querySelector('#source-body');
          for (let i = 0; i < 600; i++) {
            const before = body.scrollTop;
            body.scrollTop += (down ? 1 : -1) * body.clientHeight;
            await new Promise((r) => setTimeout(r, 60));
            if (body.scrollTop === before && !document.querySelector('.line-chunk.is-loading')) break;
          }
          await new Promise((r) => setTimeout(r, 500));  // scrolling paused: far chunks go
        }""",
        to_end,
    )


def test_lines_scrolled_far_away_leave_the_page_and_come_back(page, live_server_url, big_id):
    page.set_viewport_size({"width": 1000, "height": 500})
    page.goto(f"{live_server_url}/s/{big_id}")
    expect(page.locator("#L1")).to_be_attached()
    offset = "(n) => document.getElementById('L' + n).getBoundingClientRect().top - document.querySelector('#source-body').getBoundingClientRect().top + document.querySelector('#source-body').scrollTop"
    where = {n: page.evaluate(offset, n) for n in (1, 40)}
    scroll_through(page, to_end=True)
    expect(page.locator(f"#L{LINES}")).to_be_attached()
    expect(page.locator("#L1")).not_to_be_attached()  # the first lines, far above, are a placeholder again
    page.wait_for_function(
        "(most) => document.querySelectorAll('.annotated-source .src-line').length < most", arg=LINES * 0.8
    )  # a few chunks' lines, not the whole program's
    # read back to the top: the lines come back, in order, each once
    scroll_through(page, to_end=False)
    expect(page.locator("#L2")).to_be_attached()
    # every line where it was: the placeholders stood exactly as tall as their lines
    page.wait_for_function("() => !document.querySelector('.line-chunk.is-loading')")
    assert {n: page.evaluate(offset, n) for n in (1, 40)} == pytest.approx(where, abs=2)
    assert page.evaluate("() => document.querySelector('#source-body').scrollTop") == 0
    numbers = page.eval_on_selector_all(".annotated-source .src-line", "els => els.map(e => +e.dataset.line)")
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    assert page.locator(".line-chunk.load-failed").count() == 0


def test_a_highlighted_line_stays_in_the_page_however_far_the_reader_scrolls(page, live_server_url, big_id):
    page.set_viewport_size({"width": 1000, "height": 500})
    target = 200
    page.goto(f"{live_server_url}/s/{big_id}#L{target}")
    expect(page.locator(f"#L{target}.is-highlighted")).to_be_in_viewport()
    scroll_through(page, to_end=True)
    expect(page.locator(f"#L{LINES}")).to_be_attached()
    expect(page.locator(f"#L{target}.is-highlighted")).to_be_attached()
    scroll_through(page, to_end=False)
    expect(page.locator("#L1")).to_be_attached()
    expect(page.locator(f"#L{LINES}")).not_to_be_attached()  # the end's lines, unused, went


def test_a_permalink_to_a_line_beyond_the_first_chunk_shows_it(page, live_server_url, big_id):
    target = LINES - 3
    page.goto(f"{live_server_url}/s/{big_id}#L{target}")
    line = page.locator(f"#L{target}")
    expect(line).to_have_class(re.compile(r"\bis-highlighted\b"))
    expect(line).to_be_in_viewport()
    # a flow step's link to a line in a chunk not loaded yet loads it too
    page.goto(f"{live_server_url}/s/{big_id}#L5")
    expect(page.locator("#L5.is-highlighted")).to_be_attached()
    page.evaluate("() => { location.hash = '#L200'; }")
    expect(page.locator("#L200.is-highlighted")).to_be_in_viewport()


def test_the_editor_gets_every_lines_decisions_and_their_details(page, live_server_url, big_id):
    page.add_init_script("localStorage.setItem('escape-explorer:auto-compile', 'off')")
    page.goto(f"{live_server_url}/?copy={big_id}")
    page.wait_for_selector(".cm-editor")
    page.click("#compile-button")
    page.wait_for_selector("#result .annotated-source")
    heap_lines = [n for n, text in enumerate(SOURCE.split("\n"), start=1) if text.startswith("\tt := T{")]
    last = heap_lines[-1]  # far beyond the first chunk: its decisions come from /s/<id>/decisions
    assert page.locator(f"#L{last}").count() == 0
    page.wait_for_function(
        "line => window.escapeExplorer.editor.decisionsOnLine(line).length > 0", arg=last, timeout=30_000
    )
    page.evaluate("line => window.escapeExplorer.editor.scrollToLine(line)", last)  # the editor draws what is in view
    chip = page.locator(f'.cm-ee-gutter .cm-ee-chip[data-line="{last}"][data-kind="moved-to-heap"]')
    expect(chip).to_have_count(1)
    chip.click()
    panel = page.locator(".cm-ee-panel")
    expect(panel.locator(".cm-ee-panel-body")).to_contain_text("moved to heap: t")  # its chunk loaded for it


def test_a_listing_loads_when_its_function_is_opened(page, live_server_url, big_id):
    page.goto(f"{live_server_url}/s/{big_id}")
    main = page.locator("details.asm-function", has=page.locator(".fn-name", has_text="main.main"))
    expect(main).to_have_count(1)
    assert main.locator(".asm-line").count() == 0
    main.locator("summary").click()
    expect(main.locator(".asm-line").first).to_be_attached()
    # a line's instructions, asked for from the annotated view, are loaded and highlighted
    heap_line = next(n for n, text in enumerate(SOURCE.split("\n"), start=1) if text.startswith("\tt := T{"))
    page.goto("about:blank")
    page.goto(f"{live_server_url}/s/{big_id}#L{heap_line}")
    expect(page.locator(f"#L{heap_line}.is-highlighted")).to_be_attached()
    highlighted = page.locator(f'.asm-line.is-highlighted[data-line="{heap_line}"]')
    expect(highlighted.first).to_be_attached()


def test_the_big_page_runs_under_its_csp_and_passes_axe(browser, page, live_server_url, big_id):
    from tests.browser.test_accessibility import violations
    from tests.browser.test_csp import WATCH

    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))
    page.goto(f"{live_server_url}/s/{big_id}#L300")  # lines, a listing and placeholders loaded by script
    expect(page.locator("#L300.is-highlighted")).to_be_attached()
    page.locator("details.function-summary.lazy-part > summary").click()
    expect(page.locator("details.function-summary .summary-table")).to_be_attached()
    assert page.evaluate("window.__csp") == [] and messages == []
    # axe is injected as an inline script, which the CSP forbids: a context of its own bypasses it
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    checked = context.new_page()
    try:
        checked.goto(f"{live_server_url}/s/{big_id}#L300")
        expect(checked.locator("#L300.is-highlighted")).to_be_attached()
        assert violations(checked) == []
    finally:
        context.close()


def test_alt_j_visits_heap_decisions_beyond_the_loaded_lines(page, live_server_url, big_id):
    heap_lines = [n for n, text in enumerate(SOURCE.split("\n"), start=1) if text.startswith("\tt := T{")]
    page.goto(f"{live_server_url}/s/{big_id}#L{heap_lines[-1] + 1}")
    expect(page.locator(f"#L{heap_lines[-1] + 1}.is-highlighted")).to_be_attached()
    page.locator(f"#L{heap_lines[-1] + 1} .ln").focus()
    page.keyboard.press("Alt+j")  # the next heap decision: in main, past the last function
    target = page.locator(".src-line.is-highlighted")
    expect(target).to_have_count(1)
    after = int(target.get_attribute("data-line"))
    assert after > heap_lines[-1] + 1
    page.keyboard.press("Alt+k")
    expect(page.locator(f"#L{after}.is-highlighted")).to_have_count(0)
    assert int(page.locator(".src-line.is-highlighted").get_attribute("data-line")) < after


def test_alt_a_loads_the_listing_that_holds_the_lines_instructions(page, live_server_url, big_id):
    import json
    import urllib.request

    data = json.load(urllib.request.urlopen(f"{live_server_url}/s/{big_id}/decisions"))
    heap_line = next(n for n, text in enumerate(SOURCE.split("\n"), start=1) if text.startswith("\tt := T{"))
    chunk = next(c for c in data["chunks"] if c["first"] <= heap_line <= c["last"])
    page.goto(f"{live_server_url}/s/{big_id}?page={chunk['number']}")  # the line inline, no listing loaded
    assert page.locator(".asm-line").count() == 0
    page.locator(f"#L{heap_line} .ln").focus()
    page.keyboard.press("Alt+a")
    focused = page.locator(f'.asm-line[data-line="{heap_line}"]:focus')
    expect(focused).to_have_count(1)
    assert page.locator(".toast").count() == 0  # no "No instructions" on the way
