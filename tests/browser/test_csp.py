"""Every page works under its Content-Security-Policy: the browser reports no violation
(scripts and styles from our origin only), and the policy really blocks injected script."""

from __future__ import annotations

import pytest

from tests.httpclient import compile_and_wait

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = """package main

type T struct{ a, b int }

var sink *T

func newT() *T {
	t := T{1, 2}
	return &t
}

func main() { sink = newT() }
"""

WATCH = """() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation",
    e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
}"""


def test_pages_run_under_their_csp_without_violations(page, live_server_url):
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(WATCH.removeprefix("() => {").removesuffix("}"))
    for path in ("/", f"/s/{result['id']}", "/compare", f"/compare?a={result['id']}", "/kinds", "/api/v1/docs"):
        response = page.goto(live_server_url + path)
        assert response.status == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0], path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], path
    # the playground's own scripts ran: the editor replaced the textarea, htmx compiles
    page.goto(live_server_url + "/")
    page.wait_for_selector(".cm-editor")
    page.click("#compile-button")
    page.wait_for_selector(".annotated-source")
    assert page.evaluate("window.__csp") == []
    assert messages == []


def test_the_csp_blocks_an_injected_inline_script(page, live_server_url):
    page.goto(live_server_url + "/kinds")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.__ran = true";
                   document.body.appendChild(s); }"""
    )
    assert page.evaluate("window.__ran === true") is False
