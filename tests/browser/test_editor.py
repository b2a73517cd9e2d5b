"""The compiler's decisions in the editor itself, compiling as one types, and room to read:
real Chromium, real web server, real Celery worker, real Go toolchain.

Each gutter chip of the editor carries data-line (the line it is on now) and data-kind."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = """package main

type T struct{ a, b int }

var keep *T

func newT() *T {
	t := T{1, 2}
	return &t
}

func main() {
	keep = newT()
	println(keep.a)
}
"""
HEAP_LINES = (8, 13)  # t := T{1, 2}; keep = newT() (newT inlined: its t moves to the heap there too)


def open_playground(page, base_url: str, *, auto: bool = True) -> None:
    page.goto(base_url + "/")
    page.evaluate(
        "on => { localStorage.clear(); if (!on) localStorage.setItem('escape-explorer:auto-compile', 'off'); }", auto
    )
    page.reload()
    page.wait_for_selector(".cm-editor")


def set_source(page, text: str) -> None:
    page.evaluate("text => window.escapeExplorer.editor.setValue(text)", text)


def compile_and_wait(page) -> None:
    page.click("#compile-button")
    page.wait_for_selector("#result .annotated-source", timeout=60_000)


def state(page) -> dict:
    return page.evaluate("window.escapeExplorer.state()")


def chips(page, line: int | None = None, kind: str | None = None):
    selector = ".cm-ee-gutter .cm-ee-chip"
    if line is not None:
        selector += f'[data-line="{line}"]'
    if kind is not None:
        selector += f'[data-kind="{kind}"]'
    return page.locator(selector)


def editor_line(page, number: int):
    return page.locator(".cm-content .cm-line").nth(number - 1)


def type_at_end_of(page, number: int, text: str) -> None:
    editor_line(page, number).click()
    page.keyboard.press("End")
    page.keyboard.type(text)


def compile_posts(page) -> list[str]:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/compile") else None)
    return posts


def wait_until(page, condition, timeout: float = 30) -> None:
    """Let the page (and its route handlers) run until condition() holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def editor_chips_by_line(page) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line, kind in page.locator(".cm-ee-gutter .cm-ee-chip").evaluate_all(
        "els => els.map(e => [Number(e.dataset.line), e.dataset.kind])"
    ):
        found.setdefault(line, []).append(kind)
    return found


def annotated_markers_by_line(page) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line, kind in page.locator(".annotated-source .src-line .gutter .marker").evaluate_all(
        "els => els.map(e => [Number(e.closest('.src-line').dataset.line), e.dataset.kind])"
    ):
        found.setdefault(line, []).append(kind)
    return found


def test_decisions_appear_in_the_editor_on_their_lines_with_their_kinds(page, live_server_url):
    open_playground(page, live_server_url, auto=False)
    set_source(page, PROGRAM)
    compile_and_wait(page)

    for line in HEAP_LINES:
        expect(chips(page, line, "moved-to-heap")).to_have_count(1)
    # the same kinds, in the same order, on the same lines as the annotated view
    expect(chips(page).first).to_be_visible()
    assert editor_chips_by_line(page) == annotated_markers_by_line(page)
    # every chip's icon is an SVG symbol of the page's sprite
    assert page.locator(".cm-ee-chip svg use").evaluate_all(
        "us => us.every(u => document.querySelector(u.getAttribute('href')))"
    )

    # the underline at the reported column (line 8, column 2: t)
    under = page.locator('.cm-line .cm-ee-under[data-kind="moved-to-heap"]').first
    expect(under).to_have_text("t")
    expect(under).to_have_attribute("title", "moved to heap: t")

    # a chip opens the panel with the line's decisions and the flow of the one clicked
    chips(page, 8, "moved-to-heap").click()
    panel = page.locator(".cm-ee-panel")
    expect(panel).to_be_visible()
    expect(panel.locator(".cm-ee-panel-title")).to_have_text("Line 8")
    expect(panel).to_contain_text("moved to heap: t")
    expect(panel.locator(".flow-step").first).to_be_visible()
    assert page.evaluate("window.escapeExplorer.editor.cursorLine()") == 8
    # the panel is reached from the keyboard (Escape, then Tab, leaves the editor's text for
    # it); Escape in the panel closes it, back to the editor
    page.locator(".cm-content").focus()
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('.cm-ee-panel')")
    panel.locator("details.why > summary").first.focus()
    page.keyboard.press("Enter")  # folds the flow
    expect(panel.locator(".flow-step").first).to_be_hidden()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(page.locator(".cm-content")).to_be_focused()

    # the kind filters of the annotated view hide that kind in the editor too
    page.locator('.kind-filters button[data-kind="moved-to-heap"]').click()
    expect(chips(page, kind="moved-to-heap")).to_have_count(0)
    expect(page.locator('.cm-ee-under[data-kind="moved-to-heap"]')).to_have_count(0)
    page.locator('.kind-filters button[data-kind="moved-to-heap"]').click()
    expect(chips(page, kind="moved-to-heap")).to_have_count(2)


