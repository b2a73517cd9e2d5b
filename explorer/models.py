"""A Compilation is content-addressed: its id is derived from everything that decides
its result (files, Go version, GOARCH, language version, diagnostic groups, engine
version), so the same input always gets the same permalink and is compiled once."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from datetime import timedelta

from django.db import models
from django.urls import reverse
from django.utils import timezone

# Bump when the engine's output for the same input changes (parser, flags): new ids.
ENGINE_VERSION = "4"


def compilation_key(source: str, go: str, goarch: str, lang: str, groups: tuple[str, ...]) -> str:
    payload = json.dumps(
        {
            "source": source,
            "go": go,
            "goarch": goarch,
            "lang": lang,
            "groups": sorted(groups),
            "engine": ENGINE_VERSION,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii")[:16].lower()


class Compilation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"  # the engine produced an analysis (which may hold compile errors)
        FAILED = "failed"  # no analysis: limit hit, or an internal error; may be retried

    STALE_AFTER = timedelta(minutes=3)

    id = models.CharField(primary_key=True, max_length=16, editable=False)
    source = models.TextField()  # one file, or a txtar of several
    go = models.CharField(max_length=16)
    goarch = models.CharField(max_length=16)
    lang = models.CharField(max_length=16)
    groups = models.CharField(max_length=128)  # comma-separated diagnostic groups
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    analysis = models.JSONField(null=True, blank=True)  # Analysis.to_dict() less raw_output
    raw_output_gz = models.BinaryField(null=True, blank=True)  # the compiler's output, gzip
    error = models.TextField(blank=True)  # user-facing reason when failed
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created"])]

    def __str__(self) -> str:
        return f"{self.id} go{self.go}/{self.goarch} {self.status}"

    @property
    def group_list(self) -> tuple[str, ...]:
        return tuple(g for g in self.groups.split(",") if g)

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    def needs_work(self) -> bool:
        """Failed, or stuck in the queue (a worker died): compile it (again)."""
        if self.status == self.Status.FAILED:
            return True
        if self.status in (self.Status.QUEUED, self.Status.RUNNING):
            return timezone.now() - self.created > self.STALE_AFTER and (
                self.started is None or timezone.now() - self.started > self.STALE_AFTER
            )
        return False

    @property
    def raw_output(self) -> str:
        return gzip.decompress(self.raw_output_gz).decode("utf-8") if self.raw_output_gz else ""

    def get_absolute_url(self) -> str:
        return reverse("permalink", args=[self.id])


class SSADump(models.Model):
    """The compiler's ssa.html (GOSSAFUNC) of one function of a finished compilation."""

    Status = Compilation.Status

    compilation = models.ForeignKey(Compilation, on_delete=models.CASCADE, related_name="ssa_dumps")
    function = models.CharField(max_length=512)  # symbol name, e.g. "main.(*T).M"
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    html_gz = models.BinaryField(null=True, blank=True)  # the compiler's page, gzip
    error = models.TextField(blank=True)  # user-facing reason when failed
    retryable = models.BooleanField(default=False)  # failed on our side: try again on the next request
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["compilation", "function"], name="unique_ssa_dump")]
        indexes = [models.Index(fields=["status", "created"])]

    def __str__(self) -> str:
        return f"{self.compilation_id} {self.function} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    def needs_work(self) -> bool:
        """Failed on our side (not for the input's sake), or stuck in the queue."""
        if self.status == self.Status.FAILED:
            return self.retryable
        if self.status in (self.Status.QUEUED, self.Status.RUNNING):
            stale = Compilation.STALE_AFTER
            return timezone.now() - self.created > stale and (
                self.started is None or timezone.now() - self.started > stale
            )
        return False

    @property
    def html(self) -> str:
        return gzip.decompress(self.html_gz).decode("utf-8") if self.html_gz else ""

    def get_absolute_url(self) -> str:
        return reverse("ssa", args=[self.compilation_id, self.function])
