"""A whole service of its own, for tests that break things: a private Redis, a web
process (gunicorn), fast- and slow-lane workers, all on the test database, and a TCP
proxy that can make the database disappear. Real processes throughout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, WORKER_ENV, WorkerProcess, database_url, free_port, wait_for_port


class RedisServer:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server") or "redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # as a crash: nothing saved (it keeps nothing on disk anyway)
            self.proc.wait(10)


class TcpProxy:
    """127.0.0.1:<port> -> target; ``cut()`` drops every connection and refuses new ones
    until ``restore()``: a database that is briefly gone, as its clients see it."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        if self._server:
            try:
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            self._server.close()
            self._server = None
        with self._lock:
            for s in self._conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._conns.clear()

    def restore(self) -> None:
        self.start()


class Stack:
    """Redis + web + workers of their own. ``env``: settings for all of them."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, db_url: str | None = None):
        self.workdir = workdir
        self.redis = RedisServer(workdir)
        self.env = {**WORKER_ENV, "EXPLORER_RECONCILE_SECONDS": "1", **(env or {})}
        self.db_url = db_url or database_url()
        self.web_port = free_port()
        self.web: subprocess.Popen | None = None
        self.fast: WorkerProcess | None = None
        self.slow: WorkerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def process_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "explorer.settings",
            "REDIS_URL": self.redis.url,
            "DATABASE_URL": self.db_url,
            "WEB_THREADS": "4",
            **self.env,
        }

    def start(self) -> Stack:
        self.redis.start()
        self.start_web()
        self.fast = self.worker("ee.fast,ee.format", 2).start()
        self.slow = self.worker("ee.slow", 1).start()
        return self

    def worker(self, queue: str, concurrency: int) -> WorkerProcess:
        env = {k: v for k, v in self.process_env().items() if k not in os.environ or os.environ[k] != v}
        return WorkerProcess(
            self.workdir / f"{queue}-{time.monotonic_ns()}.log", self.redis.url, queue, concurrency, env
        )

    def start_web(self) -> None:
        log = open(self.workdir / "web.log", "a")
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "explorer.wsgi", "--bind", f"127.0.0.1:{self.web_port}"]
            + ["--workers", "1", "--threads", "4", "--timeout", "60"],
            cwd=ROOT,
            env=self.process_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.web_port, timeout=30)

    def stop(self) -> None:
        for worker in (self.fast, self.slow):
            if worker:
                worker.stop()
        if self.web and self.web.poll() is None:
            self.web.terminate()
            self.web.wait(20)
        self.redis.stop()

    # --- HTTP -------------------------------------------------------------------------------

    def request(self, method: str, path: str, payload: dict | None = None, timeout: float = 60):
        """(status, headers, body as JSON or text)"""
        return self.request_as({}, method, path, payload, timeout)

    def request_as(self, headers: dict, method: str, path: str, payload: dict | None = None, timeout: float = 60):
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, headers, body = resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            status, headers, body = err.code, dict(err.headers), err.read().decode()
        try:
            return status, headers, json.loads(body)
        except json.JSONDecodeError:
            return status, headers, body

    def post_form(self, path: str, fields: dict, timeout: float = 60):
        """A form POST as a browser without JavaScript sends it: (status, headers, text)."""
        data = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read().decode()

    def submit(self, source: str, **fields) -> str:
        status, _, body = self.request("POST", "/api/v1/compile", {"source": source, **fields})
        assert status in (200, 202), (status, body)
        return body["id"]

    def status(self, compilation_id: str) -> dict:
        status, _, body = self.request("GET", f"/api/v1/compilations/{compilation_id}")
        assert status == 200, (status, body)
        return body

    def wait_until_ended(self, compilation_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self.status(compilation_id)
                if body["status"] in ("done", "failed"):
                    return body
            except (AssertionError, OSError):
                pass  # the web process may be refusing during the fault
            if time.monotonic() > deadline:
                raise AssertionError(f"{compilation_id} did not end within {timeout} s:\n{self.logs()}")
            time.sleep(0.1)

    def logs(self) -> str:
        out = []
        for path in sorted(self.workdir.glob("*.log")):
            out.append(f"--- {path.name}\n{path.read_text()[-3000:]}")
        return "\n".join(out)


def slow_program(tag: str, statements: int = 4500) -> str:
    """About 1-2 s of compiling with -d=wb on an idle core (one huge function; 2 s on the
    machines of 2026-11-23, 1 s on that of 2026-11-24; 3.5 s before the compiler ran without
    its GC): long enough to break something mid-compile, under the 256 KiB limit."""
    body = "".join(f"\ts[{i}%x] += x*{i}\n\tif s[{i}%x] > {i} {{ x++ }}\n" for i in range(statements))
    return (
        f"package main\n\n// {tag}\n\nvar sink []int\n\nfunc f(x int) int {{\n\ts := make([]int, x)\n"
        f"{body}\tsink = s\n\treturn s[0]\n}}\n\nfunc main() {{ f(3) }}\n"
    )


def small_program(tag: str) -> str:
    return f"package main\n\n// {tag}\n\nfunc leak() *int {{\n\tx := 1\n\treturn &x\n}}\n\nfunc main() {{ println(*leak()) }}\n"
