"""Analysis + source -> the per-line view model the templates render.

Every piece of user text (source, compiler messages that quote it) is escaped here or
by the template engine; nothing from the user is marked safe without escaping.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from pygments.lexers import GoLexer
from pygments.token import STANDARD_TYPES, Token

from worker.analysis import HEAP_KINDS, KINDS

KIND_LABELS = {
    "moved-to-heap": ("heap", "▲"),
    "escapes-to-heap": ("escapes", "▲"),
    "does-not-escape": ("stack", "●"),
    "leaking-param": ("leak", "◆"),
    "escape-flow": ("flow", "↳"),
    "closure-capture": ("capture", "⊂"),
    "can-inline": ("inlinable", "✓"),
    "cannot-inline": ("no inline", "✗"),
    "inlining-call": ("inlined", "⇲"),
    "devirtualized": ("devirt", "⇢"),
    "write-barrier": ("barrier", "W"),
    "bounds-check": ("bounds", "B"),
    "nil-check": ("nil", "N"),
    "loop-var": ("loopvar", "L"),
    "large-copy": ("copy", "C"),
    "heap-alloc-call": ("alloc", "$"),
    "error": ("error", "!"),
    "other": ("other", "?"),
}


def highlight_lines(text: str) -> list[str]:
    """Pygments tokens split per line, as escaped HTML (one string per source line)."""
    lines: list[list[str]] = [[]]
    for ttype, value in GoLexer().get_tokens(text):
        css = _css_class(ttype)
        parts = value.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                escaped = html.escape(part, quote=False)
                lines[-1].append(f'<span class="{css}">{escaped}</span>' if css else escaped)
    rendered = ["".join(parts) for parts in lines]
    if text.endswith("\n") and rendered and rendered[-1] == "":
        rendered.pop()
    return rendered


def _css_class(ttype) -> str:
    while ttype not in STANDARD_TYPES and ttype is not Token:
        ttype = ttype.parent
    return STANDARD_TYPES.get(ttype, "")


@dataclass
class LineView:
    number: int
    html: str
    diagnostics: list[dict] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    heap: bool = False
    has_asm: bool = False


@dataclass
class FileView:
    name: str
    lines: list[LineView]


def kind_label(kind: str) -> dict:
    text, icon = KIND_LABELS.get(kind, ("other", "?"))
    return {"kind": kind, "text": text, "icon": icon, "description": KINDS.get(kind, "")}


def build_view(analysis: dict | None, files: list) -> dict:
    """The view model: files with annotated lines, functions with asm, counts by kind."""
    analysis = analysis or {}
    diags = analysis.get("diagnostics", [])
    functions = analysis.get("functions", [])
    by_line: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for d in diags:
        by_line[(d["file"], d["line"])].append({**d, "label": kind_label(d["kind"]), "heap": d["kind"] in HEAP_KINDS})
    asm_lines = {(a["file"], a["line"]) for f in functions for a in f.get("asm", [])}
    file_views = []
    for f in files:
        name, text = (f.name, f.text) if hasattr(f, "name") else (f["name"], f["text"])
        lines = []
        for number, line_html in enumerate(highlight_lines(text), start=1):
            line_diags = by_line.get((name, number), [])
            kinds = sorted({d["kind"] for d in line_diags})
            lines.append(
                LineView(
                    number=number,
                    html=line_html,
                    diagnostics=line_diags,
                    kinds=kinds,
                    heap=any(d["heap"] for d in line_diags),
                    has_asm=(name, number) in asm_lines,
                )
            )
        file_views.append(FileView(name, lines))
    counts = Counter(d["kind"] for d in diags)
    return {
        "files": file_views,
        "functions": functions,
        "counts": [{**kind_label(k), "count": counts[k]} for k in KINDS if counts.get(k)],
        "heap_count": sum(counts[k] for k in ("moved-to-heap", "escapes-to-heap")),
        "errors": analysis.get("errors", []),
        "status": analysis.get("status", ""),
        "timings": analysis.get("timings", {}),
    }
