"""Pages: the playground, the permalink /s/<id> and their htmx fragments.

Template context contract (templates/ and static/ rely on these names):

playground.html
    toolchains      list of {"version", "goarches", "lang"} (newest first)
    lang_choices    list of "go1.N" strings, newest first
    goarch_choices  every GOARCH the product knows (a toolchain may have fewer prepared)
    groups          list of (group, checked) pairs for the diagnostic groups
    examples        list of explorer.examples.Example (slug, title, shows, lang, source)
    form            {"source", "go", "goarch", "lang"}: the values to show in the controls
    compilation     a Compilation or None (the permalink page)
    result_html     the rendered partials/result.html of a finished compilation, or ""
    read_only       True on the permalink page
    error           a message for the user, or ""
partials/result.html   compilation, view, error, busy   (a finished result or an input error)
partials/pending.html  compilation, elapsed        (polls /s/<id>/result with htmx)
ssa.html               compilation, function, dump, elapsed, error   (GOSSAFUNC page)
partials/ssa_status.html  the same: pending (polls the page with htmx), the iframe, or the error
graph.html             compilation, svg, graphviz_error and explorer.graph.page_model's keys
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from worker import compiler, ssa, toolchains
from worker.flags import DEBUG_KEYS, ENV, FLAGS, parse_env_text, parse_flag_text
from worker.inputs import InvalidInput, is_go_file, split_files

from . import bigpage, bigpage_views, graph, jobs, measurements, submissions
from .clients import client_of
from .examples import get_example, load_examples
from .formdata import check_utf8
from .glossary import GLOSSARY
from .models import ENGINE_VERSION, Compilation, Job, SSADump
from .render import build_view

# A compilation id (explorer/urls.py matches the same in paths). An id from a query string
# or an API path that is anything else is "none" before the database sees it: no NUL,
# no 10,000 characters in a query (PostgreSQL refuses NUL in text with an error).
COMPILATION_ID = re.compile(r"[a-z2-7]{16}")


def stored(compilation_id: str | None) -> Compilation | None:
    """The stored compilation of ``compilation_id``, or None (also for what is not an id)."""
    if not isinstance(compilation_id, str) or not COMPILATION_ID.fullmatch(compilation_id):
        return None
    return Compilation.objects.filter(pk=compilation_id).first()


def stored_or_404(compilation_id: str | None) -> Compilation:
    comp = stored(compilation_id)
    if comp is None:
        raise Http404("No such compilation.")
    return comp


def flag_choices() -> list[dict]:
    """Suggestions for the flags field: the common whole flags and -d settings."""
    choices = [
        {"flag": "-l", "description": "no inlining"},
        {"flag": "-N", "description": "no optimizations"},
        {"flag": "-m=1", "description": "decisions without their flows"},
        {"flag": "-B", "description": "no bounds checks"},
        {"flag": "-smallframes", "description": "smaller stack frames"},
        {"flag": "-live", "description": "liveness at calls"},
    ]
    for key in ("escapedebug", "escapemutationscalls", "ssa/prove/debug", "defer", "closure", "append", "zerocopy"):
        choices.append({"flag": f"-d={key}=1", "description": DEBUG_KEYS[key][1]})
    return choices


def form_of(comp: Compilation) -> dict:
    """The controls' values that reproduce a stored compilation."""
    return {
        "source": comp.source,
        "go": comp.go,
        "goarch": comp.goarch,
        "lang": comp.lang,
        "flags": comp.flags,
        "env": comp.env,
        "groups": list(comp.group_list),  # what it collected: a copy compiles the same
    }


def _form_defaults() -> dict:
    examples = load_examples()
    first = examples[0] if examples else None
    toolchains = submissions.available_toolchains()
    return {
        "source": first.source if first else "package main\n\nfunc main() {}\n",
        "go": toolchains[0]["version"] if toolchains else "",
        "goarch": "amd64",
        "lang": "",
        "flags": "",
        "env": "",
    }


