"""The JSON API, /api/v1/… (OpenAPI schema at /api/v1/openapi.json, docs at /api/v1/docs)."""

from __future__ import annotations

import json
import logging
import time
from typing import Literal

import orjson
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, NinjaAPI, Query, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict

from worker.analysis import KINDS, Diagnostic, DirectiveResult, Function, SourceFile
from worker.compiler import DIAGNOSTIC_GROUPS
from worker.flags import DEBUG_KEYS, ENV, FLAGS
from worker.inputs import InvalidInput, is_go_file, split_files
from worker.summary import FunctionSummary, summaries_to_dicts, summarize
from worker.toolchains import GOARCHES

from . import submissions
from .api_schema import errors, links_to_compilation
from .clients import client_of
from .measurements import cache_key as measurements_cache_key
from .measurements import measurements_payload
from .middleware import fault_response
from .models import Compilation
from .views import stored_or_404

log = logging.getLogger("explorer.api")


class ExplorerAPI(NinjaAPI):
    def validation_error_from_error_contexts(self, error_contexts) -> ValidationError:
        """As ninja's, keeping the offending value (short, scalar) so the message can name it."""
        errors = []
        for context in error_contexts:
            model = context.model
            for error in context.pydantic_validation_error.errors(include_url=False):
                loc = (model.__ninja_param_source__,) + model.__ninja_flatten_map_reverse__.get(
                    error["loc"], error["loc"]
                )
                got = error.get("input")
                scalar = got if isinstance(got, str | int | float | bool) else None
                errors.append({"loc": loc, "msg": error["msg"], "type": error["type"], "input": scalar})
        return ValidationError(errors)


api = ExplorerAPI(title="Escape Explorer API", version="1", urls_namespace="api")

GoArch = Literal[GOARCHES]  # type: ignore[valid-type]
Group = Literal[DIAGNOSTIC_GROUPS]  # type: ignore[valid-type]


class CompileIn(Schema):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(..., max_length=2 * 1024 * 1024)
    go: str | None = Field(None, max_length=16, pattern=r"^[0-9]{1,2}\.[0-9]{1,3}(\.[0-9]{1,3})?$")
    goarch: GoArch | None = None
    lang: str | None = Field(None, max_length=8, pattern=r"^go1\.[0-9]{1,3}$")
    groups: list[Group] | None = Field(None, max_length=len(DIAGNOSTIC_GROUPS))
    # compiler flags added to the engine's (GET /api/v1/flags lists what is allowed), and build settings
    flags: list[str] | None = Field(None, max_length=16)
    env: dict[str, str] | None = Field(None, max_length=8)
    # seconds to wait for a result before answering (at most 10; the server may wait less when busy)
    wait: float = Field(0.0, ge=0.0, le=10.0, allow_inf_nan=False)
    # also build and run the program (its benchmarks, or main) and count allocations per line
    measure: bool = False


class CompileOut(Schema):
    id: str
    status: str
    url: str
    measurement: str | None = None  # with "measure": the measurement's status (queued | running | done | failed)


class MeasurementsOut(Schema):
    """Measured allocations of the program (docs/API.md "Measurements")."""

    status: str  # queued | running | done | failed
    failure: str
    error: str
    result: str  # "" until done; then ok | exit-error | limit | build-error | nothing-to-run | unsupported
    mode: str  # benchmarks | main
    benchmarks: list[dict]  # the plain run's: {name, iterations, ns_per_op, bytes_per_op, allocs_per_op, ops_total}
    profiled_benchmarks: list[dict]  # the same lines of the run that recorded every allocation
    lines: list[
        dict
    ]  # {file, line, function, allocs, bytes, allocs_per_op, bytes_per_op, benchmarks, call_chain, verdict}
    functions: list[dict]  # {name, allocs, bytes, allocs_per_op, bytes_per_op}: the measured side of `summary`
    disagreements: list[dict]  # {file, line, verdict, predicted, text}
    stdout: str
    stderr: str
    exit_code: int | None
    truncated: bool
    limit: str
    errors: list[str]
    notes: list[str]
    unattributed: dict
    benchtime: str
    sandbox: dict
    memory_limit: str  # address-space | cgroup
    timings: dict
    created: str
    finished: str | None


class FileOut(Schema):
    name: str
    text: str
    compiled: bool  # false: a txtar's other file (go.mod, notes.txt), kept with the source, not compiled


