"""Compare through HTTP: the API (JSON, Markdown, SARIF), the pages and the CLI's --server mode.

Real Redis, real Celery worker, real compiler (fixtures in tests/conftest.py).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

import pytest

from tests.httpclient import compile_and_wait, request
from tests.test_sarif import validate
from worker.review_cli import EXIT_ERROR, EXIT_NEW_HEAP, main

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BEFORE = """package main

type T struct{ a, b int }

//go:noinline
func newT() T {
	t := T{1, 2}
	return t
}

func sum(s []int) int {
	return s[0] + s[1] + s[2] + s[3]
}

func main() { println(newT().a, sum(make([]int, 4))) }
"""
AFTER = BEFORE.replace("func newT() T {", "func newT() *T {").replace("return t\n", "return &t\n")
MOVED = BEFORE.replace("func sum(s []int) int {\n\treturn s[0] + s[1] + s[2] + s[3]\n}\n\n", "") + (
    "\nfunc sum(s []int) int {\n\treturn s[0] + s[1] + s[2] + s[3]\n}\n"
)


def fetch(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


def post_form(url: str, fields: dict) -> tuple[int, str]:
    """POST a form without following the redirect: (status, Location)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    req = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as resp:
            return resp.status, resp.headers.get("Location", "")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", "")


def compiled_pair(base: str, before: str, after: str) -> tuple[str, str]:
    a, b = (compile_and_wait(base, {"source": s}) for s in (before, after))
    assert a["status"] == b["status"] == "done"
    return a["id"], b["id"]


def test_compare_api_returns_the_new_heap_escape_with_links(live_server_url):
    a, b = compiled_pair(live_server_url, BEFORE, AFTER)
    status, diff = request("GET", f"{live_server_url}/api/v1/compare?a={a}&b={b}")
    assert status == 200, diff
    heap = [d for d in diff["added"] if d["group"] == "heap"]
    assert [(d["kind"], d["function"], d["message"], d["line"]) for d in heap] == [
        ("moved-to-heap", "main.newT", "moved to heap: t", 7)
    ]
    assert heap[0]["url"] == f"{live_server_url}/s/{b}#L7"
    assert not [d for d in diff["removed"] if d["group"] == "heap"]
    assert diff["summary"]["heap_added"] == 1 and "+1 heap allocation in newT" in diff["summary"]["headline"]
    assert diff["links"]["compare"] == f"{live_server_url}/c/{a}/{b}"


def test_a_moved_function_gives_an_empty_diff_through_the_api(live_server_url):
    a, b = compiled_pair(live_server_url, BEFORE, MOVED)
    status, diff = request("GET", f"{live_server_url}/api/v1/compare?a={a}&b={b}")
    assert status == 200 and diff["added"] == [] and diff["removed"] == [] and diff["empty"]


def test_markdown_export_links_back_to_the_permalinks(live_server_url):
    a, b = compiled_pair(live_server_url, BEFORE, AFTER)
    for url in (f"/api/v1/compare/markdown?a={a}&b={b}", f"/api/v1/compare?a={a}&b={b}&format=markdown"):
        status, content_type, body = fetch(live_server_url + url)
        assert status == 200 and content_type.startswith("text/markdown")
        assert f"]({live_server_url}/c/{a}/{b})" in body
        assert f"]({live_server_url}/s/{b}#L7)" in body


def test_sarif_export_is_valid_sarif(live_server_url):
    a, _ = compiled_pair(live_server_url, AFTER, AFTER)
    status, content_type, body = fetch(f"{live_server_url}/api/v1/compilations/{a}/sarif")
    assert status == 200 and content_type.startswith("application/sarif+json")
    log = json.loads(body)
    validate(log)  # against the SARIF 2.1.0 schema
    assert any(r["ruleId"] == "moved-to-heap" for r in log["runs"][0]["results"])


def test_unknown_ids_are_404(live_server_url):
    a, _ = compiled_pair(live_server_url, BEFORE, BEFORE)
    assert request("GET", f"{live_server_url}/api/v1/compare?a={a}&b=nope")[0] == 404
    assert request("GET", f"{live_server_url}/api/v1/compilations/nope/sarif")[0] == 404
    assert fetch(f"{live_server_url}/c/{a}/nope")[0] == 404


