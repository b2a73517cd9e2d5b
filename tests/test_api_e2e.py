"""End to end through the HTTP API: real Redis, real Celery worker, real Go compiler."""

import json
import os
import time
from pathlib import Path

import pytest

from explorer.api import CompilationOut
from tests.conftest import WorkerProcess
from tests.httpclient import compile_and_wait, request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROGRAM = """package main

type T struct{ a, b int }

func newT() *T {
	t := T{1, 2}
	return &t
}

var sink *T

func store(p *T) { sink = p }

func main() {
	store(newT())
}
"""


def test_compile_through_the_api_shows_escape_flow_barriers_and_assembly(live_server_url):
    result = compile_and_wait(live_server_url, {"source": PROGRAM})
    assert result["status"] == "done", result["errors"]
    assert result["go"] == "1.27.3" and result["goarch"] == "amd64"
    moved = [d for d in result["diagnostics"] if d["kind"] == "moved-to-heap" and d["line"] == 6]
    assert moved and moved[0]["message"] == "moved to heap: t"
    assert moved[0]["flow"], "the heap decision carries its -m=2 flow"
    assert {s["line"] for s in moved[0]["flow"]} >= {7}
    assert any(d["kind"] == "write-barrier" and d["line"] == 12 for d in result["diagnostics"])
    assert any(d["kind"] == "can-inline" and "newT" in d["message"] for d in result["diagnostics"])
    names = [f["name"] for f in result["functions"]]
    assert "main.newT" in names
    new_t = next(f for f in result["functions"] if f["name"] == "main.newT")
    assert any(a["line"] == 6 for a in new_t["asm"])
    assert result["url"].endswith(f"/s/{result['id']}")
    CompilationOut.model_validate(result)  # the response is what the OpenAPI schema says
    summary = {row["name"]: row for row in result["summary"]}
    assert summary["main.newT"]["heap_allocations"] == 1 and summary["main.newT"]["where"] == [6]
    assert summary["main.newT"]["inlinable"] is True and summary["main.newT"]["frame_size"] == new_t["frame_size"]
    assert summary["main.store"]["write_barriers"] == 1


def test_a_result_without_its_listings_and_each_function_with_its_own(live_server_url):
    """?listings=false: the decisions without the megabytes of instructions; a function's
    listing from …/functions/{n}, as the whole result has it."""
    result = compile_and_wait(live_server_url, {"source": PROGRAM + "\n// listings\n"})
    assert result["status"] == "done" and result["listings"] is True
    url = f"{live_server_url}/api/v1/compilations/{result['id']}"
    status, slim = request("GET", url + "?listings=false")
    assert status == 200 and slim["listings"] is False
    CompilationOut.model_validate(slim)
    assert [f["name"] for f in slim["functions"]] == [f["name"] for f in result["functions"]]
    assert all(f["asm"] == [] for f in slim["functions"]) and any(f["asm"] for f in result["functions"])
    assert slim["diagnostics"] == result["diagnostics"] and slim["summary"] == result["summary"]
    assert len(json.dumps(slim)) < len(json.dumps(result)) / 2
    for n, whole in enumerate(result["functions"]):
        status, one = request("GET", f"{url}/functions/{n}")
        assert status == 200 and one == whole
    assert request("GET", url)[1] == result  # the whole result, as before (its own cache entry)
    status, missing = request("GET", f"{url}/functions/{len(result['functions'])}")
    assert status == 404 and "no function" in missing["error"]
    assert request("GET", f"{url}/functions/-1")[0] == 404
    assert request("GET", f"{live_server_url}/api/v1/compilations/nosuchthing12345/functions/0")[0] == 404


def test_same_input_gives_the_same_id_and_is_not_compiled_twice(live_server_url):
    first = compile_and_wait(live_server_url, {"source": PROGRAM})
    status, again = request("POST", f"{live_server_url}/api/v1/compile", {"source": PROGRAM})
    assert status == 200 and again["id"] == first["id"] and again["status"] == "done"
    _, other = request("POST", f"{live_server_url}/api/v1/compile", {"source": PROGRAM, "goarch": "arm64"})
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("", "empty"),
        ("   \n\t\n", "empty"),
        ("package main\n//" + "x" * (256 * 1024) + "\n", "limit is 256 KiB"),
        ("package main\n\x00\x01\x02", "NUL byte"),
    ],
)
def test_bad_input_gets_a_clear_message_and_stores_nothing(live_server_url, source, fragment):
    from explorer.models import Compilation

    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": source})
    assert status == 400
    assert fragment in body["error"]
    assert Compilation.objects.count() == 0


def test_unknown_go_version_and_goarch_are_refused(live_server_url):
    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": PROGRAM, "go": "1.2.3"})
    assert status == 400 and "Go 1.2.3 is not installed" in body["error"]
    status, body = request("POST", f"{live_server_url}/api/v1/compile", {"source": PROGRAM, "goarch": "sparc"})
    assert status == 400 and "sparc" in body["error"]


def test_unknown_import_is_named(live_server_url):
    src = 'package main\n\nimport "github.com/evil/pkg"\n\nfunc main() { pkg.Do() }\n'
    result = compile_and_wait(live_server_url, {"source": src})
    assert result["status"] == "done" and result["result"] == "compile-error"
    assert any("github.com/evil/pkg" in e and "standard library" in e for e in result["errors"])
    assert result["diagnostics"][0]["line"] == 3


