"""The compare page in a real browser: two versions of a program, the summary at the top,
decisions added and removed, links back to each side's lines."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BEFORE = """package main

type T struct{ a, b int }

func newT() T {
	t := T{1, 2}
	return t
}

func sum(s []int) int {
	return s[0] + s[1] + s[2] + s[3]
}

func main() { println(newT().a, sum(make([]int, 4))) }
"""
AFTER = (
    BEFORE.replace("func newT() T {", "func newT() *T {")
    .replace("\treturn t\n", "\treturn &t\n")
    .replace("\treturn s[0]", "\t_ = s[3]\n\treturn s[0]")
)


def test_compare_two_versions_shows_what_changed(page, live_server_url, screenshot):
    page.goto(live_server_url + "/compare")
    page.fill("#a-source", BEFORE)
    page.fill("#b-source", AFTER)
    page.click(".compare-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/c/\w+/\w+$"), timeout=30_000)
    headline = page.locator("#compare-headline")
    expect(headline).to_contain_text("+1 heap allocation in newT", timeout=60_000)
    expect(headline).to_contain_text("\u22123 bounds checks in sum")
    added = page.locator("tr", has_text="moved to heap: t")
    expect(added).to_have_count(1)
    screenshot("compare")
    # each decision links to its line on its own side's permalink
    link = added.locator("a", has_text="main.go:6")
    expect(link).to_have_attribute("href", re.compile(r"/s/\w+#L6$"))
    link.click()
    expect(page).to_have_url(re.compile(r"/s/\w+#L6$"))
    expect(page.locator("#L6")).to_contain_text("moved to heap: t")


def test_a_permalink_compares_itself_under_another_language_version(page, live_server_url):
    loop = (
        "package main\n\nfunc main() {\n\tvar fs []func() int\n\tfor i := 0; i < 3; i++ {\n"
        "\t\tfs = append(fs, func() int { return i })\n\t}\n\tprintln(fs[0]())\n}\n"
    )
    from tests.httpclient import compile_and_wait

    result = compile_and_wait(live_server_url, {"source": loop, "lang": "go1.22"})
    page.goto(f"{live_server_url}/s/{result['id']}")
    form = page.locator("form.compare-variant")
    form.locator("select[name=b_lang]").select_option("go1.21")
    form.locator("button").click()
    expect(page).to_have_url(re.compile(rf"/c/{result['id']}/\w+$"))
    # before go1.22 the loop variable is one shared variable, captured by reference: on the heap
    expect(page.locator("#compare-headline")).to_contain_text("+1 heap allocation in main", timeout=60_000)
