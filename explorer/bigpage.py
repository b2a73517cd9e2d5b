"""Big programs' pages: what is not on screen is sent when it is needed.

A 250 KiB program (a 14,000-case switch, or 27,000 decisions) made a 13–23 MB page that
took seconds to render and tens of seconds for a browser to show. A result is *big* when
its files hold more than ``EXPLORER_INLINE_LINES`` lines (1,500) or more than
``EXPLORER_INLINE_DECISIONS`` decisions (5,000). Its page then holds:

* the annotated source in chunks of ``EXPLORER_PAGE_LINES`` lines (250): one chunk
  inline, the others as placeholders (``<li class="line-chunk">``) that the browser
  loads from ``/s/<id>/lines?chunk=N`` as they come into view (static/js/bigpage.js), and
  that link to ``/s/<id>?page=N``, the same page with chunk N inline: the reader without
  JavaScript reaches every line through those links and the pagination above the source;
* the assembly pane's functions without their instructions: a function's listing is
  loaded from ``/s/<id>/asm/<n>`` when it is opened (a listing of more than
  ``ASM_PART_ROWS`` instructions in parts, loaded as they come into view); the same URL
  is a page of its own without JavaScript;
* the per-function summary as a link (``/s/<id>/functions``), loaded when opened;
* for the editor, every line's decisions as JSON (``/s/<id>/decisions``), and for each
  line with instructions the function and part that hold them.

Everything rendered is cached (a finished result never changes), as the whole page of a
small program is (views.result_html).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass
from threading import Lock

from django.conf import settings
from django.core.cache import cache

from worker.analysis import HEAP_KINDS

from .models import Compilation
from .render import line_anchor

ASM_PART_ROWS = 1000


def inline_lines() -> int:
    return int(getattr(settings, "EXPLORER_INLINE_LINES", 1500))


def inline_decisions() -> int:
    return int(getattr(settings, "EXPLORER_INLINE_DECISIONS", 5000))


def page_lines() -> int:
    return max(10, int(getattr(settings, "EXPLORER_PAGE_LINES", 250)))


def line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def is_big(files: list, analysis: dict | None) -> bool:
    lines = sum(line_count(f.text) for f in files)
    return lines > inline_lines() or len((analysis or {}).get("diagnostics", [])) > inline_decisions()


@dataclass(frozen=True)
class Chunk:
    """Lines ``first..last`` of file ``file_index``: chunk ``number`` (1-based, over all files)."""

    number: int
    file_index: int
    file: str
    first: int
    last: int


def chunks(files: list, analysis: dict | None) -> list[Chunk]:
    """The chunks of lines: at most ``EXPLORER_PAGE_LINES`` lines each, and fewer where
    the lines carry many decisions (each counts as a line: a decision with its flow is
    more HTML than a line of code), so that no chunk is much heavier than another."""
    size = page_lines()
    decisions = Counter((d.get("file"), d.get("line")) for d in (analysis or {}).get("diagnostics", []))
    out: list[Chunk] = []
    for index, f in enumerate(files):
        total = line_count(f.text)
        first, weight = 1, 0
        for line in range(1, total + 1):
            weight += 1 + decisions.get((f.name, line), 0)
            if weight >= size or line == total:
                out.append(Chunk(len(out) + 1, index, f.name, first, line))
                first, weight = line + 1, 0
    return out


def chunks_of(comp: Compilation, files: list) -> list[Chunk]:
    return cached(comp, "chunks", lambda: chunks(files, analysis_of(comp)))


def chunk_of_line(all_chunks: list[Chunk], file: str, line: int) -> Chunk | None:
    return next((c for c in all_chunks if c.file == file and c.first <= line <= c.last), None)


def placeholder(comp: Compilation, chunk: Chunk) -> dict:
    """What a placeholder says and where it loads from (the template escapes it)."""
    return {
        "number": chunk.number,
        "file": chunk.file,
        "first": chunk.first,
        "last": chunk.last,
        "lines": chunk.last - chunk.first + 1,
        "url": f"{comp.get_absolute_url()}/lines?chunk={chunk.number}",
        "page_url": f"{comp.get_absolute_url()}?page={chunk.number}",
        "anchor": line_anchor(chunk.file_index, chunk.file, chunk.first),
    }


def window_of(all_chunks: list[Chunk], number: int) -> dict[int, tuple[int, int]]:
    chunk = all_chunks[number - 1]
    return {chunk.file_index: (chunk.first, chunk.last)}


def attach_chunks(view: dict, comp: Compilation, all_chunks: list[Chunk], number: int) -> None:
    """Placeholders before and after chunk ``number`` in each file, and the pagination."""
    for file_view in view["files"]:
        mine = [c for c in all_chunks if c.file == file_view.name]
        file_view.chunks_before = [placeholder(comp, c) for c in mine if c.number < number]
        file_view.chunks_after = [placeholder(comp, c) for c in mine if c.number > number]
        file_view.chunk_shown = next((placeholder(comp, c) for c in mine if c.number == number), None)
    view["big"] = {
        "page": number,
        "pages": [{**placeholder(comp, c), "current": c.number == number} for c in all_chunks],
        "multi_file": len({c.file for c in all_chunks}) > 1,
        "decisions_url": f"{comp.get_absolute_url()}/decisions",
        "functions_url": f"{comp.get_absolute_url()}/functions",
        "page_lines": page_lines(),
        "lines": sum(c.last - c.first + 1 for c in all_chunks),
    }


# ---------- Highlighting some lines of a file only ----------

# The Go tokens that may span lines (block comments, raw strings) and those that could
# hide their delimiters (line comments, interpreted strings, runes).
_TOKENS = re.compile(r"//[^\n]*|/\*.*?\*/|`[^`]*`|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)


def safe_span(text: str, first: int, last: int) -> tuple[int, int]:
    """The lines to lex to highlight lines ``first..last`` as the whole file would: they,
    widened to the start and the end of a comment or raw string that crosses either end."""
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    begin = starts[first - 1] if first - 1 < len(starts) else len(text)
    end = starts[last] - 1 if last < len(starts) else len(text)  # the newline ending line ``last``
    lex_first, lex_last = first, last
    for m in _TOKENS.finditer(text):
        if m.start() >= end:
            break
        if m.start() < begin < m.end():
            lex_first = text.count("\n", 0, m.start()) + 1
        if m.start() < end < m.end():
            lex_last = text.count("\n", 0, m.end()) + 1
    return lex_first, lex_last


def highlight_span(text: str, first: int, last: int) -> list[str]:
    """render.highlight_lines of lines ``first..last`` only (the same HTML for them)."""
    from .render import highlight_lines

    start, stop = safe_span(text, first, last)
    lines = text.split("\n")
    segment = "\n".join(lines[start - 1 : stop]) + "\n"
    return highlight_lines(segment)[first - start : last - start + 1]


# ---------- The analysis of a big result, kept parsed in this process ----------
#
# Scrolling through a big result asks for its chunks one after another; parsing its
# stored JSON (8–12 MB) takes a few hundred milliseconds each time. The last few parsed
# analyses of big results stay in this process (a rendered chunk is cached as HTML too).

_PARSED: OrderedDict[str, dict] = OrderedDict()
_PARSED_LOCK = Lock()
PARSED_KEEP = 2


def analysis_of(comp: Compilation) -> dict:
    key = cache_key(comp, "analysis")
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    analysis = comp.analysis or {}
    with _PARSED_LOCK:
        _PARSED[key] = analysis
        while len(_PARSED) > PARSED_KEEP:
            _PARSED.popitem(last=False)
    return analysis


def cache_key(comp: Compilation, what: str) -> str:
    from .measurements import cache_key as measured

    state = measured(comp) if what.startswith("lines:") else ""  # chunks show the measured column
    return f"bigpage:{comp.result_stamp}:{page_lines()}:{what}{state}"


def cached(comp: Compilation, what: str, make):
    key = cache_key(comp, what)
    value = cache.get(key)
    if value is None:
        value = make()
        cache.set(key, value, timeout=24 * 3600)
    return value


# ---------- The editor's decisions, and where each line's instructions are ----------


def editor_decisions(analysis: dict, files: list, all_chunks: list[Chunk]) -> dict:
    """Every line's decisions as the editor takes them (what static/js/explorer.js reads
    from the annotated view of a small program): kinds in the order of the page, with
    their chip labels, messages and columns; and, per line with instructions, the
    function (its index in the analysis) and part of its listing that holds them."""
    from .render import KIND_LABELS, _is_removed, directive_groups, kind_sort_key

    by_line: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for d in analysis.get("diagnostics", []):
        if d.get("file") and d.get("line", 0) >= 1 and not _is_removed(d):
            by_line[(d["file"], d["line"])].append(d)
    lines = []
    for (file, line), diags in by_line.items():
        kinds = sorted({d["kind"] for d in diags}, key=kind_sort_key)
        ordered = sorted(diags, key=lambda d: (kind_sort_key(d["kind"]), d.get("column", 0)))
        lines.append(
            {
                "file": file,
                "line": line,
                "kinds": [{"kind": k, "label": KIND_LABELS.get(k, KIND_LABELS["other"])[0]} for k in kinds],
                "decisions": [
                    {"kind": d["kind"], "column": d.get("column", 0), "message": d["message"]} for d in ordered
                ],
                "heap": any(d["kind"] in HEAP_KINDS for d in diags),
            }
        )
    # //gcassert: results, as chips before the line's decisions (as on a small program's page)
    by_place = {(x["file"], x["line"]): x for x in lines}
    for (file, line), groups in directive_groups(analysis.get("directives") or []).items():
        entry = by_place.get((file, line))
        if entry is None:
            entry = by_place[(file, line)] = {"file": file, "line": line, "kinds": [], "decisions": [], "heap": False}
            lines.append(entry)
        entry["kinds"][:0] = [{"kind": g.kind, "label": g.label["text"]} for g in groups]
        entry["decisions"][:0] = [
            {"kind": g.kind, "column": 0, "message": f"//gcassert:{i['directive']} \u2014 {i['reason']}"}
            for g in groups
            for i in g.items
        ]
    lines.sort(key=lambda x: (x["file"], x["line"]))
    asm: dict[str, dict[str, list]] = defaultdict(dict)
    for index, fn in enumerate(analysis.get("functions", [])):
        row = 0
        for a in fn.get("asm", []):
            if a["text"].startswith(("PCDATA", "FUNCDATA")):
                continue
            if a.get("line") and str(a["line"]) not in asm[a["file"]]:
                asm[a["file"]][str(a["line"])] = [index, row // ASM_PART_ROWS + 1]
            row += 1
    return {
        "lines": lines,
        "asm": asm,
        "chunks": [{"number": c.number, "file": c.file, "first": c.first, "last": c.last} for c in all_chunks],
    }
