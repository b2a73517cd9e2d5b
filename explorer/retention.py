"""Retention: what is stored shrinks again.

Results are immutable and cheap to make again, so they are kept while people look at
them: a compilation not viewed for ``older_than`` is deleted (with its SSA dumps); SSA
dumps, which can be large, go after ``ssa_older_than`` whatever happens; and when a
size budget is set, the least recently viewed results go first until the total fits —
but never one viewed within ``keep_recent``. Nothing queued or running is touched.

Run by ``manage.py prune`` (by hand or from cron) and once an hour by a worker
(worker/tasks.py, with the settings' defaults).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db.models import F, Func, Sum
from django.utils import timezone

from .models import Compilation, Job, Measurement, SSADump, Status

log = logging.getLogger("explorer.retention")
BATCH = 500


@dataclass
class PruneReport:
    compilations: int = 0
    ssa_dumps: int = 0
    bytes_freed: int = 0
    bytes_stored: int = 0  # after pruning
    over_budget: bool = False  # the budget could not be met without deleting recently viewed results
    dry_run: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _ssa_bytes(queryset) -> int:
    total = queryset.aggregate(n=Sum(Func(F("html_gz"), function="LENGTH")))["n"]
    return int(total or 0)


def _measurement_bytes(queryset) -> int:
    total = queryset.aggregate(n=Sum(Func(F("result_gz"), function="LENGTH")))["n"]
    return int(total or 0)


def stored_bytes() -> int:
    total = Compilation.objects.aggregate(n=Sum("stored_bytes"))["n"] or 0
    return int(total) + _ssa_bytes(SSADump.objects.all()) + _measurement_bytes(Measurement.objects.all())


def _deletable():
    busy = Job.objects.filter(kind=Job.Kind.COMPILE).values("target")
    measuring = Measurement.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).values("compilation_id")
    return (
        Compilation.objects.exclude(status__in=[Status.QUEUED, Status.RUNNING])
        .exclude(pk__in=busy)
        .exclude(pk__in=measuring)
    )


def _delete(ids: list[str], report: PruneReport, dry_run: bool) -> None:
    comps = Compilation.objects.filter(pk__in=ids)
    freed = int(comps.aggregate(n=Sum("stored_bytes"))["n"] or 0)
    dumps = SSADump.objects.filter(compilation_id__in=ids)
    freed += _ssa_bytes(dumps) + _measurement_bytes(Measurement.objects.filter(compilation_id__in=ids))
    report.ssa_dumps += dumps.count()
    report.compilations += len(ids)
    report.bytes_freed += freed
    if not dry_run:
        comps.delete()  # cascades to the SSA dumps and the measurement


def prune(
    older_than: timedelta,
    *,
    ssa_older_than: timedelta | None = timedelta(days=7),
    max_bytes: int = 0,
    keep_recent: timedelta = timedelta(days=1),
    dry_run: bool = False,
) -> PruneReport:
    now = timezone.now()
    report = PruneReport(dry_run=dry_run)
    # 1. Not viewed for a long time.
    stale = _deletable().filter(last_viewed__lt=now - older_than).values_list("pk", flat=True)
    while True:
        ids = list(stale[:BATCH]) if not dry_run else list(stale)
        if not ids:
            break
        _delete(ids, report, dry_run)
        if dry_run:
            break
    # 2. SSA dumps past their own age (made again on request).
    if ssa_older_than is not None:
        old = SSADump.objects.exclude(status__in=[Status.QUEUED, Status.RUNNING]).filter(
            created__lt=now - ssa_older_than
        )
        old = old.exclude(
            pk__in=[int(t) for t in Job.objects.filter(kind=Job.Kind.SSA).values_list("target", flat=True)]
        )
        report.ssa_dumps += old.count()
        report.bytes_freed += _ssa_bytes(old)
        if not dry_run:
            old.delete()
    # 3. A size budget: least recently viewed first, never what was viewed lately.
    total = stored_bytes() - (report.bytes_freed if dry_run else 0)
    if max_bytes and total > max_bytes:
        candidates = _deletable().filter(last_viewed__lt=now - keep_recent).order_by("last_viewed")
        if dry_run:
            candidates = candidates.exclude(last_viewed__lt=now - older_than)
        for comp in candidates.only("pk", "stored_bytes").iterator(chunk_size=BATCH):
            if total <= max_bytes:
                break
            before = report.bytes_freed
            _delete([comp.pk], report, dry_run)
            total -= report.bytes_freed - before
        report.over_budget = total > max_bytes
    report.bytes_stored = total if dry_run else stored_bytes()
    log.info("prune: %s", report.to_dict(), extra=report.to_dict())
    return report


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` (or a bare number of days)."""
    text = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    if text and text[-1] in units:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    return timedelta(days=float(text))


def parse_size(text: str) -> int:
    """``5G``, ``500M``, ``100K`` or bytes."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factors = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    if text and text[-1] in factors:
        return int(float(text[:-1]) * factors[text[-1]])
    return int(text)
