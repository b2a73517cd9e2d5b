"""Celery tasks: the only module that bridges the engine to the database.

``run_next(lane)`` is a wake-up call: it claims the best job of its lane from the queue
of record (explorer/jobs.py), runs it under that lane's limits, stores the result, and
goes on with the next one while there is work it may take. ``format_source`` runs gofmt
for the web process, which waits for its result. Every worker process also runs the
reconciler and a heartbeat in a thread of its main process (:func:`start_background`).
"""

from __future__ import annotations

import dataclasses
import gc
import gzip
import logging
import threading
import time

import orjson
from celery import shared_task, signals
from django.conf import settings
from django.db import close_old_connections

from . import compiler, sandbox, ssa
from .inputs import InvalidInput, join_files, split_files

log = logging.getLogger("worker.tasks")
INTERNAL_ERROR = "Something went wrong on our side while {doing}. Try again; if it persists, tell us."


def request_of(comp, groups: tuple[str, ...], limits: sandbox.Limits | None = None) -> compiler.CompileRequest:
    """The engine's request for a stored compilation's input and settings."""
    return compiler.CompileRequest(
        files=split_files(comp.source),
        go=comp.go,
        goarch=comp.goarch,
        lang=comp.lang,
        groups=groups,
        limits=limits or sandbox.Limits(),
        options=comp.options,
    )


def lane_limits(lane: str) -> sandbox.Limits:
    return dataclasses.replace(sandbox.Limits(), **settings.LANE_LIMITS[lane])


@dataclasses.dataclass
class Outcome:
    fields: dict
    escalate: bool = False  # hit the fast lane's time limit: run again in the slow lane


def _failed(failure: str, error: str, **fields) -> Outcome:
    return Outcome({"status": "failed", "failure": failure, "error": error, **fields})


def _escalates(lane: str, limit: str) -> bool:
    return lane == "fast" and limit in ("time", "cpu")


def compile_outcome(comp, lane: str) -> Outcome:
    from explorer.models import compress_analysis

    try:
        analysis = compiler.compile_request(request_of(comp, comp.group_list, lane_limits(lane)))
        analysis.timings.queued_ms = max(0.0, (comp.started - comp.created).total_seconds() * 1000)
    except InvalidInput as exc:
        return _failed("input", str(exc), analysis_gz=None, raw_output_gz=None)
    except Exception:
        log.exception("compilation %s failed", comp.pk)
        return _failed("internal", INTERNAL_ERROR.format(doing="compiling"), analysis_gz=None, raw_output_gz=None)
    if analysis.status == "limit" and _escalates(lane, analysis.limit):
        return Outcome({}, escalate=True)
    # The raw output (mostly assembly listing) is kept apart, compressed: it is only
    # read by /s/<id>/raw, and it would double the JSON every page load parses. A big
    # program's was compressed while the compiler printed it (worker/streaming.py).
    raw, raw_output = analysis._raw_output_gz, analysis.raw_output
    analysis.raw_output, analysis._raw_output_gz = "", None
    if raw is not None:
        packed = compress_analysis(analysis)
    else:
        packed, raw = _compress_with_raw(analysis, raw_output.encode("utf-8"))
    fields = {
        "analysis_gz": packed,
        "raw_output_gz": raw,
        "stored_bytes": len(comp.source.encode("utf-8")) + len(packed) + len(raw),
    }
    if analysis.status == "limit":
        return _failed("limit", " ".join(analysis.errors), **fields)
    return Outcome({"status": "done", "failure": "", "error": "", **fields})


def _compress_with_raw(analysis, raw_output: bytes) -> tuple[bytes, bytes]:
    """The stored analysis and raw output (gzip level 1: it is rarely read). A large raw
    output is compressed in a thread while the analysis is: zlib lets go of the GIL."""
    from explorer.models import compress_analysis

    if len(raw_output) < 256 * 1024:  # a thread's start would cost more than it saves
        return compress_analysis(analysis), gzip.compress(raw_output, compresslevel=1)
    compressed: list[bytes] = []
    thread = threading.Thread(
        target=lambda: compressed.append(gzip.compress(raw_output, compresslevel=1)), name="ee-compress-raw"
    )
    thread.start()
    packed = compress_analysis(analysis)
    thread.join()
    return packed, compressed[0] if compressed else gzip.compress(raw_output, compresslevel=1)  # the thread failed


