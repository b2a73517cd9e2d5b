"""Routing by what a worker can do: two workers with different toolchains (different
ESCAPE_EXPLORER_HOMEs) on one service; each program reaches only a worker that has its
Go version, and a version no running worker serves is refused with a clear message."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from tests.stack import Stack, small_program
from worker import toolchains

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def homes():
    """Toolchain homes the sandbox's unprivileged user can enter (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="ee-homes-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def home_with(base: Path, version: str) -> Path:
    """A toolchain home holding only ``version`` (a link to the installed one)."""
    home = base / f"home-{version}"
    (home / "toolchains").mkdir(parents=True)
    for path in (home, home / "toolchains"):
        path.chmod(0o755)
    (home / "toolchains" / version).symlink_to(toolchains.get(version).root)
    return home


def ran_in(log: Path, compilation_id: str) -> bool:
    return f"compile {compilation_id} done" in log.read_text()


def test_each_program_reaches_a_worker_that_has_its_toolchain(tmp_path, homes, django_db_setup):
    settings = {
        "LOG_FORMAT": "text",
        "EXPLORER_RATE_SUBMIT": "1000/1000",
        "EXPLORER_MAX_CLIENT_JOBS": "100",
        "EXPLORER_UNSERVED_SECONDS": "3",
    }
    service = Stack(tmp_path, settings)
    service.redis.start()
    service.start_web()
    newest = service.worker("ee.fast,ee.format", 1)
    newest.env["ESCAPE_EXPLORER_HOME"] = str(home_with(homes, NEWEST_GO))
    oldest = service.worker("ee.fast,ee.format", 1)
    oldest.env["ESCAPE_EXPLORER_HOME"] = str(home_with(homes, OLDEST_GO))
    service.fast, service.slow = newest.start(), oldest.start()
    try:
        time.sleep(2)  # their first heartbeats: which queues each serves
        ids = {
            go: [service.submit(small_program(f"{go} {n}"), go=go) for n in range(3)] for go in (NEWEST_GO, OLDEST_GO)
        }
        for go, comp_ids in ids.items():
            for comp_id in comp_ids:
                result = service.wait_until_ended(comp_id, 60)
                assert result["status"] == "done" and result["result"] == "ok" and result["go"] == go, result
        assert all(ran_in(newest.log_path, c) and not ran_in(oldest.log_path, c) for c in ids[NEWEST_GO])
        assert all(ran_in(oldest.log_path, c) and not ran_in(newest.log_path, c) for c in ids[OLDEST_GO])
        # gofmt of a version goes to a worker that has it, too
        status, _, body = service.request(
            "POST", "/api/v1/format", {"source": "package x\nvar  a=1\n", "go": OLDEST_GO}
        )
        assert status == 200 and body["source"] == "package x\n\nvar a = 1\n", body

        # the only worker with the oldest toolchain stops: that version is refused, clearly
        oldest.stop()
        deadline = time.monotonic() + 90
        accepted = []
        while True:
            status, headers, body = service.request(
                "POST", "/api/v1/compile", {"source": small_program(f"late {time.time()}"), "go": OLDEST_GO}
            )
            if status == 503 or time.monotonic() > deadline:
                break
            assert status == 202, body
            accepted.append(body["id"])  # before its heartbeat ran out: queued, nobody to run it
            time.sleep(2)
        assert status == 503 and f"No compiler for Go {OLDEST_GO} is running" in body["error"], body
        assert int(headers["Retry-After"]) > 0
        for comp_id in accepted:  # not an endless queue: they end, saying why
            result = service.wait_until_ended(comp_id, 30)
            assert result["failure"] == "expired" and f"No worker for Go {OLDEST_GO}" in result["errors"][-1], result
        status, _, body = service.request("POST", "/api/v1/compile", {"source": small_program("still"), "wait": 10})
        assert status == 200 and body["status"] == "done"  # the newest is still served
        status, _, health = service.request("GET", "/healthz")
        assert f"ee.fast.go{NEWEST_GO}" in health["broker"]["slots"]
    finally:
        service.stop()
