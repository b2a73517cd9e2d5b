"""The SSA page in a real browser: from a function's "SSA" link to the compiler's own
ssa.html, running its scripts in an opaque-origin sandboxed frame."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.httpclient import compile_and_wait
from tests.test_ssa import PROGRAM

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_ssa_link_opens_the_compilers_page_in_a_sandboxed_frame(page, live_server_url):
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    page.goto(f"{live_server_url}/s/{result['id']}")
    link = page.locator("[id='fn-main.newT'] a.fn-ssa")
    expect(link).to_have_text("SSA passes")
    link.click()
    expect(page).to_have_url(re.compile(r"/s/\w+/ssa/main\.newT$"))
    expect(page.locator("iframe#ssa-frame")).to_have_attribute("sandbox", "allow-scripts", timeout=60_000)
    frame = page.frame_locator("iframe#ssa-frame")
    expect(frame.locator("h2", has_text="genssa")).to_be_visible()
    inner = page.frame(url=re.compile(r"/ssa/main\.newT/raw$"))
    assert inner.evaluate("() => typeof toggle_visibility") == "function"  # its scripts ran
    assert inner.evaluate("() => window.origin") == "null"  # …in an opaque origin
    reach = "() => { try { return String(parent.document.cookie); } catch (e) { return 'blocked'; } }"
    assert inner.evaluate(reach) == "blocked"