def ssa_outcome(dump, lane: str) -> Outcome:
    comp = dump.compilation
    try:
        request = request_of(comp, (), lane_limits(lane))
        # The stored function list when the assembly was collected; else the engine finds it.
        functions = ssa.functions_of_analysis(comp.analysis) or None
        html = ssa.ssa_html(request, dump.function, functions)
    except ssa.LimitHit as exc:
        if _escalates(lane, exc.limit):
            return Outcome({}, escalate=True)
        return _failed("limit", str(exc), html_gz=None)
    except InvalidInput as exc:
        return _failed("input", str(exc), html_gz=None)
    except Exception:
        log.exception("SSA of %s in %s failed", dump.function, comp.pk)
        return _failed("internal", INTERNAL_ERROR.format(doing="writing the SSA"), html_gz=None)
    html_gz = gzip.compress(html.encode("utf-8"), compresslevel=6)
    return Outcome({"status": "done", "failure": "", "error": "", "html_gz": html_gz})


def measure_outcome(measurement) -> Outcome:
    """Build and run a compilation's program (worker/measure.py) in the run sandbox."""
    from . import measure

    comp = measurement.compilation
    try:
        request = measure.MeasureRequest(
            files=split_files(comp.source),
            go=comp.go,
            goarch=comp.goarch,
            lang=comp.lang,
            options=comp.options,
            limits=dataclasses.replace(measure.run_sandbox.RunLimits(), **settings.RUN_LIMITS),
            benchtime=settings.RUN_BENCHTIME,
        )
        result = measure.measure(request)
    except InvalidInput as exc:
        return _failed("input", str(exc), result_gz=None)
    except Exception:
        log.exception("measurement of %s failed", comp.pk)
        return _failed("internal", INTERNAL_ERROR.format(doing="running the program"), result_gz=None)
    packed = gzip.compress(orjson.dumps(result), compresslevel=6)
    # A program that hit a limit, crashed or did not build still has a result to show.
    return Outcome({"status": "done", "failure": "", "error": "", "result_gz": packed})