def test_type_error_is_reported_at_its_line(live_server_url):
    src = "package main\n\nfunc main() {\n\tx := 1\n\ty = x\n}\n"
    result = compile_and_wait(live_server_url, {"source": src})
    assert result["result"] == "compile-error"
    assert any(e.startswith("main.go:5:2:") and "undefined: y" in e for e in result["errors"])


def test_hostile_strings_come_back_escaped_in_the_page(live_server_url):
    src = 'package main\n\nfunc main() {\n\tvar s = "<script>alert(1)</script>"\n\t_ = undefinedThing(s) // </td><img src=x onerror=alert(2)>\n}\n'
    result = compile_and_wait(live_server_url, {"source": src})
    status, page = request("GET", result["url"])
    assert status == 200 and isinstance(page, str)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)" in page or "&lt;script&gt;" in page


def test_a_long_poll_answers_when_the_compilation_finishes(live_server_url):
    """GET …?wait=N answers as soon as the worker announces the result, not after N s."""
    import time

    source = PROGRAM + f"\n// long poll {time.time_ns()}\n"
    status, queued = request("POST", f"{live_server_url}/api/v1/compile", {"source": source})
    assert status == 202 and queued["status"] in ("queued", "running")
    began = time.monotonic()
    status, result = request("GET", f"{live_server_url}/api/v1/compilations/{queued['id']}?wait=10")
    waited = time.monotonic() - began
    assert status == 200 and result["status"] == "done", result
    assert any(d["kind"] == "moved-to-heap" for d in result["diagnostics"])
    assert waited < 8, f"answered after {waited:.1f} s: the finished announcement was not heard"
    status, body = request("GET", f"{live_server_url}/api/v1/compilations/{queued['id']}?wait=11")
    assert status == 400 and "wait" in body["error"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now; one that ends while it is looked at is skipped."""
    found, todo = [], [pid]
    while todo:
        try:
            tasks = list(Path(f"/proc/{todo.pop()}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def waiting_sandboxes(worker: WorkerProcess, at_least: int = 1) -> list[int]:
    """The runners waiting for a request (``ee-runner -request``) under the worker's pool
    processes, once there are ``at_least`` (within 10 s)."""
    deadline, waiting = time.monotonic() + 10, []
    while len(waiting) < at_least and time.monotonic() < deadline:
        waiting = [
            pid
            for pool in worker.pool_pids()
            for pid in descendants(pool)
            if cmdline(pid)[1:2] == ["-request"] and cmdline(pid)[0].endswith("/ee-runner")
        ]
        time.sleep(0.05)
    if os.geteuid() == 0:
        owners = []
        for pid in waiting:
            try:
                owners.append(Path(f"/proc/{pid}").stat().st_uid)
            except OSError:
                continue  # it ended since (a pool process replaced): not one of those asked about
        assert all(uid == 65534 for uid in owners)  # as nobody
    return waiting


def test_after_a_compile_its_worker_process_has_the_next_sandbox_started(live_server_url, celery_worker):
    """worker/prestart.py: the pool process that compiled starts its next sandbox after
    storing the result; its runner waits there for a request, within the lane's limits."""
    result = compile_and_wait(live_server_url, {"source": PROGRAM + "\n// started ahead\n"})
    assert result["status"] == "done"
    waiting = waiting_sandboxes(celery_worker)
    assert waiting, "no sandbox waits in a fast-lane pool process after its compile"
    # With the compiler of a program shaped as the last one (main.go of package main) started.
    plans = [json.loads(cmdline(pid)[3]) for pid in waiting if cmdline(pid)[2:3] == ["-ahead"]]
    assert plans and all(plan["files"] == [{"name": "main.go"}] for plan in plans)
    assert all(plan["argv"][plan["argv"].index("-p") + 1] == "main" for plan in plans)
    compilers = [pid for pool in celery_worker.pool_pids() for pid in descendants(pool) if "-p" in cmdline(pid)]
    assert compilers and all(cmdline(pid)[0].endswith("/compile") for pid in compilers)


def test_a_new_worker_of_a_compile_lane_starts_a_sandbox_per_pool_process_before_any_job(broker, tmp_path):
    worker = WorkerProcess(tmp_path / "slow.log", broker, "ee.slow", 2).start()
    try:
        assert len(waiting_sandboxes(worker, at_least=2)) == 2
        (pool, _) = worker.pool_pids()
        its_sandbox = descendants(pool)
        assert its_sandbox
        os.kill(pool, 9)  # a pool process lost: its sandbox ends with it (--die-with-parent)
        deadline = time.monotonic() + 10
        while any(cmdline(pid) for pid in its_sandbox) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in its_sandbox if cmdline(pid)]
        assert len(waiting_sandboxes(worker, at_least=2)) == 2  # and its replacement starts one
    finally:
        worker.stop()
    run_lane = WorkerProcess(tmp_path / "run.log", broker, "ee.run", 1).start()
    turned_off = WorkerProcess(tmp_path / "off.log", broker, "ee.slow", 1, {"EXPLORER_SANDBOX_AHEAD": "0"}).start()
    try:
        time.sleep(1)
        assert waiting_sandboxes(run_lane, at_least=0) == []  # a run lane compiles nothing
        assert waiting_sandboxes(turned_off, at_least=0) == []
    finally:
        run_lane.stop()
        turned_off.stop()
