"""The SSA page in a real browser: from a function's "SSA" link to the compiler's own
ssa.html, running its scripts in an opaque-origin sandboxed frame."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import expect

from tests.httpclient import compile_and_wait
from tests.test_ssa import PROGRAM
from tests.test_ssa_sanitize import CAPTURED, ESCAPED, raw_page
from worker.ssa_sanitize import HANDLERS, TAGS, sanitize

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_ssa_link_opens_the_compilers_page_in_a_sandboxed_frame(page, live_server_url):
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    page.goto(f"{live_server_url}/s/{result['id']}")
    link = page.locator("[id='fn-main.newT'] .fn-ssa")  # a button: only a POST compiles
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


# -- HTML the compiler leaves unescaped (a struct tag in a generic shape type's name) ----

PAYLOAD_SOURCE = (CAPTURED / "payload.go").read_text()
INSTANTIATION = "main.G[main.S]"  # its page names go.shape.struct { X int "json:\"</title><script>…" }
SHOWN = "<script>alert(document.domain)</script><meta http-equiv=refresh content='0;url=https://evil.example'>"


def ssa_path(compilation_id: str, function: str) -> str:
    return f"/s/{compilation_id}/ssa/{quote(function, safe='()*')}"


def same_url(a: str, b: str) -> bool:
    return unquote(a) == unquote(b)


def open_ssa_page(page, url: str) -> None:
    """The function's SSA page with the compiler's page in its frame (asking for it
    with the page's button where the page has one)."""
    page.goto(url)
    request = page.locator("#ssa-request")
    if request.count():
        request.click()
    expect(page.locator("iframe#ssa-frame")).to_have_attribute("sandbox", "allow-scripts", timeout=60_000)


def watch(page) -> tuple[list[str], list[str]]:
    """Dialogs opened and console errors (CSP refusals, sandbox-ignored alerts), in all frames."""
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return dialogs, errors


def test_html_in_a_struct_tag_is_shown_as_text_and_the_compilers_page_still_works(page, live_server_url):
    dialogs, errors = watch(page)
    result = compile_and_wait(live_server_url, {"source": PAYLOAD_SOURCE})
    assert result["status"] == "done", result
    wrapper = live_server_url + ssa_path(result["id"], INSTANTIATION)
    open_ssa_page(page, wrapper)
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)  # a refresh after 0 s, or a script's navigation, would have happened

    # The frame is still our page, on our origin: nothing navigated it.
    assert len(page.frames) == 2, [f.url for f in page.frames]
    inner = page.frames[1]
    assert same_url(inner.url, wrapper + "/raw"), inner.url
    assert same_url(page.url, wrapper)
    frame = page.frame_locator("iframe#ssa-frame")
    expect(frame.locator("h2", has_text="genssa")).to_be_visible()
    # Of the struct tag's markup nothing is markup; all of it is shown.
    assert inner.evaluate("() => document.scripts.length") == 1
    assert inner.evaluate("() => document.querySelectorAll('meta').length") == 1
    assert inner.evaluate("() => document.querySelectorAll('title, iframe, img, form, base').length") == 0
    shown = frame.locator("td#start-exp li", has_text=SHOWN).first
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(f'go.shape.struct {{ X int "json:\\"</title>{SHOWN}\\"" }}')

    # The compiler's own script and its three inline handlers still run (allowed by hash).
    frame.locator("td#genssa-exp h2").click()  # a pass's column collapses…
    expect(frame.locator("td#genssa-exp")).to_be_hidden()
    frame.locator("td#genssa-col").click()  # …and opens again
    expect(frame.locator("td#genssa-exp")).to_be_visible()
    frame.locator("#helplink").click()  # onclick="toggle_visibility('help');return false;"
    expect(frame.locator("#help")).to_be_visible()
    button = frame.locator("td#start-exp button").first  # onclick="hideBlock(this)"
    expect(button).to_have_text("-")
    button.click()
    expect(button).to_have_text("+")
    button.click()
    expect(button).to_have_text("-")
    frame.locator("#dark-mode-button").click()  # onclick="toggleDarkMode();"
    expect(frame.locator("body")).to_have_class(re.compile(r"\bdarkmode\b"))
    value = frame.locator("td#start-exp span.ssa-value").first  # a listener of the script
    value.click()
    expect(value).to_have_class(re.compile(r"\bhighlight-"))

    assert dialogs == []
    assert not [e for e in errors if "alert" in e or "Content Security Policy" in e], errors
    assert same_url(inner.url, wrapper + "/raw") and same_url(page.url, wrapper)


