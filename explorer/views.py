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
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from worker import compiler, ssa, toolchains
from worker.inputs import InvalidInput, decode_source, join_files, split_files

from . import submissions
from .examples import get_example, load_examples
from .glossary import GLOSSARY
from .models import ENGINE_VERSION, Compilation, SSADump
from .render import build_view


def _form_defaults() -> dict:
    examples = load_examples()
    first = examples[0] if examples else None
    toolchains = submissions.available_toolchains()
    return {
        "source": first.source if first else "package main\n\nfunc main() {}\n",
        "go": toolchains[0]["version"] if toolchains else "",
        "goarch": "amd64",
        "lang": "",
    }


def _page_context(form: dict, compilation: Compilation | None = None, **extra) -> dict:
    chosen = set(compilation.group_list) if compilation else set(compiler.DIAGNOSTIC_GROUPS)
    context = {
        "toolchains": submissions.available_toolchains(),
        "lang_choices": submissions.lang_choices(),
        "goarch_choices": list(toolchains.GOARCHES),
        "groups": [(g, g in chosen) for g in compiler.DIAGNOSTIC_GROUPS],
        "examples": load_examples(),
        "form": form,
        "compilation": compilation,
        "read_only": False,
        "error": "",
    }
    context["result_html"] = result_html(compilation) if compilation is not None and compilation.is_finished else ""
    context.update(extra)
    return context


def result_html(comp: Compilation) -> str:
    """The rendered result of a finished compilation, cached: it never changes.

    Rendering a 500-line program's result takes a few hundred milliseconds; a permalink
    shared in a review is opened many times.
    """
    key = f"result-html:{ENGINE_VERSION}:{comp.id}:{comp.status}:{comp.finished.isoformat() if comp.finished else ''}"
    html = cache.get(key)
    if html is None:
        view = build_view(comp.analysis, _files(comp))
        html = render_to_string(
            "partials/result.html", {"compilation": comp, "view": view, "error": comp.error, "busy": False}
        )
        cache.set(key, str(html), timeout=24 * 3600)
    return mark_safe(html)  # rendered by the template engine, which escaped everything


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
        comp = Compilation.objects.filter(pk=copy_of).first()
        if comp:
            form = {"source": comp.source, "go": comp.go, "goarch": comp.goarch, "lang": comp.lang}
    return render(request, "playground.html", _page_context(form))


# No sessions, no accounts: a compile or format request changes nothing a forged
# request could abuse (results are content-addressed), so CSRF tokens would only
# break caching and the JavaScript-off form.
@csrf_exempt
@require_POST
def compile_view(request: HttpRequest) -> HttpResponse:
    source = request.POST.get("source", "")
    form = {
        "source": source,
        "go": request.POST.get("go", ""),
        "goarch": request.POST.get("goarch", "amd64"),
        "lang": request.POST.get("lang", ""),
    }
    groups = request.POST.getlist("groups") or None
    is_htmx = request.headers.get("HX-Request") == "true"
    try:
        comp = submissions.submit(source, form["go"], form["goarch"], form["lang"], groups)
    except (InvalidInput, submissions.ServiceBusy) as exc:
        busy = isinstance(exc, submissions.ServiceBusy)
        status = 503 if busy else 200
        if is_htmx:
            context = {"compilation": None, "view": None, "error": str(exc), "busy": busy}
            return render(request, "partials/result.html", context, status=status)
        return render(
            request, "playground.html", _page_context(form, error=str(exc)), status=400 if status == 200 else status
        )
    if not is_htmx:
        return redirect(comp)
    comp = submissions.wait_for(comp)
    response = _result_fragment(request, comp)
    response["HX-Push-Url"] = comp.get_absolute_url()
    return response


def _result_fragment(request: HttpRequest, comp: Compilation) -> HttpResponse:
    if not comp.is_finished:
        elapsed = (timezone.now() - comp.created).total_seconds()
        return render(request, "partials/pending.html", {"compilation": comp, "elapsed": elapsed})
    return HttpResponse(result_html(comp))


@require_GET
def permalink(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = get_object_or_404(Compilation, pk=compilation_id)
    if comp.needs_work():
        try:
            comp = submissions.submit(comp.source, comp.go, comp.goarch, comp.lang, list(comp.group_list))
        except (InvalidInput, submissions.ServiceBusy):
            pass
    form = {"source": comp.source, "go": comp.go, "goarch": comp.goarch, "lang": comp.lang}
    return render(request, "playground.html", _page_context(form, comp, read_only=True))


@require_GET
def result_fragment(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = get_object_or_404(Compilation, pk=compilation_id)
    return _result_fragment(request, comp)


@require_GET
def raw_output(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = get_object_or_404(Compilation, pk=compilation_id)
    text = comp.raw_output or comp.error
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def format_view(request: HttpRequest) -> HttpResponse:
    try:
        files = split_files(decode_source(request.POST.get("source", "")))
        formatted = compiler.format_source(files, request.POST.get("go") or None)
    except InvalidInput as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(join_files(formatted), content_type="text/plain; charset=utf-8")


@require_GET
def kinds(request: HttpRequest) -> HttpResponse:
    return render(request, "kinds.html", {"glossary": GLOSSARY})


# The compiler's ssa.html quotes the user's identifiers and runs its own scripts: it is
# only ever served as an opaque-origin sandbox (docs/SECURITY.md).
SSA_CSP = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"


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


@require_GET
def ssa_page(request: HttpRequest, compilation_id: str, function: str) -> HttpResponse:
    """GOSSAFUNC for one function: pending (polls this URL with htmx), then the iframe."""
    comp = _ssa_compilation(compilation_id, function)
    if request.headers.get("HX-Request") == "true":
        # A poll only reads: a failed dump is retried by loading the page, not by polling.
        dump = SSADump.objects.filter(compilation=comp, function=function).defer("html_gz").first()
        error = "" if dump is not None else "The request was lost. Reload the page to ask again."
        return render(request, "partials/ssa_status.html", _ssa_context(comp, function, dump, error))
    try:
        dump = submissions.wait_for(submissions.request_ssa(comp, function))
    except submissions.ServiceBusy as exc:
        return render(request, "ssa.html", _ssa_context(comp, function, None, str(exc)), status=503)
    return render(request, "ssa.html", _ssa_context(comp, function, dump))


@xframe_options_sameorigin
@require_GET
def ssa_raw(request: HttpRequest, compilation_id: str, function: str) -> HttpResponse:
    """The compiler's page itself, for the sandboxed iframe only: no same-origin, ever."""
    if not ssa.FUNCTION_RE.match(function):
        raise Http404("No such function.")
    dump = get_object_or_404(SSADump, compilation_id=compilation_id, function=function, status=SSADump.Status.DONE)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(bytes(dump.html_gz), content_type="text/html; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(dump.html, content_type="text/html; charset=utf-8")
    response["Vary"] = "Accept-Encoding"
    response["Content-Security-Policy"] = SSA_CSP
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"
    return response