def test_a_txtar_archives_decisions_land_on_each_files_lines(page, live_server_url):
    open_playground(page, live_server_url, auto=False)
    archive = (
        "-- main.go --\npackage main\n\nfunc main() { keep = newT() }\n"
        "-- t.go --\npackage main\n\ntype T struct{ a, b int }\n\nvar keep *T\n\n"
        "func newT() *T {\n\tt := T{1, 2}\n\treturn &t\n}\n"
    )
    set_source(page, archive)
    compile_and_wait(page)
    # t.go's line 8 (t := T{1, 2}) is the editor's line 13: its header is line 5
    expect(chips(page, 13, "moved-to-heap")).to_have_count(1)
    expect(
        page.locator('.src-line[data-file="t.go"][data-line="8"] .gutter .marker[data-kind="moved-to-heap"]')
    ).to_be_visible()
    assert page.evaluate("window.escapeExplorer.editor.view.state.doc.line(13).text") == "\tt := T{1, 2}"
    chips(page, 13, "moved-to-heap").click()
    expect(page.locator(".cm-ee-panel")).to_contain_text("moved to heap: t")


def test_every_chips_icon_is_an_svg_that_renders(page, live_server_url):
    page.goto(live_server_url + "/kinds")
    markers = page.locator(".glossary .marker")
    assert markers.count() >= 20
    drawn = markers.evaluate_all(
        """els => els.map(m => {
             const use = m.querySelector("svg.icon[aria-hidden='true'] use");
             const symbol = use && document.querySelector(use.getAttribute("href"));
             const box = use && m.querySelector("svg").getBoundingClientRect();
             return [m.dataset.kind, !!(symbol && symbol.querySelector("path")), box ? box.width : 0];
           })"""
    )
    assert all(has_path and width > 6 for _, has_path, width in drawn), drawn
    # no icon drawn with a character some fonts lack (the large copy's box-drawing sign was one)
    texts = markers.evaluate_all("els => els.map(m => m.textContent)")
    assert not [t for t in texts if re.search(r"[^\w\s.,'()/-]", t)], texts


