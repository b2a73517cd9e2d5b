"""make bench: compile time inside the sandbox and end-to-end time, medians.

For a 20-line and a 500-line program it measures
  * engine: the compiler's own wall time inside the sandbox (Analysis.timings.compile_ms)
    and the engine's total (sandbox + parse), by calling the engine directly;
  * end to end: POST /api/v1/compile -> GET until done (polling every 5 ms), and
    POST with wait=10, through the stack scripts/run.sh starts (gunicorn, Redis, the
    fast- and slow-lane Celery workers), started here on a scratch database
    (scripts/stack.py), as one API token holder whose limits never refuse it.
Each run uses a fresh source (a counter comment) so no cached result is reused.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.compiler import CompileRequest, compile_request  # noqa: E402
from worker.inputs import split_files  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from stack import scratch_stack  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SMALL = """package main

import "fmt"

type point struct{ x, y int }

func newPoint(x, y int) *point {
	p := point{x, y}
	return &p
}

func sum(s []int) (t int) {
	for _, v := range s {
		t += v
	}
	return t
}

func main() { fmt.Println(newPoint(1, 2), sum([]int{1, 2, 3})) }
"""


def large_program(functions: int = 25) -> str:
    parts = [
        'package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\ntype item struct {\n\tname string\n\tvals []int\n}\n'
    ]
    for i in range(functions):
        parts.append(
            f"""
func build{i}(n int) *item {{
	it := item{{name: fmt.Sprint("item", n)}}
	for j := 0; j < n; j++ {{
		it.vals = append(it.vals, j*{i})
	}}
	return &it
}}

func score{i}(it *item) int {{
	var b strings.Builder
	b.WriteString(it.name)
	t := len(b.String())
	for _, v := range it.vals {{
		t += v
	}}
	return t
}}
"""
        )
    calls = "\n".join(f"\tfmt.Println(score{i}(build{i}({i})))" for i in range(functions))
    parts.append(f"\nfunc main() {{\n{calls}\n}}\n")
    return "".join(parts)


def fresh(source: str, n: int) -> str:
    return source + f"\n// run {n} {time.time_ns()}\n"


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} ms (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def bench_engine(name: str, source: str) -> None:
    compile_ms, total_ms = [], []
    for n in range(RUNS):
        analysis = compile_request(CompileRequest(split_files(fresh(source, n))))
        assert analysis.status == "ok", analysis.errors
        compile_ms.append(analysis.timings.compile_ms)
        total_ms.append(analysis.timings.total_ms)
    print(f"{name:10} compiler in sandbox  {median_ms(compile_ms)}")
    print(f"{name:10} engine total         {median_ms(total_ms)}")


def post(url: str, payload: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json", **AUTH})
    return json.load(urllib.request.urlopen(req, timeout=60))


def get(url: str) -> dict:
    return json.load(urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=60))


def bench_end_to_end(programs: dict[str, str]) -> None:
    # Its own API token, with a factor far above what it sends: the rate limits are
    # still checked on every request (same code path), but never refuse one; a 429
    # would raise here instead of skewing a median.
    with scratch_stack(
        tokens={"bench": TOKEN}, settings={"EXPLORER_TOKEN_LIMIT_FACTOR": "1000"}, prefix="ee-bench-"
    ) as stack:
        topo = stack.topology
        print(
            f"# stack: gunicorn {topo.web_workers}x{topo.web_threads} threads, workers fast -c{topo.fast_concurrency}"
            f" + slow -c{topo.slow_concurrency}, redis, SQLite (scratch), {os.cpu_count()} cores"
        )
        base = stack.base
        post(f"{base}/api/v1/compile", {"source": fresh(SMALL, -1), "wait": 10})  # warm up the worker
        for name, source in programs.items():
            times = []
            for n in range(RUNS):
                start = time.perf_counter()
                job = post(f"{base}/api/v1/compile", {"source": fresh(source, n)})
                while job["status"] not in ("done", "failed"):
                    time.sleep(0.005)
                    job = get(f"{base}/api/v1/compilations/{job['id']}")
                times.append((time.perf_counter() - start) * 1000)
                assert job["status"] == "done", job
            print(f"{name:10} POST -> done (poll)  {median_ms(times)}")
            times = []
            for n in range(RUNS):
                start = time.perf_counter()
                job = post(f"{base}/api/v1/compile", {"source": fresh(source, n + RUNS), "wait": 10})
                times.append((time.perf_counter() - start) * 1000)
                assert job["status"] == "done", job
            print(f"{name:10} POST wait=10 -> done {median_ms(times)}")


def main() -> None:
    programs = {"20-line": SMALL, "500-line": large_program()}
    for name, src in programs.items():
        print(f"# {name}: {src.count(chr(10))} lines")
    bench_engine("20-line", SMALL)
    bench_engine("500-line", programs["500-line"])
    bench_end_to_end(programs)


if __name__ == "__main__":
    main()
