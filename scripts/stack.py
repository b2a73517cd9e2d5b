"""A scratch Escape Explorer stack for benchmarks (scripts/bench.py, scripts/loadtest.py).

Starts what scripts/run.sh starts, on free loopback ports and a scratch directory, so it
never touches ./var or a running install: a redis-server of its own, a scratch SQLite
database (migrated), the fast-lane and slow-lane Celery workers (``-Q ee.fast`` and
``-Q ee.slow``) and gunicorn with ``--workers``/``--threads``, with SECRET_KEY (random)
and WEB_THREADS set as the settings require. Every process's output goes to a log file
in the scratch directory, which is kept when something went wrong (or ``keep=True``).

    with scratch_stack(tokens={"bench": token}) as stack:
        urllib.request.urlopen(stack.base + "/healthz")
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Inherited settings that would point the scratch stack at something else.
SCRUB = ("SECRET_KEY_FILE", "EXPLORER_API_TOKENS_FILE", "DATABASE_URL", "REDIS_URL", "ESCAPE_EXPLORER_VAR")


@dataclass
class Topology:
    """How many processes and threads, as scripts/run.sh (and its environment variables)."""

    web_workers: int = int(os.environ.get("WEB_WORKERS", "3"))
    web_threads: int = int(os.environ.get("WEB_THREADS", "8"))
    fast_concurrency: int = int(os.environ.get("WORKER_CONCURRENCY", "2"))
    slow_concurrency: int = int(os.environ.get("SLOW_WORKER_CONCURRENCY", "1"))


@dataclass
class Stack:
    base: str
    scratch: Path
    env: dict[str, str]
    topology: Topology
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    keep: bool = False  # set during a run to keep the scratch directory (its logs) afterwards

    @property
    def database(self) -> Path:
        return self.scratch / "explorer.sqlite3"

    def log(self, name: str) -> Path:
        return self.scratch / f"{name}.log"

    def settings(self) -> dict:
        """The effective settings of this stack, as its processes see them."""
        code = (
            "import json, django; django.setup(); from django.conf import settings as s\n"
            "print(json.dumps({'MAX_QUEUED_JOBS': s.MAX_QUEUED_JOBS, 'MAX_CLIENT_JOBS': s.MAX_CLIENT_JOBS,"
            " 'CLIENT_MAX_RUNNING': s.CLIENT_MAX_RUNNING, 'TOKEN_LIMIT_FACTOR': s.TOKEN_LIMIT_FACTOR,"
            " 'RATE_READ': f'{s.RATE_LIMITS[\"read\"].burst}/{s.RATE_LIMITS[\"read\"].per_minute:g}',"
            " 'RATE_SUBMIT': f'{s.RATE_LIMITS[\"submit\"].burst}/{s.RATE_LIMITS[\"submit\"].per_minute:g}',"
            " 'LANE_LIMITS': s.LANE_LIMITS, 'WEB_THREADS': s.WEB_THREADS, 'WAIT_SLOTS': s.WAIT_SLOTS,"
            " 'COMPILE_WAIT_SECONDS': s.COMPILE_WAIT_SECONDS, 'FORMAT_WAIT_SECONDS': s.FORMAT_WAIT_SECONDS,"
            " 'API_TOKENS': len(s.API_TOKENS), 'DATABASE': s.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}))"
        )
        out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each started process group: its live processes and
        the children they reaped (a sandboxed compile counts once its sandbox ended)."""
        tick = os.sysconf("SC_CLK_TCK")
        groups = {proc.pid: name for name, proc in self.procs.items()}
        used = dict.fromkeys(self.procs, 0.0)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            name = groups.get(int(fields[2]))  # the process group
            if name is not None:
                used[name] += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
        return used

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            return json.load(exc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on port {port}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} never opened port {port}")


def _start(stack: Stack, name: str, argv: list[str]) -> subprocess.Popen:
    log = open(stack.log(name), "ab")  # noqa: SIM115 (the child holds it; closed after start)
    try:
        # Own process group: stopping it stops the Celery pool processes too.
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        log.close()
    stack.procs[name] = proc
    return proc


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    """The web server and workers first (SIGTERM to each process group, SIGKILL after 15 s),
    Redis last, so nothing sees its broker vanish while shutting down."""
    rest = [p for name, p in procs.items() if name != "redis"]
    for group in (rest, [p for name, p in procs.items() if name == "redis"]):
        for proc in group:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in group:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _wait_ready(stack: Stack, seconds: float = 90) -> None:
    """Until /healthz answers 200 and both lanes' workers have reported in."""
    deadline = time.monotonic() + seconds
    last: dict = {}
    while time.monotonic() < deadline:
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {stack.log(name)}")
        with contextlib.suppress(OSError, ValueError):
            last = stack.health()
            slots = (last.get("broker") or {}).get("slots") or {}
            if slots.get("ee.fast") and slots.get("ee.slow"):
                return
        time.sleep(0.3)
    raise RuntimeError(f"the stack never became ready: {last}")


@contextlib.contextmanager
def scratch_stack(
    *,
    tokens: dict[str, str] | None = None,
    settings: dict[str, str] | None = None,
    topology: Topology | None = None,
    keep: bool = False,
    prefix: str = "ee-stack-",
) -> Iterator[Stack]:
    """Start the scratch stack; stop it (and remove its directory unless kept) on exit.

    ``tokens``: API tokens ({name: token}, 16+ characters each) for EXPLORER_API_TOKENS;
    ``settings``: further environment settings (EXPLORER_*, …) for every process.
    """
    topology = topology or Topology()
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    redis_port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "explorer.settings",
            "ESCAPE_EXPLORER_VAR": str(scratch),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DATABASE_URL": f"sqlite:///{scratch / 'explorer.sqlite3'}",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "WEB_THREADS": str(topology.web_threads),
            "EXPLORER_API_TOKENS": ",".join(f"{n}={t}" for n, t in (tokens or {}).items()),
            **(settings or {}),
        }
    )
    stack = Stack(f"http://127.0.0.1:{web_port}", scratch, env, topology)
    failed = True
    try:
        redis = _start(
            stack,
            "redis",
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(scratch)],
        )
        wait_port(redis_port, redis, "redis-server")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        celery = [PYTHON, "-m", "celery", "-A", "explorer", "worker", "--loglevel=INFO"]
        _start(
            stack,
            "worker-fast",
            [*celery, "-Q", "ee.fast,ee.format", "-n", "fast@%h", f"-c{topology.fast_concurrency}"],
        )
        _start(stack, "worker-slow", [*celery, "-Q", "ee.slow", "-n", "slow@%h", f"-c{topology.slow_concurrency}"])
        web = _start(
            stack,
            "web",
            [PYTHON, "-m", "gunicorn", "explorer.wsgi", "--bind", f"127.0.0.1:{web_port}"]
            + ["--workers", str(topology.web_workers), "--threads", str(topology.web_threads)],
        )
        wait_port(web_port, web, "gunicorn")
        _wait_ready(stack)
        yield stack
        failed = False
    finally:
        _stop(stack.procs)
        if keep or stack.keep or failed:
            print(f"# scratch stack kept for its logs: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
