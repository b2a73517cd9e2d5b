"""The JSON API, /api/v1/… (OpenAPI schema at /api/v1/openapi.json, docs at /api/v1/docs)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError

from worker.analysis import KINDS, Diagnostic, Function, SourceFile
from worker.compiler import format_source
from worker.inputs import InvalidInput, decode_source, join_files, split_files
from worker.summary import FunctionSummary, summaries_to_dicts, summarize

from . import submissions
from .models import Compilation

api = NinjaAPI(title="Escape Explorer API", version="1", urls_namespace="api")


class CompileIn(Schema):
    source: str
    go: str | None = None
    goarch: str | None = None
    lang: str | None = None
    groups: list[str] | None = None
    wait: float = 0.0  # seconds to wait for a result before answering (at most 10)


class CompileOut(Schema):
    id: str
    status: str
    url: str


class ErrorOut(Schema):
    error: str


class CompilationOut(Schema):
    """A compilation and, once finished, its analysis (shapes: worker/analysis.py)."""

    id: str
    status: str  # queued | running | done | failed
    url: str
    go: str
    goarch: str
    lang: str
    groups: list[str]
    source: str
    files: list[SourceFile]
    result: str  # "" until finished; then ok | compile-error | limit
    diagnostics: list[Diagnostic]
    functions: list[Function]
    errors: list[str]
    summary: list[FunctionSummary]
    toolchain: str
    timings: dict[str, float]
    created: str
    finished: str | None


class FormatIn(Schema):
    source: str
    go: str | None = None


class FormatOut(Schema):
    source: str


def absolute(request: HttpRequest, comp: Compilation) -> str:
    return request.build_absolute_uri(comp.get_absolute_url())


@api.post("/compile", response={200: CompileOut, 202: CompileOut, 400: ErrorOut, 503: ErrorOut})
def compile_source(request: HttpRequest, payload: CompileIn):
    try:
        comp = submissions.submit(payload.source, payload.go, payload.goarch, payload.lang, payload.groups)
    except InvalidInput as exc:
        return Status(400, {"error": str(exc)})
    except submissions.ServiceBusy as exc:
        return Status(503, {"error": str(exc)})
    if payload.wait > 0:
        comp = submissions.wait_for(comp, min(payload.wait, 10.0))
    code = 200 if comp.is_finished else 202
    return Status(code, {"id": comp.id, "status": comp.status, "url": absolute(request, comp)})


def compilation_payload(request: HttpRequest, comp: Compilation) -> dict:
    analysis = comp.analysis or {}
    errors = list(analysis.get("errors") or [])
    if comp.error and comp.error not in errors:
        errors.append(comp.error)
    return {
        "id": comp.id,
        "status": comp.status,
        "url": absolute(request, comp),
        "go": comp.go,
        "goarch": comp.goarch,
        "lang": comp.lang,
        "groups": list(comp.group_list),
        "source": comp.source,
        "files": analysis.get("files") or [{"name": f.name, "text": f.text} for f in split_files(comp.source)],
        "result": analysis.get("status", ""),
        "diagnostics": analysis.get("diagnostics", []),
        "functions": analysis.get("functions", []),
        "errors": errors,
        "summary": summaries_to_dicts(summarize(analysis)) if analysis else [],
        "toolchain": analysis.get("toolchain", ""),
        "timings": analysis.get("timings", {}),
        "created": comp.created.isoformat(),
        "finished": comp.finished.isoformat() if comp.finished else None,
    }


@api.get("/compilations/{compilation_id}", response={200: CompilationOut, 404: ErrorOut})
def get_compilation(request: HttpRequest, compilation_id: str):
    comp = get_object_or_404(Compilation, pk=compilation_id)
    # Serialised directly: validating a large analysis (thousands of instructions) through
    # the schema doubled the response time. tests/test_api_e2e.py checks the payload
    # against CompilationOut, so the documented schema and the response stay one.
    return JsonResponse(compilation_payload(request, comp))


@api.get("/toolchains")
def list_toolchains(request: HttpRequest):
    return {"toolchains": submissions.available_toolchains(), "langs": submissions.lang_choices()}


@api.get("/kinds")
def list_kinds(request: HttpRequest):
    return {"kinds": [{"kind": k, "description": v} for k, v in KINDS.items()]}


@api.post("/format", response={200: FormatOut, 400: ErrorOut})
def format_code(request: HttpRequest, payload: FormatIn):
    try:
        files = split_files(decode_source(payload.source))
        return Status(200, {"source": join_files(format_source(files, payload.go or None))})
    except InvalidInput as exc:
        return Status(400, {"error": str(exc)})


@api.exception_handler(Http404)
def not_found(request, exc: Http404):
    return api.create_response(request, {"error": "No such compilation."}, status=404)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return api.create_response(request, {"error": str(exc)}, status=exc.status_code)


# Review endpoints: /compare, /compare/markdown, /compilations/{id}/sarif
from .review_api import router as review_router  # noqa: E402

api.add_router("/", review_router)
