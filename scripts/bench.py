"""make bench: compile time inside the sandbox and end-to-end time, medians.

For a 20-line and a 500-line program it measures
  * engine: the compiler's own wall time inside the sandbox (Analysis.timings.compile_ms)
    and the engine's total (sandbox + parse), by calling the engine directly, its sandbox
    started for the compile and started ahead (worker/prestart.py);
  * the floor: the bare compiler with the same flags in a minimal bubblewrap sandbox;
  * end to end: POST /api/v1/compile -> GET …?wait=10 (a long poll) until done, and
    POST with wait=10, through the stack scripts/run.sh starts (gunicorn, Redis, the
    fast- and slow-lane Celery workers), started here on a scratch database
    (scripts/stack.py), as one API token holder whose limits never refuse it;
  * a finished result read again: its permalink page and JSON, cached, client-side and
    the server's own time (its request log).
Each run uses a fresh source (a counter comment) so no cached result is reused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker import toolchains  # noqa: E402
from worker.compiler import (  # noqa: E402
    CompileRequest,
    compile_request,
    compiler_argv,
    compiler_env,
    prepare_sandbox,
    resolve_lang,
    write_sources,
)
from worker.inputs import split_files  # noqa: E402
from worker.sandbox import Limits  # noqa: E402

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


def bare_sandboxed_compile(source: str, env_extra: dict[str, str] | None = None) -> float:
    """The floor: the compiler with the engine's own flags, alone in a minimal bubblewrap
    sandbox (no network, private /tmp, the toolchain and the source read-only), default
    runtime settings; no runner, no limits, no parsing. Wall milliseconds."""
    tc = toolchains.get(None)
    req = CompileRequest(split_files(source))
    workdir = Path(tempfile.mkdtemp(prefix="ee-floor-"))
    try:
        write_sources(workdir, req.files)
        os.chmod(workdir, 0o755)
        env = {**compiler_env(tc, req.goarch), **(env_extra or {})}
        for key in ("GOGC", "GOMEMLIMIT"):
            if not env_extra or key not in env_extra:
                env.pop(key, None)  # the compiler's own defaults
        argv = ["bwrap", "--unshare-all", "--die-with-parent", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for path in [*tc.sandbox_paths(), workdir]:
            argv += ["--ro-bind", str(path), str(path)]
        argv += ["--chdir", str(workdir)]
        for key, value in env.items():
            argv += ["--setenv", key, value]
        argv += ["--", *compiler_argv(tc, req, resolve_lang(tc, None), workdir)]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True)
        elapsed = (time.perf_counter() - start) * 1000
        assert done.returncode == 0, done.stderr[-2000:]
        return elapsed
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


FLOORS: dict[str, float] = {}


def bench_floor(name: str, source: str) -> None:
    plain = [bare_sandboxed_compile(fresh(source, n)) for n in range(RUNS)]
    no_gc = [bare_sandboxed_compile(fresh(source, n), {"GOGC": "off"}) for n in range(RUNS)]
    FLOORS[name] = statistics.median(plain)
    print(f"{name:10} FLOOR bare compile   {median_ms(plain)}  (sandboxed, same flags, default GC)")
    print(f"{name:10} floor with GOGC=off  {median_ms(no_gc)}  (as the engine runs it)")


def ratio(name: str, times: list[float]) -> str:
    floor = FLOORS.get(name)
    return f"  = {statistics.median(times) / floor:.2f} x floor" if floor else ""


def bench_engine(name: str, source: str) -> None:
    """The engine called directly, its sandbox started for the compile (as the CLI does)
    and started ahead (as a worker does after each job: worker/prestart.py), interleaved."""
    timings: dict[bool, tuple[list[float], list[float]]] = {False: ([], []), True: ([], [])}
    for n in range(RUNS):
        for ahead in (False, True):
            if ahead:
                prepare_sandbox(None, Limits())
                time.sleep(0.05)  # as between two jobs: it is ready
            analysis = compile_request(CompileRequest(split_files(fresh(source, n))))
            assert analysis.status == "ok", analysis.errors
            timings[ahead][0].append(analysis.timings.compile_ms)
            timings[ahead][1].append(analysis.timings.total_ms)
    for ahead, label in ((False, "new sandbox"), (True, "started ahead")):
        compile_ms, total_ms = timings[ahead]
        print(
            f"{name:10} compiler in sandbox  {median_ms(compile_ms)}  ({label}; with what is read of its output meanwhile)"
        )
        print(f"{name:10} engine total         {median_ms(total_ms)}  ({label})")


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
                    job = get(f"{base}/api/v1/compilations/{job['id']}?wait=10")
                times.append((time.perf_counter() - start) * 1000)
                assert job["status"] == "done", job
            print(f"{name:10} POST, GET?wait=10   {median_ms(times)}{ratio(name, times)}")
            times, floors, posted = [], [], []
            for n in range(RUNS):
                # Each POST next to a floor compile of a program of the same size: on a shared
                # machine whose speed drifts, the pair sees the same machine.
                floors.append(bare_sandboxed_compile(fresh(source, n + 3 * RUNS)))
                sent, start = time.time(), time.perf_counter()
                job = post(f"{base}/api/v1/compile", {"source": fresh(source, n + RUNS), "wait": 10})
                times.append((time.perf_counter() - start) * 1000)
                posted.append((sent, sent + times[-1] / 1000, job["id"]))
                assert job["status"] == "done", job
                # A pause, as between a developer's two submissions: the worker starts its
                # next sandbox after each job (worker/prestart.py), and the floor compile of
                # the next pair would otherwise share the two cores with that start.
                time.sleep(0.05)
            print(f"{name:10} POST wait=10 -> done {median_ms(times)}{ratio(name, times)}")
            paired = statistics.median(times) / statistics.median(floors)
            print(f"{name:10}   beside a floor of  {median_ms(floors)}  = {paired:.2f} x that floor (paired runs)")
            where_the_time_goes(stack, name, posted)
            bench_cached(stack, name, job["id"])


def where_the_time_goes(stack, name: str, posted: list[tuple[float, float, str]]) -> None:
    """Medians of where a POST's time went, from the stored row's times (created, started =
    created + queued, finished), the engine's own timings and the worker's log (its run of
    the job, from the claim to the result stored and announced)."""
    from datetime import datetime

    ran = {}
    for entry in map(_json_or_none, stack.log("worker-fast").read_text().splitlines()):
        if entry and entry.get("kind") == "compile" and "ms" in entry:
            ran[entry["job"]] = entry["ms"]
    parts: list[tuple[float, ...]] = []
    for sent, answered, compilation_id in posted:
        done = get(f"{stack.base}/api/v1/compilations/{compilation_id}")
        timings = done["timings"]
        created = datetime.fromisoformat(done["created"]).timestamp()
        finished = datetime.fromisoformat(done["finished"]).timestamp()
        claimed = created + timings["queued_ms"] / 1000
        parts.append(
            (
                (created - sent) * 1000,
                (claimed - created) * 1000,
                timings["total_ms"],
                timings["compile_ms"],
                ran.get(compilation_id, float("nan")) - timings["total_ms"],
                (answered - finished) * 1000,
            )
        )
    p50 = [statistics.median(values) for values in zip(*parts, strict=True)]
    print(
        f"{name:10}   where it went (p50): request -> stored {p50[0]:.1f}, stored -> claimed {p50[1]:.1f},"
        f" engine {p50[2]:.1f} (compile {p50[3]:.1f}), the worker besides (load, compress, store,"
        f" announce) {p50[4]:.1f}, finished -> answered {p50[5]:.1f} ms"
    )


def bench_cached(stack, name: str, compilation_id: str, runs: int = 30) -> None:
    """A finished result read again and again: its permalink page and its JSON, client-side
    on loopback and the server's own time (the web's request log, ``ms``)."""
    for what, path in (("page", f"/s/{compilation_id}"), ("JSON", f"/api/v1/compilations/{compilation_id}")):
        times = []
        for n in range(runs + 3):
            start = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(stack.base + path, headers=AUTH), timeout=60) as r:
                size = len(r.read())
            if n >= 3:  # the first ones render and cache it
                times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.3)  # the log line is written after the response
        served = [
            entry["ms"]
            for entry in map(_json_or_none, stack.log("web").read_text().splitlines())
            if entry and entry.get("method") == "GET" and entry.get("path") == path
        ][3:]
        print(
            f"{name:10} cached {what:4}  client {median_ms(times)}, server p50"
            f" {statistics.median(served):.1f} ms, {size:,} bytes"
        )


def _json_or_none(line: str) -> dict | None:
    try:
        return json.loads(line)
    except ValueError:
        return None


def main() -> None:
    programs = {"20-line": SMALL, "500-line": large_program()}
    for name, src in programs.items():
        print(f"# {name}: {src.count(chr(10))} lines")
    for name, src in programs.items():
        bench_floor(name, src)
    bench_engine("20-line", SMALL)
    bench_engine("500-line", programs["500-line"])
    bench_end_to_end(programs)


if __name__ == "__main__":
    main()
