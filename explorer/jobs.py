"""The work queue of record: jobs in the database, wake-up messages in the broker.

Life of a job (a compilation or an SSA dump to produce)::

    admitted (explorer/admission.py) ─▶ Job(queued) + target(queued) in one transaction ─▶ wake(lane)
    a worker's run_next(lane) ─▶ claim(): the queued job with the lowest fair stamp whose
        client has fewer than CLIENT_MAX_RUNNING jobs running in that lane ─▶ running, leased
    ─▶ finish(): the target's result and the Job's deletion in one transaction
    ─▶ or escalate(): a fast-lane run that hit the time limit goes to the slow lane
    ─▶ or lost(): the worker died (lease expired, its process is gone, Celery reported the
        pool process lost): queued again, in the slow lane, up to MAX_ATTEMPTS runs

Messages in the broker say only "there is work in this lane": whichever job is best
is claimed, so a lost, duplicated or late message never loses or repeats work. The
reconciler (:func:`reconcile`, run every few seconds by every worker and by
``manage.py reconcile``) turns whatever a fault left behind into one of those
transitions, so every accepted submission ends done or failed within
``MAX_QUEUE_SECONDS`` plus one lease.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import admission, broker, done_listener, statements
from .models import Compilation, Failure, Job, Lane, Measurement, SSADump, Status

log = logging.getLogger("explorer.jobs")

TARGETS: dict[str, type[Compilation] | type[SSADump] | type[Measurement]] = {
    Job.Kind.COMPILE: Compilation,
    Job.Kind.SSA: SSADump,
    Job.Kind.RUN: Measurement,
}
LOST_MESSAGE = (
    "The worker compiling this stopped unexpectedly {n} times (it was killed or crashed), so we gave up. "
    "Run it again to retry."
)
EXPIRED_MESSAGE = (
    "No compiler was free to take this within {minutes} minutes: the service is overloaded, "
    "or no worker serves the {lane} queue. Run it again to retry."
)
# Whatever a worker wrote last wins over these: a real result beats a presumed loss. Any one
# of the alternatives (statements.update's form), and the same as a Q for the ORM.
OVERWRITABLE_WHERE = (
    {"status": [Status.QUEUED, Status.RUNNING]},
    {"status": Status.FAILED, "failure": [Failure.LOST, Failure.EXPIRED]},
)
OVERWRITABLE = functools.reduce(
    operator.or_,
    (Q(**{f"{k}__in" if isinstance(v, list) else k: v for k, v in one.items()}) for one in OVERWRITABLE_WHERE),
)


def hostname() -> str:
    return socket.gethostname()


def worker_id() -> str:
    return f"{hostname()}:{os.getpid()}"


def lease_seconds(lane: str) -> float:
    return settings.LANE_LIMITS[lane]["wall_seconds"] + settings.LEASE_MARGIN_SECONDS


def target_of(job: Job) -> Compilation | SSADump | Measurement | None:
    return statements.load(TARGETS[job.kind], _pk(job))  # the ORM's query, compiled once


def _pk(job: Job) -> Any:
    return _pk_value(job.kind, job.target)


def retry_lane(job: Job) -> str:
    """Where a job that ran too long or whose worker was lost runs again: compiles in the
    slow lane; runs stay in theirs (a run never takes a compiler's place)."""
    return Lane.RUN if job.lane == Lane.RUN else Lane.SLOW


def _targets(job: Job):
    return TARGETS[job.kind].objects.filter(pk=_pk(job))


# --- creating and waking ----------------------------------------------------------------


def create(kind: str, target: str, ticket: admission.Ticket, lane: str, go: str) -> Job:
    """The Job row of admitted work; call inside the transaction that stores its target."""
    return Job.objects.create(
        kind=kind, target=target, client=ticket.client, lane=lane, go=go, fair_order=ticket.fair_order
    )


def queue_for(lane: str, go: str) -> str:
    """The Celery queue of one lane and toolchain: ``ee.fast.go1.27.3``. A worker started
    with ``-Q ee.fast`` consumes the queue of each toolchain installed on its host
    (worker/tasks.py), so work for a toolchain reaches only workers that have it."""
    return f"{settings.LANE_QUEUES[lane]}.go{go}" if go else settings.LANE_QUEUES[lane]


def wake(lane: str, go: str = "", count: int = 1) -> int:
    """Tell ``count`` workers of ``lane`` (and toolchain ``go``) there is work. Best effort:
    returns how many messages were sent (the reconciler sends what a broker fault swallowed)."""
    from explorer.celery import app

    sent = 0
    for _ in range(count):
        try:
            # ignore_result: nothing waits for a wake-up's result (without it the result backend
            # subscribed to, and unsubscribed from, a result channel per message).
            app.send_task(
                "worker.run_next", args=[lane, go], queue=queue_for(lane, go), retry=False, ignore_result=True
            )
            sent += 1
        except Exception as exc:  # broker down: the job waits in the table for the reconciler
            log.warning("could not wake the %s lane: %s", lane, exc)
            break
    return sent


def eligible_count(lane: str, go: str, older_than: float = 0.0) -> int:
    """Queued jobs of ``lane`` and toolchain ``go`` a worker may take now (their client is
    below its running cap)."""
    queued = Job.objects.filter(state=Job.State.QUEUED, lane=lane, go=go)
    if older_than:
        queued = queued.filter(created__lt=timezone.now() - timedelta(seconds=older_than))
        return queued.exclude(client__in=_busy_clients(lane)).count()
    # After every job (wake_if_owed): the statement compiled once (explorer/statements.py).
    return statements.count(
        ("eligible", lane, go, settings.CLIENT_MAX_RUNNING),
        lambda: queued.exclude(client__in=_busy_clients(lane)),
    )


def wake_if_owed(lane: str, go: str) -> None:
    """One more wake-up when more work may be taken than wake-ups are waiting."""
    try:
        waiting = eligible_count(lane, go)
        if waiting and waiting > _queue_length(lane, go):
            wake(lane, go)
    except (broker.BrokerDown, DatabaseError) as exc:
        log.warning("could not check the %s lane for more work: %s", lane, exc)


SERVES_PREFIX = "ee:serves:"


def served(lane: str, go: str) -> bool | None:
    """Does a live worker consume this lane's queue for toolchain ``go``? None when no
    worker at all reported lately (a cluster starting: the job waits, within limits)."""
    now = time.time()
    since = now - SERVES_TTL
    try:
        anyone, this = broker.call(
            lambda c: (
                c.pipeline()
                .zcount(SERVES_PREFIX + "*", since, "+inf")
                .zcount(SERVES_PREFIX + queue_for(lane, go), since, "+inf")
                .execute()
            )
        )
    except broker.BrokerDown:
        return None
    if this:
        return True
    return False if anyone else None


SERVES_TTL = 30.0


def announce(queues: list[str], who: str) -> None:
    """A worker says which queues it consumes (every few seconds, from its heartbeat)."""
    now = time.time()
    try:
        pipe = broker.client().pipeline()
        for name in [*queues, "*"]:
            pipe.zadd(SERVES_PREFIX + name, {who: now}).expire(SERVES_PREFIX + name, int(SERVES_TTL * 4))
            pipe.zremrangebyscore(SERVES_PREFIX + name, "-inf", now - SERVES_TTL * 2)
        broker.call(lambda _c: pipe.execute())
    except broker.BrokerDown:
        pass


# --- a worker's side -----------------------------------------------------------------------


def _busy_clients(lane: str):
    """The clients at their running cap in ``lane``: a subquery, so that asking for the
    queued jobs a worker may take is one statement."""
    return (
        Job.objects.filter(state=Job.State.RUNNING, lane=lane)
        .values("client")
        .annotate(n=Count("id"))
        .filter(n__gte=settings.CLIENT_MAX_RUNNING)
        .values("client")
    )


def claim(lane: str, worker: str, task_id: str = "", go: str | None = None) -> Job | None:
    """Take the best queued job of ``lane`` (for toolchain ``go``, when given), or None when
    there is none this worker may take. Three statements: the best job (the busy clients a
    subquery), taking it (only if still queued: else another worker took it first, and we
    look again), and marking its target running."""

    def candidates():
        queued = Job.objects.filter(state=Job.State.QUEUED, lane=lane).exclude(client__in=_busy_clients(lane))
        return (queued if go is None else queued.filter(go=go)).order_by("fair_order", "id")

    # Every statement compiled once per process (explorer/statements.py): they run for every job.
    for _ in range(8):
        job = statements.first_job(("claim", lane, go, settings.CLIENT_MAX_RUNNING), candidates)
        if job is None:
            return None
        now = timezone.now()
        taken = {
            "state": Job.State.RUNNING,
            "claimed_at": now,
            "lease_until": now + timedelta(seconds=lease_seconds(lane)),
            "worker": worker,
            "task_id": task_id,
        }
        if statements.update(Job, job.pk, taken, {"state": Job.State.QUEUED}, increment="attempts"):
            for name, value in taken.items():
                setattr(job, name, value)
            job.attempts += 1
            statements.update(
                TARGETS[job.kind],
                _pk(job),
                {"status": Status.RUNNING, "started": now},
                {"status": [Status.QUEUED, Status.RUNNING]},
            )
            return job
    return None


def with_database_retries(write: Callable[[], Any], seconds: float | None = None) -> Any:
    """Run ``write`` until it succeeds or ``seconds`` pass: a locked, read-only or
    restarting database delays a result instead of losing it."""
    deadline = time.monotonic() + (settings.RESULT_WRITE_SECONDS if seconds is None else seconds)
    delay = 0.2
    while True:
        try:
            return write()
        except IntegrityError:
            raise
        except DatabaseError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable, retrying in %.1f s: %s", delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            close_old_connections()
            connection.close()


def finish(job: Job, fields: dict[str, Any]) -> bool:
    """Store the target's final state and delete the job, atomically. False when the
    target had meanwhile been finished by another run."""
    fields = {**fields, "finished": timezone.now()}

    def write() -> int:
        with transaction.atomic():  # the UPDATE compiled once, as the claim's (explorer/statements.py)
            stored = statements.update(TARGETS[job.kind], _pk(job), fields, OVERWRITABLE_WHERE)
            statements.delete(Job, job.pk)
        return stored

    stored = with_database_retries(write)
    notify(job, fields.get("status", "") if stored else "")
    return bool(stored)


def escalate(job: Job) -> None:
    """A fast-lane run hit the fast lane's time limit: queue it again in the slow lane."""

    def write() -> None:
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.QUEUED, lane=retry_lane(job), claimed_at=None, lease_until=None, worker="", task_id=""
            )
            _requeue_target(job, retry_lane(job))

    with_database_retries(write)
    log.info("job %s moved to the slow lane", job, extra={"job": job.target, "kind": job.kind, "client": job.client})
    remember_costly(job.client)
    wake(retry_lane(job), job.go)


