"""The parts of a big program's page that are sent when needed (explorer/bigpage.py).

    /s/<id>/lines?chunk=N      the <li> lines of chunk N (a fragment for the page's script)
    /s/<id>/asm/<n>[?part=P]   function n's listing: for the script (HX-Request: true), its
                               rows (part 1 with placeholders for the other parts, or part
                               P's rows); otherwise a page of its own, a part at a time
    /s/<id>/functions          the per-function summary (a fragment, or a page)
    /s/<id>/decisions          every line's decisions for the editor, and where each line's
                               instructions are (JSON)

All of them answer 404 for what a finished compilation does not have, and are cached.
"""

from __future__ import annotations

import orjson
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from worker.inputs import InvalidInput, is_go_file, split_files
from worker.summary import summaries_to_dicts, summarize

from . import bigpage, measurements
from .models import Compilation
from .render import _asm_rows, asm_rows_html, build_view, line_anchor


def ordered_files(comp: Compilation) -> tuple[list, list[str]]:
    """The files as the page shows them (compiled .go files first) and the names of the
    others (kept with the source, not compiled)."""
    try:
        files = split_files(comp.source)
    except InvalidInput:
        files = []
    not_compiled = [f for f in files if not is_go_file(f.name)]
    return [f for f in files if is_go_file(f.name)] + not_compiled, [f.name for f in not_compiled]


def render_big(comp: Compilation, files: list, not_compiled: list[str], page: int) -> str:
    """The result of a big program with chunk ``page`` inline, the others as placeholders."""
    all_chunks = bigpage.chunks_of(comp, files)
    page = min(max(page, 1), len(all_chunks)) if all_chunks else 1
    window = bigpage.window_of(all_chunks, page) if all_chunks else {}
    view = build_view(bigpage.analysis_of(comp), files, window=window)
    bigpage.attach_chunks(view, comp, all_chunks, page)
    context = {"compilation": comp, "view": view, "error": comp.error, "busy": False, "not_compiled": not_compiled}
    context.update(measurements.page_context(comp, view))  # the measured column of these lines
    return render_to_string("partials/result.html", context)


def _finished(compilation_id: str) -> Compilation:
    comp = get_object_or_404(Compilation.objects.defer("raw_output_gz"), pk=compilation_id)
    if comp.status != Compilation.Status.DONE:
        raise Http404("This compilation has no result to show.")
    return comp


def _number(request: HttpRequest, name: str, default: int | None = None) -> int:
    value = request.GET.get(name)
    if value is None and default is not None:
        return default
    if value is None or not value.isdigit() or len(value) > 7:
        raise Http404(f"No such {name}.")
    return int(value)


