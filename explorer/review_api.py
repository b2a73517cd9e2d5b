"""Review endpoints of the JSON API (mounted on /api/v1/ next to explorer.api):

GET /api/v1/compare?a=<id>&b=<id>[&format=json|markdown|text]   the diff of two compilations
GET /api/v1/compare/markdown?a=<id>&b=<id>                      the diff as a PR comment
GET /api/v1/compilations/<id>/sarif                             one compilation as SARIF 2.1.0

While either compilation is still queued or running the answer is 202 with both
statuses, so a client polls until 200.
"""

from __future__ import annotations

import json
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Router, Schema, Status

from worker.analysis import Analysis
from worker.compare import Diff, compare
from worker.compare_measured import render_markdown as measured_markdown
from worker.review import Links, diff_payload, render_markdown, render_text
from worker.sarif import to_sarif

from .api_schema import errors
from .models import ENGINE_VERSION, Compilation
from .views import stored_or_404

router = Router(tags=["review"])

SARIF_CONTENT_TYPE = "application/sarif+json"
TEXT_TYPES = {"markdown": "text/markdown; charset=utf-8", "text": "text/plain; charset=utf-8"}


class PendingOut(Schema):
    status: str  # "pending"
    a: dict
    b: dict


class CompilationPendingOut(Schema):
    status: str  # "pending"
    compilation: dict


# --- shared with explorer.review_views --------------------------------------------------


def compilation_analysis(comp: Compilation) -> Analysis:
    """The stored analysis of a finished compilation; a failed one becomes an analysis holding its error."""
    if comp.analysis:
        return Analysis.from_dict(comp.analysis)
    return Analysis(
        go=comp.go, goarch=comp.goarch, lang=comp.lang, status="internal-error", errors=[comp.error or "no result"]
    )


def diff_of(a: Compilation, b: Compilation) -> Diff:
    return compare(compilation_analysis(a), compilation_analysis(b))


def measured_diff_of(a: Compilation, b: Compilation) -> dict | None:
    """The measurements' changes (worker/compare_measured.py), apart from the decisions'."""
    from worker.compare_measured import compare_measurements

    from .measurements import measurements_payload

    return compare_measurements(measurements_payload(a, a.analysis), measurements_payload(b, b.analysis))


def review_links(request: HttpRequest, a: Compilation, b: Compilation) -> Links:
    return Links(
        compare=request.build_absolute_uri(reverse("compare-page", args=[a.id, b.id])),
        a=request.build_absolute_uri(a.get_absolute_url()),
        b=request.build_absolute_uri(b.get_absolute_url()),
    )


def side_status(request: HttpRequest, comp: Compilation) -> dict:
    return {"id": comp.id, "status": comp.status, "url": request.build_absolute_uri(comp.get_absolute_url())}


# --- endpoints --------------------------------------------------------------------------


TEXT_CONTENT = {"schema": {"type": "string"}}


@router.get(
    "/compare",
    response={200: dict, 202: PendingOut, **errors(404)},
    openapi_extra={"responses": {"200": {"content": {"text/markdown": TEXT_CONTENT, "text/plain": TEXT_CONTENT}}}},
)
def compare_compilations(request: HttpRequest, a: str, b: str, format: Literal["json", "markdown", "text"] = "json"):
    """The semantic diff of compilation ``a`` (before) and ``b`` (after)."""
    comp_a, comp_b = stored_or_404(a), stored_or_404(b)
    if not (comp_a.is_finished and comp_b.is_finished):
        return Status(202, {"status": "pending", "a": side_status(request, comp_a), "b": side_status(request, comp_b)})
    diff, links = diff_of(comp_a, comp_b), review_links(request, comp_a, comp_b)
    measured = measured_diff_of(comp_a, comp_b)
    if format == "markdown":
        text = render_markdown(diff, links) + measured_markdown(measured)
        return HttpResponse(text, content_type=TEXT_TYPES["markdown"])
    if format == "text":
        return HttpResponse(render_text(diff, links) + measured_markdown(measured), content_type=TEXT_TYPES["text"])
    return Status(200, {"a_id": comp_a.id, "b_id": comp_b.id, **diff_payload(diff, links), "measured": measured})


@router.get(
    "/compare/markdown",
    response={200: str, 202: PendingOut, **errors(404)},
    openapi_extra={"responses": {"200": {"content": {"text/markdown": TEXT_CONTENT}}}},
)
def compare_markdown(request: HttpRequest, a: str, b: str):
    """The diff as Markdown, ready to paste into a pull-request comment."""
    return compare_compilations(request, a, b, format="markdown")


@router.get(
    "/compilations/{compilation_id}/sarif",
    response={200: dict, 202: CompilationPendingOut, **errors(404)},
    openapi_extra={"responses": {"200": {"content": {SARIF_CONTENT_TYPE: {"schema": {"type": "object"}}}}}},
)
def compilation_sarif(request: HttpRequest, compilation_id: str):
    """One compilation as a SARIF 2.1.0 log: each decision a result, its kind the rule."""
    comp = stored_or_404(compilation_id)
    if not comp.is_finished:
        return Status(202, {"status": "pending", "compilation": side_status(request, comp)})
    log = to_sarif(
        compilation_analysis(comp),
        source_url=request.build_absolute_uri(comp.get_absolute_url()),
        tool_version=f"{ENGINE_VERSION} (go{comp.go})",
    )
    response = HttpResponse(json.dumps(log, indent=2), content_type=SARIF_CONTENT_TYPE)
    response["Content-Disposition"] = f'inline; filename="{comp.id}.sarif"'
    return response
