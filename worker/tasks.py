"""Celery tasks: the only module that bridges the engine to the database."""

from __future__ import annotations

import gzip
import logging

from celery import shared_task
from django.utils import timezone

from . import compiler, ssa
from .inputs import InvalidInput, split_files

log = logging.getLogger(__name__)
INTERNAL_ERROR = "Something went wrong on our side while {doing}. Try again; if it persists, tell us."


def request_of(comp, groups: tuple[str, ...]) -> compiler.CompileRequest:
    """The engine's request for a stored compilation's input and settings."""
    return compiler.CompileRequest(
        files=split_files(comp.source), go=comp.go, goarch=comp.goarch, lang=comp.lang, groups=groups
    )


@shared_task(name="worker.compile", acks_late=True)
def compile_task(compilation_id: str) -> str:
    from explorer.models import Compilation

    comp = Compilation.objects.filter(pk=compilation_id).first()
    if comp is None:
        return "missing"
    if comp.status == Compilation.Status.DONE:
        return "done"
    started = timezone.now()
    Compilation.objects.filter(pk=comp.pk).update(status=Compilation.Status.RUNNING, started=started)
    fields = {"finished": None}
    try:
        analysis = compiler.compile_request(request_of(comp, comp.group_list))
        analysis.timings.queued_ms = max(0.0, (started - comp.created).total_seconds() * 1000)
    except InvalidInput as exc:
        fields.update(status=Compilation.Status.FAILED, error=str(exc), analysis=None, raw_output_gz=None)
    except Exception:
        log.exception("compilation %s failed", compilation_id)
        fields.update(
            status=Compilation.Status.FAILED,
            error=INTERNAL_ERROR.format(doing="compiling"),
            analysis=None,
            raw_output_gz=None,
        )
    else:
        # The raw output (mostly assembly listing) is kept apart, compressed: it is only
        # read by /s/<id>/raw, and it would double the JSON every page load parses.
        raw = gzip.compress(analysis.raw_output.encode("utf-8"), compresslevel=5)
        analysis.raw_output = ""
        fields.update(analysis=analysis.to_dict(), raw_output_gz=raw)
        if analysis.status == "limit":
            fields.update(status=Compilation.Status.FAILED, error=" ".join(analysis.errors))
        else:
            fields.update(status=Compilation.Status.DONE, error="")
    fields["finished"] = timezone.now()
    # One UPDATE: the row goes from running to its final state with its analysis at once.
    Compilation.objects.filter(pk=comp.pk).update(**fields)
    return fields["status"]


@shared_task(name="worker.ssa", acks_late=True)
def ssa_task(dump_id: int) -> str:
    """GOSSAFUNC: the compiler's ssa.html of one function of a compilation."""
    from explorer.models import SSADump

    dump = SSADump.objects.select_related("compilation").filter(pk=dump_id).first()
    if dump is None:
        return "missing"
    if dump.status == SSADump.Status.DONE:
        return "done"
    SSADump.objects.filter(pk=dump.pk).update(status=SSADump.Status.RUNNING, started=timezone.now())
    comp = dump.compilation
    fields = {}
    try:
        request = request_of(comp, groups=())
        # The stored function list when the assembly was collected; else the engine finds it.
        functions = ssa.functions_of_analysis(comp.analysis) or None
        html = ssa.ssa_html(request, dump.function, functions)
    except InvalidInput as exc:
        fields.update(status=SSADump.Status.FAILED, error=str(exc), retryable=False, html_gz=None)
    except Exception:
        log.exception("SSA of %s in %s failed", dump.function, comp.pk)
        fields.update(
            status=SSADump.Status.FAILED,
            error=INTERNAL_ERROR.format(doing="writing the SSA"),
            retryable=True,
            html_gz=None,
        )
    else:
        html_gz = gzip.compress(html.encode("utf-8"), compresslevel=6)
        fields.update(status=SSADump.Status.DONE, error="", retryable=False, html_gz=html_gz)
    fields["finished"] = timezone.now()
    SSADump.objects.filter(pk=dump.pk).update(**fields)
    return fields["status"]