def _fragment(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@require_GET
def lines(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = _finished(compilation_id)
    files, not_compiled = ordered_files(comp)
    all_chunks = bigpage.chunks_of(comp, files)
    number = _number(request, "chunk")
    if not 1 <= number <= len(all_chunks):
        raise Http404("No such chunk.")

    def make() -> str:
        view = build_view(bigpage.analysis_of(comp), files, window=bigpage.window_of(all_chunks, number))
        measurements.page_context(comp, view)  # sets the measured column of the chunk's lines
        context = {"compilation": comp, "view": view, "lines_only": True, "not_compiled": not_compiled}
        return render_to_string("partials/result.html", context)

    response = HttpResponse(bigpage.cached(comp, f"lines:{number}", make))
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _part_rows(rows: list[dict], part: int) -> list[dict]:
    """The rows (instructions and the jump labels before them) of part ``part``."""
    first, last = (part - 1) * bigpage.ASM_PART_ROWS, part * bigpage.ASM_PART_ROWS
    out, index, pending = [], 0, []
    for row in rows:
        if "label" in row:
            pending.append(row)
            continue
        if first <= index < last:
            out.extend(pending)
            out.append(row)
        pending = []
        index += 1
    return out


@require_GET
@vary_on_headers("HX-Request")
def asm_function(request: HttpRequest, compilation_id: str, index: int) -> HttpResponse:
    comp = _finished(compilation_id)
    part = _number(request, "part", default=0)
    fragment = _fragment(request)

    def make() -> dict:
        analysis = bigpage.analysis_of(comp)
        functions = analysis.get("functions", [])
        if index >= len(functions):
            return {}
        files, _ = ordered_files(comp)
        anchors = {f.name: i for i, f in enumerate(files)}
        fn = _asm_rows(functions[index], anchors)
        instructions = sum(1 for r in fn["rows"] if "label" not in r)
        parts = max(1, -(-instructions // bigpage.ASM_PART_ROWS))
        return {
            "name": fn["name"],
            "anchor": fn["anchor"],
            "parts": parts,
            "instructions": instructions,
            "rows": [str(asm_rows_html(fn["anchor"], _part_rows(fn["rows"], p))) for p in range(1, parts + 1)],
            "file": fn.get("file", ""),
            "line": fn.get("line", 0),
            "line_anchor": line_anchor(anchors[fn["file"]], fn["file"], fn["line"])
            if fn.get("file") in anchors
            else "",
        }

    listing = bigpage.cached(comp, f"asm:{index}", make)
    if not listing or part > listing["parts"]:
        raise Http404("No such function or part.")
    url = f"{comp.get_absolute_url()}/asm/{index}"
    if fragment:
        if part:  # one part's rows, for the placeholder that asked for it
            return HttpResponse(listing["rows"][part - 1])
        placeholders = "".join(
            f'<li class="asm-chunk" data-url="{url}?part={p}"><a href="{url}?part={p}">Instructions '
            f"{(p - 1) * bigpage.ASM_PART_ROWS + 1}–{min(listing['instructions'], p * bigpage.ASM_PART_ROWS)}</a></li>"
            for p in range(2, listing["parts"] + 1)
        )
        return HttpResponse(listing["rows"][0] + placeholders)
    part = part or 1
    context = {
        "compilation": comp,
        "listing": listing,
        "part": part,
        "rows_html": mark_safe(listing["rows"][part - 1]),  # noqa: S308 - asm_rows_html escapes every value
        "parts": [
            {
                "number": p,
                "url": f"{url}?part={p}",
                "first": (p - 1) * bigpage.ASM_PART_ROWS + 1,
                "last": min(listing["instructions"], p * bigpage.ASM_PART_ROWS),
            }
            for p in range(1, listing["parts"] + 1)
        ],
    }
    return render(request, "bigpage_asm.html", context)


@require_GET
@vary_on_headers("HX-Request")
def functions(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = _finished(compilation_id)

    def make() -> str:
        analysis = bigpage.analysis_of(comp)
        files, _ = ordered_files(comp)
        anchors = {f.name: i for i, f in enumerate(files)}
        rows = [
            {
                **row,
                "anchor": line_anchor(anchors[row["file"]], row["file"], row["line"]) if row["file"] in anchors else "",
            }
            for row in summaries_to_dicts(summarize(analysis))
        ]
        return render_to_string("partials/summary.html", {"view": {"summary": rows}, "compilation": comp})

    table = mark_safe(bigpage.cached(comp, "functions", make))  # noqa: S308 - rendered by the template engine
    if _fragment(request):
        return HttpResponse(table)
    return render(request, "bigpage_functions.html", {"compilation": comp, "table": table})


@require_GET
def decisions(request: HttpRequest, compilation_id: str) -> HttpResponse:
    comp = _finished(compilation_id)

    def make() -> bytes:
        files, _ = ordered_files(comp)
        return orjson.dumps(bigpage.editor_decisions(bigpage.analysis_of(comp), files, bigpage.chunks_of(comp, files)))

    response = HttpResponse(bigpage.cached(comp, "decisions", make), content_type="application/json")
    response["Cache-Control"] = "public, max-age=3600"
    return response
