"""Hostile inputs, end to end (issue 12: "No injection", "Tests that prove it").

Every case goes to the live server (real Redis, real Celery workers, the real compiler
in its sandbox; tests/conftest.py) over a raw socket, so nothing on the client side
normalises what is sent, and must come back CONTAINED:

- never a 5xx;
- an API error is exactly ``{"error": "<message for a person>"}`` with 400 (validation),
  401 (unknown bearer token), 404, 413 (body too large), 429/503 (with Retry-After);
  a page error is a page (or an htmx fragment) with the same status;
- a refused submission stores nothing (no Compilation row, no SSADump row);
- user text that comes back (compiler messages quote identifiers, strings, struct tags)
  is escaped in every HTML page and inert in the Markdown export; SARIF stays valid JSON.

The tables: REFUSED (requests answered with an error, nothing stored), ACCEPTED
(programs compiled, with the result the compiler gives), WITH_A_COMPILATION (ids,
functions and paths around one stored result), SURFACES (one hostile program on every
page and export). Then a txtar's non-Go files (kept, shown, never compiled).
"""

from __future__ import annotations

import html
import json
import re
import socket
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import NamedTuple

import pytest

from tests.httpclient import compile_and_wait
from tests.test_sarif import validate as validate_sarif

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIMIT = 256 * 1024
BASE = """package main

var sink *int

func leak() *int {
	x := 42
	return &x
}

func main() { sink = leak() }
"""
UNKNOWN_ID = "aaaaaaaaaaaaaaaa"  # the shape of an id (16 of [a-z2-7]), never stored

# What a hostile program says, and what each must look like in a page once escaped.
SCRIPT = "</script><script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
IMG_GO = IMG.replace('"', '\\"')  # in a Go string literal
TEMPLATE = "{{ 7*7 }}"
JS_URL = "javascript:alert(1)"
ESCAPED = {
    SCRIPT: "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;",
    IMG: "&lt;img src=x onerror=alert(1)&gt;",
}


# --- HTTP over a raw socket -----------------------------------------------------------


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names
    text: str

    @property
    def json(self):
        return json.loads(self.text)


def exchange(base: str, raw: bytes, timeout: float = 60) -> Response:
    """Send ``raw`` as it is, close our side, read the answer until the server closes."""
    url = urllib.parse.urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading everything: read the answer
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    assert lines[0].startswith("HTTP/"), f"not an HTTP answer: {lines[0]!r}"
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(int(lines[0].split()[1]), headers, body.decode("utf-8", "replace"))