def test_editing_a_line_dims_its_decisions_and_the_others_follow_their_lines(page, live_server_url):
    open_playground(page, live_server_url, auto=False)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    expect(chips(page, 8, "moved-to-heap")).to_have_count(1)
    before = editor_chips_by_line(page)

    type_at_end_of(page, 8, " // edited")
    expect(chips(page, 8).first).to_have_class(re.compile(r"\bcm-ee-stale\b"))
    assert chips(page, 8).evaluate_all("els => els.every(e => e.classList.contains('cm-ee-stale'))")
    assert page.locator(".cm-ee-stale.cm-ee-chip:not([data-line='8'])").count() == 0
    expect(page.locator('.cm-ee-under.cm-ee-stale[data-kind="moved-to-heap"]')).to_have_count(1)

    # two lines inserted above: every line's decisions move down with it, the edited one stays dim
    editor_line(page, 3).click()
    page.keyboard.press("Home")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    after = editor_chips_by_line(page)
    assert after == {(n + 2 if n >= 3 else n): kinds for n, kinds in before.items()}
    assert chips(page, 10).evaluate_all("els => els.every(e => e.classList.contains('cm-ee-stale'))")
    assert chips(page, 15).evaluate_all("els => !els.some(e => e.classList.contains('cm-ee-stale'))")
    expect(page.locator('.cm-line .cm-ee-under[data-kind="moved-to-heap"]:not(.cm-ee-stale)')).to_have_count(1)

    # a line removed with its line break takes its decisions along; the line below moves up
    page.evaluate(
        """() => { const view = window.escapeExplorer.editor.view, doc = view.state.doc;
                   view.dispatch({changes: {from: doc.line(15).from, to: doc.line(16).from}}); }"""
    )
    assert editor_chips_by_line(page) == {n: kinds for n, kinds in after.items() if n != 15}
    assert state(page)["seq"] == 1  # the switch is off: nothing compiled by itself


def test_automatic_compile_replaces_the_decisions_and_never_compiles_a_text_twice(page, live_server_url):
    open_playground(page, live_server_url)
    expect(page.locator("#auto-compile")).to_be_checked()
    posts = compile_posts(page)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    expect(chips(page, 8, "moved-to-heap")).to_have_count(1)
    page.wait_for_timeout(1200)
    assert len(posts) == 1  # the automatic compile saw the same text: not sent again

    # a new line that allocates: after a pause, compiled by itself, its decision in the editor
    type_at_end_of(page, 14, "\nkeep = &T{3, 4}")
    expect(chips(page, 15, "escapes-to-heap")).to_have_count(1, timeout=30_000)
    expect(chips(page, 15, "escapes-to-heap")).not_to_have_class(re.compile(r"\bcm-ee-stale\b"))
    expect(page.locator("#L15 .decisions")).to_contain_text("escapes to heap")
    assert len(posts) == 2 and state(page)["shownAuto"]
    expect(page).to_have_url(re.compile(r"/s/\w+$"))

    # typing and taking it back before the pause ends: the text is the one shown, no compile
    page.keyboard.type("x")
    page.keyboard.press("Backspace")
    page.wait_for_timeout(1500)
    assert len(posts) == 2

    # typing again while a compile is on its way aborts it: only the last text's answer shows
    held, aborted = [], []
    page.route(re.compile(r"/compile$"), lambda route: held.append(route))
    page.on("requestfailed", lambda r: aborted.append(r.url) if r.url.endswith("/compile") else None)
    page.keyboard.type(" // one")
    wait_until(page, lambda: held)  # sent after the pause, and held on its way
    page.unroute(re.compile(r"/compile$"))
    page.keyboard.type(" // two")
    wait_until(page, lambda: aborted)
    expect(page.locator("#L15 .code")).to_contain_text("// one // two", timeout=30_000)
    wait_until(page, lambda: not state(page)["inflight"])
    assert len(posts) == 4
    assert page.locator(".cm-ee-chip.cm-ee-stale").count() == 0


def test_a_late_answer_for_an_older_text_does_not_replace_a_newer_one(page, live_server_url, settings):
    # every compile answers "pending" at once; its fragment polls for the result: the poll
    # of the first text is held back until the second text's result is shown
    settings.COMPILE_WAIT_SECONDS = 0
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    expect(chips(page, 8, "moved-to-heap")).to_have_count(1)

    held = []

    def hold_the_first(route):
        if not held:
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r"/s/\w+/result$"), hold_the_first)
    type_at_end_of(page, 14, "\nkeep = &T{3, 4}")  # allocates on line 15
    wait_until(page, lambda: held)  # its compile was sent, its answer held

    editor_line(page, 15).click()  # and replaced by a line that allocates nothing
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type("println(3)")
    expect(page.locator("#L15 .code")).to_have_text("\tprintln(3)", timeout=30_000)
    assert chips(page, 15).count() == 0

    dropped = state(page)["dropped"]
    held[0].continue_()  # the older answer arrives now
    wait_until(page, lambda: state(page)["dropped"] > dropped)
    page.wait_for_timeout(300)
    expect(page.locator("#L15 .code")).to_have_text("\tprintln(3)")
    assert chips(page, 15).count() == 0
    assert page.locator(".cm-ee-chip.cm-ee-stale").count() == 0
    page.unroute(re.compile(r"/s/\w+/result$"))