def _page_context(form: dict, compilation: Compilation | None = None, *, with_result: bool = True, **extra) -> dict:
    """The playground page's context; ``with_result=False``: without the finished result's
    HTML (the caller puts it in: :func:`permalink`)."""
    chosen = set(compilation.group_list if compilation else form.get("groups") or compiler.DIAGNOSTIC_GROUPS)
    context = {
        "toolchains": submissions.available_toolchains(),
        "lang_choices": submissions.lang_choices(),
        "goarch_choices": list(toolchains.GOARCHES),
        "groups": [(g, g in chosen) for g in compiler.DIAGNOSTIC_GROUPS],
        "examples": load_examples(),
        "flag_choices": flag_choices(),
        "form": form,
        "compilation": compilation,
        "read_only": False,
        "error": "",
        "run_enabled": settings.RUN_ENABLED,
    }
    page = extra.pop("page", 1)
    finished = compilation is not None and compilation.is_finished
    context["result_html"] = result_html(compilation, page) if finished and with_result else ""
    if compilation is not None and not compilation.is_finished:
        context.update(pending_context(compilation))
    context.update(extra)
    return context


def result_html(comp: Compilation, page: int = 1) -> str:
    """The rendered result of a finished compilation (see :func:`result_bytes`)."""
    return mark_safe(
        result_bytes(comp, page).decode("utf-8")
    )  # rendered by the template engine, which escaped everything


def result_bytes(comp: Compilation, page: int = 1) -> bytes:
    """The rendered result of a finished compilation, UTF-8, cached: it never changes.

    Rendering a 500-line program's result takes a few hundred milliseconds; a permalink
    shared in a review is opened many times. A big program's result shows one chunk of
    its lines (``page``) and loads the rest when needed (explorer/bigpage.py). Kept as
    bytes: the permalink page puts them into its response as they are (:func:`permalink`).
    """
    key = f"result-html:{comp.result_stamp}"
    key += measurements.cache_key(comp)
    key += f":{page}" if page > 1 else ""
    html = cache.get(key)
    if html is None:
        files = _files(comp)
        # A txtar's go.mod or notes are shown too, after the compiled files, marked "not compiled".
        not_compiled = [f for f in files if not is_go_file(f.name)]
        ordered = [f for f in files if is_go_file(f.name)] + not_compiled
        if comp.status == Compilation.Status.DONE and bigpage.is_big(ordered, comp.analysis):
            text = bigpage_views.render_big(comp, ordered, [f.name for f in not_compiled], page)
        else:
            view = build_view(comp.analysis, ordered)
            context = {"compilation": comp, "view": view, "error": comp.error, "busy": False}
            context.update(measurements.page_context(comp, view))
            packages = (comp.analysis or {}).get("packages") or []  # a module's (worker/modules.py)
            text = render_to_string(
                "partials/result.html",
                {**context, "not_compiled": [f.name for f in not_compiled], "packages": packages},
            )
        html = str(text).encode("utf-8")
        cache.set(key, html, timeout=24 * 3600)
    return html


def _files(comp: Compilation):
    try:
        return split_files(comp.source)
    except InvalidInput:
        return []


@require_GET
def playground(request: HttpRequest) -> HttpResponse:
    form = _form_defaults()
    example = get_example(request.GET.get("example", ""))
    if example:
        form.update(source=example.source, lang=example.lang)
    copy_of = request.GET.get("copy")
    if copy_of:
        comp = stored(copy_of)
        if comp:
            form = form_of(comp)
    return render(request, "playground.html", _page_context(form))


def _refused(request: HttpRequest, form: dict, exc: Exception) -> HttpResponse:
    """A submission not taken: 400 for the input, 429/503 with Retry-After when busy."""
    busy = isinstance(exc, submissions.ServiceBusy)
    status = exc.status if busy else 400
    if request.headers.get("HX-Request") == "true":
        context = {"compilation": None, "view": None, "error": str(exc), "busy": busy}
        response = render(request, "partials/result.html", context, status=status)
    else:
        response = render(request, "playground.html", _page_context(form, error=str(exc)), status=status)
    if busy:
        response["Retry-After"] = str(exc.retry_after)
    return response


