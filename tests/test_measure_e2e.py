"""Measurements end to end: the API's "measure", a real Celery worker on the ee.run queue,
real Redis, the real toolchain and the run sandbox; the stored result on the permalink."""

import re
import time

import pytest

from explorer.api import CompilationOut
from tests.httpclient import request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

POOL = """-- main.go --
package main

import "sync"

var arrayPool = sync.Pool{New: func() any { return [4096]byte{} }}
var pointerPool = sync.Pool{New: func() any { return new([4096]byte) }}

func withArray() {
	buf := arrayPool.Get().([4096]byte)
	buf[0] = 1
	arrayPool.Put(buf)
}

func withPointer() {
	buf := pointerPool.Get().(*[4096]byte)
	buf[0] = 1
	pointerPool.Put(buf)
}

func neverCalled() *int {
	x := 42
	return &x
}

func main() {}
-- main_test.go --
package main

import "testing"

func BenchmarkPoolArray(b *testing.B) {
	for i := 0; i < b.N; i++ {
		withArray()
	}
}

func BenchmarkPoolPointer(b *testing.B) {
	for i := 0; i < b.N; i++ {
		withPointer()
	}
}
"""


def source_line(html: str, file: str, number: int) -> str:
    """The HTML of one annotated source line (up to the next one)."""
    for chunk in html.split('<li class="src-line')[1:]:
        if re.search(rf'data-line="{number}" data-file="{re.escape(file)}"', chunk.split(">", 1)[0]):
            return chunk
    raise AssertionError(f"no line {file}:{number} in the page")


def measured(base: str, payload: dict, timeout: float = 90) -> dict:
    status, body = request("POST", f"{base}/api/v1/compile", {**payload, "measure": True})
    assert status in (200, 202), (status, body)
    assert body["measurement"] in ("queued", "running", "done")
    deadline = time.monotonic() + timeout
    while True:
        status, result = request("GET", f"{base}/api/v1/compilations/{body['id']}")
        assert status == 200, result
        m = result["measurements"]
        if result["status"] in ("done", "failed") and m and m["status"] in ("done", "failed"):
            return result
        assert time.monotonic() < deadline, f"no measurement after {timeout} s: {m}"
        time.sleep(0.1)


def test_measure_through_the_api_and_the_page(live_server_url):
    result = measured(live_server_url, {"source": POOL, "wait": 5})
    CompilationOut.model_validate(result)  # the documented schema, measurements included
    m = result["measurements"]
    assert m["status"] == "done" and m["result"] == "ok", m
    bench = {b["name"]: b for b in m["benchmarks"]}
    assert bench["BenchmarkPoolArray"]["allocs_per_op"] == 1
    assert bench["BenchmarkPoolPointer"]["allocs_per_op"] == 0
    put = next(line for line in m["lines"] if line["file"] == "main.go" and line["line"] == 11)
    assert put["allocs_per_op"] == pytest.approx(1.0, abs=0.01)
    # arrayPool.Put(buf): the compiler says buf escapes (to the interface) and it was measured
    assert any(d["kind"] == "escapes-to-heap" and d["line"] == 11 for d in result["diagnostics"])
    assert put["verdict"] == "agree"
    # x in neverCalled moves to the heap, but the function never runs: said plainly
    missing = [d for d in m["disagreements"] if d["line"] == 21]
    assert missing and missing[0]["verdict"] == "predicted-not-measured"
    assert m["memory_limit"] == "address-space" and m["sandbox"]["network"] is False
    functions = {f["name"]: f for f in m["functions"]}
    assert functions["main.withArray"]["allocs_per_op"] == pytest.approx(1.0, abs=0.01)

    # The permalink shows it read-only: the measured column, the table, the disagreement.
    status, html = request("GET", result["url"])
    assert status == 200
    assert 'id="measured"' in html and "benchmark-table" in html
    line11 = source_line(html, "main.go", 11)
    assert "measured-line agree" in line11 and "1 alloc/op, 4096 B/op" in line11
    assert "via BenchmarkPoolArray main_test.go:7" in line11  # the outermost frame of its call chain
    line21 = source_line(html, "main.go", 21)
    assert "predicted-not-measured" in line21 and "no allocation" in line21
    assert "measured-line" not in source_line(html, "main.go", 10)
    assert "Measure again" in html

    # Submitting the same program again does not run it again; an explicit POST does.
    finished = m["finished"]
    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": POOL, "measure": True})
    assert status == 200 and body["measurement"] == "done"
    _, again = request("GET", f"{live_server_url}/api/v1/compilations/{result['id']}")
    assert again["measurements"]["finished"] == finished
    status, body = request("POST", f"{live_server_url}/api/v1/compilations/{result['id']}/measure?wait=10")
    assert status in (200, 202) and body["measurement"] in ("queued", "running", "done")
    deadline = time.monotonic() + 60
    while True:
        _, again = request("GET", f"{live_server_url}/api/v1/compilations/{result['id']}")
        if again["measurements"]["status"] == "done":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert again["measurements"]["finished"] != finished


