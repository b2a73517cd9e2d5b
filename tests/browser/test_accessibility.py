"""Accessibility, checked by axe-core in the real browser, in light and dark themes:
the playground, a result (annotated source, assembly, summary) and the compare page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.httpclient import compile_and_wait

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"
PROGRAM = """package main

import "fmt"

type T struct{ a, b int }

var sink *T

func newT() *T {
	t := T{1, 2}
	return &t
}

func store(p *T) { sink = p }

func main() {
	store(newT())
	s := make([]int, 10)
	for i := range s {
		s[i] = i
	}
	fmt.Println(s[3])
}
"""


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map(v => `${v.id} (${v.impact}, ${v.nodes.length}): ${v.nodes[0].target.join(" ")}`)"""
    )
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_have_no_accessibility_violations(browser, live_server_url, scheme):
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    # axe is injected as an inline script, which the pages' CSP forbids (tests/browser/test_csp.py
    # checks the pages themselves under it): this context alone bypasses it.
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    try:
        for path in ("/", f"/s/{result['id']}", "/compare", "/kinds"):
            page.goto(live_server_url + path)
            page.wait_for_load_state("networkidle")
            assert violations(page) == [], f"{scheme} {path}"
    finally:
        context.close()