# No sessions, no accounts: a compile or format request changes nothing a forged
# request could abuse (results are content-addressed), so CSRF tokens would only
# break caching and the JavaScript-off form. Every POST counts in the rate limits.
@csrf_exempt
@require_POST
def compile_view(request: HttpRequest) -> HttpResponse:
    try:
        check_utf8(request)
    except InvalidInput as exc:
        return _refused(request, _form_defaults(), exc)
    source = request.POST.get("source", "")
    form = {
        "source": source,
        "go": request.POST.get("go", ""),
        "goarch": request.POST.get("goarch", "amd64"),
        "lang": request.POST.get("lang", ""),
        "flags": request.POST.get("flags", ""),
        "env": request.POST.get("env", ""),
        "groups": request.POST.getlist("groups"),  # a refused form keeps its choices
    }
    groups = form["groups"] or None
    try:
        comp = submissions.submit(
            source,
            form["go"],
            form["goarch"],
            form["lang"],
            groups,
            client=client_of(request),
            flags=parse_flag_text(form["flags"]),
            env=parse_env_text(form["env"]),
        )
        if request.POST.get("measure"):
            submissions.check_measurable(source, form["goarch"])
            submissions.request_measurement(comp, client_of(request))
    except (InvalidInput, submissions.ServiceBusy) as exc:
        return _refused(request, form, exc)
    if request.headers.get("HX-Request") != "true":
        return redirect(comp)
    comp = submissions.wait_for(comp)
    response = _result_fragment(request, comp)
    response["HX-Push-Url"] = comp.get_absolute_url()
    return response


def _result_fragment(request: HttpRequest, comp: Compilation) -> HttpResponse:
    if not comp.is_finished:
        return render(request, "partials/pending.html", pending_context(comp))
    return HttpResponse(result_bytes(comp))


def pending_context(comp: Compilation) -> dict:
    elapsed = (timezone.now() - comp.created).total_seconds()
    ahead = jobs.queue_position(Job.Kind.COMPILE, comp.pk) if comp.status == Compilation.Status.QUEUED else None
    return {"compilation": comp, "elapsed": elapsed, "ahead": ahead}


def touch(comp: Compilation) -> None:
    """Remember that a result was looked at (retention keeps what is viewed). At most
    once an hour per result, and never at the cost of the page: a read-only or locked
    database still serves it."""
    now = timezone.now()
    if comp.last_viewed and now - comp.last_viewed < VIEW_TOUCH_INTERVAL:
        return
    try:
        Compilation.objects.filter(pk=comp.pk).update(last_viewed=now)
    except DatabaseError:
        pass


VIEW_TOUCH_INTERVAL = timedelta(hours=1)


@require_GET
def permalink(request: HttpRequest, compilation_id: str) -> HttpResponse:
    """A stored result, as it is: reading never queues work (a failed one offers a re-run)."""
    comp = get_object_or_404(Compilation.objects.defer("raw_output_gz"), pk=compilation_id)
    touch(comp)
    form = form_of(comp)
    # ?page=N: a big program's lines N (explorer/bigpage.py), for the reader without JavaScript
    page = request.GET.get("page", "1")
    page = int(page) if page.isdigit() and len(page) < 7 else 1
    if not comp.is_finished:
        return render(request, "playground.html", _page_context(form, comp, read_only=True, page=page))
    # The page around a marker, the cached result's bytes put in its place: joining and
    # encoding a 500-line program's 2.6 MB of result with the page on every view cost more
    # than the rest of the view (a cached page 11 -> 6 ms).
    context = _page_context(form, comp, read_only=True, with_result=False)
    context["result_html"] = mark_safe(RESULT_MARKER)
    head, _, tail = render_to_string("playground.html", context, request).partition(RESULT_MARKER)
    return HttpResponse(head.encode("utf-8") + result_bytes(comp, page) + tail.encode("utf-8"))