COSTLY_PREFIX = "ee:costly:"


def remember_costly(client: str) -> None:
    """Count a client's programs that ran past the fast lane's limit (for an hour)."""
    try:
        broker.call(lambda c: c.pipeline().incr(COSTLY_PREFIX + client).expire(COSTLY_PREFIX + client, 3600).execute())
    except broker.BrokerDown:
        pass


def lane_for(client: str) -> str:
    """Where a client's new program starts: the slow lane when the client's programs ran
    past the fast lane's limit EXPLORER_COSTLY_AFTER times within the hour (expected cost
    by history: a stream of compile bombs never holds a fast worker again)."""
    try:
        count = int(broker.call(lambda c: c.get(COSTLY_PREFIX + client)) or 0)
    except broker.BrokerDown:
        return Lane.FAST
    return Lane.SLOW if count >= settings.COSTLY_AFTER else Lane.FAST


def _requeue_target(job: Job, lane: str) -> None:
    """The target back to queued; a compilation remembers its lane (its expected cost)."""
    fields = {"status": Status.QUEUED, "started": None}
    if job.kind == Job.Kind.COMPILE:
        fields["lane"] = lane
    _targets(job).filter(OVERWRITABLE).update(**fields)


def lost(job: Job, why: str) -> str:
    """The process running ``job`` is gone. Queue it again (slow lane) or, after
    MAX_ATTEMPTS runs, fail it for good. Returns what was done."""
    with transaction.atomic():
        mine = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, claimed_at=job.claimed_at)
        if job.attempts >= settings.MAX_ATTEMPTS:
            if not mine.delete()[0]:
                return "raced"
            _targets(job).filter(OVERWRITABLE).update(
                status=Status.FAILED,
                failure=Failure.LOST,
                error=LOST_MESSAGE.format(n=job.attempts),
                finished=timezone.now(),
            )
            outcome = "failed"
        else:
            moved = mine.update(
                state=Job.State.QUEUED, lane=retry_lane(job), claimed_at=None, lease_until=None, worker="", task_id=""
            )
            if not moved:
                return "raced"
            _requeue_target(job, retry_lane(job))
            outcome = "requeued"
    log.warning("job %s lost (%s): %s", job, why, outcome, extra={"job": job.target, "kind": job.kind})
    if outcome == "failed":
        notify(job)
    else:
        wake(retry_lane(job), job.go)
    return outcome


