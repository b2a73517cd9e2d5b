"""The compare pages: a form of two sides, the permalink /c/<a>/<b> and its htmx fragment.

Template context contract:

compare.html
    form            {"a": SideForm, "b": SideForm}: the values to show in the controls
    toolchains      list of {"version", "goarches", "lang"}; goarches: every prepared GOARCH
    lang_choices    list of "go1.N"
    pair            (Compilation, Compilation) or None (the bare form)
    pending         True while either side is queued or running
    result          CompareView or None
    error           a message for the user, or ""
partials/compare_result.html   pair, result
partials/compare_pending.html  pair
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from worker.compare import Decision, Diff, Side, short_name
from worker.compare_measured import render_markdown as measured_markdown
from worker.flags import parse_env_text, parse_flag_text
from worker.inputs import InvalidInput, compiled_files, split_files
from worker.review import Links, describe, position, render_markdown, settings

from . import submissions
from .clients import client_of
from .formdata import check_utf8
from .models import Compilation
from .render import highlight_lines
from .review_api import diff_of, measured_diff_of, review_links
from .views import stored

SIDES = ("a", "b")


@dataclass
class SideForm:
    source: str = ""
    go: str = ""
    goarch: str = "amd64"
    lang: str = ""
    flags: str = ""  # compiler flags, space-separated (worker/flags.py)
    env: str = ""  # build settings, "NAME=value ..."

    @classmethod
    def of(cls, comp: Compilation) -> SideForm:
        return cls(comp.source, comp.go, comp.goarch, comp.lang, comp.flags, comp.env)


@dataclass
class Row:
    """One line of the added/removed/changed lists."""

    sign: str  # "+", "−", "~"
    css: str  # added | removed | changed
    text: str
    function: str
    where: str  # "main.go:12"
    url: str  # the line on its side's permalink page
    before_where: str = ""  # changed rows: the before side's position
    before_url: str = ""


@dataclass
class SourceLine:
    number: int
    html: str
    marks: list[str] = field(default_factory=list)  # added | removed | changed


@dataclass
class SourcePane:
    side: str  # a | b
    title: str  # "Before: Go 1.27.3 · amd64 · go1.27"
    compilation: Compilation
    files: list[tuple[str, list[SourceLine]]]
    problem: str = ""  # why this side did not compile cleanly, or ""


@dataclass
class CompareView:
    diff: Diff
    links: Links
    rows: list[Row]
    panes: list[SourcePane]
    markdown: str
    api_url: str
    markdown_url: str
    measured: dict | None = None  # the measurements' changes, never mixed with the decisions


def _settings_context() -> dict:
    toolchains = submissions.available_toolchains()
    return {"toolchains": toolchains, "lang_choices": submissions.lang_choices()}


def _page(request: HttpRequest, form: dict, status: int = 200, **extra) -> HttpResponse:
    context = {**_settings_context(), "form": form, "pair": None, "pending": False, "result": None, "error": ""}
    context.update(extra)
    return render(request, "compare.html", context, status=status)


# Like the playground's compile form: nothing here a forged request could abuse (results
# are content-addressed, there are no sessions), and the form must work without JavaScript.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def compare_form(request: HttpRequest) -> HttpResponse:
    """GET: the form (prefilled from ?a=&b= or ?copy=); POST: compile both sides, redirect to /c/<a>/<b>."""
    if request.method == "GET":
        return _page(request, _prefill(request))
    try:
        check_utf8(request)
    except InvalidInput as exc:
        return _page(request, _prefill(request), 400, error=str(exc))
    form = {side: _side_form(request, side) for side in SIDES}
    if not form["b"].source.strip():
        form["b"].source = form["a"].source  # the same program under other settings
    client = client_of(request)
    try:
        a, b = (
            submissions.submit(
                f.source,
                f.go,
                f.goarch,
                f.lang,
                client=client,
                flags=parse_flag_text(f.flags),
                env=parse_env_text(f.env),
            )
            for f in (form["a"], form["b"])
        )
    except InvalidInput as exc:
        return _page(request, form, 400, error=str(exc))
    except submissions.ServiceBusy as exc:
        response = _page(request, form, exc.status, error=str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    return redirect("compare-page", a.id, b.id)


def _side_form(request: HttpRequest, side: str) -> SideForm:
    p = request.POST
    return SideForm(
        p.get(f"{side}_source", ""),
        p.get(f"{side}_go", ""),
        p.get(f"{side}_goarch", "amd64"),
        p.get(f"{side}_lang", ""),
        p.get(f"{side}_flags", ""),
        p.get(f"{side}_env", ""),
    )


def _prefill(request: HttpRequest) -> dict:
    comps = {side: stored(request.GET.get(side) or request.GET.get("copy", "")) for side in SIDES}
    newest = next(iter(submissions.available_toolchains()), {"version": ""})["version"]
    return {side: SideForm.of(comp) if comp else SideForm(go=newest) for side, comp in comps.items()}


def _pair(a: str, b: str) -> tuple[Compilation, Compilation]:
    """Both sides as stored: reading a compare page never queues work."""
    return get_object_or_404(Compilation, pk=a), get_object_or_404(Compilation, pk=b)


@require_GET
def compare_page(request: HttpRequest, a: str, b: str) -> HttpResponse:
    pair = _pair(a, b)
    form = {"a": SideForm.of(pair[0]), "b": SideForm.of(pair[1])}
    pending = not all(c.is_finished for c in pair)
    result = None if pending else build_compare_view(request, *pair)
    return _page(request, form, pair=pair, pending=pending, result=result)


@require_GET
def compare_fragment(request: HttpRequest, a: str, b: str) -> HttpResponse:
    """What htmx polls while a side is pending: the pending notice again, or the result."""
    pair = _pair(a, b)
    if not all(c.is_finished for c in pair):
        return render(request, "partials/compare_pending.html", {"pair": pair})
    return render(request, "partials/compare_result.html", {"pair": pair, "result": build_compare_view(request, *pair)})


# --- the view model ---------------------------------------------------------------------


def build_compare_view(request: HttpRequest, a: Compilation, b: Compilation) -> CompareView:
    diff = diff_of(a, b)
    page_links = Links(reverse("compare-page", args=[a.id, b.id]), a.get_absolute_url(), b.get_absolute_url())
    query = f"?a={a.id}&b={b.id}"
    measured = measured_diff_of(a, b)
    return CompareView(
        diff=diff,
        links=page_links,
        rows=_rows(diff, page_links),
        panes=[_pane("a", "Before", a, diff.a, diff.removed, diff), _pane("b", "After", b, diff.b, diff.added, diff)],
        markdown=render_markdown(diff, review_links(request, a, b)) + measured_markdown(measured),
        api_url=reverse("api:compare_compilations") + query,
        markdown_url=reverse("api:compare_markdown") + query,
        measured=measured,
    )


def _row(sign: str, css: str, d: Decision, url: str) -> Row:
    return Row(sign, css, describe(d), short_name(d.function), position(d), url)


def _rows(diff: Diff, links: Links) -> list[Row]:
    rows = [_row("+", "added", d, links.line("b", diff, d.file, d.line)) for d in diff.added]
    rows += [_row("\u2212", "removed", d, links.line("a", diff, d.file, d.line)) for d in diff.removed]
    for c in diff.changed:
        row = _row("~", "changed", c.after, links.line("b", diff, c.after.file, c.after.line))
        row.text = c.description
        row.before_where, row.before_url = position(c.before), links.line("a", diff, c.before.file, c.before.line)
        rows.append(row)
    for f in diff.frames:
        url = links.line("b", diff, f.file, f.after_line)
        where = f"{f.file}:{f.after_line}" if f.after_line else ""
        text = f"frame size {f.before} \u2192 {f.after} bytes"
        rows.append(Row("~", "changed", text, short_name(f.function), where, url))
    return rows


def _pane(side: str, label: str, comp: Compilation, info: Side, own: list[Decision], diff: Diff) -> SourcePane:
    marks: dict[tuple[str, int], list[str]] = {}
    for d in own:
        marks.setdefault((d.file, d.line), []).append("added" if side == "b" else "removed")
    for c in diff.changed:
        d = c.after if side == "b" else c.before
        marks.setdefault((d.file, d.line), []).append("changed")
    try:
        files = compiled_files(split_files(comp.source))  # what the decisions are about
    except InvalidInput:
        files = []
    panes = [
        (
            f.name,
            [
                SourceLine(n, html, sorted(set(marks.get((f.name, n), []))))
                for n, html in enumerate(highlight_lines(f.text), 1)
            ],
        )
        for f in files
    ]
    problem = "" if info.ok else "; ".join(info.errors) or info.status
    return SourcePane(side, f"{label}: {settings(info)}", comp, panes, problem)