def test_a_crashing_program_is_measured_as_crashed(live_server_url):
    source = "package main\n\nfunc main() {\n\tvar p *int\n\t*p = 1\n}\n"
    result = measured(live_server_url, {"source": source})
    m = result["measurements"]
    assert m["status"] == "done" and m["result"] == "exit-error"
    assert m["exit_code"] == 2 and "nil pointer dereference" in m["stderr"]
    assert m["disagreements"] == []  # no report: no claims about lines


def test_nothing_to_run_is_refused(live_server_url):
    from explorer.models import Compilation

    status, body = request(
        "POST", f"{live_server_url}/api/v1/compile", {"source": "package lib\n\nfunc F() {}\n", "measure": True}
    )
    assert status == 400 and "Nothing to measure" in body["error"]
    assert Compilation.objects.count() == 0


def test_running_turned_off(live_server_url, settings):
    settings.RUN_ENABLED = False
    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": POOL, "measure": True})
    assert status == 400 and "EXPLORER_RUN=0" in body["error"]
    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": POOL, "wait": 5})
    assert status == 200
    status, html = request("GET", body["url"])
    assert status == 200 and "measure-button" not in html and 'id="measured"' not in html
    status, refused = request("POST", f"{live_server_url}/api/v1/compilations/{body['id']}/measure")
    assert status == 400 and "EXPLORER_RUN=0" in refused["error"]


POOL_BEFORE = """-- main.go --
package main

import "sync"

var pool = sync.Pool{New: func() any { return [1024]byte{} }}

func use() {
	buf := pool.Get().([1024]byte)
	buf[0] = 1
	pool.Put(buf)
}

func main() {}
-- main_test.go --
package main

import "testing"

func BenchmarkPool(b *testing.B) {
	for i := 0; i < b.N; i++ {
		use()
	}
}
"""
POOL_AFTER = POOL_BEFORE.replace("return [1024]byte{}", "return new([1024]byte)").replace(
    ".([1024]byte)", ".(*[1024]byte)"
)


def test_compare_and_review_diff_show_measured_changes_apart(live_server_url):
    before = measured(live_server_url, {"source": POOL_BEFORE})
    after = measured(live_server_url, {"source": POOL_AFTER})
    assert before["measurements"]["result"] == after["measurements"]["result"] == "ok"
    status, diff = request("GET", f"{live_server_url}/api/v1/compare?a={before['id']}&b={after['id']}")
    assert status == 200
    m = diff["measured"]
    assert "allocs/op 1 → 0 in BenchmarkPool" in m["changes"]
    assert "B/op 1024 → 0 in BenchmarkPool" in m["changes"]
    assert "measured, noisy" in m["label"]
    assert m["benchmarks"][0]["allocs_per_op"] == [1, 0]
    # never mixed with the compiler's decisions
    assert all("BenchmarkPool" not in str(change) for change in diff.get("changed", []))
    status, markdown = request("GET", f"{live_server_url}/api/v1/compare/markdown?a={before['id']}&b={after['id']}")
    assert status == 200 and "### Measured (measured, noisy" in markdown
    assert "| `BenchmarkPool` | 1 → 0 | 1024 → 0 |" in markdown
    decisions_part = markdown.split("### Measured")[0]
    assert "BenchmarkPool" not in decisions_part or "allocs/op" not in decisions_part
    status, html = request("GET", f"{live_server_url}/c/{before['id']}/{after['id']}")
    assert status == 200 and "compare-measured" in html and "allocs/op 1 → 0 in BenchmarkPool" in html


def test_hostile_output_and_benchmark_names_are_escaped(live_server_url):
    source = """package main

import (
	"fmt"
	"testing"
)

func BenchmarkX(b *testing.B) {
	fmt.Println("<script>alert(1)</script>")
	b.Run("<img src=x onerror=alert(2)>", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
		}
	})
}
"""
    result = measured(live_server_url, {"source": source})
    m = result["measurements"]
    assert m["result"] == "ok", m
    assert "<script>alert(1)</script>" in m["stdout"]  # the API gives the text as it is
    status, html = request("GET", result["url"])
    assert status == 200
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img" in html