def lost_task(task_id: str, why: str) -> int:
    """Celery reported the pool process running ``task_id`` lost: its jobs, at once."""
    count = 0
    for job in Job.objects.filter(task_id=task_id, state=Job.State.RUNNING):
        lost(job, why)
        count += 1
    return count


def notify(job: Job, status: str = "") -> None:
    """The job ended: its place in the queue is free again (explorer/admission.py) and the
    web processes waiting for its target are woken (explorer/submissions.wait_for), in one
    Redis round trip. ``status``: the target's final status as just stored, sent along
    ("<target> <status>") so that a waiter needing nothing more need not read it back
    (done_listener), then the bare id as before, which web processes of the previous
    release (during a rolling upgrade) still recognise. Best effort: the member expires (the
    reconciler's resync removes it sooner) and a waiter's next look finds the target ended."""
    channel = done_listener.channel(job.kind)

    def announce(c):
        pipe = admission.release_commands(c.pipeline(), job.member, job.client)
        if status:
            pipe.publish(channel, f"{job.target} {status}")
        return pipe.publish(channel, job.target).execute()

    try:
        broker.call(announce)
    except broker.BrokerDown:
        pass


# --- the reconciler ---------------------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is as dead as it gets.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def _queue_length(lane: str, go: str) -> int:
    return int(broker.call(lambda c: c.llen(queue_for(lane, go))))