def test_compare_form_redirects_to_the_permalink_that_renders_the_diff(live_server_url):
    status, _, form = fetch(f"{live_server_url}/compare")
    assert status == 200 and 'name="a_source"' in form and 'name="b_source"' in form
    status, location = post_form(
        f"{live_server_url}/compare",
        {"a_source": BEFORE, "a_goarch": "amd64", "b_source": AFTER, "b_goarch": "amd64"},
    )
    assert status == 302 and location.startswith("/c/")
    deadline = time.monotonic() + 60
    while True:  # what a browser with JavaScript off does: the meta refresh
        status, _, page = fetch(live_server_url + location)
        assert status == 200
        if 'http-equiv="refresh"' not in page:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert "+1 heap allocation in newT" in page
    assert "moved to heap: t" in page
    _, a, b = location.strip("/").split("/")
    assert f'href="/s/{b}#L7"' in page
    fragment = fetch(f"{live_server_url}{location}/result")[2]  # what htmx polls
    assert '<h2 id="compare-headline"' in fragment and "<html" not in fragment


def test_the_same_program_under_two_language_versions(live_server_url):
    program = (
        "package main\n\nfunc main() {\n\tvar fs []func()\n\tfor i := 0; i < 3; i++ {\n"
        "\t\tfs = append(fs, func() { println(i) })\n\t}\n\tfor _, f := range fs {\n\t\tf()\n\t}\n}\n"
    )
    status, location = post_form(
        f"{live_server_url}/compare", {"a_source": program, "a_lang": "go1.21", "b_source": "", "b_lang": "go1.22"}
    )
    assert status == 302
    _, a, b = location.strip("/").split("/")
    deadline = time.monotonic() + 60
    while (resp := request("GET", f"{live_server_url}/api/v1/compare?a={a}&b={b}"))[0] == 202:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, diff = resp
    assert status == 200 and (diff["a"]["lang"], diff["b"]["lang"]) == ("go1.21", "go1.22")
    assert any(d["group"] == "heap" and d["subject"] == "i" for d in diff["removed"])


def test_cli_against_the_server(live_server_url, tmp_path, capsys):
    (tmp_path / "before.go").write_text(BEFORE)
    (tmp_path / "after.go").write_text(AFTER)
    argv = [str(tmp_path / "before.go"), str(tmp_path / "after.go"), "--server", live_server_url]
    assert main([*argv, "--format", "markdown", "--fail-on-new-heap"]) == EXIT_NEW_HEAP
    out = capsys.readouterr().out
    assert f"]({live_server_url}/c/" in out and "`moved to heap: t`" in out
    assert main([*argv, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["added"][0]["url"].startswith(f"{live_server_url}/s/")


def test_cli_uses_its_token_and_waits_out_a_rate_limit(live_server_url, tmp_path, capsys, settings):
    from explorer import broker as ee_broker
    from explorer.ratelimit import Rate

    settings.API_TOKENS = {"ci": "ci-token-0123456789abcdef"}
    settings.TOKEN_LIMIT_FACTOR = 1
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "submit": Rate(1, 60)}
    (tmp_path / "before.go").write_text(BEFORE + "// token\n")
    (tmp_path / "after.go").write_text(AFTER + "// token\n")
    argv = [str(tmp_path / "before.go"), str(tmp_path / "after.go"), "--server", live_server_url]
    try:
        # two submissions, one allowed a second: the second is a 429 the CLI waits out
        assert main([*argv, "--token", "ci-token-0123456789abcdef", "--format", "text"]) == 0
        assert "moved to heap: t" in capsys.readouterr().out
        assert main([*argv, "--token", "not-a-token-of-this-server", "--format", "text"]) == EXIT_ERROR
        assert "Unknown API token" in capsys.readouterr().err
    finally:
        for key in ee_broker.client().scan_iter(match="ee:rate:*token:ci*"):
            ee_broker.client().delete(key)
