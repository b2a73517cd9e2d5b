"""make bench, throughput part: distinct small compiles per second with N concurrent clients.

    .venv/bin/python scripts/throughput.py --clients 12 --seconds 20 --workers 1,2

For each worker count in ``--workers``, starts the scratch stack of scripts/stack.py (what
scripts/run.sh starts) with the fast lane's Celery worker at that concurrency (worker
processes), and runs ``--clients`` client processes on loopback for ``--seconds``. Each
client has its own API token (its own fair share, as that many developers would) and, in a
loop, POSTs a DISTINCT small program (a counter in a comment) with ``wait`` and, when the
answer is not yet done (the server waits for a limited number of requests at a time),
follows it with ``GET …?wait=10`` (a long poll) to its end, pausing 50 ms when the server
answered at once (it had no free place to wait) instead of asking again at once. Printed per worker count:
compiles done per second, latency (POST -> done) p50/p95/p99, and the CPU seconds each part
of the stack used per compile (web, workers with their sandboxed compilers, Redis) beside
the clients' own.

Exit status 1 when a submission did not end ``done``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import small_program  # noqa: E402
from stack import Topology, scratch_stack  # noqa: E402

perf = time.perf_counter


def client_loop(base: str, token: str, who: str, start_at: float, stop_at: float, out) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    results, n = [], 0
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        n += 1
        body = json.dumps({"source": small_program(who, n), "wait": 10}).encode()
        began = perf()
        try:
            req = urllib.request.Request(f"{base}/api/v1/compile", body, headers)
            job = json.load(urllib.request.urlopen(req, timeout=60))
            while job["status"] not in ("done", "failed"):
                url = f"{base}/api/v1/compilations/{job['id']}?wait=10"  # a long poll
                asked = perf()
                job = json.load(urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60))
                if job["status"] not in ("done", "failed") and perf() - asked < 0.05:
                    time.sleep(0.05)  # the server had no free place to wait: do not spin
            results.append((job["status"], (perf() - began) * 1000, time.time()))
        except urllib.error.HTTPError as exc:
            results.append((f"http {exc.code}", (perf() - began) * 1000, time.time()))
            time.sleep(float(exc.headers.get("Retry-After") or 1))
    out.put(results)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(workers: int, clients: int, seconds: float, warmup: float) -> bool:
    tokens = {f"c{i}": secrets.token_urlsafe(24) for i in range(clients)}
    topology = Topology(fast_concurrency=workers)
    with scratch_stack(
        tokens=tokens, settings={"EXPLORER_TOKEN_LIMIT_FACTOR": "1000"}, topology=topology, prefix="ee-tput-"
    ) as stack:
        out = multiprocessing.Queue()
        start_at = time.time() + 1.0
        stop_at = start_at + warmup + seconds
        procs = [
            multiprocessing.Process(target=client_loop, args=(stack.base, token, who, start_at, stop_at, out))
            for who, token in tokens.items()
        ]
        for p in procs:
            p.start()
        time.sleep(max(0.0, start_at + warmup - time.time()))
        cpu0, stack0 = os.times(), stack.cpu_seconds()
        time.sleep(max(0.0, stop_at - time.time()))
        cpu1, stack1 = os.times(), stack.cpu_seconds()
        results = [r for _ in procs for r in out.get()]
        for p in procs:
            p.join()
    measured = [r for r in results if start_at + warmup <= r[2] <= stop_at]
    done = [ms for status, ms, _ in measured if status == "done"]
    bad = [status for status, _, _ in results if status != "done"]
    rate = len(done) / seconds
    print(
        f"workers={workers} clients={clients}: {rate:5.1f} compiles/s done"
        f" ({len(done)} in {seconds:g} s after {warmup:g} s warm-up; not done: {len(bad)})"
    )
    if done:
        print(
            f"  POST -> done p50 {percentile(done, 50):6.1f} ms  p95 {percentile(done, 95):6.1f} ms"
            f"  p99 {percentile(done, 99):6.1f} ms  (mean {statistics.fmean(done):.1f})"
        )
        used = {name: stack1[name] - stack0.get(name, 0.0) for name in stack1}
        clients_cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
        parts = "  ".join(f"{name} {1000 * v / len(done):.1f}" for name, v in sorted(used.items()))
        print(f"  CPU ms per compile: {parts}  (load generator {1000 * clients_cpu / len(done):.1f}, after exit)")
    return not bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--workers", default="1,2", help="fast-lane worker processes, comma-separated runs")
    args = ap.parse_args()
    print(f"# {os.cpu_count()} cores; small distinct programs; each client its own API token")
    ok = True
    for workers in (int(w) for w in args.workers.split(",")):
        ok = run(workers, args.clients, args.seconds, args.warmup) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