def test_a_busy_answer_to_an_automatic_compile_is_said_calmly_and_not_retried(page, live_server_url):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    posts = compile_posts(page)
    busy = (
        '<section class="pane pane-source"><div class="pane-body"><div class="notice busy" role="alert">'
        "<strong>Not now.</strong> You are sending programs faster than 30 a minute. "
        "Your code is still in the editor.</div></div></section>"
    )
    page.route(
        re.compile(r"/compile$"),
        lambda route: route.fulfill(status=429, headers={"Retry-After": "30", "Content-Type": "text/html"}, body=busy),
    )
    type_at_end_of(page, 14, " // busy")
    notice = page.locator("#result .notice.busy")
    expect(notice).to_contain_text("faster than 30 a minute", timeout=10_000)
    expect(notice).to_contain_text("wait 30 s")
    expect(page.locator("#result .annotated-source")).to_be_visible()  # the last result stays
    expect(chips(page, 8, "moved-to-heap")).to_have_count(1)
    page.keyboard.type(" more")  # within the pause: nothing is sent
    page.wait_for_timeout(1500)
    assert len(posts) == 1
    expect(page.locator("#auto-status")).to_contain_text("paused")


def test_the_switch_turns_automatic_compiles_off_and_stays_off(page, live_server_url):
    open_playground(page, live_server_url)
    switch = page.locator("#auto-compile")
    expect(switch).to_be_checked()
    switch.uncheck()
    page.reload()
    page.wait_for_selector(".cm-editor")
    expect(switch).not_to_be_checked()
    posts = compile_posts(page)
    set_source(page, PROGRAM)
    type_at_end_of(page, 14, " // no compile")
    page.wait_for_timeout(1500)
    assert posts == []
    switch.check()  # on again: the text is compiled after the pause
    expect(chips(page, 8, "moved-to-heap")).to_have_count(1, timeout=30_000)
    assert len(posts) == 1
    page.goto(live_server_url + "/")  # (the address is the result's permalink now: read-only)
    page.wait_for_selector(".cm-editor")
    expect(switch).to_be_checked()


def test_keys_move_between_heap_decisions_and_to_their_assembly(page, live_server_url):
    open_playground(page, live_server_url, auto=False)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    expect(chips(page, 8, "moved-to-heap")).to_have_count(1)
    hint = page.locator(".editor-hint")
    expect(hint).to_contain_text("Alt+J")
    expect(hint).to_contain_text("Alt+A")

    editor_line(page, 1).click()
    cursor = "window.escapeExplorer.editor.cursorLine()"
    page.keyboard.press("Alt+j")
    assert page.evaluate(cursor) == 8
    expect(page.locator(".cm-ee-panel-title")).to_have_text("Line 8")
    expect(page.locator(".cm-ee-panel")).to_contain_text("moved to heap: t")
    page.keyboard.press("Alt+j")
    assert page.evaluate(cursor) == 13
    page.keyboard.press("Alt+j")  # round again
    assert page.evaluate(cursor) == 8
    page.keyboard.press("Alt+k")
    assert page.evaluate(cursor) == 13

    # of the kind in focus: inlinable functions, lines 7 and 12
    editor_line(page, 7).click()
    page.keyboard.press("Alt+Shift+j")
    assert page.evaluate(cursor) == 12
    page.keyboard.press("Alt+Shift+k")
    assert page.evaluate(cursor) == 7

    # to its assembly: the line's instructions, highlighted and focused
    page.keyboard.press("Alt+j")
    assert page.evaluate(cursor) == 8
    page.keyboard.press("Alt+a")
    focused = page.locator(".asm-line:focus")
    expect(focused).to_have_attribute("data-line", "8")
    expect(focused).to_have_class(re.compile(r"\bis-highlighted\b"))

    # the read-only permalink: the same keys walk the annotated view
    permalink = page.locator("#result a.permalink").get_attribute("href")
    page.goto(live_server_url + permalink)
    expect(page.locator(".keys-hint")).to_be_visible()
    page.locator("#L1 .ln").focus()
    page.keyboard.press("Alt+j")
    expect(page.locator("#L8")).to_have_class(re.compile(r"\bis-highlighted\b"))
    page.keyboard.press("Alt+j")
    expect(page.locator("#L13")).to_have_class(re.compile(r"\bis-highlighted\b"))
    page.keyboard.press("Alt+k")
    expect(page.locator("#L8")).to_have_class(re.compile(r"\bis-highlighted\b"))


