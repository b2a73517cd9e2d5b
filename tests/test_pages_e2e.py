"""The pages end to end: htmx fragments, redirects without JavaScript, permalinks that
survive a restart (a new web process on the same database)."""

import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from tests.conftest import ROOT, database_url, free_port, wait_for_port
from tests.httpclient import compile_and_wait

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = """package main

func leak() *int {
	x := 42
	return &x
}

func main() { println(*leak()) }
"""


def post_form(url: str, fields: dict, headers: dict | None = None) -> tuple[int, dict, str]:
    data = urllib.parse.urlencode(fields, doseq=True).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers=headers or {})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_htmx_compile_returns_the_annotated_fragment_and_pushes_the_permalink(live_server_url):
    status, headers, body = post_form(
        f"{live_server_url}/compile", {"source": PROGRAM, "goarch": "amd64"}, {"HX-Request": "true"}
    )
    assert status == 200
    assert headers["HX-Push-Url"].startswith("/s/")
    if "moved to heap" not in body:  # the wait ran out: follow the pending fragment's poll
        body = (
            compile_and_wait(live_server_url, {"source": PROGRAM})
            and urllib.request.urlopen(live_server_url + headers["HX-Push-Url"] + "/result").read().decode()
        )
    assert "moved to heap: x" in body
    assert 'class="line heap"' in body or "heap" in body


def test_the_permalink_page_is_the_page_with_the_cached_result_in_its_place(live_server_url):
    """The permalink's result is put into the rendered page as cached bytes (views.permalink):
    the page is whole, the result appears once, where the template puts it, in UTF-8."""
    source = PROGRAM.replace("func main()", "// ünïcödé → 世界\nfunc main()")
    result = compile_and_wait(live_server_url, {"source": source})
    url = f"{live_server_url}/s/{result['id']}"
    pages = [urllib.request.urlopen(url).read() for _ in range(2)]  # rendered, then cached
    assert pages[0].count(b"moved to heap: x") == pages[1].count(b"moved to heap: x") >= 1  # rendered = cached
    page = pages[1].decode("utf-8")  # strict: the splice keeps the encoding whole
    assert page.lstrip().lower().startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "ee-result-" not in page  # the marker is replaced
    assert page.count("moved to heap: x") >= 1 and "世界" in page
    fragment = urllib.request.urlopen(url + "/result").read().decode("utf-8")
    assert fragment.strip() and fragment.strip() in page  # the same result as the htmx fragment


def test_a_copy_keeps_what_the_original_collected(live_server_url):
    """/?copy=<id> fills the playground with the original's source and settings, its
    "Collect" choices included (a big program compiled without "asm" must not be compiled
    again with it)."""
    result = compile_and_wait(live_server_url, {"source": PROGRAM, "groups": ["escape", "inline"]})
    page = urllib.request.urlopen(f"{live_server_url}/?copy={result['id']}").read().decode()
    checked = set(re.findall(r'name="groups" value="([\w-]+)" checked', page))
    offered = set(re.findall(r'name="groups" value="([\w-]+)"', page))
    assert checked == {"escape", "inline"} and "asm" in offered - checked, (checked, offered)
    plain = urllib.request.urlopen(f"{live_server_url}/").read().decode()  # a new page: everything
    assert set(re.findall(r'name="groups" value="([\w-]+)" checked', plain)) == offered


def test_without_javascript_the_form_redirects_to_the_permalink(live_server_url):
    status, headers, _ = post_form(f"{live_server_url}/compile", {"source": PROGRAM})
    assert status == 302 and headers["Location"].startswith("/s/")


def test_bad_input_in_the_page_is_a_message_not_a_500(live_server_url):
    status, _, body = post_form(f"{live_server_url}/compile", {"source": ""}, {"HX-Request": "true"})
    assert status == 400 and "empty" in body  # htmx swaps 400 in (base.html's htmx-config)
    status, _, body = post_form(f"{live_server_url}/compile", {"source": "   "})
    assert status == 400 and "empty" in body


def test_permalink_survives_a_restart_without_compiling_again(live_server_url):
    from explorer.models import Compilation

    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    finished = Compilation.objects.get(pk=result["id"]).finished
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": "redis://127.0.0.1:1/0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "explorer.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30)
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/s/{result['id']}", timeout=30).read().decode()
    finally:
        server.terminate()
        server.wait(10)
    assert "moved to heap: x" in page
    assert Compilation.objects.get(pk=result["id"]).finished == finished


def test_raw_output_is_the_compilers_own_text(live_server_url):
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    raw = urllib.request.urlopen(f"{live_server_url}/s/{result['id']}/raw").read().decode()
    assert "main.go:4:2: moved to heap: x" in raw
    assert re.search(r"^main\.leak(<\d>)? STEXT", raw, re.MULTILINE)
    assert "#ee-logopt" not in raw  # the runner's frames are the engine's, not the compiler's


def test_every_kind_is_explained_and_results_link_to_the_explanation(live_server_url):
    from worker.analysis import KINDS

    page = urllib.request.urlopen(f"{live_server_url}/kinds").read().decode()
    for kind in KINDS:
        assert f'id="{kind}"' in page, kind
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    html = urllib.request.urlopen(f"{live_server_url}/s/{result['id']}").read().decode()
    assert 'href="/kinds#moved-to-heap"' in html