def send(
    base: str,
    method: str,
    path: str,
    body: bytes | dict | list | str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One request. A dict or list body is JSON; ``headers`` may set (or lie about) Content-Length."""
    headers = dict(headers or {})
    if isinstance(body, dict | list):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    host = urllib.parse.urlsplit(base).netloc
    lines = [f"{method} ".encode() + path.encode() + b" HTTP/1.1", f"Host: {host}".encode(), b"Connection: close"]
    if body is not None and "Content-Length" not in headers:
        headers["Content-Length"] = str(len(body))
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
    return exchange(base, b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))


def form(**fields: str) -> tuple[bytes, dict[str, str]]:
    return urllib.parse.urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"}


# --- what a contained answer is -------------------------------------------------------


def assert_api_error(r: Response, status: int, says: str = "") -> None:
    assert r.status == status, (r.status, r.text[:500])
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"].strip(), body
    assert "Traceback" not in body["error"]
    if says:
        assert says.lower() in body["error"].lower(), body["error"]
    if status in (429, 503):
        assert r.headers.get("retry-after", "").isdigit(), r.headers


class _Scan(HTMLParser):
    """What the browser would run or load from a page: inline scripts, handlers, script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>: an event handler")
            if name in ("href", "src", "action", "formaction", "srcdoc", "data") and value:
                if re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:", "vbscript:", "data:text")):
                    self.problems.append(f"<{tag} {name}={value[:60]!r}>: a script URL")
        if tag == "script":
            self._inline_script = "src" not in attributes and attributes.get("type") != "application/json"
        ours = tag == "svg" and attributes.get("class") in ("icon", "icon-sprite")  # the kind icons (render.py)
        if tag in ("img", "object", "embed", "base", "svg", "math", "frame") and not ours:  # no template writes one
            self.problems.append(f"<{tag}>: an element from user text")

    def handle_data(self, data: str) -> None:
        if self._inline_script and data.strip():
            self.problems.append(f"an inline script: {data.strip()[:60]!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inline_script = False


def assert_safe_html(page: str, *raw: str) -> None:
    """No script, handler or script URL a browser would run, and none of ``raw`` unescaped."""
    scan = _Scan()
    scan.feed(page)
    scan.close()
    assert not scan.problems, scan.problems[:5]
    for text in raw:
        assert text not in page, f"unescaped in the page: {text!r}"


def assert_page_error(r: Response, status: int, says: str = "") -> None:
    assert r.status == status, (r.status, r.text[:500])
    content_type = r.headers.get("content-type", "")
    assert content_type.startswith(("text/html", "text/plain")), r.headers
    assert "Traceback" not in r.text
    if content_type.startswith("text/html"):
        assert_safe_html(r.text)
    if says:
        assert says.lower() in html.unescape(r.text).lower(), r.text[:2000]
    if status in (429, 503):
        assert r.headers.get("retry-after", "").isdigit(), r.headers


def stored_counts() -> tuple[int, int]:
    from explorer.models import Compilation, SSADump

    return Compilation.objects.count(), SSADump.objects.count()


def compiled(base: str, source: str, **fields) -> dict:
    result = compile_and_wait(base, {"source": source, **fields})
    assert result["status"] == "done", result
    return result


# --- building blocks of the cases ------------------------------------------------------


def padded(size: int) -> str:
    """BASE, with a comment that makes it exactly ``size`` bytes of UTF-8."""
    head = BASE + "// "
    return head + "x" * (size - len(head.encode()) - 1) + "\n"


def txtar(*files: tuple[str, str]) -> str:
    return "".join(f"-- {name} --\n{text}" for name, text in files)


@dataclass(frozen=True)
class Refused:
    """A request answered with an error (or a page that ignores what it was given)."""

    method: str
    path: str
    body: bytes | dict | list | str | None = None
    status: int = 400
    says: str = ""
    headers: dict = field(default_factory=dict)
    page: bool = False  # the answer is a page (or text), not the API's JSON
    absent: tuple[str, ...] = ()  # hostile text that must not come back as it is


def page(method: str, path: str, body=None, headers: dict | None = None, **kw) -> Refused:
    return Refused(method, path, body, headers=headers or {}, page=True, **kw)


def api_compile(body, *, says: str = "", status: int = 400, headers: dict | None = None) -> Refused:
    return Refused("POST", "/api/v1/compile", body, status=status, says=says, headers=headers or {})


def with_source(source: str, **fields) -> dict:
    return {"source": source, **fields}


def raw_json(text: str) -> bytes:
    """A JSON body written by hand (NaN, 1e309, lone surrogates: what json.dumps will not write)."""
    return text.encode()


MANY_GO_FILES = [(f"f{i}.go", "package main\n") for i in range(33)]
NEAR_LIMIT_WITH_NOTES = [("main.go", BASE)] + [(f"f{i}.go", "package main\n") for i in range(30)]
NEAR_LIMIT_WITH_NOTES += [("go.mod", "module x\n"), ("notes.txt", "hi\n")]


FORM_UTF8 = b"source=package+main%0A%0A%2F%2F+%FF%FE%0Afunc+main%28%29+%7B%7D%0A&go=&goarch=amd64"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

REFUSED: list = [
    # --- sources -----------------------------------------------------------------------
    pytest.param(api_compile(with_source(""), says="empty"), id="source-empty"),
    pytest.param(api_compile(with_source(" \n\t\r\n  \n"), says="empty"), id="source-whitespace-only"),
    pytest.param(api_compile(with_source(padded(LIMIT + 1)), says="limit is 256 KiB"), id="source-256KiB-plus-1-byte"),
    pytest.param(
        api_compile(with_source("package main\n//" + "é" * (LIMIT // 2)), says="limit is 256 KiB"),
        id="source-over-256KiB-in-bytes-not-characters",
    ),
    pytest.param(api_compile(with_source("package main\n\x00\x01\x02"), says="NUL byte"), id="source-NUL-byte"),
    pytest.param(
        api_compile(raw_json('{"source": "package main\\n// \\ud800\\nfunc main() {}\\n"}'), says="UTF-8"),
        id="source-lone-high-surrogate",
    ),
    pytest.param(
        api_compile(raw_json('{"source": "package main\\n// \\udfff\\nfunc main() {}\\n"}'), says="UTF-8"),
        id="source-lone-low-surrogate",
    ),
    pytest.param(api_compile(b'{"source": "package main // \xff\xfe"}', says="UTF-8"), id="json-body-not-UTF-8"),
    pytest.param(api_compile({"source": 42}, says="source"), id="source-a-number"),
    pytest.param(api_compile({"source": ["package main"]}, says="source"), id="source-a-list"),
    pytest.param(api_compile({"source": None}, says="source"), id="source-null"),
    pytest.param(api_compile({"go": "1.27.3"}, says="source"), id="source-missing"),
    # --- txtar archives ----------------------------------------------------------------
    pytest.param(
        api_compile(with_source(txtar(("../../etc/passwd.go", BASE))), says="not allowed"), id="txtar-dotdot-path"
    ),
    pytest.param(api_compile(with_source(txtar(("/abs.go", BASE))), says="not allowed"), id="txtar-absolute-path"),
    pytest.param(api_compile(with_source(txtar(("a/b.go", BASE))), says="not allowed"), id="txtar-directory"),
    pytest.param(api_compile(with_source(txtar(("..\\x.go", BASE))), says="not allowed"), id="txtar-backslash"),
    pytest.param(
        api_compile(with_source(txtar(("../x_test.go", BASE))), says="not allowed"), id="txtar-test-file-with-path"
    ),
    pytest.param(
        api_compile(with_source(txtar(("a.go", BASE), ("a.go", "package main\n"))), says="twice"),
        id="txtar-duplicate-file",
    ),
    pytest.param(api_compile(with_source(txtar(*MANY_GO_FILES)), says="limit is 32"), id="txtar-33-go-files"),
    pytest.param(
        api_compile(with_source(txtar(*NEAR_LIMIT_WITH_NOTES)), says="limit is 32"),
        id="txtar-31-go-files-and-2-others",
    ),
    pytest.param(
        api_compile(with_source(txtar(("main.go", BASE), ("../../etc/passwd", "root\n"))), says="not allowed"),
        id="txtar-other-file-dotdot",
    ),
    pytest.param(
        api_compile(with_source(txtar(("main.go", BASE), (".env", "X=1\n"))), says="not allowed"),
        id="txtar-other-file-hidden",
    ),
    pytest.param(
        api_compile(with_source(txtar(("main.go", BASE), ("<img src=x onerror=alert(1)>", "x\n"))), says="not allowed"),
        id="txtar-other-file-html-name",
    ),
    pytest.param(
        api_compile(with_source(txtar(("x](https:evil).go", BASE))), says="not allowed"), id="txtar-markdown-link-name"
    ),
    pytest.param(
        api_compile(with_source(txtar(("go.mod", "module x\n"), ("notes.txt", "hi\n"))), says="no .go files"),
        id="txtar-no-go-file",
    ),
    pytest.param(
        api_compile(with_source(txtar(("a.go", "\n\n"), ("go.mod", "module x\n"))), says="empty"),
        id="txtar-empty-go-file",
    ),
    # --- fields ------------------------------------------------------------------------
    pytest.param(api_compile(with_source(BASE, lang="go1.22\n"), says="lang"), id="lang-trailing-newline"),
    pytest.param(api_compile(with_source(BASE, lang="go１.２２"), says="lang"), id="lang-full-width-digits"),
    pytest.param(api_compile(with_source(BASE, lang="go1.999"), says="not supported"), id="lang-go1.999"),
    pytest.param(api_compile(with_source(BASE, lang="go2.0"), says="lang"), id="lang-go2.0"),
    pytest.param(api_compile(with_source(BASE, lang="go1." + "2" * 10_000), says="lang"), id="lang-10000-chars"),
    pytest.param(api_compile(with_source(BASE, lang=22), says="lang"), id="lang-a-number"),
    pytest.param(api_compile(with_source(BASE, lang=["go1.22"]), says="lang"), id="lang-a-list"),
    pytest.param(api_compile(with_source(BASE, go="../../bin"), says="go"), id="go-dotdot"),
    pytest.param(api_compile(with_source(BASE, go="1.27.3\n"), says="go"), id="go-trailing-newline"),
    pytest.param(api_compile(with_source(BASE, go="1" * 1000), says="go"), id="go-1000-chars"),
    pytest.param(api_compile(with_source(BASE, go=["1.27.3"]), says="go"), id="go-a-list"),
    pytest.param(api_compile(with_source(BASE, go="１.２７.３"), says="go"), id="go-full-width-digits"),
    pytest.param(api_compile(with_source(BASE, go="1.2.3"), says="not installed"), id="go-not-installed"),
    pytest.param(api_compile(with_source(BASE, goarch="sparc"), says="goarch"), id="goarch-sparc"),
    pytest.param(api_compile(with_source(BASE, goarch="AMD64"), says="goarch"), id="goarch-upper-case"),
    pytest.param(api_compile(with_source(BASE, goarch=""), says="goarch"), id="goarch-empty"),
    pytest.param(api_compile(with_source(BASE, groups=["nope"]), says="groups"), id="groups-unknown"),
    pytest.param(api_compile(with_source(BASE, groups=["escape"] * 1000), says="groups"), id="groups-1000-items"),
    pytest.param(api_compile(with_source(BASE, groups="escape"), says="groups"), id="groups-a-string"),
    pytest.param(api_compile(with_source(BASE, groups=[["escape"]]), says="groups"), id="groups-nested-list"),
    pytest.param(api_compile(with_source(BASE, wait=-1), says="wait"), id="wait-negative"),
    pytest.param(api_compile(with_source(BASE, wait=11), says="wait"), id="wait-11"),
    pytest.param(api_compile(with_source(BASE, wait="soon"), says="wait"), id="wait-a-word"),
    pytest.param(
        api_compile(raw_json('{"source": "package main\\nfunc main() {}\\n", "wait": 1e309}'), says="wait"),
        id="wait-1e309",
    ),
    pytest.param(
        api_compile(raw_json('{"source": "package main\\nfunc main() {}\\n", "wait": NaN}'), says="wait"),
        id="wait-NaN-literal",
    ),
    pytest.param(
        api_compile(raw_json('{"source": "package main\\nfunc main() {}\\n", "wait": -Infinity}'), says="wait"),
        id="wait-minus-Infinity-literal",
    ),
    pytest.param(api_compile(with_source(BASE, evil=1), says="evil"), id="unknown-extra-field"),
    pytest.param(api_compile(with_source(BASE, __proto__={"admin": True}), says="__proto__"), id="field-__proto__"),
    # --- bodies ------------------------------------------------------------------------
    pytest.param(api_compile(b'{"source": ', says="not valid JSON"), id="json-malformed"),
    pytest.param(api_compile(b"", says="source"), id="body-empty"),
    pytest.param(api_compile([BASE], says="body"), id="json-a-list"),
    pytest.param(api_compile(json.dumps(BASE).encode(), says="body"), id="json-a-string"),
    pytest.param(api_compile(b"[" * 100_000, says="nested too deeply"), id="json-nested-100000-deep"),
    pytest.param(
        api_compile(json.dumps({"source": ""}).encode(), says="empty", headers={"Content-Type": "text/plain"}),
        id="content-type-text-plain",
    ),
    pytest.param(
        api_compile(urllib.parse.urlencode({"source": BASE}).encode(), says="not valid JSON", headers=FORM),
        id="content-type-form-to-the-api",
    ),
    pytest.param(
        api_compile(
            b'--b\r\nContent-Disposition: form-data; name="source"\r\n\r\npackage main\r\n--b--\r\n',
            says="not valid JSON",
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        ),
        id="content-type-multipart-to-the-api",
    ),
    pytest.param(
        api_compile(with_source("x" * (2 * 1024 * 1024 + 1)), status=413, says="too large"), id="json-body-over-2MiB"
    ),
    pytest.param(
        Refused("POST", "/api/v1/format", {"source": ""}, says="empty"),
        id="format-source-empty",
    ),
    pytest.param(
        Refused("POST", "/api/v1/format", {"source": BASE, "go": "../../bin/go"}, says="go"),
        id="format-go-dotdot",
    ),
    pytest.param(
        Refused("POST", "/api/v1/format", {"source": "package main\n\x00"}, says="NUL"),
        id="format-source-NUL",
    ),
    # --- the pages' forms --------------------------------------------------------------
    pytest.param(page("POST", "/compile", FORM_UTF8, says="UTF-8", headers=FORM), id="form-invalid-UTF-8"),
    pytest.param(
        page("POST", "/compile", FORM_UTF8, says="UTF-8", headers={**FORM, "HX-Request": "true"}),
        id="form-invalid-UTF-8-htmx",
    ),
    pytest.param(
        page("POST", "/compile", b"%FF%FE=1&source=package+main", says="UTF-8", headers=FORM),
        id="form-invalid-UTF-8-field-name",
    ),
    pytest.param(
        page("POST", "/compare", FORM_UTF8.replace(b"source=", b"a_source="), says="UTF-8", headers=FORM),
        id="compare-form-invalid-UTF-8",
    ),
    pytest.param(page("POST", "/format", FORM_UTF8, says="UTF-8", headers=FORM), id="format-form-invalid-UTF-8"),
    pytest.param(page("POST", "/compile", *form(source="package main\n\x00"), says="NUL"), id="form-NUL-byte"),
    pytest.param(
        page("POST", "/compile", b"source=%7FELF%02%01%01%00%00%00%03%00%3E%00", headers=FORM, says="NUL"),
        id="form-binary-ELF-header",
    ),
    pytest.param(
        page(
            "POST",
            "/compile",
            *form(source=txtar(("<script>alert(1)</script>.go", BASE))),
            says="not allowed",
            absent=("<script>alert(1)",),
        ),
        id="form-txtar-script-file-name",
    ),
    pytest.param(
        page(
            "POST", "/compile", *form(source="package main\n//" + "x" * (3 * 1024 * 1024)), status=413, says="too large"
        ),
        id="form-body-over-2MiB",
    ),
    pytest.param(
        page("POST", "/compile", "&".join(f"f{i}=1" for i in range(500)) + "&source=x", status=413, headers=FORM),
        id="form-500-fields",
    ),
    # --- headers -----------------------------------------------------------------------
    pytest.param(
        Refused("GET", "/api/v1/kinds", status=401, says="token", headers={"Authorization": "Bearer nope-" + "x" * 40}),
        id="bearer-unknown-api",
    ),
    pytest.param(
        api_compile(with_source(BASE), status=401, says="token", headers={"Authorization": "Bearer <script>"}),
        id="bearer-unknown-compile",
    ),
    pytest.param(
        Refused("GET", "/api/v1/kinds", status=401, says="token", headers={"Authorization": "bEaReR x"}),
        id="bearer-scheme-in-any-case",
    ),
    pytest.param(
        Refused("GET", "/api/v1/kinds", status=401, says="token", headers={"Authorization": "Bearer "}),
        id="bearer-without-a-token-is-refused",
    ),
    pytest.param(page("GET", "/", status=401, says="token", headers={"Authorization": "Bearer x"}), id="bearer-page"),
    pytest.param(
        api_compile(with_source(BASE), says="Content-Length", headers={"Content-Length": "abc"}),
        id="content-length-not-a-number",
    ),
    pytest.param(
        api_compile(with_source(BASE), status=413, says="too large", headers={"Content-Length": "9" * 30}),
        id="content-length-huge",
    ),
    pytest.param(
        api_compile(with_source(BASE), says="not valid JSON", headers={"Content-Length": "20"}),
        id="content-length-shorter-than-the-body",
    ),
    pytest.param(
        api_compile(with_source(""), says="empty", headers={"Content-Length": "4000"}),
        id="content-length-longer-than-the-body",
    ),
    pytest.param(
        api_compile(with_source(BASE), says="source", headers={"Content-Length": "-1"}),
        id="content-length-negative",
    ),
    pytest.param(
        Refused(
            "GET",
            "/api/v1/toolchains",
            status=200,
            headers={"X-Forwarded-For": ", ".join(f"10.0.{i // 250}.{i % 250}" for i in range(4000))},
        ),
        id="x-forwarded-for-4000-addresses",
    ),
    pytest.param(
        page("GET", "/kinds", status=200, headers={"X-Request-Id": "<script>alert(1)</script>"}),
        id="x-request-id-html",
    ),
    # --- ids and paths -----------------------------------------------------------------
    pytest.param(page("GET", "/s/<script>alert(1)</script>", status=404, absent=("<script>alert",)), id="s-script"),
    pytest.param(page("GET", "/s/" + "a" * 5000, status=404), id="s-5000-chars"),
    pytest.param(page("GET", "/s/%E2%80%AE%F0%9F%92%A3%C3%A9", status=404), id="s-unicode"),
    pytest.param(page("GET", "/s/%00", status=404), id="s-NUL"),
    pytest.param(page("GET", "/s/" + UNKNOWN_ID.upper(), status=404), id="s-upper-case-id"),
    pytest.param(page("GET", f"/s/{UNKNOWN_ID}", status=404), id="s-unknown-id"),
    pytest.param(page("GET", f"/s/{UNKNOWN_ID}/result", status=404), id="s-unknown-id-result"),
    pytest.param(page("GET", f"/s/{UNKNOWN_ID}/raw", status=404), id="s-unknown-id-raw"),
    pytest.param(page("GET", f"/s/{UNKNOWN_ID}/ssa/main.main", status=404), id="s-unknown-id-ssa"),
    pytest.param(page("POST", f"/s/{UNKNOWN_ID}/ssa/main.main", b"", status=404), id="s-unknown-id-ssa-post"),
    pytest.param(page("POST", f"/s/{UNKNOWN_ID}/rerun", b"", status=404), id="s-unknown-id-rerun"),
    pytest.param(page("GET", "/c/<script>/<img>", status=404, absent=("<script>", "<img>")), id="c-html-ids"),
    pytest.param(page("GET", f"/c/{UNKNOWN_ID}/{'b' * 16}", status=404), id="c-unknown-ids"),
    pytest.param(page("GET", f"/c/{UNKNOWN_ID}/../../etc/passwd", status=404), id="c-dotdot"),
    pytest.param(Refused("GET", "/api/v1/compilations/../../etc/passwd", status=404), id="api-dotdot"),
    pytest.param(
        Refused("GET", "/api/v1/compilations/%2e%2e%2f%2e%2e%2fetc%2fpasswd", status=404), id="api-dotdot-encoded"
    ),
    pytest.param(Refused("GET", "/api/v1/compilations/%00", status=404), id="api-NUL"),
    pytest.param(Refused("GET", "/api/v1/compilations/<script>", status=404), id="api-script-id"),
    pytest.param(
        Refused("GET", "/api/v1/compilations/" + "a" * 5000, status=404),
        id="api-5000-chars",
    ),
    pytest.param(Refused("GET", f"/api/v1/compilations/{UNKNOWN_ID}", status=404), id="api-unknown-id"),
    pytest.param(Refused("GET", f"/api/v1/compilations/{UNKNOWN_ID}/sarif", status=404), id="api-sarif-unknown-id"),
    pytest.param(
        Refused("POST", f"/api/v1/compilations/{UNKNOWN_ID}/rerun", b"", status=404), id="api-rerun-unknown-id"
    ),
    pytest.param(Refused("GET", "/api/v1/compare?a=%3Cscript%3E&b=%00", status=404), id="api-compare-hostile-ids"),
    pytest.param(Refused("GET", "/api/v1/compare?a=" + "a" * 10_000 + "&b=x", status=404), id="api-compare-long-id"),
    pytest.param(Refused("GET", f"/api/v1/compare?a={UNKNOWN_ID}", says="b"), id="api-compare-missing-b"),
    pytest.param(
        Refused("GET", f"/api/v1/compare?a={UNKNOWN_ID}&b={UNKNOWN_ID}&format=html", says="format"),
        id="api-compare-unknown-format",
    ),
    pytest.param(Refused("GET", "/api/v1/nope", status=404), id="api-unknown-endpoint"),
    pytest.param(Refused("DELETE", "/api/v1/", status=404), id="api-root-delete"),
    pytest.param(Refused("GET", "/api/v1/compile", status=405), id="api-wrong-method"),
    pytest.param(page("GET", "/explorer/settings.py", status=404, absent=("SECRET_KEY",)), id="a-file-of-the-checkout"),
    pytest.param(page("GET", "/README.md", status=404), id="another-file-of-the-checkout"),
    pytest.param(page("GET", "/?copy=%00", status=200), id="playground-copy-NUL"),
    pytest.param(
        page("GET", "/?copy=" + "a" * 10_000 + "&example=%3Cscript%3E", status=200), id="playground-copy-long"
    ),
    pytest.param(
        page("GET", "/compare?a=%00&b=%3Cscript%3Ealert(1)%3C/script%3E", status=200, absent=("<script>alert",)),
        id="compare-form-hostile-ids",
    ),
    pytest.param(page("GET", "/kinds?%3Cscript%3E=%3Cscript%3Ealert(1)", status=200), id="kinds-hostile-query"),
]


@pytest.mark.parametrize("case", REFUSED)
def test_refused_or_ignored_and_nothing_is_stored(live_server_url, case: Refused):
    r = send(live_server_url, case.method, case.path, case.body, case.headers)
    assert r.status < 500, (r.status, r.text[:500])
    if case.status == 200:
        assert r.status == 200, (r.status, r.text[:500])
        if r.headers.get("content-type", "").startswith("text/html"):
            assert_safe_html(r.text, *case.absent)
    elif case.page:
        assert_page_error(r, case.status, case.says)
        assert_safe_html(r.text, *case.absent)
    else:
        assert_api_error(r, case.status, case.says)
    assert stored_counts() == (0, 0)


# --- accepted: compiled, with the compiler's verdict -----------------------------------


@dataclass(frozen=True)
class Accepted:
    source: str
    result: str  # ok | compile-error
    says: str = ""  # in the errors
    fields: dict = field(default_factory=dict)
    absent: tuple[str, ...] = ()  # must not be in the page unescaped
    stored: str | None = None  # the normalised source stored, when it differs


LINE_DIRECTIVES = """package main

var sink *int

//line a:b:1
func leak() *int {
	x := 42
	return &x
}

//line x](https://evil):5
func leak2() *int {
	y := 1
	return &y
}

//line <img src=x onerror=alert(1)>:9
func main() { sink = leak(); sink = leak2() }
"""
TROJAN = 'package main\n\nfunc main() {\n\taccess := "user"\n\tif access != "user\u202e \u2066// admin\u2069 \u2066" {\n\t\tprintln("admin")\n\t}\n}\n'
HTML_IN_PROGRAM = f"""package main

import "fmt"

// {SCRIPT} {IMG}
type T struct {{
	A string `json:"{SCRIPT}" x:"{IMG_GO}"`
}}

func main() {{
	fmt.Println("{SCRIPT}", T{{}})
}}
"""

ACCEPTED: list = [
    pytest.param(Accepted(padded(LIMIT), "ok"), id="source-exactly-256KiB"),
    pytest.param(
        Accepted("package main\n\x01\x02\x7f\nfunc main() {}\n", "compile-error", "invalid"), id="control-bytes"
    ),
    pytest.param(
        Accepted(BASE.replace("\n", "\r\n"), "ok", stored=BASE),
        id="CRLF-line-ends",
    ),
    pytest.param(Accepted("\ufeff" + BASE, "ok"), id="BOM-at-the-start"),
    pytest.param(Accepted(BASE + "\ufeff\n", "compile-error", "BOM"), id="BOM-in-the-middle"),
    pytest.param(
        Accepted("package main\n\nfunc main() {\n\tx := \n}\n", "compile-error", "main.go:5:1"), id="syntax-error"
    ),
    pytest.param(
        Accepted("package main\n\nfunc main() {\n\ty = 1\n}\n", "compile-error", "undefined: y"), id="type-error"
    ),
    pytest.param(
        Accepted(
            'package main\n\nimport "github.com/evil/pkg"\n\nfunc main() { pkg.Do() }\n',
            "compile-error",
            "standard library",
        ),
        id="import-github",
    ),
    pytest.param(Accepted('package main\n\nimport "C"\n\nfunc main() {}\n', "compile-error", "cgo"), id="import-C"),
    pytest.param(
        Accepted(
            'package main\n\nimport "internal/abi"\n\nfunc main() { _ = abi.FuncPCABI0 }\n', "compile-error", "internal"
        ),
        id="import-internal",
    ),
    pytest.param(
        Accepted(
            'package main\n\nimport "vendor/golang.org/x/net/dns/dnsmessage"\n\nfunc main() { _ = dnsmessage.Name{} }\n',
            "compile-error",
            "internal",
        ),
        id="import-vendor",
    ),
    pytest.param(
        Accepted('package main\n\nimport "../../etc"\n\nfunc main() {}\n', "compile-error", "../../etc"),
        id="import-relative-path",
    ),
    pytest.param(
        Accepted(
            "package main\n\nvar x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n\nfunc main() { println(x) }\n", "ok"
        ),
        id="10000-nested-parentheses",
    ),
    pytest.param(
        Accepted("package main\n\nvar " + "a" * (200 * 1024) + " = 1\n\nfunc main() {}\n", "ok"),
        id="200KiB-identifier",
    ),
    pytest.param(
        Accepted("package main\n\nconst c = 1 << 100000\n\nfunc main() { println(c) }\n", "compile-error", "shift"),
        id="compile-bomb-shift",
    ),
    pytest.param(
        Accepted(
            "package main\n\nconst c0 = 1 << 100\n"
            + "".join(f"const c{i} = c{i - 1} * c{i - 1}\n" for i in range(1, 40))
            + "\nfunc main() { println(c39 > 0) }\n",
            "compile-error",
            "overflow",
        ),
        id="compile-bomb-squaring-constants",
    ),
    pytest.param(
        Accepted(
            "package main\n\nconst c = " + "+".join(["(1<<511)"] * 2000) + "\n\nfunc main() { println(c > 0) }\n",
            "compile-error",
            "overflow",
        ),
        id="compile-bomb-2000-term-constant",
    ),
    pytest.param(
        Accepted(
            'package main\n\nimport _ "unsafe"\n\n//go:linkname nanotime runtime.nanotime\nfunc nanotime() int64\n\n'
            "func main() { println(nanotime()) }\n",
            "ok",  # compiled only: never linked, never run
        ),
        id="go-linkname-runtime",
    ),
    pytest.param(
        Accepted(
            'package main\n\nimport _ "embed"\n\n//go:embed ../../../etc/passwd\nvar secret string\n\n'
            "func main() { println(secret) }\n",
            "compile-error",
            "embed",
        ),
        id="go-embed-etc-passwd",
    ),
    pytest.param(
        Accepted(
            'package main\n\n//go:cgo_import_dynamic libc_getpid getpid "libc.so.6"\n'
            '//go:cgo_ldflag "-Wl,-rpath=/evil"\n\nfunc main() {}\n',
            "compile-error",
            "cgo",
        ),
        id="go-cgo-directives",
    ),
    pytest.param(
        Accepted(LINE_DIRECTIVES, "ok", absent=("<img src=x onerror",)),
        id="line-directives-hostile-names",
    ),
    pytest.param(Accepted(HTML_IN_PROGRAM, "ok", absent=(SCRIPT, "<img src=x")), id="html-in-strings-tags-comments"),
    pytest.param(
        Accepted(
            "package main\n\nfunc ñandú() int { return 1 }\n\nvar ｘ, 变量 = ñandú(), 2\n\nfunc main() {}\n", "ok"
        ),
        id="unicode-identifiers",
    ),
    pytest.param(
        Accepted(txtar(("a.go", "\n\npackage main\n\nfunc main() { y = 1 }\n")), "compile-error", "a.go:5:15"),
        id="txtar-blank-lines-after-a-header-are-kept",
    ),
    pytest.param(
        Accepted(BASE, "ok", fields={"lang": None, "goarch": None, "go": None, "groups": None}), id="fields-null"
    ),
    pytest.param(Accepted(BASE, "ok", fields={"wait": "5"}), id="wait-a-numeric-string"),
    pytest.param(Accepted(BASE, "ok", fields={"groups": []}), id="groups-empty-list-means-all"),
]


@pytest.mark.parametrize("case", ACCEPTED)
def test_accepted_source_is_compiled_and_its_page_is_contained(live_server_url, case: Accepted):
    result = compiled(live_server_url, case.source, **case.fields)
    assert result["result"] == case.result, result["errors"]
    if case.says:
        assert any(case.says in e for e in result["errors"]), result["errors"]
    if case.stored is not None:
        assert result["source"] == case.stored
    # only what the program's own files say: no //line name, no path outside them
    assert {d["file"] for d in result["diagnostics"]} <= {f["name"] for f in result["files"]} | {""}
    for path in (f"/s/{result['id']}", f"/s/{result['id']}/result"):
        r = send(live_server_url, "GET", path)
        assert r.status == 200, (path, r.status)
        assert_safe_html(r.text, *case.absent)


def test_line_directives_are_disabled_and_noted_on_the_page(live_server_url):
    result = compiled(live_server_url, LINE_DIRECTIVES)
    moved = {(d["file"], d["line"]) for d in result["diagnostics"] if d["kind"] == "moved-to-heap"}
    # the real lines (and main's, where both are inlined), not a:b:1 or x](https://evil):5
    assert {("main.go", 7), ("main.go", 13)} <= moved <= {("main.go", 7), ("main.go", 13), ("main.go", 18)}, moved
    page = send(live_server_url, "GET", f"/s/{result['id']}").text
    assert "3 //line directives" in page and "disabled before compiling" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


def test_trojan_source_is_flagged_on_the_page(live_server_url):
    result = compiled(live_server_url, TROJAN)
    assert result["result"] == "ok", result["errors"]
    page = send(live_server_url, "GET", f"/s/{result['id']}").text
    assert "bidi-warning" in page and "bidirectional control character" in page
    assert "U+202E" in page and "U+2066" in page
    assert_safe_html(page)


# --- around one stored compilation: ids, functions, paths -----------------------------


@dataclass(frozen=True)
class Around:
    method: str
    path: str  # {id} is the stored compilation's id
    status: int
    api: bool = False
    absent: tuple[str, ...] = ()


WITH_A_COMPILATION: list = [
    pytest.param(
        Around("GET", "/s/{id}/ssa/<script>alert(1)</script>", 404, absent=("<script>alert",)), id="ssa-script"
    ),
    pytest.param(Around("POST", "/s/{id}/ssa/<script>alert(1)</script>", 404), id="ssa-script-post"),
    pytest.param(Around("GET", "/s/{id}/ssa/../../etc/passwd", 404), id="ssa-dotdot"),
    pytest.param(Around("POST", "/s/{id}/ssa/main.nope", 404), id="ssa-unknown-function-post"),
    pytest.param(Around("GET", "/s/{id}/ssa/runtime.mallocgc", 404), id="ssa-runtime-function"),
    pytest.param(Around("GET", "/s/{id}/ssa/" + "m" * 5000, 404), id="ssa-5000-chars"),
    pytest.param(Around("GET", "/s/{id}/ssa/main.leak%00", 404), id="ssa-NUL"),
    pytest.param(Around("GET", "/s/{id}/ssa/main.leak%0a", 404), id="ssa-newline"),
    pytest.param(Around("GET", "/s/{id}/ssa/main.leak/raw", 404), id="ssa-raw-before-it-exists"),
    pytest.param(Around("GET", "/c/{id}/<script>", 404), id="compare-page-hostile-b"),
    pytest.param(Around("GET", "/api/v1/compare?a={id}&b=../../etc/passwd", 404, api=True), id="api-compare-dotdot-b"),
    pytest.param(Around("GET", "/api/v1/compilations/{id}%00", 404, api=True), id="api-id-NUL-suffix"),
    pytest.param(Around("GET", "/api/v1/compilations/{id}xyz", 404, api=True), id="api-id-with-a-suffix"),
    pytest.param(Around("GET", "/api/v1/compilations/{ID}", 404, api=True), id="api-id-upper-case"),
    pytest.param(Around("POST", "/api/v1/compilations/{id}/rerun", 200, api=True), id="api-rerun-done-is-unchanged"),
    pytest.param(Around("POST", "/s/{id}/rerun", 302), id="page-rerun-done-is-unchanged"),
]


@pytest.mark.parametrize("case", WITH_A_COMPILATION)
def test_paths_around_a_stored_compilation(live_server_url, case: Around):
    result = compiled(live_server_url, BASE)
    before = stored_counts()
    path = case.path.replace("{id}", result["id"]).replace("{ID}", result["id"].upper())
    r = send(live_server_url, case.method, path, b"" if case.method == "POST" else None)
    if case.api and case.status >= 400:
        assert_api_error(r, case.status)
    else:
        assert r.status == case.status, (r.status, r.text[:300])
        if r.headers.get("content-type", "").startswith("text/html"):
            assert_safe_html(r.text, *case.absent)
    assert stored_counts() == before  # no SSA dump queued, nothing compiled again


# --- one hostile program on every page and export -------------------------------------

HOSTILE = f"""package main

import "fmt"

// {SCRIPT} {IMG} {TEMPLATE} {JS_URL}
type Ｔ struct {{
	A string `json:"{SCRIPT}" y:"{TEMPLATE}" z:"{JS_URL}"`
}}

var sink any

func ｓｃｒｉｐｔ(s string) *Ｔ {{
	t := &Ｔ{{A: s}}
	return t
}}

func main() {{
	sink = ｓｃｒｉｐｔ("{SCRIPT}")
	fmt.Println("{IMG_GO}", "{TEMPLATE}", "{JS_URL}")
	sink = &struct {{
		B int `k:"{SCRIPT}"`
	}}{{1}}
}}
"""
# The variant: other hostile strings escape, some of Markdown's own syntax among them.
VARIANT = HOSTILE.replace(
    f'"{TEMPLATE}", "{JS_URL}")',
    '"[x](https://evil.example/a)", "![i](https://evil.example/i.png)", "<a href=javascript:alert(2)>y</a>", "`|`")',
)
BROKEN = HOSTILE.replace("sink = &struct {", f'var n int = "{SCRIPT}"\n\t_ = n\n\tsink = &struct {{')


def hostile_pair(base: str) -> tuple[dict, dict]:
    a = compiled(base, HOSTILE)
    b = compiled(base, VARIANT)
    assert a["result"] == "ok" and b["result"] == "ok", (a["errors"], b["errors"])
    messages = " ".join(d["message"] for d in a["diagnostics"])
    assert SCRIPT in messages and '\\"><img src=x onerror=alert(1)>' in messages  # the compiler quotes them
    return a, b


def assert_escaped_payloads(page: str) -> None:
    assert_safe_html(page, SCRIPT, "<img src=x", "<script>alert", "<a href=javascript")
    for escaped in ESCAPED.values():
        assert escaped in page
    assert TEMPLATE in page  # shown as text, never evaluated by a template engine


def outside_code_spans(markdown: str) -> str:
    """The Markdown text outside code spans (CommonMark: a run of N backticks closes at the
    next run of exactly N), with backslash-escaped characters dropped: what can be markup."""
    out, i = [], 0
    while i < len(markdown):
        c = markdown[i]
        if c == "\\" and i + 1 < len(markdown):
            i += 2
            continue
        if c == "`":
            j = i
            while j < len(markdown) and markdown[j] == "`":
                j += 1
            close = re.compile(f"(?<!`)`{{{j - i}}}(?!`)").search(markdown, j)
            if close:
                out.append(" ")
                i = close.end()
                continue
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


def assert_inert_markdown(markdown: str, base: str) -> None:
    markup = outside_code_spans(markdown)
    destinations = re.findall(r"\]\(([^)]*)\)", markup)
    assert destinations and all(d.startswith(base) for d in destinations), destinations  # only our own links
    own = re.sub(r"\]\([^)]*\)", "]", markup)
    assert "<" not in own and "![" not in own, own  # no HTML, no image
    assert "evil" not in own and "javascript:" not in own.lower(), own  # not even as text to autolink


@pytest.mark.parametrize(
    "surface",
    ["permalink", "result-fragment", "htmx-compile", "compare-page", "compare-fragment", "kinds", "raw-output", "api"],
)
def test_hostile_program_is_escaped_on_every_page(live_server_url, surface: str):
    a, b = hostile_pair(live_server_url)
    paths = {
        "permalink": f"/s/{a['id']}",
        "result-fragment": f"/s/{a['id']}/result",
        "compare-page": f"/c/{a['id']}/{b['id']}",
        "compare-fragment": f"/c/{a['id']}/{b['id']}/result",
        "kinds": "/kinds",
        "raw-output": f"/s/{a['id']}/raw",
        "api": f"/api/v1/compilations/{a['id']}",
    }
    if surface == "htmx-compile":
        body, headers = form(source=HOSTILE, goarch="amd64")
        r = send(live_server_url, "POST", "/compile", body, {**headers, "HX-Request": "true"})
    else:
        r = send(live_server_url, "GET", paths[surface])
    assert r.status == 200, (r.status, r.text[:300])
    if surface == "kinds":
        assert_safe_html(r.text, SCRIPT, IMG)
    elif surface == "raw-output":  # the compiler's own text, never a page
        assert r.headers["content-type"].startswith("text/plain") and r.headers["x-content-type-options"] == "nosniff"
        assert SCRIPT in r.text
    elif surface == "api":  # data, as the compiler said it: JSON escapes nothing a client needs
        assert r.headers["content-type"].startswith("application/json")
        assert any(SCRIPT in d["message"] for d in r.json["diagnostics"])
    else:
        assert_escaped_payloads(r.text)
        if surface.startswith("compare"):
            assert "&lt;a href=javascript:alert(2)&gt;" in r.text  # the variant's own, escaped


def test_markdown_export_of_a_hostile_compare_is_inert(live_server_url):
    a, b = hostile_pair(live_server_url)
    broken = compiled(live_server_url, BROKEN)
    assert broken["result"] == "compile-error" and any(SCRIPT in e for e in broken["errors"]), broken["errors"]
    for before, after in ((a, b), (b, a), (a, broken)):
        r = send(live_server_url, "GET", f"/api/v1/compare?a={before['id']}&b={after['id']}&format=markdown")
        assert r.status == 200 and r.headers["content-type"].startswith("text/markdown"), r.status
        assert_inert_markdown(r.text, live_server_url)
        assert SCRIPT in r.text or "evil.example" in r.text  # the user's text is there, in code spans
    r = send(live_server_url, "GET", f"/api/v1/compare/markdown?a={a['id']}&b={b['id']}")
    assert r.status == 200
    assert_inert_markdown(r.text, live_server_url)
    assert "[x](https://evil.example/a)" in r.text  # there, but only in a code span (checked above)


@pytest.mark.parametrize("which", ["hostile", "broken"])
def test_sarif_of_a_hostile_program_is_valid_json(live_server_url, which: str):
    result = compiled(live_server_url, HOSTILE if which == "hostile" else BROKEN)
    r = send(live_server_url, "GET", f"/api/v1/compilations/{result['id']}/sarif")
    assert r.status == 200 and r.headers["content-type"].startswith("application/sarif+json")
    log = r.json
    validate_sarif(log)
    texts = json.dumps(log, ensure_ascii=False)
    assert SCRIPT in texts  # carried as data, JSON-escaped by the encoder


# --- a txtar's other files: kept, shown, never compiled -------------------------------

WITH_NOTES = txtar(
    ("go.mod", "module example.com/x\n\ngo 1.22\n"),
    ("main.go", BASE),
    ("notes.txt", f"not Go at all: {SCRIPT}\n"),
    ("LICENSE", "MIT\n"),
)


def test_txtar_other_files_are_kept_and_shown_but_not_compiled(live_server_url):
    from worker.review_cli import analysis_from_api

    result = compiled(live_server_url, WITH_NOTES)
    assert result["result"] == "ok", result["errors"]  # go.mod and notes.txt were not given to the compiler
    assert result["source"] == WITH_NOTES  # stored as sent: nothing dropped
    assert [(f["name"], f["compiled"]) for f in result["files"]] == [
        ("go.mod", False),
        ("main.go", True),
        ("notes.txt", False),
        ("LICENSE", False),
    ]
    assert {d["file"] for d in result["diagnostics"]} == {"main.go"}
    assert [f.name for f in analysis_from_api(result).files] == ["main.go"]  # the CLI's --server mode
    # the same archive again is the same compilation (join_files round-trips the other files)
    again = send(live_server_url, "POST", "/api/v1/compile", {"source": WITH_NOTES}).json
    assert again["id"] == result["id"]
    page = send(live_server_url, "GET", f"/s/{result['id']}").text
    assert "Not compiled:" in page and "<code>go.mod</code>" in page and "<code>notes.txt</code>" in page
    assert page.count("(not compiled)") == 3
    assert_safe_html(page, SCRIPT)
    assert ESCAPED[SCRIPT] in page
    r = send(live_server_url, "GET", f"/api/v1/compilations/{result['id']}/sarif")
    validate_sarif(r.json)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for res in r.json["runs"][0]["results"]
        for loc in res.get("locations", [])
    }
    assert uris <= {"main.go"}, uris


def test_gofmt_keeps_a_txtars_other_files(live_server_url):
    messy = WITH_NOTES.replace("func main() { sink = leak() }", "func main() {sink=leak()}")
    r = send(live_server_url, "POST", "/api/v1/format", {"source": messy})
    assert r.status == 200, r.text
    assert r.json["source"] == WITH_NOTES