def run_job(job) -> tuple[str, object]:
    """Run one claimed job to its end (done, failed or moved to the slow lane); returns how
    it ended and its target (None when it was deleted meanwhile)."""
    from explorer import jobs
    from explorer.models import Job

    started = time.perf_counter()
    target = jobs.target_of(job)
    if target is None:  # deleted meanwhile (pruned): nothing to do
        jobs.finish(job, {})
        return "missing", None
    if job.kind == Job.Kind.COMPILE:
        outcome = compile_outcome(target, job.lane)
    elif job.kind == Job.Kind.RUN:
        outcome = measure_outcome(target)
    else:
        outcome = ssa_outcome(target, job.lane)
    if outcome.escalate:
        jobs.escalate(job)
        result = "escalated"
    else:
        jobs.finish(job, outcome.fields)
        result = outcome.fields["status"]
    log.info(
        "%s %s %s in %.0f ms",
        job.kind,
        job.target,
        result,
        (time.perf_counter() - started) * 1000,
        extra={
            "job": job.target,
            "kind": job.kind,
            "lane": job.lane,
            "attempt": job.attempts,
            "client": job.client,
            "outcome": result,
            "failure": outcome.fields.get("failure", ""),
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return result, target


@shared_task(name="worker.run_next", bind=True, acks_late=True, ignore_result=True)
def run_next(self, lane: str, go: str = "") -> int:
    """Take and run the best job of ``lane`` this worker may take, if any.

    One job per message: whatever else waits in the lane's queue (gofmt requests, other
    wake-ups) comes next in turn. When more work is waiting than wake-ups are queued
    (another client's job became eligible when this one ended), one more is sent.
    """
    from explorer import jobs

    # The connection is kept between tasks (settings.CELERY_DB_REUSE_MAX): one broken since
    # (a database restart) is replaced, here or by the retries.
    close_old_connections()
    job = jobs.with_database_retries(lambda: jobs.claim(lane, jobs.worker_id(), self.request.id or "", go=go or None))
    if job is None:
        return 0
    _, target = run_job(job)
    jobs.wake_if_owed(lane, job.go)
    if job.kind == job.Kind.COMPILE:
        prepare_next_compile(job.go, lane, target)
    return 1


def prepare_next_compile(go: str, lane: str, like=None) -> None:
    """Start the sandbox of this process's next compile now, while nobody waits: most
    likely the same toolchain and lane as the one just done, and a program of the same
    shape as ``like`` (a Compilation: its files' names, package and settings), whose
    compiler is started too (worker/prestart.py). EXPLORER_SANDBOX_AHEAD=0 turns it off."""
    if not settings.SANDBOX_AHEAD:
        return
    try:
        limits = lane_limits(lane)
        shape = None
        if like is not None:
            try:
                shape = request_of(like, like.group_list, limits)
            except InvalidInput:  # a stored source that no longer splits: the default shape
                shape = None
        compiler.prepare_sandbox(go or None, limits, shape)
    except Exception:  # the next compile starts its own sandbox, as without
        log.exception("could not start a sandbox ahead")


@shared_task(name="worker.format", acks_late=False, ignore_result=False)
def format_source(source: str, go: str | None) -> dict:
    """gofmt for the web process: {"source": …} or {"error": …} (a message for the user)."""
    try:
        files = split_files(source)
        return {"source": join_files(compiler.format_source(files, go))}
    except InvalidInput as exc:
        return {"error": str(exc)}


# --- in every worker's main process ------------------------------------------------------


@signals.task_failure.connect
def _on_task_failure(sender=None, task_id=None, exception=None, **kwargs):
    """A pool process died mid-task (kill -9, OOM killer): its job is queued again at once."""
    from billiard.exceptions import WorkerLostError

    if isinstance(exception, WorkerLostError) and task_id:
        from explorer import jobs

        try:
            jobs.lost_task(task_id, f"pool process lost: {exception}")
        except Exception:
            log.exception("could not requeue the jobs of lost task %s", task_id)


def _background_loop(stop: threading.Event, queues: list[str], concurrency: int) -> None:
    from explorer import health, jobs

    next_prune = time.monotonic() + 60
    while not stop.is_set():
        close_old_connections()
        health.heartbeat(queues, concurrency)
        jobs.announce(queues, jobs.worker_id())
        if settings.RECONCILE_SECONDS > 0:
            jobs.reconcile_safely()
        if settings.PRUNE_EVERY_SECONDS > 0 and time.monotonic() >= next_prune:
            next_prune = time.monotonic() + settings.PRUNE_EVERY_SECONDS
            _prune_if_first()
        stop.wait(settings.RECONCILE_SECONDS or 5.0)


def _prune_if_first() -> None:
    """The hourly retention pass, by whichever worker takes the lock first."""
    from datetime import timedelta

    from explorer import broker, retention

    try:
        ttl = int(max(60, settings.PRUNE_EVERY_SECONDS - 60))
        if not broker.call(lambda c: c.set("ee:prune-lock", jobs_worker(), nx=True, ex=ttl)):
            return
        retention.prune(
            timedelta(days=settings.PRUNE_OLDER_THAN_DAYS),
            max_bytes=retention.parse_size(settings.STORAGE_BUDGET) if settings.STORAGE_BUDGET else 0,
        )
    except Exception:
        log.exception("pruning failed")


def jobs_worker() -> str:
    from explorer.jobs import worker_id

    return worker_id()


_stop = threading.Event()


@signals.worker_ready.connect
def start_background(sender=None, **kwargs):
    """The reconciler and the heartbeat, in a daemon thread of the worker's main process."""
    queues, concurrency = [], 0
    try:
        consumer = sender
        queues = sorted(q.name for q in consumer.task_consumer.queues)
        concurrency = consumer.pool.num_processes if consumer.pool else 0
    except Exception:  # a worker without a consumer (tests, solo pools): report what we can
        pass
    threading.Thread(
        target=_background_loop, args=(_stop, queues, concurrency), name="ee-reconciler", daemon=True
    ).start()


@signals.celeryd_after_setup.connect
def consume_per_toolchain(sender=None, instance=None, **kwargs):
    """A worker started with -Q ee.fast (a lane, or ee.format) also consumes that queue of
    each toolchain installed on its host (ee.fast.go1.27.3, …): work for a toolchain only
    reaches workers that have it (explorer/jobs.py queue_for)."""
    from . import toolchains

    queues = instance.app.amqp.queues
    chosen = list(queues.consume_from) if queues.consume_from else []
    bases = set(settings.LANE_QUEUES.values()) | {settings.FORMAT_QUEUE}
    for name in chosen:
        if name in bases:
            for tc in toolchains.installed():
                queues.select_add(f"{name}.go{tc.version}")
    # The compile lane this worker serves, if one: its pool processes start their first
    # sandbox ahead (prepare_first_compile), the pool being forked after this.
    global _compile_lane
    lanes = [lane for lane, queue in settings.LANE_QUEUES.items() if queue in chosen and lane != "run"]
    _compile_lane = lanes[0] if len(lanes) == 1 else ""


_compile_lane = ""


@signals.worker_process_init.connect
def prepare_first_compile(**kwargs):
    """A new pool process of a worker serving one compile lane starts the sandbox of its
    first compile (the newest toolchain, as most compiles ask) before any job comes."""
    if _compile_lane:
        prepare_next_compile("", _compile_lane)


@signals.worker_process_init.connect
def freeze_startup_objects(**kwargs):
    """Each pool process leaves what it loaded at start (Django, Celery, the engine: some
    hundred thousand objects) out of the garbage collector's full passes. A 500-line
    compile's analysis makes the collector run a full pass about every other compile, and
    each pass walked all of them (in a Django process compiling 500 lines 30 times: mean
    engine + storing 168-177 ms without, 153-158 ms with)."""
    gc.freeze()


@signals.worker_shutdown.connect
def stop_background(sender=None, **kwargs):
    _stop.set()
