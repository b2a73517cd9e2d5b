"""The playground as a person uses it: real Chromium, real web server, real Celery worker,
real Go toolchains. Screenshots go to tests/browser/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import NEWEST_GO, OLDEST_GO

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
HEAP_LINE = 8  # t := T{1, 2}


def open_playground(page, base_url: str) -> None:
    """The playground, fresh; these tests compile with the button (and Ctrl+Enter): the
    automatic compile after a pause in typing is off (tests/browser/test_editor.py has it)."""
    page.goto(base_url + "/")
    page.evaluate("localStorage.clear(); localStorage.setItem('escape-explorer:auto-compile', 'off')")
    page.reload()
    page.wait_for_selector(".cm-editor")


def set_source(page, text: str) -> None:
    page.evaluate("text => window.escapeExplorer.editor.setValue(text)", text)


def compile_and_wait(page) -> None:
    page.click("#compile-button")
    page.wait_for_selector("#result .annotated-source, #result .notice.error", timeout=60_000)


def line(page, number: int):
    return page.locator(f"#L{number}")


def test_compile_shows_annotations_and_a_flow_whose_steps_highlight_their_lines(page, live_server_url, screenshot):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    compile_and_wait(page)

    expect(page).to_have_url(re.compile(r"/s/\w+$"))
    heap_line = line(page, HEAP_LINE)
    expect(heap_line.locator('.gutter .marker[data-kind="moved-to-heap"]')).to_have_text("heap")
    expect(heap_line.locator(".decisions")).to_contain_text("moved to heap: t")
    expect(page.locator('.kind-filters [data-kind="moved-to-heap"] .count')).not_to_have_text("0")

    why = heap_line.locator("details.why").first
    why.locator("summary").click()
    steps = why.locator(".flow-step a")
    expect(steps.first).to_be_visible()
    last = steps.last
    target = last.get_attribute("data-target")
    last.click()
    expect(page.locator(f"#{target}")).to_have_class(re.compile(r"\bis-highlighted\b"))
    expect(last.locator("xpath=..")).to_have_class(re.compile(r"\bis-active\b"))

    # the same decisions in the editor: a chip on the line opens them, flow included
    chip = page.locator(f'.cm-ee-gutter .cm-ee-chip[data-line="{HEAP_LINE}"][data-kind="moved-to-heap"]')
    chip.click()
    expect(page.locator(".cm-ee-panel")).to_contain_text("moved to heap: t")
    expect(page.locator(".cm-ee-panel .flow-step").first).to_be_visible()
    page.locator("#auto-compile").check()  # as people find it (the text is compiled: nothing is sent)
    screenshot("playground")

    page.emulate_media(color_scheme="dark")
    screenshot("playground-dark")
    page.set_viewport_size({"width": 480, "height": 900})
    screenshot("playground-narrow")


def test_source_and_assembly_highlight_each_other_and_filters_hide_kinds(page, live_server_url, screenshot):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    compile_and_wait(page)

    line(page, HEAP_LINE).locator(".code").click()
    asm_for_line = page.locator(f'.asm-line.is-highlighted[data-line="{HEAP_LINE}"]')
    expect(asm_for_line.first).to_be_visible()
    assert (
        page.locator(".asm-line.is-highlighted").count() == page.locator(f'.asm-line[data-line="{HEAP_LINE}"]').count()
    )
    expect(page.locator(".asm-line.heap-alloc").first).to_be_visible()
    expect(page.locator(".asm-function summary .fn-meta").first).to_contain_text("frame")

    ret = page.locator('.asm-line[data-line="9"]').first
    ret.click()
    expect(line(page, 9)).to_have_class(re.compile(r"\bis-highlighted\b"))
    expect(line(page, HEAP_LINE)).not_to_have_class(re.compile(r"\bis-highlighted\b"))

    line(page, 14).hover()
    expect(page.locator('.asm-line.is-hovered[data-line="14"]').first).to_be_visible()
    screenshot("source-assembly")

    marker = line(page, HEAP_LINE).locator('.gutter .marker[data-kind="moved-to-heap"]')
    chip = page.locator('.kind-filters button[data-kind="moved-to-heap"]')
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "false")
    expect(marker).to_be_hidden()
    chip.press("Enter")  # keyboard works too
    expect(marker).to_be_visible()


def test_go_version_and_goarch_change_the_compilation(page, live_server_url, screenshot):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    page.select_option("#go-select", NEWEST_GO)
    page.select_option("#goarch-select", "arm64")
    compile_and_wait(page)
    meta = page.locator("#result .meta-list")
    expect(meta).to_contain_text(f"Go {NEWEST_GO}")
    expect(meta).to_contain_text("GOARCH arm64")
    expect(page.locator(".asm").first).to_contain_text("MOVD")
    screenshot("arm64")

    page.select_option("#lang-select", "go1.27")
    page.select_option("#go-select", OLDEST_GO)
    assert page.locator("#goarch-select option").all_inner_texts() == ["amd64"]
    # Go 1.21 knows no language version after go1.21: those are disabled, the choice reset
    expect(page.locator("#lang-select")).to_have_value("")
    expect(page.locator('#lang-select option[value="go1.22"]')).to_be_disabled()
    expect(page.locator('#lang-select option[value="go1.21"]')).to_be_enabled()
    compile_and_wait(page)
    expect(meta).to_contain_text(f"Go {OLDEST_GO}")
    expect(meta).to_contain_text("GOARCH amd64")
    expect(line(page, HEAP_LINE).locator(".decisions")).to_contain_text("moved to heap: t")


def test_permalink_is_read_only_follows_line_anchors_and_can_be_copied(page, browser, live_server_url, screenshot):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    permalink = page.locator("#result a.permalink").get_attribute("href")

    page.goto("about:blank")  # the pushed URL is the permalink: load it afresh, not as a hash change
    page.goto(f"{live_server_url}{permalink}#L8-L9")
    expect(page.locator(".readonly-banner")).to_contain_text("read-only")
    assert page.locator(".cm-editor").count() == 0
    expect(line(page, 8)).to_have_class(re.compile(r"\bis-highlighted\b"))
    expect(line(page, 9)).to_have_class(re.compile(r"\bis-highlighted\b"))
    expect(line(page, 10)).not_to_have_class(re.compile(r"\bis-highlighted\b"))
    screenshot("permalink-anchor")

    line(page, 12).locator(".ln").click(modifiers=["Shift"])
    expect(page).to_have_url(re.compile(r"#L8-L12$"))
    expect(line(page, 12)).to_have_class(re.compile(r"\bis-highlighted\b"))

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator(".readonly-banner .copy-link").click()
    expect(page.locator(".toast")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()").endswith(f"{permalink}#L8-L12")

    page.locator("#edit-copy").click()
    page.wait_for_selector(".cm-editor")
    assert "func newT() *T" in page.evaluate("window.escapeExplorer.editor.getValue()")

    no_js = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        plain = no_js.new_page()
        plain.goto(f"{live_server_url}{permalink}#L8")
        expect(plain.locator("#L8 .decisions")).to_contain_text("moved to heap: t")
        expect(plain.locator("#edit-copy")).to_be_visible()
        expect(plain.locator(".readonly-banner .copy-link")).to_be_hidden()  # needs JavaScript
        plain.locator("#L8 details.why summary").click()  # flows open without JavaScript too
        expect(plain.locator("#L8 .flow-step").first).to_be_visible()
        plain.screenshot(path=str(SCREENSHOTS / "permalink-no-js.png"))
    finally:
        no_js.close()


def test_format_button_runs_gofmt(page, live_server_url):
    open_playground(page, live_server_url)
    set_source(page, "package main\nfunc main(){\nx:=1\n_ = x}\n")
    page.click("#format-button")
    expect(page.locator(".toast")).to_have_text("Formatted with gofmt")
    assert page.evaluate("window.escapeExplorer.editor.getValue()") == (
        "package main\n\nfunc main() {\n\tx := 1\n\t_ = x\n}\n"
    )
    assert page.locator("#source").input_value().startswith("package main\n\nfunc main() {")

    set_source(page, "package main\nfunc main( {\n")
    page.click("#format-button")
    expect(page.locator("#result .notice.error")).to_contain_text("gofmt could not format")


def test_examples_menu_and_compile_errors_are_explained(page, live_server_url, screenshot):
    open_playground(page, live_server_url)
    options = page.locator("#example-select option:not([value=''])")
    assert options.count() >= 8
    page.select_option("#example-select", "loop-closures")
    page.wait_for_selector("#result .annotated-source", timeout=60_000)
    expect(page.locator("#lang-select")).to_have_value("go1.21")
    expect(page.locator("#result")).to_contain_text("moved to heap: i")

    set_source(page, 'package main\n\nfunc main() {\n\tvar x int = "no"\n}\n')
    compile_and_wait(page)
    expect(page.locator("#result .notice.error")).to_contain_text("rejected")
    expect(line(page, 4).locator('.gutter .marker[data-kind="error"]')).to_be_visible()
    screenshot("compile-error")

    # Ctrl+Enter in the editor compiles too.
    set_source(page, "package main\n\nfunc main() {}\n")
    page.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#result .empty-state.good")).to_contain_text("No heap allocations")


def test_pending_state_counts_the_seconds_then_shows_the_result(page, live_server_url, settings, screenshot):
    settings.COMPILE_WAIT_SECONDS = 0  # answer "pending" at once; the fragment polls for the result
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    page.click("#compile-button")
    pending = page.locator("#result .notice.pending")
    expect(pending).to_contain_text(re.compile(r"(Compiling|Waiting).*\d+\.\d s"))
    screenshot("pending")
    page.wait_for_selector("#result .annotated-source", timeout=60_000)
    expect(line(page, HEAP_LINE).locator(".decisions")).to_contain_text("moved to heap: t")


def test_per_function_summary_sorts_and_links_to_lines(page, live_server_url):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    compile_and_wait(page)
    table = page.locator(".summary-table")
    expect(table).to_be_visible()
    first_name = table.locator("tbody tr:first-child td:first-child")
    table.locator("th", has_text="Heap allocs").click()  # descending: most allocations first
    expect(first_name).to_have_text("main.newT")
    expect(table.locator("tbody tr:first-child td:nth-child(2)")).to_contain_text("1")
    table.locator("th", has_text="Frame").click()
    table.locator("th", has_text="Frame").click()  # ascending
    frames = [
        int(v) for v in table.locator("tbody td:nth-child(4)").evaluate_all("cells => cells.map(c => c.dataset.value)")
    ]
    assert frames == sorted(frames)
    first_name.locator("a").click()
    expect(page).to_have_url(re.compile(r"#L\d+$"))


def test_flags_in_the_page_reach_the_compiler_the_permalink_and_a_comparison(page, live_server_url):
    open_playground(page, live_server_url)
    set_source(page, PROGRAM)
    page.fill("#flags-input", "-l")
    compile_and_wait(page)
    expect(page).to_have_url(re.compile(r"/s/\w+$"))
    # without inlining, newT is called: no "inlined" marker anywhere
    expect(page.locator('#result .marker[data-kind="inlining-call"]')).to_have_count(0)
    page.reload()  # the permalink, read-only, names its flags
    expect(page.locator(".readonly-banner")).to_contain_text("flags -l")
    # the same program without -l, one click away: the compare form offers the other side
    page.fill('input[name="b_flags"]', "")
    page.click("#compare-variant-button")
    expect(page).to_have_url(re.compile(r"/c/\w+/\w+$"))
    page.wait_for_selector(".compare-rows, #compare-headline", timeout=60_000)
    expect(page.locator("body")).to_contain_text("inlining call to newT")