class CompilationOut(Schema):
    """A compilation and, once finished, its analysis (shapes: worker/analysis.py)."""

    id: str
    status: str  # queued | running | done | failed
    failure: str  # with "failed": input | limit | internal | lost | expired ("" otherwise)
    url: str
    go: str
    goarch: str
    lang: str
    groups: list[str]
    flags: list[str]  # the compiler flags added to the engine's ([] for none)
    env: dict[str, str]  # the build settings ({} for the defaults)
    source: str
    files: list[FileOut]
    result: str  # "" until finished; then ok | compile-error | limit
    diagnostics: list[Diagnostic]
    functions: list[Function]
    packages: list[str]  # a module's analysed packages (import paths; worker/modules.py); [] for one package
    errors: list[str]
    summary: list[FunctionSummary]
    # the //gcassert: directives of the code, each decided from the compiler's output (worker/directives.py)
    directives: list[DirectiveResult]
    toolchain: str
    timings: dict[str, float]
    created: str
    finished: str | None
    measurements: MeasurementsOut | None  # null until measured ("measure": true or POST …/measure)
    # false when asked without the functions' listings (?listings=false): every function's
    # "asm" is [] and GET …/functions/{n} gives one function with its listing
    listings: bool = True


class FormatIn(Schema):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(..., max_length=2 * 1024 * 1024)
    go: str | None = Field(None, max_length=16, pattern=r"^[0-9]{1,2}\.[0-9]{1,3}(\.[0-9]{1,3})?$")


class FormatOut(Schema):
    source: str


def absolute(request: HttpRequest, comp: Compilation) -> str:
    return request.build_absolute_uri(comp.get_absolute_url())


def refused(exc: submissions.ServiceBusy) -> JsonResponse:
    response = JsonResponse({"error": str(exc)}, status=exc.status)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.post(
    "/compile",
    response={200: CompileOut, 202: CompileOut, **errors(413)},
    openapi_extra=links_to_compilation(200, 202),
)
def compile_source(request: HttpRequest, payload: CompileIn):
    """Compile (or find) a program. 200 when finished within ``wait``, else 202: poll its ``url`` or
    ``/compilations/{id}``. 429 when this client has its share of the queue or sends too fast,
    503 when the service is full or its broker unreachable (both with Retry-After).
    With ``measure``, the program's benchmarks (or main) are also run and their allocations
    counted per line (400 when running is turned off or there is nothing to run)."""
    client = client_of(request)
    try:
        if payload.measure:
            submissions.check_measurable(payload.source, payload.goarch)
        comp = submissions.submit(
            payload.source,
            payload.go,
            payload.goarch,
            payload.lang,
            payload.groups,
            client=client,
            flags=payload.flags,
            env=payload.env,
        )
        measurement = submissions.request_measurement(comp, client) if payload.measure else None
    except InvalidInput as exc:
        return Status(400, {"error": str(exc)})
    except submissions.ServiceBusy as exc:
        return refused(exc)
    if payload.wait > 0:
        deadline = time.monotonic() + payload.wait
        comp = submissions.wait_for(comp, payload.wait, result=False)  # the answer names only the status
        if measurement is not None:
            measurement = submissions.wait_for(measurement, max(0.0, deadline - time.monotonic()))
    finished = comp.is_finished and (measurement is None or measurement.is_finished)
    body = {"id": comp.id, "status": comp.status, "url": absolute(request, comp)}
    if measurement is not None:
        body["measurement"] = measurement.status
    return Status(200 if finished else 202, body)


@api.post(
    "/compilations/{compilation_id}/measure",
    response={200: CompileOut, 202: CompileOut, **errors(404, 413)},
)
def measure_compilation(request: HttpRequest, compilation_id: str, wait: float = 0.0):
    """Run the program again and count its allocations (a finished measurement is replaced:
    measurements are noisy, so they are re-run only on request). 400 when running is turned
    off (EXPLORER_RUN=0) or there is nothing to run."""
    comp = stored_or_404(compilation_id)
    try:
        measurement = submissions.request_measurement(comp, client_of(request), again=True)
    except InvalidInput as exc:
        return Status(400, {"error": str(exc)})
    except submissions.ServiceBusy as exc:
        return refused(exc)
    if wait > 0:
        measurement = submissions.wait_for(measurement, min(wait, 10.0))
    body = {"id": comp.id, "status": comp.status, "url": absolute(request, comp), "measurement": measurement.status}
    return Status(200 if measurement.is_finished else 202, body)


@api.post(
    "/compilations/{compilation_id}/rerun",
    response={200: CompileOut, 202: CompileOut, **errors(404, 413)},
)
def rerun_compilation(request: HttpRequest, compilation_id: str):
    """Run a failed compilation again (one that hit a sandbox limit runs in the slow lane).
    Anything else is answered as it is: results never change."""
    comp = stored_or_404(compilation_id)
    try:
        comp = submissions.rerun(comp, client_of(request))
    except submissions.ServiceBusy as exc:
        return refused(exc)
    return Status(
        200 if comp.is_finished else 202, {"id": comp.id, "status": comp.status, "url": absolute(request, comp)}
    )


