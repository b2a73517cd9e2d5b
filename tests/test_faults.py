"""Faults, with real processes: every accepted submission ends, done or failed with a
reason, within a bounded time; nothing stored is deleted by a fault; the web answers a
fault with 503 and Retry-After, never a 500.

Each test runs a service of its own (tests/stack.py: a private Redis, a gunicorn web
process, fast- and slow-lane workers with their reconciler every second, on the test
database) and breaks one part of it: kill -9 of a worker's pool process, of a worker's
main process (alone, or with its pool), a Redis restart, a locked database, a read-only
database, and (on PostgreSQL) a database that is briefly gone.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest
from django.db import connection

from explorer.models import Compilation, Job
from tests.stack import Stack, TcpProxy, slow_program, small_program

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Short leases so a dead worker is noticed in seconds; the fast lane long enough for the
# slow program (about 3.5 s) to run in it.
ENV = {"EXPLORER_LEASE_MARGIN_SECONDS": "4", "EXPLORER_FAST_LANE_SECONDS": "20"}
LEASE = 20 + 4


def is_sqlite() -> bool:
    return connection.vendor == "sqlite"


@pytest.fixture
def stack(tmp_path, django_db_setup):
    service = Stack(tmp_path, ENV).start()
    yield service
    service.stop()


def running_job(compilation_id: str, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.filter(target=compilation_id, state=Job.State.RUNNING).first()
        if job is not None and job.worker:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{compilation_id} never started running")


def pid_of(job: Job) -> int:
    return int(job.worker.rpartition(":")[2])


def test_a_killed_pool_process_is_run_again_at_once(stack):
    comp_id = stack.submit(slow_program("pool"), groups=["wb"])
    job = running_job(comp_id)
    os.kill(pid_of(job), signal.SIGKILL)
    killed = time.monotonic()
    result = stack.wait_until_ended(comp_id, timeout=60)
    assert result["status"] == "done", result
    print(f"pool process killed: done {time.monotonic() - killed:.1f} s later")
    # Celery reported the lost process: queued again at once, not after the lease.
    assert time.monotonic() - killed < LEASE - 5
    assert Compilation.objects.get(pk=comp_id).lane == "slow"  # a second run counts as costly
    assert not Job.objects.filter(target=comp_id).exists()


@pytest.mark.parametrize("with_pool", [False, True], ids=["main-process", "main-and-pool"])
def test_kill_9_of_a_worker_mid_compile_ends_every_submission(stack, with_pool):
    slow_id = stack.submit(slow_program(f"kill-{with_pool}"), groups=["wb"])
    small_ids = [stack.submit(small_program(f"k{with_pool}{n}")) for n in range(3)]
    job = running_job(slow_id)
    victims = stack.fast.pool_pids() if with_pool else []
    stack.fast.kill()
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stack.fast = stack.worker("ee.fast,ee.format", 2).start()  # as a supervisor would restart it
    started = time.monotonic()
    for comp_id in [slow_id, *small_ids]:
        result = stack.wait_until_ended(comp_id, timeout=LEASE + 40)
        assert result["status"] == "done", result
    assert time.monotonic() - started < LEASE + 40
    print(
        f"worker killed ({'with' if with_pool else 'without'} its pool): all done {time.monotonic() - started:.1f} s later"
    )
    assert job.attempts == 1
    assert not Job.objects.exists()


def test_a_redis_restart_loses_nothing_and_is_a_503_meanwhile(stack):
    stack.fast.stop()  # nothing takes the work: it waits in Redis's queue…
    ids = [stack.submit(small_program(f"redis{n}")) for n in range(5)]
    stack.redis.stop()  # …which a restart empties

    status, headers, body = stack.request("POST", "/api/v1/compile", {"source": small_program("while down")})
    assert status == 503 and int(headers["Retry-After"]) > 0 and "error" in body
    status, _, _ = stack.request("GET", f"/s/{ids[0]}")
    assert status == 200  # what is stored is still served
    status, headers, health = stack.request("GET", "/healthz")
    assert status == 503 and health["broker"]["ok"] is False and health["database"]["ok"] is True

    stack.redis.start()
    restarted = time.monotonic()
    stack.fast = stack.worker("ee.fast,ee.format", 2).start()
    for comp_id in ids:
        assert stack.wait_until_ended(comp_id, timeout=60)["status"] == "done"
    print(f"Redis restarted: the 5 queued programs done {time.monotonic() - restarted:.1f} s later")
    assert Compilation.objects.filter(pk__in=ids, status="done").count() == 5
    assert stack.request("GET", "/healthz")[0] == 200


def lock_database(seconds: float, locked: threading.Event) -> None:
    """Hold the database's write lock (SQLite) or an exclusive lock on the compilations
    table (PostgreSQL) for ``seconds``, from a connection of its own."""
    from django.db import connections

    if is_sqlite():
        db = sqlite3.connect(connections["default"].settings_dict["NAME"], timeout=30, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()
    else:
        import psycopg

        params = connections["default"].get_connection_params()
        params.pop("options", None)
        with psycopg.connect(**params, autocommit=False) as db:
            db.execute("LOCK TABLE explorer_compilation, explorer_job IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(seconds)
            db.rollback()


def test_a_database_locked_for_25_s_delays_results_but_loses_none(stack):
    comp_id = stack.submit(slow_program("locked"), groups=["wb"])
    running_job(comp_id)
    locked = threading.Event()
    holder = threading.Thread(target=lock_database, args=(25, locked))
    holder.start()
    assert locked.wait(10)
    try:
        # an API client and a browser without JavaScript, both while the lock is held
        answers: dict[str, tuple] = {}
        calls = {
            "api": lambda: stack.request("POST", "/api/v1/compile", {"source": small_program("locked")}),
            "page": lambda: stack.post_form("/compile", {"source": small_program("locked page")}),
        }
        threads = [threading.Thread(target=lambda k=k, f=f: answers.__setitem__(k, f())) for k, f in calls.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        status, headers, body = answers["api"]
        assert status == 503, (status, body)
        assert int(headers["Retry-After"]) > 0 and "database" in body["error"]
        status, headers, page = answers["page"]
        assert status == 503 and "database is not available" in page and int(headers["Retry-After"]) > 0
    finally:
        holder.join()
    released = time.monotonic()
    result = stack.wait_until_ended(comp_id, timeout=60)
    print(f"database locked 25 s: the result stored {time.monotonic() - released:.1f} s after the lock")
    assert result["status"] == "done", result  # the worker kept its result until it could store it
    refused_id = Compilation.objects.filter(source=small_program("locked")).first()
    assert refused_id is None  # the refused submission left nothing half-stored


def test_a_read_only_database_is_a_503_and_keeps_serving_what_is_stored(tmp_path, django_db_setup):
    """The web process's database refuses writes (a read-only replica, a full disk,
    a filesystem remounted read-only): pages that only read still work."""
    service = Stack(tmp_path, ENV).start()
    try:
        done_id = service.submit(small_program("before read-only"), wait=10)
        assert service.wait_until_ended(done_id, 30)["status"] == "done"
    finally:
        service.stop()
    if is_sqlite():
        read_only = f"sqlite:///{connection.settings_dict['NAME']}"
        env = {**ENV, "EXPLORER_DB_READ_ONLY": "1"}
    else:
        read_only = service.db_url
        env = {**ENV, "EXPLORER_DB_READ_ONLY": "1"}
    service = Stack(tmp_path, env, db_url=read_only).start()
    try:
        status, headers, body = service.request("POST", "/api/v1/compile", {"source": small_program("ro")})
        assert status == 503 and int(headers["Retry-After"]) > 0 and "database" in body["error"], body
        status, _, page = service.request("GET", f"/s/{done_id}")
        assert status == 200 and "moved to heap" in page
        status, _, body = service.request("GET", f"/api/v1/compilations/{done_id}")
        assert status == 200 and body["status"] == "done"
    finally:
        service.stop()
    assert Compilation.objects.filter(pk=done_id).exists()


@pytest.mark.skipif("os.environ.get('DATABASE_URL', '').startswith('sqlite') or not os.environ.get('DATABASE_URL')")
def test_a_database_briefly_gone_is_a_503_and_every_submission_ends(tmp_path, django_db_setup):
    """PostgreSQL only (a SQLite file cannot go away): web and workers reach the
    database through a proxy that drops every connection for 6 s."""
    params = connection.settings_dict
    proxy = TcpProxy(params.get("HOST") or "127.0.0.1", int(params.get("PORT") or 5432)).start()
    url = Stack(tmp_path).db_url.replace(f":{params.get('PORT') or 5432}/", f":{proxy.port}/")
    service = Stack(tmp_path, ENV, db_url=url).start()
    try:
        ids = [service.submit(slow_program("gone"), groups=["wb"])]
        ids += [service.submit(small_program(f"gone{n}")) for n in range(3)]
        running_job(ids[0])
        proxy.cut()
        status, headers, body = service.request("POST", "/api/v1/compile", {"source": small_program("gone!")})
        assert status == 503 and int(headers["Retry-After"]) > 0, (status, body)
        time.sleep(6)
        proxy.restore()
        for comp_id in ids:
            assert service.wait_until_ended(comp_id, timeout=LEASE + 40)["status"] == "done"
    finally:
        service.stop()
        proxy.cut()