def test_the_raw_page_opened_on_its_own_ends_on_the_functions_page(page, live_server_url):
    dialogs, errors = watch(page)
    result = compile_and_wait(live_server_url, {"source": PAYLOAD_SOURCE})
    wrapper = live_server_url + ssa_path(result["id"], INSTANTIATION)
    open_ssa_page(page, wrapper)  # makes the dump

    response = page.goto(wrapper + "/raw")
    assert response is not None and response.ok
    assert response.request.redirected_from is not None
    assert same_url(response.request.redirected_from.url, wrapper + "/raw")
    assert same_url(page.url, wrapper)
    expect(page.frame_locator("iframe#ssa-frame").locator("h2", has_text="genssa")).to_be_visible()
    page.wait_for_timeout(1500)
    assert same_url(page.url, wrapper)
    assert all(f.url.startswith(live_server_url) for f in page.frames), [f.url for f in page.frames]
    assert dialogs == []
    assert not [e for e in errors if "alert" in e or "Content Security Policy" in e], errors

    # Who gets what: a top-level navigation the redirect (a path of this site, never
    # cached), the frame and clients that do not say (curl) the page, with its policy.
    raw = wrapper + "/raw"
    for dest, status in (("document", 302), ("iframe", 200), (None, 200)):
        request = urllib.request.Request(raw, headers={"Sec-Fetch-Dest": dest} if dest else {})
        try:
            with NO_REDIRECTS.open(request, timeout=30) as resp:
                got, headers = resp.status, resp.headers
        except urllib.error.HTTPError as err:
            got, headers = err.code, err.headers
        assert got == status, (dest, got)
        assert "Sec-Fetch-Dest" in headers["Vary"]
        if status == 302:
            assert headers["Location"] == ssa_path(result["id"], INSTANTIATION).replace("[", "%5B").replace("]", "%5D")
            assert headers["Cache-Control"] == "no-store"
        else:
            csp = headers["Content-Security-Policy"]
            assert csp.startswith("sandbox allow-scripts; default-src 'none'; script-src 'sha256-")
            assert "'unsafe-hashes'" in csp and "'unsafe-inline' " not in csp.split("style-src")[0]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


NO_REDIRECTS = urllib.request.build_opener(_NoRedirects)


def test_chromium_reads_the_sanitized_fragments_as_text(page):
    """The sanitizer's output is canonical: Chromium builds from it only the compiler's
    elements and shows every hostile fragment as the characters it is."""
    dialogs, _ = watch(page)
    html = sanitize(raw_page(CAPTURED / "go1.27.3-G.html"))
    body = html.index("<body>") + len("<body>")
    fragments = [f for f in ESCAPED if "&" not in f]
    hostile = "".join(f"<pre>{f}</pre>" for f in fragments)  # <pre>: the compiler's, kept
    page.set_content(sanitize(html[:body] + hostile + html[body:]))  # the compiler's page around them
    tags = page.evaluate("() => [...new Set([...document.querySelectorAll('*')].map(e => e.localName))]")
    assert set(tags) <= {*TAGS, "tbody"}, set(tags) - set(TAGS)  # <tbody>: implied by <table><tr>
    assert page.evaluate("() => document.scripts.length") == 1
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(e =>
             [...e.attributes].filter(a => a.name.startsWith('on')).map(a => a.value))"""
    )
    assert set(handlers) == set(HANDLERS.values())
    texts = page.evaluate("() => [...document.body.children].filter(e => e.localName == 'pre').map(e => e.textContent)")
    assert texts == fragments
    assert dialogs == []
