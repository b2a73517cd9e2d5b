"""What is stored: compilations (content-addressed, immutable once finished), SSA dumps
of their functions, and the work queue of record (:class:`Job`).

A Compilation's id is derived from everything that decides its result (files, Go
version, GOARCH, language version, diagnostic groups, engine version), so the same
input always gets the same permalink and is compiled once.

Work is queued in the database, not only in the broker: a :class:`Job` row exists for
every compilation or SSA dump that is queued or running, and is deleted in the same
transaction that stores the result. The broker only carries wake-up messages; whatever
the broker or a worker loses, the reconciler (explorer/jobs.py) finds in this table.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import orjson
from django.db import models
from django.urls import reverse
from django.utils import timezone

from worker.analysis import Analysis
from worker.flags import BuildOptions

# Bump when the engine's output for the same input changes (parser, flags): new ids.
ENGINE_VERSION = "6"


def compilation_key(
    source: str, go: str, goarch: str, lang: str, groups: tuple[str, ...], options: BuildOptions | None = None
) -> str:
    content = {
        "source": source,
        "go": go,
        "goarch": goarch,
        "lang": lang,
        "groups": sorted(groups),
        "engine": ENGINE_VERSION,
    }
    if options:  # only when there are some: keys of compilations without flags stay as they were
        content["flags"] = list(options.flags)
        content["env"] = dict(options.env)
    payload = json.dumps(content, sort_keys=True)
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:16].lower()


class Status(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # the engine produced a result (an analysis may hold compile errors)
    FAILED = "failed"  # no result: see ``failure`` for why


# The statuses work ends in.
FINISHED = (Status.DONE, Status.FAILED)


class Failure(models.TextChoices):
    """Why a compilation or SSA dump failed; decides whether and how it may run again."""

    NONE = "", "—"
    INPUT = "input", "the input"  # final: the same input fails the same way
    LIMIT = "limit", "a sandbox limit"  # final unless re-run explicitly (then in the slow lane)
    INTERNAL = "internal", "an error on our side"  # re-run when submitted again
    LOST = "lost", "the worker stopped"  # killed or crashed MAX_ATTEMPTS times
    EXPIRED = "expired", "no worker took it in time"


# Failures the next submission of the same input runs again (ours, not the program's).
RETRYABLE_FAILURES = frozenset({Failure.INTERNAL, Failure.LOST, Failure.EXPIRED})


class Lane(models.TextChoices):
    """Queues by expected cost: a program that once hit a limit never waits in front of cheap ones."""

    FAST = "fast"
    SLOW = "slow"
    RUN = "run"  # running users' programs (measurements): never in front of a compile


class WorkMixin(models.Model):
    """Fields shared by everything a worker produces."""

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    failure = models.CharField(max_length=8, choices=Failure.choices, default=Failure.NONE, blank=True)
    error = models.TextField(blank=True)  # user-facing reason when failed
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def may_retry(self) -> bool:
        """Failed on our side: the next submission of the same input runs it again."""
        return self.status == Status.FAILED and self.failure in RETRYABLE_FAILURES


class Compilation(WorkMixin):
    Status = Status

    id = models.CharField(primary_key=True, max_length=16, editable=False)
    source = models.TextField()  # one file, or a txtar of several
    go = models.CharField(max_length=16)
    goarch = models.CharField(max_length=16)
    lang = models.CharField(max_length=16)
    groups = models.CharField(max_length=128)  # comma-separated diagnostic groups
    flags = models.CharField(max_length=1100, blank=True, default="")  # the user's compiler flags, space-separated
    env = models.CharField(max_length=300, blank=True, default="")  # the user's build settings, "NAME=value ..."
    lane = models.CharField(max_length=4, choices=Lane.choices, default=Lane.FAST)
    analysis_gz = models.BinaryField(null=True, blank=True)  # Analysis.to_dict() less raw_output, JSON, gzip
    raw_output_gz = models.BinaryField(null=True, blank=True)  # the compiler's output, gzip
    stored_bytes = models.PositiveIntegerField(default=0)  # source + analysis_gz + raw_output_gz
    last_viewed = models.DateTimeField(default=timezone.now)  # for retention (manage.py prune)

    class Meta:
        indexes = [
            models.Index(fields=["status", "created"]),
            models.Index(fields=["last_viewed"]),
        ]

    def __str__(self) -> str:
        return f"{self.id} go{self.go}/{self.goarch} {self.status}"

    @property
    def result_stamp(self) -> str:
        """What a cached rendering of this result depends on: the engine, the id, and its
        state and when it got there (a re-run finishes anew)."""
        finished = self.finished.isoformat() if self.finished else ""
        return f"{ENGINE_VERSION}:{self.id}:{self.status}:{finished}"

    @property
    def group_list(self) -> tuple[str, ...]:
        return tuple(g for g in self.groups.split(",") if g)

    @property
    def options(self) -> BuildOptions:
        """The stored flags and build settings (checked when they were submitted)."""
        env = tuple(tuple(item.split("=", 1)) for item in self.env.split() if "=" in item)
        return BuildOptions(tuple(self.flags.split()), env)  # type: ignore[arg-type]

    def refresh_from_db(self, *args, **kwargs) -> None:
        super().refresh_from_db(*args, **kwargs)
        self.__dict__.pop("_analysis", None)

    @property
    def analysis(self) -> dict | None:
        """The stored analysis (decompressed once per instance), or None."""
        cached = self.__dict__.get("_analysis", ...)
        if cached is ...:
            cached = orjson.loads(gzip.decompress(bytes(self.analysis_gz))) if self.analysis_gz else None
            self.__dict__["_analysis"] = cached
        return cached

    @analysis.setter
    def analysis(self, value: dict | None) -> None:
        self.__dict__["_analysis"] = value
        self.analysis_gz = compress_analysis(value)

    @property
    def raw_output(self) -> str:
        return gzip.decompress(bytes(self.raw_output_gz)).decode("utf-8") if self.raw_output_gz else ""

    def get_absolute_url(self) -> str:
        return reverse("permalink", args=[self.id])


def compress_analysis(analysis: Analysis | dict | None) -> bytes | None:
    """The stored form of an analysis: JSON (orjson serialises the dataclasses as they are,
    the same JSON as ``Analysis.to_dict()``, some forty times faster), gzip'd."""
    if analysis is None:
        return None
    return gzip.compress(orjson.dumps(analysis), compresslevel=3)  # 6 took 3x as long for ~15 % less


