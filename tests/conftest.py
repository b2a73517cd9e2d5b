"""Shared fixtures: a real Redis server, a real Celery worker process, a live web server.

Nothing here mocks the compiler or the broker: the worker runs the real toolchain in
the real sandbox; the web server is Django's live server on the test database (a
SQLite file the worker process opens too).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEWEST_GO = "1.27.3"
OLDEST_GO = "1.21.13"


def go_versions_under_test() -> list[str]:
    """Toolchains the version-parametrized tests run on, oldest first: OLDEST_GO and
    NEWEST_GO, plus the installed ones named in ``EE_TEST_GO_VERSIONS`` (comma-separated,
    e.g. "1.22.10,1.23.9"). A named version that is not installed is left out with a
    warning (``python -m worker.toolchains install V`` installs it).

    Not called ``test_…``: a test module importing it would collect it as a test.
    """
    import warnings

    from worker import toolchains

    extra = [v.strip() for v in os.environ.get("EE_TEST_GO_VERSIONS", "").split(",") if v.strip()]
    installed = {tc.version for tc in toolchains.installed()}
    missing = [v for v in extra if v not in installed]
    if missing:
        warnings.warn(f"EE_TEST_GO_VERSIONS: not installed, not tested: {', '.join(missing)}", stacklevel=2)
    versions = {OLDEST_GO, NEWEST_GO} | {v for v in extra if v in installed}
    return sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private redis-server on a free port (never the machine's shared one)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (scripts/setup.sh installs it)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def use_broker(url: str) -> None:
    """Point this process's Celery app at ``url``, dropping connections it cached."""
    from explorer.celery import app

    app.conf.broker_url = url
    app.conf.result_backend = url
    app._pool = None  # as Celery does after a fork: new pools for the new URL on next use
    app.amqp._producer_pool = None
    app._backend_cache = None  # the result backend (gofmt's results) follows the broker
    app._local = threading.local()


@pytest.fixture(scope="session")
def broker(redis_url):
    """Point this process's Celery app at the test Redis."""
    use_broker(redis_url)
    yield redis_url


def database_path() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["TEST"]["NAME"]


def database_url() -> str:
    """The URL of the test database (SQLite file or PostgreSQL), for processes we start."""
    from django.db import connection

    db = connection.settings_dict
    assert db.get("NAME"), "database_url() before the test database exists (use the django_db_setup fixture)"
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = urllib.parse.quote(db.get("USER") or "")
    password = urllib.parse.quote(db.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


# What the suite's worker processes run with: many tests submit from one address, so
# a test client may run two jobs at once (the product's default is one). Their
# reconciler is off: tests/test_faults.py runs workers of its own, with it, on a Redis of
# its own, and the suite's workers must not recover (and so hide) what those tests break.
WORKER_ENV = {"EXPLORER_CLIENT_MAX_RUNNING": "2", "EXPLORER_RECONCILE_SECONDS": "0", "LOG_FORMAT": "text"}


class WorkerProcess:
    """A real `celery worker` process on the test database and the test Redis."""

    def __init__(self, log_path: Path, broker: str, queues: str, concurrency: int, env: dict[str, str] | None = None):
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "explorer.settings",
            "REDIS_URL": broker,
            "DATABASE_URL": database_url(),
            **WORKER_ENV,
            **(env or {}),
        }
        self.queues = queues
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> WorkerProcess:
        self.log_path.write_text("")
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "explorer",
                "worker",
                "--loglevel=INFO",
                f"--queues={self.queues}",
                f"--hostname={self.queues.replace(',', '+')}.{uuid.uuid4().hex[:6]}@%h",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while "ready." not in self.log_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def pool_pids(self) -> list[int]:
        """The pool's child processes (where tasks run)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """kill -9 of the main process (its pool processes are orphaned, as in a crash)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session", autouse=True)
def relaxed_limits():
    """The suite submits hundreds of programs from one address: rate limits and shares
    are raised for it; the tests of the limits set their own (the settings fixture)."""
    from django.conf import settings

    from explorer.ratelimit import Rate

    settings.RATE_LIMITS = {"read": Rate(100_000, 1_000_000), "submit": Rate(100_000, 1_000_000)}
    settings.MAX_CLIENT_JOBS = 10_000
    settings.MAX_QUEUED_JOBS = 10_000


@pytest.fixture(scope="session")
def celery_worker(broker, django_db_setup, django_db_blocker, tmp_path_factory):
    """Real `celery worker` processes: the fast lane (2 processes), the slow lane (1) and
    the run lane (1).

    Their module proxy is a file:// directory of the test modules (tests/gomodules.py)."""
    from tests import gomodules

    logs = tmp_path_factory.mktemp("worker")
    modules = gomodules.world_readable_dir("ee-test-proxy-")
    env = gomodules.worker_proxy_env(gomodules.make_proxy(modules / "proxy"), modules / "modcache")
    fast = WorkerProcess(logs / "fast.log", broker, "ee.fast,ee.format", 2, env).start()
    slow = WorkerProcess(logs / "slow.log", broker, "ee.slow", 1, env).start()
    run = WorkerProcess(logs / "run.log", broker, "ee.run", 1, env).start()  # measurements (worker/measure.py)
    yield fast
    fast.stop()
    slow.stop()
    run.stop()
    shutil.rmtree(modules, ignore_errors=True)


@pytest.fixture
def live_server_url(celery_worker, live_server):
    """The URL of a live web server whose compilations run on the real workers."""
    return live_server.url