UNSERVED_MESSAGE = (
    "No worker for Go {go} ({lane} lane) is running, so nothing could compile this. "
    "Run it again later, or choose another Go version."
)


def _expire(job: Job, message: str) -> None:
    with transaction.atomic():
        _targets(job).filter(OVERWRITABLE).update(
            status=Status.FAILED, failure=Failure.EXPIRED, error=message, finished=timezone.now()
        )
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).delete()
    notify(job)


def reconcile() -> dict[str, int]:
    """One pass over the queue of record; safe to run anywhere, any number at once."""
    counts = {"lost": 0, "expired": 0, "orphans": 0, "woken": 0}
    now = timezone.now()
    # 1. Running jobs whose process is gone: the lease ran out, or (on this host) the pid died.
    host = hostname()
    for job in Job.objects.filter(state=Job.State.RUNNING):
        name, _, pid = job.worker.rpartition(":")
        expired = job.lease_until is not None and job.lease_until < now
        dead_here = name == host and pid.isdigit() and not _process_alive(int(pid))
        if expired or dead_here:
            lost(job, "lease expired" if expired else f"process {pid} is gone")
            counts["lost"] += 1
    # 2. Jobs that waited too long in total, or whose toolchain no running worker serves
    #    any more: failed with a reason, never left hanging.
    too_old = now - timedelta(seconds=settings.MAX_QUEUE_SECONDS)
    for job in Job.objects.filter(state=Job.State.QUEUED, created__lt=too_old):
        _expire(job, EXPIRED_MESSAGE.format(minutes=round(settings.MAX_QUEUE_SECONDS / 60), lane=job.lane))
        counts["expired"] += 1
    waited = now - timedelta(seconds=settings.UNSERVED_SECONDS)
    unserved = Job.objects.filter(state=Job.State.QUEUED, created__lt=waited).exclude(go="")
    for lane, go in unserved.values_list("lane", "go").distinct():
        if served(lane, go) is False:
            for job in unserved.filter(lane=lane, go=go):
                _expire(job, UNSERVED_MESSAGE.format(go=go, lane=lane))
                counts["expired"] += 1
    # 3. Targets left queued or running without a job (a crash between two writes, an
    #    old row from before the queue of record): queued again.
    settle = now - timedelta(seconds=30)
    for kind, model in TARGETS.items():
        pending = model.objects.filter(status__in=[Status.QUEUED, Status.RUNNING], created__lt=settle)
        with_jobs = Job.objects.filter(kind=kind).values_list("target", flat=True)
        for target in pending.exclude(pk__in=[_pk_value(kind, t) for t in with_jobs]):
            lane = getattr(target, "lane", Lane.FAST)
            go = target.go if kind == Job.Kind.COMPILE else target.compilation.go
            try:
                with transaction.atomic():
                    Job.objects.create(
                        kind=kind,
                        target=str(target.pk),
                        client="reconciler",
                        lane=lane,
                        go=go,
                        fair_order=time.time(),
                    )
                    model.objects.filter(pk=target.pk).update(status=Status.QUEUED, started=None, created=now)
            except IntegrityError:
                continue
            counts["orphans"] += 1
    # 4. With the broker: as many wake-up messages as there is work a worker may take,
    #    and the admission sets matching the table (both lost when Redis restarts).
    try:
        for lane, go in Job.objects.filter(state=Job.State.QUEUED).values_list("lane", "go").distinct():
            waiting = eligible_count(lane, go, older_than=2.0)
            missing = waiting - _queue_length(lane, go) if waiting else 0
            if missing > 0:
                counts["woken"] += wake(lane, go, min(missing, 100))
        live = [(j.member, j.client, j.created.timestamp()) for j in Job.objects.all()]
        admission.resync(live)
    except broker.BrokerDown as exc:
        log.warning("reconcile: broker unreachable (%s); database-only pass", exc)
    if any(counts.values()):
        log.info("reconcile: %s", counts, extra=counts)
    return counts


def _pk_value(kind: str, target: str) -> Any:
    return int(target) if kind in (Job.Kind.SSA, Job.Kind.RUN) else target


def reconcile_safely() -> dict[str, int] | None:
    """A reconcile pass that logs instead of raising (for loops that must go on)."""
    try:
        return reconcile()
    except DatabaseError as exc:
        log.warning("reconcile: database unavailable: %s", exc)
        close_old_connections()
        connection.close()
    except Exception:
        log.exception("reconcile failed")
    return None


def queue_position(kind: str, target: str) -> int | None:
    """How many jobs of the same lane would be taken before this one (None: not queued)."""
    job = Job.objects.filter(kind=kind, target=target, state=Job.State.QUEUED).first()
    if job is None:
        return None
    return Job.objects.filter(state=Job.State.QUEUED, lane=job.lane, fair_order__lt=job.fair_order).count()