WAIT_HELP = "seconds to wait for an unfinished compilation to finish (at most 10)"
LISTINGS_HELP = (
    "false: every function without its assembly listing (its asm is []); a big program's decisions "
    "without the megabytes of instructions. GET /compilations/{id}/functions/{n} gives one function's"
)


def compilation_payload(request: HttpRequest, comp: Compilation, listings: bool = True) -> dict:
    analysis = comp.analysis or {}
    functions = analysis.get("functions", [])
    if not listings:
        functions = [{**f, "asm": []} for f in functions]
    errors = list(analysis.get("errors") or [])
    if comp.error and comp.error not in errors:
        errors.append(comp.error)
    return {
        "id": comp.id,
        "status": comp.status,
        "failure": comp.failure,
        "url": absolute(request, comp),
        "go": comp.go,
        "goarch": comp.goarch,
        "lang": comp.lang,
        "groups": list(comp.group_list),
        "flags": list(comp.options.flags),
        "env": dict(comp.options.env),
        "source": comp.source,
        "files": files_payload(comp, analysis),
        "result": analysis.get("status", ""),
        "diagnostics": analysis.get("diagnostics", []),
        "functions": functions,
        "packages": analysis.get("packages", []),
        "errors": errors,
        "summary": summaries_to_dicts(summarize(analysis)) if analysis else [],
        "directives": analysis.get("directives", []),
        "toolchain": analysis.get("toolchain", ""),
        "timings": analysis.get("timings", {}),
        "created": comp.created.isoformat(),
        "finished": comp.finished.isoformat() if comp.finished else None,
        "measurements": measurements_payload(comp, analysis),
        "listings": listings,
    }


def files_payload(comp: Compilation, analysis: dict) -> list[dict]:
    """Every file of the source, in order, each saying whether it was compiled."""
    try:
        files = split_files(comp.source)
    except InvalidInput:
        files = [SourceFile(f["name"], f["text"]) for f in analysis.get("files") or []]
    return [{"name": f.name, "text": f.text, "compiled": is_go_file(f.name)} for f in files]


@api.get("/compilations/{compilation_id}", response={200: CompilationOut, **errors(404)})
def get_compilation(
    request: HttpRequest,
    compilation_id: str,
    wait: float = Query(0.0, ge=0.0, le=10.0, allow_inf_nan=False, description=WAIT_HELP),
    listings: bool = Query(True, description=LISTINGS_HELP),
):
    """A compilation, finished or not. With ``wait``, an unfinished one is answered when it
    finishes or after that many seconds, whichever comes first (a long poll instead of many
    short ones; the server may wait less when busy). With ``listings=false``, without the
    functions' assembly listings."""
    from .views import touch

    comp = stored_or_404(compilation_id)
    if wait > 0 and not comp.is_finished:
        comp = submissions.wait_for(comp, wait)
    touch(comp)
    # Serialised directly: validating a large analysis (thousands of instructions) through
    # the schema doubled the response time. tests/test_api_e2e.py checks the payload
    # against CompilationOut, so the documented schema and the response stay one.
    return HttpResponse(compilation_json(request, comp, listings), content_type="application/json")


@api.get("/compilations/{compilation_id}/functions/{index}", response={200: Function, **errors(404)})
def get_function(request: HttpRequest, compilation_id: str, index: int):
    """Function ``index`` (its place in the compilation's ``functions``) with its assembly
    listing: for a client that asked for the compilation without them (``listings=false``).
    404 until the compilation is done, and for an index it does not have."""
    from . import bigpage
    from .models import Status  # not ninja's Status, imported above
    from .views import touch

    comp = stored_or_404(compilation_id)
    if comp.status != Status.DONE:
        raise Http404("The compilation is not done: it has no functions yet.")
    # The parsed analysis is shared with the page's (bigpage.analysis_of); only the indexes
    # the compilation has get a cache entry.
    count = bigpage.cached(comp, "function-count", lambda: len(bigpage.analysis_of(comp).get("functions", [])))
    if not 0 <= index < count:
        raise Http404(f"The compilation has no function {index}.")
    body = bigpage.cached(
        comp, f"api-function:{index}", lambda: orjson.dumps(bigpage.analysis_of(comp)["functions"][index])
    )
    touch(comp)
    return HttpResponse(body, content_type="application/json")