class SSADump(WorkMixin):
    """The compiler's ssa.html (GOSSAFUNC) of one function of a finished compilation."""

    Status = Status

    compilation = models.ForeignKey(Compilation, on_delete=models.CASCADE, related_name="ssa_dumps")
    function = models.CharField(max_length=512)  # symbol name, e.g. "main.(*T).M"
    html_gz = models.BinaryField(null=True, blank=True)  # the compiler's page, sanitized, gzip

    class Meta:
        constraints = [models.UniqueConstraint(fields=["compilation", "function"], name="unique_ssa_dump")]
        indexes = [models.Index(fields=["status", "created"])]

    def __str__(self) -> str:
        return f"{self.compilation_id} {self.function} {self.status}"

    @property
    def html(self) -> str:
        return gzip.decompress(bytes(self.html_gz)).decode("utf-8") if self.html_gz else ""

    def get_absolute_url(self) -> str:
        return reverse("ssa", args=[self.compilation_id, self.function])


class Measurement(WorkMixin):
    """The measured allocations of a compilation's program: its benchmarks (or main) run in
    the run sandbox (worker/measure.py). One per compilation; run again only on request."""

    Status = Status
    lane = Lane.RUN  # where its job runs (the reconciler reads it)

    compilation = models.OneToOneField(Compilation, on_delete=models.CASCADE, related_name="measurement")
    result_gz = models.BinaryField(null=True, blank=True)  # the measurements dict, JSON, gzip

    class Meta:
        indexes = [models.Index(fields=["status", "created"])]

    def __str__(self) -> str:
        return f"{self.compilation_id} measurement {self.status}"

    def refresh_from_db(self, *args, **kwargs) -> None:
        super().refresh_from_db(*args, **kwargs)
        self.__dict__.pop("_result", None)

    @property
    def result(self) -> dict | None:
        cached = self.__dict__.get("_result", ...)
        if cached is ...:
            cached = orjson.loads(gzip.decompress(bytes(self.result_gz))) if self.result_gz else None
            self.__dict__["_result"] = cached
        return cached


class Job(models.Model):
    """One queued or running piece of work: the queue of record (see explorer/jobs.py)."""

    class Kind(models.TextChoices):
        COMPILE = "compile"
        SSA = "ssa"
        RUN = "run"  # a Measurement: build and run the program (worker/measure.py)

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    target = models.CharField(max_length=32)  # Compilation.id, or str(SSADump.pk), or str(Measurement.pk)
    client = models.CharField(max_length=64)  # who asked (explorer/clients.py), for fair shares
    lane = models.CharField(max_length=4, choices=Lane.choices, default=Lane.FAST)
    go = models.CharField(max_length=16, blank=True)  # the toolchain it needs: only workers that have it take it
    fair_order = models.FloatField()  # start-time fair queuing stamp: workers take the lowest first
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started
    created = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)  # a running job past this is presumed lost
    worker = models.CharField(max_length=128, blank=True)  # "host:pid" of the process running it
    task_id = models.CharField(max_length=64, blank=True)  # the Celery task that claimed it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "target"], name="unique_job")]
        indexes = [models.Index(fields=["state", "lane", "fair_order"]), models.Index(fields=["task_id"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.target} {self.state} {self.lane} try {self.attempts}"

    @property
    def member(self) -> str:
        """Its name in the broker's admission sets (explorer/admission.py)."""
        return admission_member(self.kind, self.target, self.client)


def admission_member(kind: str, target: str, client: str) -> str:
    return f"{kind}:{target}@{client}"
