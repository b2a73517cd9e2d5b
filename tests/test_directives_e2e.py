"""//gcassert: directives end to end: the API (real Redis, real Celery worker, real Go
compiler), the permalink page and the SARIF endpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from explorer.api import CompilationOut
from tests.httpclient import compile_and_wait, request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SOURCE = (Path(__file__).parent / "data" / "directives" / "main.go").read_text()
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-schema.json").read_text())


def test_the_api_lists_the_directives(live_server_url):
    result = compile_and_wait(live_server_url, {"source": SOURCE})
    assert result["status"] == "done" and result["result"] == "ok", result["errors"]
    CompilationOut.model_validate(result)  # the documented schema, directives included
    found = {(d["line"], d["directive"]): d for d in result["directives"]}
    assert found[(38, "bce")]["held"] is False and found[(38, "bce")]["reason"] == "Found IsInBounds (column 9)"
    assert found[(35, "bce")]["held"] is True
    assert found[(71, "inline")]["reason"] == "cannot inline big: function too complex: cost 203 exceeds budget 80"
    assert found[(44, "noescape")]["comment_line"] == 43 and found[(49, "noescape")]["comment_line"] == 49
    assert found[(30, "inline")]["held"] is None and found[(30, "inline")]["status"] == "undecided"
    assert found[(25, "inline")]["target"] == "function" and len(found[(25, "inline")]["sites"]) == 2
    for d in result["directives"]:
        assert {"file", "line", "directive", "held", "reason"} <= set(d)


def test_a_subset_of_groups_leaves_directives_undecided(live_server_url):
    result = compile_and_wait(live_server_url, {"source": SOURCE, "groups": ["inline", "asm"]})
    found = {(d["line"], d["directive"]): d for d in result["directives"]}
    assert found[(38, "bce")]["held"] is None and "bce diagnostics were not collected" in found[(38, "bce")]["reason"]
    assert found[(71, "inline")]["held"] is False


def test_the_page_marks_each_directive_line_and_escapes_the_reason(live_server_url):
    result = compile_and_wait(live_server_url, {"source": SOURCE})
    status, page = request("GET", result["url"])
    assert status == 200 and isinstance(page, str)
    assert "<img src=x" not in page  # the string from the user's code, in a reason, escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    line = re.search(r'<li class="src-line[^"]*" id="L37".*?</li>', page, re.S).group(0)  # above line 38
    assert 'data-kind="directive-violated"' in line and "\u2717 violated" in line
    assert "//gcassert:bce" in line and "Found IsInBounds (column 9)" in line and "about line 38" in line
    line = re.search(r'<li class="src-line[^"]*" id="L35".*?</li>', page, re.S).group(0)
    assert 'data-kind="directive-held"' in line and "\u2713 held" in line
    # shown on the comment's line, saying which line it is about
    line = re.search(r'<li class="src-line[^"]*" id="L43".*?</li>', page, re.S).group(0)
    assert "about line 44" in line and "moved to heap: t" in line
    assert "//gcassert: directives:" in page and "6 violated" in page


def test_sarif_of_a_compilation_with_directives(live_server_url):
    result = compile_and_wait(live_server_url, {"source": SOURCE})
    status, log = request("GET", f"{live_server_url}/api/v1/compilations/{result['id']}/sarif")
    assert status == 200 and isinstance(log, dict)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    failed = [r for r in log["runs"][0]["results"] if r["ruleId"].startswith("gcassert/") and r["kind"] == "fail"]
    assert {r["ruleId"] for r in failed} == {
        "gcassert/bce",
        "gcassert/noescape",
        "gcassert/noalloc",
        "gcassert/inline",
        "gcassert/unknown",
    }


def test_the_openapi_schema_documents_the_directives(client):
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "directives" in schema["CompilationOut"]["properties"]
    result = schema["DirectiveResult"]["properties"]
    assert {"file", "line", "directive", "held", "reason", "status", "comment_line", "sites"} <= set(result)
    assert {"file", "line", "column", "inlined", "reason"} <= set(schema["CallSite"]["properties"])