# Where the permalink page's result goes; the user's text in the page is escaped, so it can
# never contain this (it starts with "<"), and it is random per process besides.
RESULT_MARKER = f"<!--ee-result-{secrets.token_hex(8)}-->"


@csrf_exempt
@require_POST
def rerun_view(request: HttpRequest, compilation_id: str) -> HttpResponse:
    """Run a failed compilation again, on explicit request (rate-limited like a compile)."""
    comp = get_object_or_404(Compilation, pk=compilation_id)
    try:
        submissions.rerun(comp, client_of(request))
    except submissions.ServiceBusy as exc:
        form = form_of(comp)
        return _refused(request, form, exc)
    return redirect(comp)


@csrf_exempt
@require_POST
def measure_view(request: HttpRequest, compilation_id: str) -> HttpResponse:
    """Measure the program (or measure it again): only on this explicit request."""
    comp = get_object_or_404(Compilation, pk=compilation_id)
    try:
        submissions.request_measurement(comp, client_of(request), again=True)
    except (InvalidInput, submissions.ServiceBusy) as exc:
        return _refused(request, form_of(comp), exc)
    return redirect(comp.get_absolute_url() + "#measured")


@require_GET
def result_fragment(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = get_object_or_404(Compilation.objects.defer("raw_output_gz"), pk=compilation_id)
    return _result_fragment(request, comp)


@require_GET
def raw_output(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = get_object_or_404(Compilation, pk=compilation_id)
    text = comp.raw_output or comp.error
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def format_view(request: HttpRequest) -> HttpResponse:
    """gofmt, run by a worker in its sandbox like every other run of Go code."""
    try:
        check_utf8(request)
        formatted = submissions.format_source(request.POST.get("source", ""), request.POST.get("go") or None)
    except InvalidInput as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    except submissions.ServiceBusy as exc:
        response = HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(exc.retry_after)
        return response
    return HttpResponse(formatted, content_type="text/plain; charset=utf-8")


@require_GET
def kinds(request: HttpRequest) -> HttpResponse:
    flags = {
        "flags": [{"flag": k, "description": text} for k, (_, text) in FLAGS.items()],
        "debug": [{"key": k, "description": text} for k, (_, text) in DEBUG_KEYS.items()],
        "env": [{"name": k, "goarch": arch, "description": text} for k, (arch, _, text) in ENV.items()],
    }
    return render(request, "kinds.html", {"glossary": GLOSSARY, "flags": flags})


# The compiler's ssa.html quotes the user's identifiers and runs its own scripts: it is
# stored sanitized (worker/ssa_sanitize.py) and only ever served as an opaque-origin
# sandbox that runs nothing but the compiler's own script and three handlers, allowed by
# hash (docs/SECURITY.md). The policy names the page's script: page -> policy.
SSA_CSP = ssa.ssa_sanitize.csp_for


def _ssa_compilation(compilation_id: str, function: str) -> Compilation:
    """The finished compilation, if ``function`` is one of its user functions; else 404."""
    if not ssa.FUNCTION_RE.match(function):
        raise Http404("No such function.")
    comp = get_object_or_404(Compilation, pk=compilation_id)
    if comp.status != Compilation.Status.DONE or function not in ssa.functions_of_analysis(comp.analysis):
        raise Http404("No such function in this compilation (functions are listed when “asm” is collected).")
    return comp


def _ssa_context(comp: Compilation, function: str, dump: SSADump | None, error: str = "") -> dict:
    elapsed = (timezone.now() - dump.created).total_seconds() if dump is not None else 0.0
    return {"compilation": comp, "function": function, "dump": dump, "elapsed": elapsed, "error": error}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ssa_page(request: HttpRequest, compilation_id: str, function: str) -> HttpResponse:
    """GOSSAFUNC for one function. GET shows what is stored (and polls while it is made:
    htmx); only a POST (the button) queues the compile, so links and crawlers cost nothing."""
    comp = _ssa_compilation(compilation_id, function)
    dump = SSADump.objects.filter(compilation=comp, function=function).defer("html_gz").first()
    if request.method == "GET":
        template = "partials/ssa_status.html" if request.headers.get("HX-Request") == "true" else "ssa.html"
        return render(request, template, _ssa_context(comp, function, dump))
    try:
        dump = submissions.request_ssa(comp, function, client_of(request))
    except submissions.ServiceBusy as exc:
        response = render(request, "ssa.html", _ssa_context(comp, function, dump, str(exc)), status=exc.status)
        response["Retry-After"] = str(exc.retry_after)
        return response
    submissions.wait_for(dump)
    return redirect("ssa", comp.pk, function)


@xframe_options_sameorigin
@require_GET
def ssa_raw(request: HttpRequest, compilation_id: str, function: str) -> HttpResponse:
    """The compiler's page itself, for the sandboxed iframe only: no same-origin, ever.

    Opened as a page of its own (a top-level navigation: ``Sec-Fetch-Dest: document``) it
    answers with a redirect to the function's SSA page, a path on this site, which frames
    it; requests without the header (curl) and the iframe's get the page.
    """
    if not ssa.FUNCTION_RE.match(function):
        raise Http404("No such function.")
    dump = get_object_or_404(SSADump, compilation_id=compilation_id, function=function, status=SSADump.Status.DONE)
    if request.headers.get("Sec-Fetch-Dest") == "document":
        response = redirect("ssa", compilation_id, function)
        response["Vary"] = "Accept-Encoding, Sec-Fetch-Dest"
        response["Cache-Control"] = "no-store"
        return response
    page = dump.html
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(bytes(dump.html_gz), content_type="text/html; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Vary"] = "Accept-Encoding, Sec-Fetch-Dest"
    response["Content-Security-Policy"] = SSA_CSP(page)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def graph_page(request: HttpRequest, compilation_id: str, function: str) -> HttpResponse:
    """The escape graph of one function (explorer/graph.py): the -m=2 flows as a picture,
    drawn by Graphviz on the server, sanitized, and cached (a result never changes); the
    same flows as a list. Without Graphviz the page says so and still shows the list."""
    if not graph.FUNCTION_RE.match(function):
        raise Http404("No such function.")
    comp = get_object_or_404(Compilation.objects.defer("raw_output_gz"), pk=compilation_id)
    if comp.status != Compilation.Status.DONE:
        raise Http404("No such function in this compilation.")
    digest = hashlib.sha256(function.encode()).hexdigest()[:32]
    finished = comp.finished.isoformat() if comp.finished else ""
    key = f"graph-svg:{ENGINE_VERSION}:{graph.GRAPH_VERSION}:{comp.id}:{finished}:{digest}"
    page = cache.get(key)  # only ever stored for a function checked below
    if page is None:
        analysis = comp.analysis
        functions = ssa.functions_of_analysis(analysis)
        model = graph.build_graph(analysis, function) if function in functions else None
        if model is None:
            outer = graph.enclosing(function)
            if outer != function and outer in functions and function in graph.graph_functions(analysis):
                return redirect("graph", comp.pk, outer)  # a closure the assembly does not list: its function's page
            raise Http404("No such function in this compilation, or it has no heap decision to draw.")
        links = graph.Links(comp.get_absolute_url(), [f["name"] for f in analysis.get("files") or []])
        page = {**graph.page_model(model, links), "svg": "", "graphviz_error": ""}
        try:
            page["svg"] = graph.render_svg(model, links)
        except graph.GraphvizUnavailable:
            page["graphviz_error"] = "missing"  # not cached: installing Graphviz brings the drawing
        except (graph.GraphvizFailed, graph.UnsafeSVG) as exc:
            page["graphviz_error"] = str(exc)  # as lasting as the result: cached too
        if page["graphviz_error"] != "missing":
            cache.set(key, page, timeout=24 * 3600)
    touch(comp)
    # the SVG was rebuilt element by element from an allow list by graph.sanitize_svg
    context = {**page, "svg": mark_safe(page["svg"]), "compilation": comp}  # noqa: S308
    return render(request, "graph.html", context)
