"""The escape graph page in a real browser: reached from a decision's "escape graph"
link, the drawing's nodes link to their lines on the permalink page, nothing breaks the
page's Content-Security-Policy, and axe-core finds nothing (light and dark)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import violations
from tests.browser.test_csp import WATCH
from tests.httpclient import compile_and_wait

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]

EXAMPLE = (Path(__file__).resolve().parents[2] / "explorer" / "examples" / "01-return-address.go").read_text()
FUNCTION = "main.newPoint"  # p := Point{…} on line 11 moves to the heap: return &p on line 12


@pytest.fixture(autouse=True)
def needs_dot():
    if shutil.which("dot") is None:
        pytest.fail("Graphviz (dot) is not installed (scripts/setup.sh installs it)")


def graph_url(base: str, compilation_id: str) -> str:
    return f"{base}/s/{compilation_id}/graph/{FUNCTION}"


def test_from_a_decision_to_its_graph_and_from_a_node_to_its_line(page, live_server_url, screenshot):
    result = compile_and_wait(live_server_url, {"source": EXAMPLE})
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))

    page.goto(f"{live_server_url}/s/{result['id']}")
    link = page.locator(f'a.graph-link[href$="/graph/{FUNCTION}"]')
    expect(link.first).to_have_text("escape graph")
    link.first.click()
    expect(page).to_have_url(graph_url(live_server_url, result["id"]))
    expect(page.locator("h1#graph-title")).to_contain_text(FUNCTION)

    svg = page.locator("svg.escape-graph-svg")
    expect(svg).to_be_visible()
    texts = svg.locator("text").all_text_contents()
    for name in ("p · L11", "~r0 · L12", "{heap}", FUNCTION):
        assert name in texts, (name, texts)
    assert any(t.startswith("& address-of") and t.endswith("L12") for t in texts), texts
    assert svg.locator("[style]").count() == 0 and svg.locator("script").count() == 0
    # the text list says the same
    edges = page.locator(".edge-list li").all_text_contents()
    assert any(e.startswith("p → ~r0: & address-of, return") for e in edges), edges
    assert page.evaluate("window.__csp") == []
    screenshot("escape-graph")  # the README's

    node = svg.locator('a[aria-label="p · L11, moved to heap"]').first
    expect(node).to_have_attribute("href", f"/s/{result['id']}#L11")
    node.click()
    expect(page).to_have_url(f"{live_server_url}/s/{result['id']}#L11")
    target = page.locator("#L11")
    expect(target).to_be_attached()
    assert page.evaluate("document.querySelector(':target')?.id") == "L11"
    assert page.evaluate("window.__csp") == []
    assert messages == []


def test_the_graph_page_loads_nothing_the_policy_refuses(page, live_server_url):
    result = compile_and_wait(live_server_url, {"source": EXAMPLE})
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))
    response = page.goto(graph_url(live_server_url, result["id"]))
    assert response.status == 200
    assert "style-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp") == []
    assert page.locator(".graph-legend li").count() >= 8
    assert page.locator("#graph-back").get_attribute("href") == f"/s/{result['id']}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_graph_page_has_no_accessibility_violations(browser, live_server_url, scheme):
    result = compile_and_wait(live_server_url, {"source": EXAMPLE})
    # axe is injected as an inline script, which the page's CSP forbids: this context alone bypasses it
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    try:
        page.goto(graph_url(live_server_url, result["id"]))
        page.wait_for_load_state("networkidle")
        expect(page.locator("svg.escape-graph-svg")).to_be_visible()
        # the theme's colours override Graphviz's (fill="#1f2328" on every label)
        fill = page.evaluate("getComputedStyle(document.querySelector('.escape-graph-svg .node text')).fill")
        assert (fill == "rgb(31, 35, 40)") == (scheme == "light"), fill
        assert violations(page) == [], scheme
    finally:
        context.close()


def test_a_function_without_heap_decision_has_no_graph_page(page, live_server_url):
    result = compile_and_wait(live_server_url, {"source": EXAMPLE})
    response = page.goto(f"{live_server_url}/s/{result['id']}/graph/main.sum")
    assert response.status == 404
