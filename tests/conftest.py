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
import time
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
    app._pool = None  # as Celery does after a fork: new pools for the new URL on next use
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def broker(redis_url):
    """Point this process's Celery app at the test Redis."""
    use_broker(redis_url)
    yield redis_url


def database_path() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["TEST"]["NAME"]


@pytest.fixture(scope="session")
def celery_worker(broker, django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on the test database and the test Redis."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "explorer.settings",
        "REDIS_URL": broker,
        "DATABASE_URL": f"sqlite:///{database_path()}",
    }
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "explorer",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    yield proc
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def live_server_url(celery_worker, live_server):
    """The URL of a live web server whose compilations run on the real worker."""
    return live_server.url
