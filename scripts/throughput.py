"""make bench, throughput part: distinct small compiles per second with N concurrent clients.

    .venv/bin/python scripts/throughput.py --clients 12 --seconds 20 --workers 1,2

For each worker count in ``--workers``, starts the scratch stack of scripts/stack.py (what
scripts/run.sh starts) with the fast lane's Celery worker at that concurrency (worker
processes), and runs ``--clients`` clients on loopback for ``--seconds``: threads of this one process,
each with one kept-alive HTTP connection (12 Python processes opening a connection per
request used about a third of the two cores themselves). Each client has its own API token (its own fair share, as that many developers would) and, in a
loop, POSTs a DISTINCT small program (a counter in a comment) with ``wait`` and, when the
answer is not yet done (the server waits for a limited number of requests at a time),
follows it with ``GET …?wait=10`` (a long poll) to its end, pausing 50 ms when the server
answered at once (it had no free place to wait) instead of asking again at once. Printed per worker count:
compiles done per second, latency (POST -> done) p50/p95/p99, and the CPU the machine spent
per compile, split into the web, the workers' Python, Redis, the load generator (this
process) and the rest: the sandboxes (bubblewrap, the runner, the compiler) and the kernel's
work for them, which no process of the stack is charged for (:func:`busy_seconds`).

First, what the machine can do at all: the compiler alone (the floor of scripts/bench.py:
the same flags in a minimal bubblewrap sandbox, no runner, no limits, no parsing), as many
at a time as there are cores, on the same programs, compiles/s and CPU ms per compile.
Each run's rate is also printed as a share of that capacity, which does not depend on how
fast the machine is (the issue's 60/s was set where the compiler alone did about 100/s).

Exit status 1 when a submission did not end ``done``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import small_program  # noqa: E402
from stack import Topology, scratch_stack  # noqa: E402

perf = time.perf_counter


def client_loop(base: str, token: str, who: str, start_at: float, stop_at: float, results: list) -> None:
    """One client: a thread holding one kept-alive HTTP connection (as an API client or a
    browser keeps one), so that what is measured is the server, not TCP set-up."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    conn = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    n = 0

    def call(method: str, path: str, body: bytes | None = None) -> tuple[int, dict, dict]:
        nonlocal conn
        for attempt in range(2):
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                return response.status, dict(response.getheaders()), json.loads(data) if data else {}
            except (http.client.HTTPException, ConnectionError):
                conn.close()  # the server closed a kept-alive connection: open a new one once
                conn = http.client.HTTPConnection(host, port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        n += 1
        body = json.dumps({"source": small_program(who, n), "wait": 10}).encode()
        began = perf()
        status, response_headers, job = call("POST", "/api/v1/compile", body)
        if status >= 400:
            results.append((f"http {status}", (perf() - began) * 1000, time.time()))
            time.sleep(float(response_headers.get("Retry-After") or 1))
            continue
        while job["status"] not in ("done", "failed"):
            asked = perf()
            status, _, job = call("GET", f"/api/v1/compilations/{job['id']}?wait=10")  # a long poll
            if status >= 400:
                job = {"status": f"http {status}"}
                break
            if job["status"] not in ("done", "failed") and perf() - asked < 0.05:
                time.sleep(0.05)  # the server had no free place to wait: do not spin
        results.append((job["status"], (perf() - began) * 1000, time.time()))
    conn.close()


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (/proc/stat: all but idle and iowait).

    Per process group (Stack.cpu_seconds) misses the sandboxes: bubblewrap's process in the
    PID namespace outlives its parent and is reaped by init, so the compiler's CPU never
    reaches the worker's children times; nor does the kernel's own work of tearing down
    each sandbox's namespaces (its workqueues). The machine's busy time counts both."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def compiler_alone(seconds: float) -> float:
    """The machine's capacity: bare sandboxed compiles of the clients' programs, one per core
    at a time, for ``seconds``; compiles/s."""
    from bench import bare_sandboxed_compile

    cores = os.cpu_count() or 1
    stop_at = time.time() + seconds
    counts = [0] * cores

    def loop(i: int) -> None:
        while time.time() < stop_at:
            counts[i] += 1
            bare_sandboxed_compile(small_program(f"floor{i}", counts[i]))

    busy0 = busy_seconds()
    began = perf()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(cores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, machine = perf() - began, busy_seconds() - busy0
    rate = sum(counts) / elapsed
    print(
        f"the compiler alone, {cores} at a time: {rate:5.1f} compiles/s"
        f"  CPU ms per compile: the machine {1000 * machine / sum(counts):.1f}"
    )
    return rate


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(
    workers: int, clients: int, seconds: float, warmup: float, database_url: str = "", capacity: float = 0.0
) -> bool:
    """One run; ``capacity``: the compiler alone's compiles/s (0: not measured)."""
    tokens = {f"c{i}": secrets.token_urlsafe(24) for i in range(clients)}
    topology = Topology(fast_concurrency=workers)
    settings = {"EXPLORER_TOKEN_LIMIT_FACTOR": "1000", **({"DATABASE_URL": database_url} if database_url else {})}
    with scratch_stack(tokens=tokens, settings=settings, topology=topology, prefix="ee-tput-") as stack:
        results: list = []
        start_at = time.time() + 1.0
        stop_at = start_at + warmup + seconds
        threads = [
            threading.Thread(target=client_loop, args=(stack.base, token, who, start_at, stop_at, results))
            for who, token in tokens.items()
        ]
        for t in threads:
            t.start()
        time.sleep(max(0.0, start_at + warmup - time.time()))
        cpu0, stack0, busy0 = os.times(), stack.cpu_seconds(), busy_seconds()
        time.sleep(max(0.0, stop_at - time.time()))
        cpu1, stack1, busy1 = os.times(), stack.cpu_seconds(), busy_seconds()
        for t in threads:
            t.join()
    measured = [r for r in results if start_at + warmup <= r[2] <= stop_at]
    done = [ms for status, ms, _ in measured if status == "done"]
    bad = [status for status, _, _ in results if status != "done"]
    rate = len(done) / seconds
    share = f" = {100 * rate / capacity:.0f} % of the compiler alone" if capacity else ""
    print(
        f"workers={workers} clients={clients}: {rate:5.1f} compiles/s done{share}"
        f" ({len(done)} in {seconds:g} s after {warmup:g} s warm-up; not done: {len(bad)})"
    )
    if done:
        print(
            f"  POST -> done p50 {percentile(done, 50):6.1f} ms  p95 {percentile(done, 95):6.1f} ms"
            f"  p99 {percentile(done, 99):6.1f} ms  (mean {statistics.fmean(done):.1f})"
        )
        used = {name: stack1[name] - stack0.get(name, 0.0) for name in stack1}
        used["load generator"] = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        machine = busy1 - busy0
        used["sandboxes + kernel"] = machine - sum(used.values())
        parts = "  ".join(f"{name} {1000 * v / len(done):.1f}" for name, v in used.items())
        print(
            f"  CPU ms per compile: the machine {1000 * machine / len(done):.1f}"
            f" ({100 * machine / (seconds * (os.cpu_count() or 1)):.0f} % busy) = {parts}"
        )
    return not bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--workers", default="1,2", help="fast-lane worker processes, comma-separated runs")
    ap.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL database to use (migrated here) instead of a scratch SQLite file",
    )
    ap.add_argument(
        "--capacity-seconds", type=float, default=10, help="how long to measure the compiler alone (0: not at all)"
    )
    args = ap.parse_args()
    database = "PostgreSQL" if args.database_url else "SQLite (scratch)"
    print(f"# {os.cpu_count()} cores; {database}; small distinct programs; each client its own API token")
    capacity = compiler_alone(args.capacity_seconds) if args.capacity_seconds > 0 else 0.0
    ok = True
    for workers in (int(w) for w in args.workers.split(",")):
        ok = run(workers, args.clients, args.seconds, args.warmup, args.database_url, capacity) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