def pane_width(page, selector: str) -> float:
    return page.locator(selector).bounding_box()["width"]


def test_panes_resize_by_dragging_and_by_keyboard_collapse_and_are_remembered(page, live_server_url):
    open_playground(page, live_server_url, auto=False)
    head = "\ts := []int{1, 2, 3} // "
    wide = head + "x" * (100 - 4 - len(head) + 1)  # a tab is four columns: 100 in all
    set_source(page, f"package main\n\nvar sink *[]int\n\nfunc main() {{\n{wide}\n\tsink = &s\n}}\n")
    compile_and_wait(page)
    expect(chips(page, 6, "moved-to-heap")).to_have_count(1)
    # a 100-column line, chips and all, fits the editor of a 1440-pixel window: no scrolling
    assert (
        page.evaluate("window.escapeExplorer.editor.view.state.doc.line(6).text.replace(/\\t/g, '    ').length") == 100
    )
    assert page.evaluate("(s => s.scrollWidth <= s.clientWidth)(document.querySelector('.cm-scroller'))")

    splitter = page.locator(".splitter-v")
    expect(splitter).to_have_attribute("role", "separator")
    expect(splitter).to_have_attribute("aria-orientation", "vertical")
    start = int(splitter.get_attribute("aria-valuenow"))
    width = pane_width(page, ".pane-editor")

    box = splitter.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 150, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    dragged = pane_width(page, ".pane-editor")
    assert abs(dragged - (width - 150)) < 12, (width, dragged)
    assert int(splitter.get_attribute("aria-valuenow")) < start

    splitter.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # 2 % each
    keyed = int(splitter.get_attribute("aria-valuenow"))
    keyed_width = pane_width(page, ".pane-editor")
    assert keyed_width > dragged + 40

    horizontal = page.locator(".splitter-h")
    horizontal.focus()
    height = page.locator(".pane-source").bounding_box()["height"]
    page.keyboard.press("Shift+ArrowUp")  # 10 %
    assert page.locator(".pane-source").bounding_box()["height"] < height - 40
    rows = int(horizontal.get_attribute("aria-valuenow"))

    page.locator(".pane-asm .pane-toggle").click()
    expect(page.locator(".pane-asm")).to_have_class(re.compile(r"\bis-collapsed\b"))
    expect(page.locator("#asm-body")).to_be_hidden()
    expect(page.locator(".pane-asm .pane-toggle")).to_have_attribute("aria-expanded", "false")

    page.goto(live_server_url + "/")  # sizes and the collapsed pane are remembered by this browser
    page.wait_for_selector(".cm-editor")
    expect(splitter).to_have_attribute("aria-valuenow", str(keyed))
    assert abs(pane_width(page, ".pane-editor") - keyed_width) < 2
    compile_and_wait(page)
    expect(page.locator(".splitter-h")).to_have_attribute("aria-valuenow", str(rows))
    expect(page.locator(".pane-asm")).to_have_class(re.compile(r"\bis-collapsed\b"))
    page.locator(".pane-asm .pane-toggle").press("Enter")
    expect(page.locator("#asm-body")).to_be_visible()
