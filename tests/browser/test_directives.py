"""//gcassert: directives on the page: real Chromium, real web server, real Celery worker,
real Go toolchain. A violated directive shows ✗ with the compiler's reason on its line, in
the annotated view and as a chip of the editor; a held one ✓."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_editor import chips, compile_and_wait, open_playground, set_source

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = """package main

import "fmt"

func small(x int) int { return x + 1 }

func first(xs []int) int {
	//gcassert:bce
	return xs[3]
}

func main() {
	a := small(1) //gcassert:inline
	println(a, first([]int{1, 2, 3, 4}))
	fmt.Println("<b>bold</b>") //gcassert:noalloc
}
"""


def test_a_violated_directive_shows_a_cross_and_the_compilers_reason(page, live_server_url, screenshot):
    open_playground(page, live_server_url, auto=False)
    set_source(page, PROGRAM)
    compile_and_wait(page)

    summary = page.locator("#result .directives-summary")
    expect(summary).to_contain_text("2 violated")
    expect(summary).to_contain_text("1 held")

    # line 8: the comment above `return xs[3]`: ✗, in words, with the compiler's message
    violated = page.locator('#L8 .directive[data-status="violated"]')
    expect(violated).to_be_visible()
    expect(violated.locator(".marker")).to_have_text("\u2717 violated")
    expect(violated).to_contain_text("//gcassert:bce")
    expect(violated).to_contain_text("(about line 9)")
    expect(violated.locator(".directive-reason")).to_have_text("Found IsInBounds (column 11)")

    held = page.locator('#L13 .directive[data-status="held"]')
    expect(held.locator(".marker")).to_have_text("\u2713 held")
    expect(held.locator(".directive-reason")).to_have_text("inlining call to small")

    # the user's string in a reason is text, not markup
    noalloc = page.locator("#L15 .directive .directive-reason")
    expect(noalloc).to_contain_text('"<b>bold</b>"')
    assert page.locator("#L15 .directive b").count() == 0

    # the editor: a chip on each directive's line, whose title says it and why
    expect(chips(page, 8, "directive-violated")).to_have_count(1)
    title = chips(page, 8, "directive-violated").get_attribute("title")
    assert title.startswith("\u2717 violated: //gcassert:bce") and "Found IsInBounds (column 11)" in title
    expect(chips(page, 13, "directive-held")).to_have_count(1)
    # its icon is the sprite's (a box with a cross): a shape, not only a colour
    assert chips(page, 8, "directive-violated").locator("svg use").get_attribute("href") == ("#ki-directive-violated")
    assert page.locator("#ki-directive-violated").count() == 1
    screenshot("directives", page.locator("#L8"))