def compilation_json(request: HttpRequest, comp: Compilation, listings: bool = True) -> bytes:
    """The JSON of a compilation; a finished one's is cached (it never changes; a 500-line
    program's takes ~35 ms to build and ~1 ms to fetch), per address it is served under."""
    if not comp.is_finished:
        return orjson.dumps(compilation_payload(request, comp, listings))
    key = f"result-json:{comp.result_stamp}:{absolute(request, comp)}:{int(listings)}"
    key += measurements_cache_key(comp)  # a measurement (re-run on request) changes the JSON
    body = cache.get(key)
    if body is None:
        body = orjson.dumps(compilation_payload(request, comp, listings))
        if len(body) <= CACHED_JSON_MAX_BYTES:  # the cache is in each web process's memory
            cache.set(key, body, timeout=24 * 3600)
    return body


CACHED_JSON_MAX_BYTES = 4 * 1024**2


@api.get("/toolchains", response={200: dict, **errors()})
def list_toolchains(request: HttpRequest):
    return {"toolchains": submissions.available_toolchains(), "langs": submissions.lang_choices()}


@api.get("/flags", response={200: dict, **errors()})
def list_flags(request: HttpRequest):
    """The compiler flags and build settings a request may add, with what each does."""
    return {
        "flags": [{"flag": name, "pattern": pattern, "description": text} for name, (pattern, text) in FLAGS.items()],
        "debug": [{"key": key, "values": values, "description": text} for key, (values, text) in DEBUG_KEYS.items()],
        "env": [
            {"name": name, "goarch": arch or None, "values": values, "description": text}
            for name, (arch, values, text) in ENV.items()
        ],
    }


@api.get("/kinds", response={200: dict, **errors()})
def list_kinds(request: HttpRequest):
    return {"kinds": [{"kind": k, "description": v} for k, v in KINDS.items()]}


@api.post("/format", response={200: FormatOut, **errors(413)})
def format_code(request: HttpRequest, payload: FormatIn):
    """gofmt of the chosen toolchain (run by a worker, in its sandbox)."""
    try:
        return Status(200, {"source": submissions.format_source(payload.source, payload.go)})
    except InvalidInput as exc:
        return Status(400, {"error": str(exc)})
    except submissions.ServiceBusy as exc:
        return refused(exc)


@api.exception_handler(Http404)
def not_found(request, exc: Http404):
    return api.create_response(request, {"error": str(exc) or "No such compilation."}, status=404)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    message = str(exc)
    if isinstance(exc.__cause__, UnicodeDecodeError):  # ninja's "Cannot parse request body"
        message = "The request body is not valid UTF-8: send JSON as UTF-8 text."
    elif isinstance(exc.__cause__, json.JSONDecodeError):
        cause = exc.__cause__
        message = f"The request body is not valid JSON: {cause.msg} (line {cause.lineno}, column {cause.colno})."
    elif isinstance(exc.__cause__, RecursionError):
        message = "The request body is not valid JSON: it is nested too deeply."
    return api.create_response(request, {"error": message}, status=exc.status_code)


@api.exception_handler(ValidationError)
def invalid_request(request, exc: ValidationError):
    """Request validation: the documented 400 {"error"}, naming each field and what is wrong."""
    problems = []
    for error in exc.errors[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        got = error.get("input")
        shown = f" (got {str(got)[:40]!r})" if isinstance(got, str | int | float) and where else ""
        message = error.get("msg", "invalid")
        if not where and error.get("type") == "missing":  # no body at all
            message = 'missing: send a JSON object such as {"source": "package main …"}'
        elif error.get("type") == "string_unicode":  # JSON can say "\ud800"; text cannot hold it
            message, shown = "not valid UTF-8 text (it holds a lone surrogate such as \\ud800)", ""
        problems.append(f"{where or 'body'}: {message}{shown}")
    return api.create_response(request, {"error": "Invalid request: " + "; ".join(problems)}, status=400)


@api.exception_handler(Exception)
def unexpected(request, exc: Exception):
    """Faults (database, body size, token) get their status; a bug is a JSON 500, logged."""
    response = fault_response(request, exc)
    if response is not None:
        return response
    log.exception("API error on %s", request.path, extra={"request_id": getattr(request, "request_id", "")})
    return api.create_response(request, {"error": "Something went wrong on our side. Try again."}, status=500)


# Review endpoints: /compare, /compare/markdown, /compilations/{id}/sarif
from .review_api import router as review_router  # noqa: E402

api.add_router("/", review_router)

# Anything else under /api/v1/ is a 404 of the one error shape too (Django's is a page).
unknown_paths = Router()
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@unknown_paths.api_operation(ANY_METHOD, "/{path:rest}", include_in_schema=False)
def no_such_endpoint(request: HttpRequest, rest: str):
    return api.create_response(request, {"error": "No such endpoint: see /api/v1/docs."}, status=404)


@unknown_paths.api_operation(ANY_METHOD, "/", include_in_schema=False)
def no_endpoint(request: HttpRequest):
    return no_such_endpoint(request, "")


api.add_router("/", unknown_paths)
