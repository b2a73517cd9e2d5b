"""Turn what a user submitted into a Compilation: validate, key, store, enqueue, wait.

Shared by the pages (views.py) and the JSON API (api.py).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from worker import compiler, toolchains
from worker.inputs import InvalidInput, decode_source, join_files, split_files

from .models import Compilation, SSADump, compilation_key

log = logging.getLogger(__name__)


class ServiceBusy(RuntimeError):
    """The broker could not take the job; the user may try again shortly."""


def normalise_groups(groups: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if not groups:
        return compiler.DIAGNOSTIC_GROUPS
    unknown = [g for g in groups if g not in compiler.DIAGNOSTIC_GROUPS]
    if unknown:
        raise InvalidInput(
            f"Unknown diagnostic group(s): {', '.join(unknown)}. Choose from {', '.join(compiler.DIAGNOSTIC_GROUPS)}."
        )
    return tuple(g for g in compiler.DIAGNOSTIC_GROUPS if g in groups)


def submit(
    source: str | bytes,
    go: str | None = None,
    goarch: str | None = None,
    lang: str | None = None,
    groups: list[str] | None = None,
) -> Compilation:
    """Validate and enqueue (or find) the compilation of ``source``. Raises InvalidInput."""
    text = decode_source(source)
    files = split_files(text)
    tc = compiler.resolve_toolchain(go or None, goarch or "amd64")
    goarch = goarch or "amd64"
    lang = compiler.resolve_lang(tc, lang or None)
    group_tuple = normalise_groups(groups)
    normalised = join_files(files)
    key = compilation_key(normalised, tc.version, goarch, lang, group_tuple)
    comp = Compilation.objects.filter(pk=key).first()
    if comp is None or comp.needs_work():
        _check_queue_depth()
    if comp is None:
        try:
            with transaction.atomic():
                comp = Compilation.objects.create(
                    id=key, source=normalised, go=tc.version, goarch=goarch, lang=lang, groups=",".join(group_tuple)
                )
        except IntegrityError:  # the same input submitted at the same moment
            return Compilation.objects.get(pk=key)
        _enqueue(comp)
    elif comp.needs_work():
        Compilation.objects.filter(pk=key).update(
            status=Compilation.Status.QUEUED, error="", started=None, finished=None, created=timezone.now()
        )
        comp.refresh_from_db()
        _enqueue(comp)
    return comp


def request_ssa(comp: Compilation, function: str) -> SSADump:
    """Enqueue (or find) the SSA dump of one function of a finished compilation.

    ``function`` must already be checked against the compilation's functions (the
    worker checks again). Failures for the input's sake are final; ours are retried.
    """
    dump = SSADump.objects.filter(compilation=comp, function=function).first()
    if dump is None or dump.needs_work():
        _check_queue_depth()
    if dump is None:
        try:
            with transaction.atomic():
                dump = SSADump.objects.create(compilation=comp, function=function)
        except IntegrityError:  # the same function asked for at the same moment
            return SSADump.objects.get(compilation=comp, function=function)
        _enqueue_ssa(dump)
    elif dump.needs_work():
        SSADump.objects.filter(pk=dump.pk).update(
            status=SSADump.Status.QUEUED, error="", retryable=False, started=None, finished=None, created=timezone.now()
        )
        dump.refresh_from_db()
        _enqueue_ssa(dump)
    return dump


def _check_queue_depth() -> None:
    """Back-pressure: refuse new work while too many compilations wait for a worker."""
    since = timezone.now() - Compilation.STALE_AFTER
    waiting = Compilation.objects.filter(status=Compilation.Status.QUEUED, created__gte=since).count()
    waiting += SSADump.objects.filter(status=SSADump.Status.QUEUED, created__gte=since).count()
    if waiting >= settings.MAX_QUEUED_COMPILATIONS:
        raise ServiceBusy(f"The server is busy: {waiting} programs are waiting to be compiled. Try again in a minute.")


def _enqueue(comp: Compilation) -> None:
    from worker.tasks import compile_task

    _send(compile_task, comp)


def _enqueue_ssa(dump: SSADump) -> None:
    from worker.tasks import ssa_task

    _send(ssa_task, dump)


def _send(task, row: Compilation | SSADump) -> None:
    """Enqueue ``task(row.pk)``; when the broker is down the row is deleted again."""
    try:
        task.apply_async((row.pk,), retry=False)
    except Exception as exc:  # broker down: nothing half-stored stays behind
        log.warning("could not enqueue %s %s: %s", type(row).__name__, row.pk, exc)
        type(row).objects.filter(pk=row.pk).delete()
        raise ServiceBusy("The compile service is not reachable right now. Try again in a moment.") from exc


def wait_for(comp: Compilation | SSADump, seconds: float | None = None) -> Compilation | SSADump:
    """Poll briefly for a result: most small compiles end in tens of milliseconds."""
    if comp.is_finished:
        return comp
    deadline = time.monotonic() + (settings.COMPILE_WAIT_SECONDS if seconds is None else seconds)
    delay = 0.01
    while time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 1.5, 0.025)
        comp.refresh_from_db()
        if comp.is_finished:
            break
    return comp


def available_toolchains() -> list[dict]:
    return [{"version": tc.version, "goarches": tc.goarches(), "lang": tc.lang} for tc in toolchains.installed()]


def lang_choices() -> list[str]:
    newest = toolchains.get()
    top = newest.minor if newest else 27
    return [f"go1.{m}" for m in range(top, 17, -1)]
