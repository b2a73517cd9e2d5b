"""Turn what a user submitted into queued work: validate, key, admit, store, wake, wait.

Shared by the pages (views.py, review_views.py) and the JSON API (api.py). Nothing
here ever deletes a stored compilation, and reading one never queues work: a GET of a
permalink shows what is stored; only an explicit submission or re-run (a POST, counted
by the rate limits) creates work.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from worker import compiler, toolchains
from worker.compiler import CompileRequest, check_variant
from worker.flags import build_options
from worker.inputs import InvalidInput, decode_source, join_files, split_files

from . import admission, broker, done_listener, jobs, statements
from .clients import Client
from .models import (
    FINISHED,
    Compilation,
    Failure,
    Job,
    Lane,
    Measurement,
    SSADump,
    Status,
    admission_member,
    compilation_key,
)

log = logging.getLogger("explorer.submissions")

GO_VERSION_RE = re.compile(r"[0-9]{1,2}\.[0-9]{1,3}(?:\.[0-9]{1,3})?")
MAX_GROUPS = 16


class ServiceBusy(RuntimeError):
    """The work cannot be taken now; the user may try again after ``retry_after`` seconds.

    ``status`` is 429 when it is this client's own limit, 503 when it is the service's.
    """

    def __init__(self, message: str, retry_after: int = 10, status: int = 503):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


BROKER_DOWN = "The compile service is not reachable right now. Try again in a moment."


def normalise_groups(groups: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if not groups:
        return compiler.DIAGNOSTIC_GROUPS
    if len(groups) > MAX_GROUPS or not all(isinstance(g, str) for g in groups):
        raise InvalidInput(f"groups: at most {MAX_GROUPS} names, each one of {', '.join(compiler.DIAGNOSTIC_GROUPS)}.")
    unknown = [g for g in groups if g not in compiler.DIAGNOSTIC_GROUPS]
    if unknown:
        shown = ", ".join(repr(g[:40]) for g in unknown[:5])
        raise InvalidInput(
            f"Unknown diagnostic group(s): {shown}. Choose from {', '.join(compiler.DIAGNOSTIC_GROUPS)}."
        )
    return tuple(g for g in compiler.DIAGNOSTIC_GROUPS if g in groups)


def check_settings(go: str | None, goarch: str | None, lang: str | None) -> None:
    """Exact shapes before anything else looks at them (lengths, ASCII digits, no newlines)."""
    if go and not GO_VERSION_RE.fullmatch(go):
        raise InvalidInput(f"Go version {go[:40]!r} is not of the form 1.N.P (for example 1.27.3).")
    if goarch and goarch not in toolchains.GOARCHES:
        raise InvalidInput(f"GOARCH {goarch[:40]!r} is not one of {', '.join(toolchains.GOARCHES)}.")
    if lang and not compiler.LANG_RE.fullmatch(lang):
        raise InvalidInput(f"Language version {lang[:40]!r} is not of the form go1.N (for example go1.22).")


def _admit(kind: str, target: str, client: Client, lane: str, go: str = "") -> admission.Ticket:
    """A place in the queue, or ServiceBusy (429: the client's share; 503: the service's,
    or no worker running serves this toolchain)."""
    if go and lane == Lane.RUN and jobs.served(lane, go) is False:
        raise ServiceBusy(
            f"No runner for Go {go} is running right now, so programs cannot be measured. Try again later.",
            30,
            status=503,
        )
    if go and jobs.served(lane, go) is False:
        raise ServiceBusy(
            f"No compiler for Go {go} is running right now ({lane} lane): its workers are down or none "
            "serves it. Try again later, or choose another Go version.",
            30,
            status=503,
        )
    # A token's larger share, but never more than a quarter of the whole queue.
    share = min(settings.MAX_CLIENT_JOBS * client.factor, max(settings.MAX_CLIENT_JOBS, settings.MAX_QUEUED_JOBS // 4))
    cost = 1.0 if lane == Lane.FAST else 4.0
    try:
        return admission.admit(admission_member(kind, target, client.id), client.id, share=share, cost=cost)
    except admission.ClientShareFull as exc:
        raise ServiceBusy(str(exc), exc.retry_after, status=429) from exc
    except admission.QueueFull as exc:
        raise ServiceBusy(str(exc), exc.retry_after, status=503) from exc
    except broker.BrokerDown as exc:
        raise ServiceBusy(BROKER_DOWN, 10, status=503) from exc


def submit(
    source: str | bytes,
    go: str | None = None,
    goarch: str | None = None,
    lang: str | None = None,
    groups: list[str] | None = None,
    *,
    client: Client,
    flags: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Compilation:
    """Validate and queue (or find) the compilation of ``source``. Raises InvalidInput or ServiceBusy.

    A stored result is returned as it is, failures included (a program that hit a limit
    is not run again by submitting it again: see :func:`rerun`); only a failure on our
    side (a lost worker, an internal error) is run again.
    """
    check_settings(go, goarch, lang)
    text = decode_source(source)
    files = split_files(text)
    goarch = goarch or "amd64"
    tc = compiler.resolve_toolchain(go or None, goarch)
    lang = compiler.resolve_lang(tc, lang or None)
    group_tuple = normalise_groups(groups)
    options = build_options(flags, env, goarch)
    if options.variant and options.variant not in tc.variants(goarch):
        check_variant(tc, CompileRequest(files, go=tc.version, goarch=goarch, options=options))
    normalised = join_files(files)
    key = compilation_key(normalised, tc.version, goarch, lang, group_tuple, options)
    comp = statements.load(Compilation, key)  # the ORM's query, compiled once
    if comp is not None:
        return _requeue(comp, client, Lane.FAST) if comp.may_retry else comp
    lane = jobs.lane_for(client.id)
    ticket = _admit(Job.Kind.COMPILE, key, client, lane, tc.version)
    try:
        with transaction.atomic():
            comp = Compilation.objects.create(
                id=key,
                source=normalised,
                go=tc.version,
                goarch=goarch,
                lang=lang,
                groups=",".join(group_tuple),
                flags=" ".join(options.flags),
                env=" ".join(f"{k}={v}" for k, v in options.env),
                lane=lane,
            )
            jobs.create(Job.Kind.COMPILE, key, ticket, lane, tc.version)
    except IntegrityError:  # the same input submitted at the same moment
        admission.release(ticket.member, ticket.client)
        return Compilation.objects.get(pk=key)
    except Exception:
        admission.release(ticket.member, ticket.client)
        raise
    jobs.wake(lane, tc.version)
    return comp


def rerun(comp: Compilation, client: Client) -> Compilation:
    """An explicit request to run a failed compilation again (a program that hit a limit
    runs in the slow lane). A finished or pending one is returned as it is."""
    if comp.status != Status.FAILED:
        return comp
    lane = Lane.SLOW if comp.failure == Failure.LIMIT or comp.lane == Lane.SLOW else Lane.FAST
    return _requeue(comp, client, lane)


def _requeue(comp: Compilation, client: Client, lane: str) -> Compilation:
    ticket = _admit(Job.Kind.COMPILE, comp.pk, client, lane, comp.go)
    try:
        with transaction.atomic():
            changed = Compilation.objects.filter(pk=comp.pk, status=Status.FAILED).update(
                status=Status.QUEUED, failure="", error="", started=None, finished=None, created=timezone.now()
            )
            if changed:
                jobs.create(Job.Kind.COMPILE, comp.pk, ticket, lane, comp.go)
    except IntegrityError:
        changed = 0
    if not changed:  # someone else re-queued it at the same moment
        admission.release(ticket.member, ticket.client)
    else:
        jobs.wake(lane, comp.go)
    comp.refresh_from_db()
    return comp


def request_ssa(comp: Compilation, function: str, client: Client) -> SSADump:
    """Queue (or find) the SSA dump of one function of a finished compilation.

    ``function`` must already be checked against the compilation's functions (the
    worker checks again). Failures for the input's sake are final; ours are retried.
    """
    dump = SSADump.objects.filter(compilation=comp, function=function).first()
    if dump is not None and not dump.may_retry:
        return dump
    ticket = None
    try:
        with transaction.atomic():
            if dump is None:
                dump = SSADump.objects.create(compilation=comp, function=function)
            elif not SSADump.objects.filter(pk=dump.pk, status=Status.FAILED).update(
                status=Status.QUEUED, failure="", error="", started=None, finished=None, created=timezone.now()
            ):
                raise IntegrityError("re-queued meanwhile")
            # Admitted inside the transaction: a refusal leaves no row behind.
            ticket = _admit(Job.Kind.SSA, str(dump.pk), client, Lane.FAST, comp.go)
            jobs.create(Job.Kind.SSA, str(dump.pk), ticket, Lane.FAST, comp.go)
    except IntegrityError:  # the same function asked for at the same moment
        if ticket is not None:
            admission.release(ticket.member, ticket.client)
        return SSADump.objects.get(compilation=comp, function=function)
    except Exception:
        if ticket is not None:
            admission.release(ticket.member, ticket.client)
        raise
    jobs.wake(Lane.FAST, comp.go)
    dump.refresh_from_db()
    return dump


RUN_DISABLED = (
    "Running programs is turned off on this server (EXPLORER_RUN=0): only the compiler's decisions are shown."
)


def check_measurable(source: str, goarch: str | None) -> None:
    """Raise InvalidInput when a measurement cannot be asked for: running is off, the
    GOARCH cannot run here, or there is nothing to run."""
    from worker.measure import RUNNABLE_GOARCHES, check_runnable

    if not settings.RUN_ENABLED:
        raise InvalidInput(RUN_DISABLED)
    if (goarch or "amd64") not in RUNNABLE_GOARCHES:
        raise InvalidInput(
            f"Measuring runs the program: only GOARCH={'/'.join(RUNNABLE_GOARCHES)} programs can run on this server."
        )
    check_runnable(split_files(decode_source(source)))


def request_measurement(comp: Compilation, client: Client, again: bool = False) -> Measurement:
    """Queue (or find) the measurement of a compilation's program. A finished one is run
    again only when ``again`` (an explicit re-run); a failure on our side always is."""
    check_measurable(comp.source, comp.goarch)
    found = Measurement.objects.filter(compilation=comp).first()
    if found is not None and not found.may_retry and not (again and found.is_finished):
        return found
    ticket = None
    try:
        with transaction.atomic():
            if found is None:
                found = Measurement.objects.create(compilation=comp)
            elif not Measurement.objects.filter(pk=found.pk, status__in=FINISHED).update(
                status=Status.QUEUED,
                failure="",
                error="",
                started=None,
                finished=None,
                created=timezone.now(),
                result_gz=None,
            ):
                raise IntegrityError("re-queued meanwhile")
            ticket = _admit(Job.Kind.RUN, str(found.pk), client, Lane.RUN, comp.go)
            jobs.create(Job.Kind.RUN, str(found.pk), ticket, Lane.RUN, comp.go)
    except IntegrityError:  # asked for at the same moment
        if ticket is not None:
            admission.release(ticket.member, ticket.client)
        return Measurement.objects.get(compilation=comp)
    except Exception:
        if ticket is not None:
            admission.release(ticket.member, ticket.client)
        raise
    jobs.wake(Lane.RUN, comp.go)
    found.refresh_from_db()
    return found


# --- waiting briefly for a result ----------------------------------------------------------

_pools_lock = threading.Lock()
_pools: dict[str, threading.BoundedSemaphore] = {}


def _pool(setting: str) -> threading.BoundedSemaphore:
    """This process's places to wait (WAIT_SLOTS for results, FORMAT_SLOTS for gofmt),
    made on first use from the settings; reset() forgets them (tests change the sizes)."""
    with _pools_lock:
        if setting not in _pools:
            _pools[setting] = threading.BoundedSemaphore(max(1, getattr(settings, setting)))
        return _pools[setting]


def _wait_slots() -> threading.BoundedSemaphore:
    return _pool("WAIT_SLOTS")


def _format_slots() -> threading.BoundedSemaphore:
    return _pool("FORMAT_SLOTS")


def reset_waiting_places() -> None:
    with _pools_lock:
        _pools.clear()


def wait_for(
    work: Compilation | SSADump | Measurement, seconds: float | None = None, *, result: bool = True
) -> Compilation | SSADump | Measurement:
    """Wait up to ``seconds`` for a result, if a waiting place is free in this process.

    Waiting holds a web thread, so at most WAIT_SLOTS requests of a process wait at a
    time; the others get the pending state at once and poll. Workers announce finished
    work on Redis (jobs.notify); without Redis the database is polled.
    """
    if work.is_finished:
        return work
    seconds = settings.COMPILE_WAIT_SECONDS if seconds is None else seconds
    if seconds <= 0 or not _wait_slots().acquire(blocking=False):
        return work
    try:
        _wait(work, time.monotonic() + seconds, result)
    finally:
        _wait_slots().release()
    return work


def _wait(work: Compilation | SSADump | Measurement, deadline: float, result: bool = True) -> None:
    """Re-read ``work`` whenever a worker announces it finished (done_listener), at least
    every 0.5 s anyway, and every 50 ms while the announcements cannot be heard. A wait for
    the status alone (``result`` false) takes the status the announcement carries, stored
    before it was sent, instead of reading it back."""
    kind = {Compilation: Job.Kind.COMPILE, SSADump: Job.Kind.SSA, Measurement: Job.Kind.RUN}[type(work)]
    target = str(work.pk)
    listener = done_listener.listener()
    event = listener.register(kind, target)
    try:
        while not _refresh(work, result):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if listener.connected.is_set() or listener.connected.wait(min(0.05, remaining)):
                event.wait(min(0.5, deadline - time.monotonic()))
                announced = getattr(event, "status", "")
                if not result and announced in FINISHED:  # as stored: no need to read it back
                    work.status = announced
                    return
                event.clear()
    finally:
        listener.unregister(kind, target, event)


def _refresh(work: Compilation | SSADump, result: bool = True) -> bool:
    statements.refresh(work, ("status", "failure", "error", "started", "finished"))
    if work.is_finished and result:
        statements.refresh(work)  # the result itself
    return work.is_finished


# --- gofmt, through the workers ----------------------------------------------------------------


def format_source(source: str, go: str | None) -> str:
    """gofmt in a worker's sandbox; raises InvalidInput (the user's) or ServiceBusy."""
    from worker.tasks import format_source as format_task

    check_settings(go, None, None)
    text = decode_source(source)
    split_files(text)  # the same checks as a compile, before taking a worker's time
    if go and toolchains.get(go) is None:
        raise InvalidInput(f"Go {go} is not installed here.")
    if not _format_slots().acquire(blocking=False):
        raise ServiceBusy("The server is busy formatting other programs. Try again in a moment.", 2, status=503)
    try:
        try:
            version = go or (toolchains.get().version if toolchains.get() else "")
            queue = f"{settings.FORMAT_QUEUE}.go{version}" if version else settings.FORMAT_QUEUE
            pending = format_task.apply_async((text, version or None), queue=queue, retry=False)
        except Exception as exc:
            raise ServiceBusy(BROKER_DOWN, 10) from exc
        try:
            result = pending.get(timeout=settings.FORMAT_WAIT_SECONDS, propagate=True)
        except Exception as exc:
            log.warning("format did not finish: %s", exc)
            raise ServiceBusy("Formatting did not finish in time: the server is busy. Try again.", 5) from exc
        finally:
            pending.forget()
    finally:
        _format_slots().release()
    if "error" in result:
        raise InvalidInput(result["error"])
    return result["source"]


def available_toolchains() -> list[dict]:
    """Installed toolchains, their prepared GOARCHes, and the build-setting variants prepared
    for each (``{"amd64": ["GOAMD64=v3"]}``)."""
    out = []
    for tc in toolchains.installed():
        goarches = tc.goarches()
        variants = {a: tc.variants(a) for a in goarches if tc.variants(a)}
        out.append({"version": tc.version, "goarches": goarches, "lang": tc.lang, "variants": variants})
    return out


def lang_choices() -> list[str]:
    newest = toolchains.get()
    top = newest.minor if newest else 27
    return [f"go1.{m}" for m in range(top, 17, -1)]
