"""make bench, second part: many clients at once against the whole stack, on loopback.

    .venv/bin/python scripts/loadtest.py --clients 50 --seconds 60

Starts the scratch stack of scripts/stack.py (what scripts/run.sh starts: Redis, SQLite,
gunicorn, the fast- and slow-lane Celery workers) with the service's own default limits,
and gives every client its own API token, so each is its own client for the fair
shares and rate limits, as that many developers would be. For ``--seconds``:

  * ``--clients`` - 2 developers (threads), each in a loop: mostly compile a DISTINCT
    small program (a counter in a comment) with ``wait`` 0..5 s, follow it to its end
    (polling the API), read its JSON and often its page; sometimes re-read an earlier
    permalink (the /s/<id> page and the API JSON); now and then format a program
    (POST /api/v1/format). A refused submission (429/503) is retried after Retry-After.
    Between two actions a developer thinks for ``--think`` seconds (and before the first,
    up to its maximum, so they do not all start at once).
  * a bomb client (a thread), active in the middle half of the run: compile bombs, each
    taking the compiler ~8 s on an idle machine (past the fast lane's 5 s limit, so they
    must move to the slow lane), ``--bomb-inflight`` of them outstanding at a time.
  * a flood client (its own process, so its busy loop does not steal the developers'
    interpreter): POSTs distinct small programs as fast as answers come, ignoring
    Retry-After, as an abusive script would.

Every accepted submission is followed to its end (done or failed), polls respecting
Retry-After on 429/503, for at most DRAIN_SECONDS after the load stopped. Durations are
time.perf_counter() differences; the queue wait is the server's own (timings.queued_ms).

Exit status 1 when any request got a 5xx other than a deliberate, fast refusal (the
admission's "queue full" 503 or the "busy formatting" 503, both with Retry-After), or
no answer at all, or when an accepted submission did not end within DRAIN_SECONDS after
the load stopped. The scratch directory (logs, database) is then kept and named.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import random
import re
import secrets
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import Stack, scratch_stack  # noqa: E402

DRAIN_SECONDS = 120.0
BOMB_DEPTH = 27  # ~8 s of type checking on an idle core with go1.27.3; each level doubles it
COMPILE = "POST /api/v1/compile"
RESULT = "GET /api/v1/compilations/<id>"
PAGE = "GET /s/<id>"
FORMAT = "POST /api/v1/format"
# Deliberate refusals with Retry-After, answered before any work: not failures.
REFUSAL_503 = ("The server is busy:", "The server is busy formatting")
OUTCOMES = ("2xx", "400", "429", "4xx other", "503 refused", "5xx error", "no answer")
perf = time.perf_counter


# --- programs ---------------------------------------------------------------------------------


def small_program(who: str, n: int) -> str:
    """A distinct small program (about 20 lines): one of a few shapes, a counter comment."""
    shape = n % 3
    if shape == 0:
        body = """type point struct{ x, y int }

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
    elif shape == 1:
        body = """type stack struct{ items []string }

func (s *stack) push(v string) { s.items = append(s.items, v) }

func (s *stack) pop() string {
	v := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v
}

func main() {
	s := &stack{}
	s.push(fmt.Sprint(42))
	fmt.Println(s.pop())
}
"""
    else:
        body = """func counts(words []string) map[string]int {
	m := make(map[string]int)
	for _, w := range words {
		m[w]++
	}
	return m
}

func main() {
	c := counts([]string{"a", "b", "a"})
	fmt.Println(len(c), c["a"])
}
"""
    return f'package main\n\nimport "fmt"\n\n// {who} program {n}\n{body}'


def unformatted_program(who: str, n: int) -> str:
    return f'package main\nimport "fmt"\n// {who} format {n}\nfunc main(){{\nx:=[]int{{1,2,3}}\n  for _,v:=range x{{fmt.Println( v )}}\n}}\n'


def bomb_program(n: int, depth: int = BOMB_DEPTH) -> str:
    """A compile bomb of ~2 KB: two chains of structurally identical, distinct unnamed
    struct types, each level holding two of the previous; assigning one to the other
    makes the type checker compare 2**depth pairs (no memo for structs). It sits in a
    closure inside a constant expression (unsafe.Sizeof), so it emits no code, no type
    descriptors and almost no output: pure compile time, not an output or memory limit."""
    lines = ["package main", "", 'import "unsafe"', "", f"// bomb {n}", "const n = unsafe.Sizeof(func() int {"]
    lines += ["\ttype A0 = struct{}", "\ttype B0 = struct{}"]
    for i in range(1, depth + 1):
        lines += [f"\ttype A{i} = struct{{ a, b A{i - 1} }}", f"\ttype B{i} = struct{{ a, b B{i - 1} }}"]
    lines += [
        f"\tvar a A{depth}",
        f"\tvar b B{depth} = a",
        "\t_ = b",
        "\treturn 0",
        "})",
        "",
        "func main() { println(n) }",
    ]
    return "\n".join(lines) + "\n"


# --- HTTP and bookkeeping -------------------------------------------------------------------


@dataclass
class Response:
    status: int  # 0: no answer (refused, reset, timed out)
    ms: float
    headers: dict[str, str]
    body: bytes
    error: str = ""

    def json(self) -> dict:
        try:
            data = json.loads(self.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def retry_after(self) -> float:
        try:
            return max(0.0, float(self.headers.get("retry-after", "")))
        except ValueError:
            return 1.0


def outcome(resp: Response) -> str:
    if resp.status == 0:
        return "no answer"
    if 200 <= resp.status < 300:
        return "2xx"
    if resp.status in (400, 429):
        return str(resp.status)
    if resp.status < 500:
        return "4xx other"
    if resp.status == 503 and "retry-after" in resp.headers:
        if str(resp.json().get("error", "")).startswith(REFUSAL_503):
            return "503 refused"
    return "5xx error"


@dataclass
class Submission:
    id: str
    role: str
    client: str
    accepted_wall: float
    post_perf: float  # start of the POST that was accepted
    first_perf: float  # start of the first attempt (refusals included)
    refusals: int = 0
    ended_wall: float | None = None
    ended_perf: float | None = None
    status: str = ""  # last status seen
    failure: str = ""
    finished_wall: float | None = None  # the server's "finished"
    queued_ms: float | None = None
    compile_ms: float | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed")


class Recorder:
    """What one process saw: request outcomes, latency samples, submissions, problems."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (role, endpoint, outcome)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.subs: list[Submission] = []
        self.problems: list[dict] = []
        self.given_up = Counter()  # role -> submissions never accepted before the load stopped
        self.reasons: Counter[tuple[str, str, str]] = Counter()  # (role, status, message) of 429/503

    def request(self, role: str, endpoint: str, resp: Response) -> None:
        kind = outcome(resp)
        with self.lock:
            self.counts[(role, endpoint, kind)] += 1
            if resp.status in (429, 503):
                message = re.sub(r"[0-9]+", "N", str(resp.json().get("error", "")))[:70]
                self.reasons[(role, f"{resp.status} {endpoint}", message)] += 1
            if kind in ("5xx error", "no answer"):
                self.problems.append(
                    {
                        "wall": time.time(),
                        "role": role,
                        "endpoint": endpoint,
                        "status": resp.status,
                        "ms": round(resp.ms, 1),
                        "request_id": resp.headers.get("x-request-id", ""),
                        "body": resp.body[:300].decode("utf-8", "replace") or resp.error,
                    }
                )

    def sample(self, name: str, ms: float) -> None:
        with self.lock:
            self.latency[name].append(ms)

    def add(self, sub: Submission) -> None:
        with self.lock:
            self.subs.append(sub)

    def export(self) -> dict:
        with self.lock:
            return {
                "counts": [[*k, v] for k, v in self.counts.items()],
                "latency": dict(self.latency),
                "subs": [asdict(s) for s in self.subs],
                "problems": list(self.problems),
                "given_up": dict(self.given_up),
                "reasons": [[*k, v] for k, v in self.reasons.items()],
            }

    def merge(self, data: dict) -> None:
        with self.lock:
            for role, endpoint, kind, n in data["counts"]:
                self.counts[(role, endpoint, kind)] += n
            for name, values in data["latency"].items():
                self.latency[name].extend(values)
            self.subs.extend(Submission(**s) for s in data["subs"])
            self.problems.extend(data["problems"])
            self.given_up.update(data["given_up"])
            for role, what, message, n in data["reasons"]:
                self.reasons[(role, what, message)] += n


@dataclass
class Ctx:
    port: int
    start: float  # perf_counter of the load's start in this process
    seconds: float
    poll: float
    think: tuple[float, float]
    seed: int
    stop_flag: threading.Event = field(default_factory=threading.Event)

    @property
    def stop(self) -> float:
        return self.start + self.seconds

    @property
    def deadline(self) -> float:
        return self.stop + DRAIN_SECONDS

    def sleep_until(self, moment: float) -> None:
        delay = moment - perf()
        if delay > 0:
            time.sleep(delay)


class Http:
    """One client: its token, a fresh loopback connection per request (Connection: close)."""

    def __init__(self, ctx: Ctx, token: str, rec: Recorder, role: str, name: str = "") -> None:
        self.ctx, self.token, self.rec, self.role, self.name = ctx, token, rec, role, name or role

    def call(self, method: str, path: str, endpoint: str, payload: dict | None = None) -> Response:
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "close"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.ctx.port, timeout=60)
        started = perf()
        try:
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            data = answer.read()
            resp = Response(answer.status, 0.0, {k.lower(): v for k, v in answer.getheaders()}, data)
        except (OSError, http.client.HTTPException) as exc:
            resp = Response(0, 0.0, {}, b"", f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        resp.ms = (perf() - started) * 1000
        self.rec.request(self.role, endpoint, resp)
        return resp

    def backoff(self, resp: Response) -> None:
        """Respect Retry-After (1 s when there is none, or no answer), never past the deadline."""
        time.sleep(max(0.0, min(resp.retry_after or 1.0, self.ctx.deadline - perf())))


def settle(sub: Submission, data: dict) -> None:
    sub.status = str(data.get("status", ""))
    if not sub.ended:
        return
    if sub.ended_perf is None:  # the first time it is seen finished
        sub.ended_perf, sub.ended_wall = perf(), time.time()
    sub.failure = str(data.get("failure", ""))
    if data.get("finished"):
        sub.finished_wall = datetime.fromisoformat(data["finished"]).timestamp()
    timings = data.get("timings") or {}
    sub.queued_ms = timings.get("queued_ms")
    sub.compile_ms = timings.get("compile_ms")


def poll_once(client: Http, sub: Submission) -> Response:
    resp = client.call("GET", f"/api/v1/compilations/{sub.id}", RESULT)
    if resp.status == 200:
        settle(sub, resp.json())
    elif resp.status != 404:
        client.backoff(resp)
    return resp


def submit(client: Http, source: str, wait: float, until: float, respect_retry_after: bool = True):
    """POST until accepted or ``until``; returns (Submission | None, last Response)."""
    first = perf()
    refusals = 0
    while True:
        started = perf()
        resp = client.call("POST", "/api/v1/compile", COMPILE, {"source": source, "wait": wait})
        if resp.status in (200, 202):
            data = resp.json()
            sub = Submission(data["id"], client.role, client.name, time.time(), started, first, refusals)
            settle(sub, data)  # finished within ``wait``: ended now (its details come with the result)
            client.rec.add(sub)
            return sub, resp
        if resp.status in (429, 503) or resp.status == 0:
            refusals += 1
            if respect_retry_after:
                client.backoff(resp)
            if perf() < until:
                continue
        if resp.status != 400:
            client.rec.given_up[client.role] += 1
        return None, resp


class Tracker(threading.Thread):
    """Follows a client's accepted submissions to their end (abusive clients don't wait)."""

    def __init__(self, client: Http, pace: float) -> None:
        super().__init__(daemon=True)
        self.client, self.pace = client, pace
        self.pending: list[Submission] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()  # no more submissions will come

    def add(self, sub: Submission) -> None:
        if not sub.ended:
            with self.lock:
                self.pending.append(sub)

    def outstanding(self) -> int:
        with self.lock:
            return len(self.pending)

    def run(self) -> None:
        ctx = self.client.ctx
        while perf() < ctx.deadline:
            with self.lock:
                batch = list(self.pending)
            if not batch:
                if self.closed.is_set():
                    return
                time.sleep(0.1)
                continue
            for sub in batch:
                if perf() >= ctx.deadline:
                    return
                poll_once(self.client, sub)
                if sub.ended:
                    with self.lock:
                        self.pending.remove(sub)
                time.sleep(self.pace)


# --- the clients ---------------------------------------------------------------------------


def developer(ctx: Ctx, index: int, token: str, rec: Recorder) -> None:
    client = Http(ctx, token, rec, "developer", f"dev{index}")
    rng = random.Random(ctx.seed * 1000 + index)
    finished: list[str] = []
    viewed: set[str] = set()
    n = 0
    ctx.sleep_until(ctx.start + rng.uniform(0, ctx.think[1]))  # developers do not start in step
    while perf() < ctx.stop:
        n += 1
        roll = rng.random()
        if roll < 0.05:
            resp = client.call("POST", "/api/v1/format", FORMAT, {"source": unformatted_program(f"dev{index}", n)})
            if resp.status == 200:
                rec.sample("format", resp.ms)
        elif roll < 0.20 and finished:
            cid = rng.choice(finished)
            resp = client.call("GET", f"/s/{cid}", PAGE)
            if resp.status == 200:
                rec.sample("page re-read" if cid in viewed else "page first view", resp.ms)
                viewed.add(cid)
            resp = client.call("GET", f"/api/v1/compilations/{cid}", RESULT)
            if resp.status == 200 and resp.json().get("status") in ("done", "failed"):
                rec.sample("api json finished", resp.ms)
        else:
            cid = compile_and_follow(ctx, client, rng, f"dev{index}", n)
            if cid:
                finished.append(cid)
                if rng.random() < 0.5:
                    resp = client.call("GET", f"/s/{cid}", PAGE)
                    if resp.status == 200:
                        rec.sample("page first view", resp.ms)
                        viewed.add(cid)
        ctx.sleep_until(min(ctx.stop, perf() + rng.uniform(*ctx.think)))


def compile_and_follow(ctx: Ctx, client: Http, rng: random.Random, who: str, n: int) -> str | None:
    wait = float(rng.randint(0, 5))
    sub, resp = submit(client, small_program(who, n), wait, ctx.stop)
    if sub is None:
        return None
    read_result = False
    while not sub.ended and perf() < ctx.deadline:
        time.sleep(ctx.poll)
        resp = poll_once(client, sub)
        read_result = resp.status == 200
    if not sub.ended:
        return None  # reported as not ended
    if read_result:
        client.rec.sample("api json finished", resp.ms)
    else:  # finished within the POST's wait: read the result, as a developer would
        resp = client.call("GET", f"/api/v1/compilations/{sub.id}", RESULT)
        if resp.status == 200:
            settle(sub, resp.json())
            client.rec.sample("api json finished", resp.ms)
    client.rec.sample("compile POST -> done", (sub.ended_perf - sub.post_perf) * 1000)
    client.rec.sample("compile 1st attempt -> done", (sub.ended_perf - sub.first_perf) * 1000)
    return sub.id if sub.status == "done" else None


def bomber(ctx: Ctx, token: str, rec: Recorder, inflight: int, depth: int) -> None:
    client = Http(ctx, token, rec, "bomb")
    tracker = Tracker(Http(ctx, token, rec, "bomb"), pace=0.25)
    tracker.start()
    begin, end = ctx.start + ctx.seconds / 4, ctx.start + ctx.seconds * 3 / 4
    ctx.sleep_until(begin)
    n = 0
    while perf() < end:
        if tracker.outstanding() >= inflight:
            time.sleep(0.2)
            continue
        n += 1
        sub, _ = submit(client, bomb_program(n, depth), 0.0, end)
        if sub is not None:
            tracker.add(sub)
    tracker.closed.set()
    tracker.join()


def flood_process(port: int, token: str, start_wall: float, seconds: float, poll: float, out) -> None:
    """The flood client, in a process of its own; sends its Recorder back through ``out``."""
    rec = Recorder()
    ctx = Ctx(port, perf() + (start_wall - time.time()), seconds, poll, (0, 0), 0)
    client = Http(ctx, token, rec, "flood")
    tracker = Tracker(Http(ctx, token, rec, "flood"), pace=0.1)
    tracker.start()
    ctx.sleep_until(ctx.start)
    cpu = os.times()
    n = 0
    while perf() < ctx.stop:
        n += 1
        sub, _ = submit(client, small_program("flood", n), 0.0, 0.0, respect_retry_after=False)
        if sub is not None:
            tracker.add(sub)
    at_stop = os.times()
    rec.given_up.clear()  # a flood does not retry: its refusals are counted as such
    tracker.closed.set()
    tracker.join()
    data = rec.export()
    data["cpu"] = (at_stop.user - cpu.user) + (at_stop.system - cpu.system)  # during the load
    out.put(data)


# --- the report ---------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def latency_row(name: str, v: list[float]) -> str:
    if not v:
        return f"  {name:52} {0:6}        -"
    return f"  {name:52} {len(v):6} {pct(v, 50):8.0f} {pct(v, 95):8.0f} {pct(v, 99):8.0f} {max(v):8.0f}"


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (guest time is
    already in user time)."""
    user, nice, system, idle, iowait, irq, softirq, steal = (
        int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (busy + idle + iowait) / tick


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores ({model or platform.machine()}), {mem:.0f} GiB, {platform.system()} {platform.release()}"


def db_rows(stack: Stack, query: str, args: tuple = ()) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(f"file:{stack.database}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute(query, args).fetchall()


def grep_logs(stack: Stack, needle: str, limit: int = 4) -> list[str]:
    found = []
    for name in ("web", "worker-fast", "worker-slow"):
        path = stack.log(name)
        if not path.exists():
            continue
        with open(path, errors="replace") as f:
            found += [f"{name}: {line.rstrip()[:400]}" for line in f if needle in line]
    return found[-limit:]


def escalations(stack: Stack) -> dict[str, float]:
    """When each job moved to the slow lane, from the fast-lane worker's log."""
    moved = {}
    path = stack.log("worker-fast")
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if "moved to the slow lane" in line:
                with contextlib.suppress(ValueError, KeyError):
                    entry = json.loads(line)
                    moved[entry["job"]] = datetime.fromisoformat(entry["ts"]).timestamp()
    return moved


def report(args, stack: Stack, settings: dict, rec: Recorder, times: dict) -> int:
    topo = stack.topology
    t0_wall, stop_wall = times["start_wall"], times["start_wall"] + args.seconds
    share = settings["MAX_CLIENT_JOBS"] * settings["TOKEN_LIMIT_FACTOR"]
    print(f"# machine: {machine()}; the load generator runs on the same machine")
    print(
        f"# stack: gunicorn {topo.web_workers} workers x {topo.web_threads} threads, Celery fast lane"
        f" -c{topo.fast_concurrency} + slow lane -c{topo.slow_concurrency}, Redis, {settings['DATABASE']} (scratch)"
    )
    lanes = settings["LANE_LIMITS"]
    print(
        f"# settings: MAX_QUEUED_JOBS={settings['MAX_QUEUED_JOBS']} MAX_CLIENT_JOBS={settings['MAX_CLIENT_JOBS']}"
        f" (x{settings['TOKEN_LIMIT_FACTOR']} per token = {share}) CLIENT_MAX_RUNNING={settings['CLIENT_MAX_RUNNING']}"
        f" RATE_SUBMIT={settings['RATE_SUBMIT']} RATE_READ={settings['RATE_READ']} (x{settings['TOKEN_LIMIT_FACTOR']}"
        f" per token) lanes fast {lanes['fast']['wall_seconds']:g} s / slow {lanes['slow']['wall_seconds']:g} s"
        f" WAIT_SLOTS={settings['WAIT_SLOTS']}/process COMPILE_WAIT_SECONDS={settings['COMPILE_WAIT_SECONDS']:g}"
        f" API_TOKENS={settings['API_TOKENS']}"
    )
    print(
        f"# load: {args.clients} clients ({args.clients - 2} developers, 1 bomb, 1 flood), {args.seconds:g} s,"
        f" think {args.think[0]:g}-{args.think[1]:g} s, poll {args.poll:g} s, wait 0..5 s, seed {args.seed};"
        f" bombs depth {args.bomb_depth}, {args.bomb_inflight} in flight, from {args.seconds / 4:g} s"
        f" to {args.seconds * 3 / 4:g} s; drain limit {DRAIN_SECONDS:g} s"
    )
    used = {**times["stack_cpu"], "load generator": times["gen_cpu"]}
    other = times["busy"] - sum(used.values())
    print(
        f"# CPU during the load: machine {times['busy']:.0f} of {times['total']:.0f} CPU-s busy"
        f" ({times['busy'] / max(1e-9, times['total']):.0%}): "
        + ", ".join(f"{k} {v:.1f}" for k, v in used.items())
        + f", other {other:.1f} (sandboxed compilers: not reaped into their workers' accounts; anything else)"
    )

    print("\nrequests by status".ljust(44) + "".join(f"{o:>12}" for o in OUTCOMES))
    rows = sorted({(r, e) for r, e, _ in rec.counts})
    for role in ("developer", "bomb", "flood"):
        for r, e in rows:
            if r == role:
                cells = "".join(f"{rec.counts[(r, e, o)]:12}" for o in OUTCOMES)
                print(f"  {r:9} {e:32}{cells}")
    totals = Counter()
    for (_, _, o), n in rec.counts.items():
        totals[o] += n
    print(f"  {'all':42}" + "".join(f"{totals[o]:12}" for o in OUTCOMES))

    print("\nsubmissions          attempts  accepted  refused 429  refused 503   done  failed  not ended  gave up")
    for role in ("developer", "bomb", "flood"):
        subs = [s for s in rec.subs if s.role == role]
        c = {o: rec.counts[(role, COMPILE, o)] for o in OUTCOMES}
        failures = Counter(s.failure for s in subs if s.status == "failed")
        print(
            f"  {role:18} {sum(c.values()):9} {len(subs):9} {c['429']:12} {c['503 refused']:12}"
            f" {sum(s.status == 'done' for s in subs):6} {sum(s.status == 'failed' for s in subs):7}"
            f" {sum(not s.ended for s in subs):10} {rec.given_up[role]:8}"
            + (f"   failed: {dict(failures)}" if failures else "")
        )

    if rec.reasons:
        print("\nrefusals (429/503) by reason")
        for (role, what, message), n in sorted(rec.reasons.items()):
            print(f"  {role:9} {what:36} {n:6}  {message}")

    print("\nlatency, developers (ms)".ljust(55) + f"{'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for name, label in (
        ("compile POST -> done", "compile: accepted POST -> done"),
        ("compile 1st attempt -> done", "compile: 1st attempt -> done (refusals incl.)"),
        ("page first view", "/s/<id> page of a finished result, 1st view"),
        ("page re-read", "/s/<id> page, re-read (cached per process)"),
        ("api json finished", "API JSON of a finished result"),
        ("format", "POST /api/v1/format (200s)"),
    ):
        print(latency_row(label, rec.latency.get(name, [])))

    # The queue wait of developers' programs, by where the bomb client's work was when they were accepted.
    bombs = [s for s in rec.subs if s.role == "bomb"]
    escalated = escalations(stack)
    in_fast = [(b.accepted_wall, escalated.get(b.id, b.ended_wall or float("inf"))) for b in bombs]
    in_slow = [(escalated[b.id], b.ended_wall or float("inf")) for b in bombs if b.id in escalated]
    groups: dict[str, tuple[list[float], list[float]]] = {
        "a bomb in the fast lane": ([], []),
        "bombs only in the slow lane": ([], []),
        "no bomb in flight": ([], []),
    }
    for s in rec.subs:
        if s.role != "developer" or s.status != "done" or s.queued_ms is None:
            continue
        if any(a <= s.accepted_wall <= b for a, b in in_fast):
            group = "a bomb in the fast lane"
        elif any(a <= s.accepted_wall <= b for a, b in in_slow):
            group = "bombs only in the slow lane"
        else:
            group = "no bomb in flight"
        groups[group][0].append(s.queued_ms)
        groups[group][1].append((s.ended_perf - s.post_perf) * 1000)
    print(
        "\ndevelopers' programs, by the bomb client's work (ms)".ljust(55)
        + f"{'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}"
    )
    for group, (queued, total) in groups.items():
        print(latency_row(f"queued (server side), {group}", queued))
        print(latency_row(f"POST -> done, {group}", total))

    done = [s for s in rec.subs if s.status == "done" and s.finished_wall]
    in_load = [s for s in done if t0_wall <= s.finished_wall <= stop_wall]
    last = max((s.finished_wall for s in done), default=stop_wall)
    print(
        f"\nthroughput: {len(in_load) / args.seconds:.2f} distinct compiles done/s during the load"
        f" ({len(in_load)} in {args.seconds:g} s); {len(done) / max(1e-9, last - t0_wall):.2f}/s overall"
        f" ({len(done)} done by +{last - t0_wall:.0f} s)"
    )
    ended = [s.ended_wall for s in rec.subs if s.ended_wall]
    print(
        f"drain: the last accepted submission ended {max(ended, default=stop_wall) - stop_wall:.1f} s after the load stopped"
    )

    # Bombs: did they move to the slow lane, and how did they end?
    if bombs:
        ids = [b.id for b in bombs]
        marks = ",".join("?" * len(ids))
        found = db_rows(
            stack, f"SELECT lane, status, failure FROM explorer_compilation WHERE id IN ({marks})", tuple(ids)
        )
        lanes_seen = Counter(f"{lane}/{status}{'/' + failure if failure else ''}" for lane, status, failure in found)
        compile_s = [b.compile_ms / 1000 for b in bombs if b.compile_ms]
        moved = sum(1 for lane, _, _ in found if lane == "slow")
        print(
            f"bombs: {len(bombs)} accepted, {moved} moved to the slow lane; lane/status: {dict(lanes_seen)};"
            f" sandbox wall time: {', '.join(f'{x:.1f}' for x in compile_s) or '-'} s"
        )
        if moved < len(bombs):
            print("  WARNING: some bombs never reached the slow lane")

    # Verdict.
    failed = False
    lost = [s for s in rec.subs if not s.ended]
    errors = rec.problems
    if errors:
        failed = True
        print(f"\nFAIL: {len(errors)} requests got a 5xx (other than deliberate refusals) or no answer:")
        by_kind = Counter((p["endpoint"], p["status"], p["body"][:120]) for p in errors)
        for (endpoint, status, body), n in by_kind.most_common(10):
            print(f"  {n:5} x {endpoint} -> {status}: {body}")
        for p in errors[:5]:
            if p["request_id"]:
                for line in grep_logs(stack, p["request_id"], 3):
                    print(f"    {line}")
    if lost:
        failed = True
        print(
            f"\nFAIL: {len(lost)} accepted submissions did not end within {DRAIN_SECONDS:g} s after the load stopped:"
        )
        for s in lost[:10]:
            comp = db_rows(
                stack, "SELECT status, lane, failure, created, started FROM explorer_compilation WHERE id=?", (s.id,)
            )
            job = db_rows(
                stack,
                "SELECT state, lane, attempts, worker, claimed_at, lease_until FROM explorer_job WHERE target=?",
                (s.id,),
            )
            print(f"  {s.role} {s.id}: last seen {s.status!r}; compilation {comp}; job {job}")
            for line in grep_logs(stack, s.id, 4):
                print(f"    {line}")
    if failed:
        stack.keep = True
        print(f"\nlogs and database: {stack.scratch}")
        return 1
    print("\nOK: no 5xx errors, no request without an answer, every accepted submission ended.")
    return 0


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="clients, 2 of them abusive (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load lasts (default 60)")
    parser.add_argument("--think", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between two polls of a pending result")
    parser.add_argument("--bomb-inflight", type=int, default=3, help="bombs the bomb client keeps outstanding")
    parser.add_argument("--bomb-depth", type=int, default=BOMB_DEPTH)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, database)")
    args = parser.parse_args()
    if args.clients < 3:
        parser.error("--clients: at least 3 (2 are abusive)")

    tokens = {f"lt{i:03d}": secrets.token_urlsafe(24) for i in range(args.clients + 1)}
    names = list(tokens)
    warmup, dev_names, bomb_name, flood_name = names[0], names[1:-2], names[-2], names[-1]
    rec = Recorder()
    with scratch_stack(tokens=tokens, keep=args.keep, prefix="ee-load-") as stack:
        settings = stack.settings()
        port = int(stack.base.rsplit(":", 1)[1])
        # One compile first, so the first clients do not measure the workers' start.
        warm = Http(Ctx(port, perf(), 0, 0, (0, 0), 0), tokens[warmup], Recorder(), "warmup")
        warm.call("POST", "/api/v1/compile", COMPILE, {"source": small_program("warmup", 0), "wait": 10})

        start_wall = time.time() + 1.0
        spawn = multiprocessing.get_context("spawn")
        out = spawn.Queue()
        flood = spawn.Process(
            target=flood_process, args=(port, tokens[flood_name], start_wall, args.seconds, args.poll, out)
        )
        flood.start()
        ctx = Ctx(port, perf() + (start_wall - time.time()), args.seconds, args.poll, tuple(args.think), args.seed)
        threads = [
            threading.Thread(target=developer, args=(ctx, i, tokens[name], rec), daemon=True)
            for i, name in enumerate(dev_names)
        ]
        threads.append(
            threading.Thread(
                target=bomber, args=(ctx, tokens[bomb_name], rec, args.bomb_inflight, args.bomb_depth), daemon=True
            )
        )
        ctx.sleep_until(ctx.start)
        cpu0, machine0, stack0 = os.times(), machine_cpu(), stack.cpu_seconds()
        for t in threads:
            t.start()
        print(f"# load running for {args.seconds:g} s ...", file=sys.stderr, flush=True)
        ctx.sleep_until(ctx.stop)
        cpu1, machine1, stack1 = os.times(), machine_cpu(), stack.cpu_seconds()
        print(f"# load stopped; following the remaining submissions (up to {DRAIN_SECONDS:g} s) ...", file=sys.stderr)
        for t in threads:
            t.join(max(0.0, ctx.deadline - perf()) + 5)
        flood_data = out.get(timeout=max(0.0, ctx.deadline - perf()) + 60)
        flood.join(30)
        rec.merge(flood_data)
        main_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        times = {
            "start_wall": start_wall,
            "busy": machine1[0] - machine0[0],
            "total": machine1[1] - machine0[1],
            "stack_cpu": {k: stack1[k] - stack0[k] for k in stack0},
            "gen_cpu": main_cpu + flood_data.get("cpu", 0.0),
        }
        return report(args, stack, settings, rec, times)


if __name__ == "__main__":
    sys.exit(main())
