"""Analysis + source -> the per-line view model the templates render.

Every piece of user text (source, compiler messages that quote it) is escaped here or
by the template engine; nothing from the user is marked safe without escaping.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache

from django.utils.safestring import SafeString, mark_safe
from pygments.lexers import GoLexer
from pygments.token import STANDARD_TYPES, Token

from worker import line_directives
from worker.analysis import HEAP_KINDS, KINDS, SourceFile
from worker.inputs import BIDI_CONTROLS, find_bidi
from worker.loops import branch_target
from worker.summary import summaries_to_dicts, summarize

# Short word and icon per kind: the gutter never relies on colour alone. Each icon is an
# SVG path on a 16x16 grid, drawn here (stroked with currentColor; FILLED_ICONS are filled
# too), so it renders the same on every platform whatever fonts it has. The page holds
# them once as a sprite (icon_sprite(), in base.html); each chip refers to its symbol
# (icon_svg()), aria-hidden beside the chip's word.
KIND_LABELS = {
    "moved-to-heap": ("heap", "M8 2.5 14 13H2z"),
    "escapes-to-heap": ("escapes", "M8 13.5V3M3.5 7.5 8 3l4.5 4.5"),
    "does-not-escape": ("stack", "M3 8.5l3.5 3.5L13 4.5"),
    "leaking-param": ("leaks", "M4 12 12 4M6 4h6v6"),
    "escape-flow": ("flow", "M2 8c2-4 4-4 6 0s4 4 6 0"),
    "closure-capture": ("capture", "M13 3.5H8.5a4.5 4.5 0 0 0 0 9H13"),
    "can-inline": ("inlinable", "M2 8h9M7.5 4.5 11 8l-3.5 3.5M14 3.5v9"),
    "cannot-inline": ("no inline", "M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 1 0 0-11zM4.1 11.9l7.8-7.8"),
    "inlining-call": ("inlined", "M3 3.5h4a4.5 4.5 0 0 1 4.5 4.5v5M8.5 10.5l3 3 3-3"),
    "call-not-inlined": ("not inlined here", "M2 8h2M6 8h2M10 8h3M10.5 5l3 3-3 3"),
    "devirtualized": ("devirt", "M8 2l6 6-6 6-6-6z"),
    "write-barrier": ("barrier", "M3 13l.8-3.2L10.5 3 13 5.5l-6.8 6.7zM9 4.5 11.5 7"),
    "bounds-check": ("bounds", "M6 2.5H3.5v11H6M10 2.5h2.5v11H10"),
    "nil-check": ("nil check", "M8 3.5a4.5 4.5 0 1 0 0 9 4.5 4.5 0 1 0 0-9zM12.5 2 3.5 14"),
    "loop-var": ("loop var", "M12.8 9.5A5 5 0 1 1 11.5 4.4M12 1.8v3H9"),
    "large-copy": ("copy", "M5.5 5.5h8v8h-8zM2.5 10.5v-8h8"),
    "heap-alloc-call": ("alloc", "M8 3a5 5 0 1 0 0 10A5 5 0 1 0 8 3z"),
    "prove": ("proved", "M3.5 2.5v11M3.5 8h9"),
    "defer": ("defer", "M8 3a5.5 5.5 0 1 0 0 11 5.5 5.5 0 1 0 0-11zM8 5.5v3l2 1.5M6.5 1.5h3"),
    "closure": ("closure", "M3.5 13.5 7.5 7M4 2.5h2l6.5 11"),
    "append": ("append", "M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 1 0 0-11zM8 5.5v5M5.5 8h5"),
    "liveness": ("live", "M1.5 8.5h3l1.5-4 3 8 1.5-4h4"),
    "param-use": ("param use", "M3.2 9.5A5 5 0 1 0 4.5 4.4M4 1.8v3h3"),
    "interface-conversion": ("iface", "M8 2.5 13.5 8 8 13.5 2.5 8z"),
    "error": ("error", "M4 4l8 8M12 4l-8 8"),
    "other": ("other", "M8 6a2 2 0 1 0 0 4 2 2 0 1 0 0-4z"),
}
# Not a kind of decision: the flag of a line holding bidirectional control characters.
EXTRA_ICONS = {
    "bidi": "M8 2 14.5 13.5h-13zM8 6.5v3M8 11.5v.01",
    # //gcassert: directives (worker/directives.py): a box with a tick, a cross, a dash
    "directive-held": "M2.5 2.5h11v11h-11zM5 8.3l2.2 2.2L11 6",
    "directive-violated": "M2.5 2.5h11v11h-11zM5.5 5.5l5 5M10.5 5.5l-5 5",
    "directive-undecided": "M2.5 2.5h11v11h-11zM5.5 8h5",
}
FILLED_ICONS = frozenset({"moved-to-heap", "devirtualized", "heap-alloc-call", "other"})
KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
# Kinds listed first in a line's gutter and decisions: what people come to look for.
PRIORITY = ("error", "moved-to-heap", "escapes-to-heap", "heap-alloc-call", "leaking-param", "write-barrier")
DIRECTIVES = ("PCDATA", "FUNCDATA")


def highlight_lines(text: str) -> list[str]:
    """Pygments tokens split per line, as escaped HTML (one string per source line).

    A bidirectional control character (Trojan Source, CVE-2021-42574) is not passed on:
    it becomes a visible, labelled marker (``bidi_marker``), and its line is wrapped in
    ``<span class="bidi-line">`` so the line stands out.
    """
    lines: list[list[str]] = [[]]
    flagged: set[int] = set()
    # stripnl=False: Pygments would drop the file's leading and trailing blank lines, and
    # every line after them would be numbered wrongly.
    for ttype, value in GoLexer(stripnl=False).get_tokens(text):
        css = _css_class(ttype)
        parts = value.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                escaped = html.escape(part, quote=False)
                if BIDI_CONTROLS.search(escaped):
                    escaped = BIDI_CONTROLS.sub(lambda m: bidi_marker(m.group()), escaped)
                    flagged.add(len(lines) - 1)
                lines[-1].append(f'<span class="{css}">{escaped}</span>' if css else escaped)
    rendered = ["".join(parts) for parts in lines]
    for index in flagged:
        rendered[index] = f'<span class="bidi-line">{rendered[index]}</span>'
    return rendered[: text.count("\n") + (0 if text.endswith("\n") else 1)]


def bidi_marker(char: str) -> str:
    """``<span class="bidi-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">⟨U+202E⟩</span>``."""
    code = f"U+{ord(char):04X}"
    label = f"{code} {unicodedata.name(char, 'BIDIRECTIONAL CONTROL CHARACTER')}"
    return f'<span class="bidi-char" title="{label}" aria-label="{label}">\u27e8{code}\u27e9</span>'


def _css_class(ttype) -> str:
    while ttype not in STANDARD_TYPES and ttype is not Token:
        ttype = ttype.parent
    return STANDARD_TYPES.get(ttype, "")


def kind_label(kind: str) -> dict:
    text, _ = KIND_LABELS.get(kind, KIND_LABELS["other"])
    return {"kind": kind, "text": text, "icon": icon_svg(kind), "description": KINDS.get(kind, "")}


def icon_svg(kind: str) -> SafeString:
    """A chip's icon: the sprite's symbol of ``kind`` (of "other" for a kind it lacks)."""
    name = kind if kind in KIND_LABELS or kind in EXTRA_ICONS else "other"
    return mark_safe(f'<svg class="icon" aria-hidden="true"><use href="#ki-{name}"></use></svg>')  # noqa: S308 - a known name


@cache
def icon_sprite() -> SafeString:
    """Every icon once, as <symbol id="ki-KIND">: a hidden <svg> that pages hold once."""
    symbols = []
    for name, path in [*((k, p) for k, (_, p) in KIND_LABELS.items()), *EXTRA_ICONS.items()]:
        fill = ' fill="currentColor"' if name in FILLED_ICONS else ""
        symbols.append(f'<symbol id="ki-{name}" viewBox="0 0 16 16"><path d="{path}"{fill}/></symbol>')
    return mark_safe(  # noqa: S308 - constants of this module
        '<svg class="icon-sprite" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">' + "".join(symbols) + "</svg>"
    )


def kind_sort_key(kind: str) -> tuple[int, int]:
    return (PRIORITY.index(kind) if kind in PRIORITY else len(PRIORITY), KIND_ORDER.get(kind, len(KINDS)))


def line_anchor(file_index: int, file_name: str, line: int) -> str:
    """`L12` in the first file (as code hosts do), `other.go-L12` in the others."""
    return f"L{line}" if file_index == 0 else f"{file_name}-L{line}"


@dataclass
class DecisionGroup:
    """The decisions of one kind on one line."""

    kind: str
    label: dict
    items: list[dict]
    removed: int = 0  # nil checks the compiler removed (listed apart, not counted)


@dataclass
class DirectiveGroup:
    """The //gcassert: results of one status on one line (a ``decision-group`` of the page,
    so the editor shows them as chips too)."""

    kind: str  # directive-held | directive-violated | directive-undecided
    label: dict
    items: list[dict]


# status -> (kind of the chip, sign, word): the sign and the word say it, not the colour
DIRECTIVE_STATUS = {
    "held": ("directive-held", "\u2713", "held"),
    "violated": ("directive-violated", "\u2717", "violated"),
    "undecided": ("directive-undecided", "?", "undecided"),
    "unknown": ("directive-violated", "\u2717", "unknown directive"),
}


def directive_groups(results: list[dict]) -> dict[tuple[str, int], list[DirectiveGroup]]:
    """The directive results by the line they are shown on: the comment's line (where the
    user wrote ``//gcassert:``), and, for a violated ``inline`` of a function, each call
    site that was not inlined. Plain values: the template escapes them."""
    items: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        status = r.get("status") or ("held" if r.get("held") else "violated")
        kind, sign, word = DIRECTIVE_STATUS.get(status, DIRECTIVE_STATUS["undecided"])
        line, comment_line = r.get("line", 0), r.get("comment_line") or r.get("line", 0)
        about = f" (about line {line})" if line and line != comment_line else ""
        item = {**r, "sign": sign, "word": word, "about": about, "site_of": 0}
        items[(r.get("file", ""), comment_line)][kind].append(item)
        if status == "violated" and r.get("target") == "function":
            for site in r.get("sites") or []:
                if not site.get("inlined"):
                    items[(site["file"], site["line"])][kind].append(
                        {**item, "reason": site.get("reason", ""), "site_of": comment_line, "about": ""}
                    )
    order = {"directive-violated": 0, "directive-undecided": 1, "directive-held": 2}
    grouped: dict[tuple[str, int], list[DirectiveGroup]] = {}
    for where, by_kind in items.items():
        grouped[where] = [
            DirectiveGroup(kind, _directive_label(kind, by_kind[kind]), by_kind[kind])
            for kind in sorted(by_kind, key=order.__getitem__)
        ]
    return grouped


def _directive_label(kind: str, items: list[dict]) -> dict:
    sign, word = items[0]["sign"], items[0]["word"]
    names = ", ".join(dict.fromkeys(i.get("directive", "") for i in items))
    return {
        "kind": kind,
        "text": f"{sign} gcassert",
        "icon": icon_svg(kind),
        "description": f"//gcassert:{names} {word}",
    }


@dataclass
class LineView:
    number: int
    html: str
    diagnostics: list[dict] = field(default_factory=list)
    heap: bool = False
    has_asm: bool = False
    anchor: str = ""
    file: str = ""
    groups: list[DecisionGroup] = field(default_factory=list)
    markers: list[dict] = field(default_factory=list)  # kind labels for the gutter
    bidi: list[dict] = field(default_factory=list)  # bidirectional control characters (inputs.find_bidi)
    directives: list[DirectiveGroup] = field(default_factory=list)  # //gcassert: results on this line


@dataclass
class FileView:
    name: str
    lines: list[LineView]
    # A big program's page shows some of its lines (explorer/bigpage.py): the others are
    # placeholders, loaded as they come into view, with links for the reader without JavaScript.
    chunks_before: list[dict] = field(default_factory=list)
    chunks_after: list[dict] = field(default_factory=list)
    # the placeholder of the chunk shown (in a <template>): the script puts it back when the
    # reader has scrolled far away from these lines, as for a chunk it loaded
    chunk_shown: dict | None = None


def _is_removed(d: dict) -> bool:
    return d["kind"] == "nil-check" and bool(d.get("details", {}).get("removed"))


def _flow_steps(d: dict, anchors: dict[str, int]) -> list[dict]:
    directives = {s.get("step"): s for s in d.get("details", {}).get("flow_line_directives") or []}
    steps = []
    for i, s in enumerate(d.get("flow", [])):
        index = anchors.get(s["file"])
        steps.append(
            {
                **s,
                "anchor": line_anchor(index, s["file"], s["line"]) if index is not None else "",
                "line_directive": _directive_note(directives.get(i)),
            }
        )
    return steps


def _directive_note(directive: dict | None) -> dict | None:
    """What the page says of a decision a //line directive would have placed elsewhere:
    the directive's line and the position it gives ("name:line[:column]"), as plain text
    (the template escapes it)."""
    if not directive:
        return None
    name, line, column = directive.get("file", ""), directive.get("line", 0), directive.get("column", 0)
    return {
        "directive_line": directive.get("directive_line", 0),
        "position": f"{name}:{line}:{column}" if column else f"{name}:{line}",
        "unnamed": not name,
    }


def _groups(diags: list[dict]) -> list[DecisionGroup]:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    removed: Counter[str] = Counter()
    for d in diags:
        if _is_removed(d):
            removed[d["kind"]] += 1
        else:
            by_kind[d["kind"]].append(d)
    kinds = sorted(set(by_kind) | set(removed), key=kind_sort_key)
    return [DecisionGroup(k, kind_label(k), sorted(by_kind[k], key=lambda d: d["column"]), removed[k]) for k in kinds]


def asm_rows_html(fn_anchor: str, rows: list[dict]) -> SafeString:
    """The <li> rows of one function's listing.

    Built here rather than in a template loop: a 500-line program has thousands of
    instructions and Django's template engine took ~0.5 s for them. Every value that
    comes from the compiler is escaped.
    """
    e = html.escape
    out = []
    for r in rows:
        if "label" in r:
            out.append(f'<li class="asm-label" id="{e(fn_anchor)}-{r["label"]}">{r["label"]}:</li>')
            continue
        classes = "asm-line"
        if r["heap_alloc"]:
            classes += " heap-alloc"
        if r["write_barrier"]:
            classes += " write-barrier"
        if not r["line"]:
            classes += " no-source"
        data = f' data-line="{r["line"]}" data-file="{e(r["file"])}"' if r["line"] else ""
        src = f'<a href="#{e(r["anchor"])}" tabindex="-1">{r["line"]}</a>' if r["anchor"] else ""
        ins = f'<span class="op">{e(r["op"])}</span>'
        if r["operands"] or r["target"]:
            ins += "\t" + e(r["operands"])
        if r["target"]:
            ins += f'<a class="jump-target" href="#{e(fn_anchor)}-{r["target"]}">{r["target"]}</a>'
        if r["heap_alloc"]:
            ins += f'<span class="tag kind-chip" data-kind="heap-alloc-call">{icon_svg("heap-alloc-call")}heap alloc</span>'
        if r["write_barrier"]:
            ins += (
                f'<span class="tag kind-chip" data-kind="write-barrier">{icon_svg("write-barrier")}write barrier</span>'
            )
        if r["inlined_from"]:
            ins += f' <span class="inlined">; {e(r["inlined_from"])}</span>'
        out.append(
            f'<li class="{classes}"{data}><span class="pc">{r["pc"]}</span>'
            f'<span class="src">{src}</span><span class="ins">{ins}</span></li>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every interpolated value is escaped above


def _asm_rows(fn: dict, anchors: dict[str, int]) -> dict:
    """A function's instructions with jump labels, source anchors and highlights."""
    instructions = [a for a in fn.get("asm", []) if not a["text"].startswith(DIRECTIVES)]
    pcs = {a["pc"] for a in instructions}
    targets: set[int] = set()
    parsed = []
    for a in instructions:
        op, _, operands = a["text"].partition("\t")
        target = branch_target(a["text"])
        if target is not None and target in pcs:
            targets.add(target)
        else:
            target = None
        parsed.append((a, op, operands, target))
    labels = {pc: f"L{i}" for i, pc in enumerate(sorted(targets), start=1)}
    rows, seen_labels = [], set()
    for a, op, operands, target in parsed:
        label = labels.get(a["pc"])
        if label and label not in seen_labels and op != "TEXT":
            seen_labels.add(label)
            rows.append({"label": label})
        index = anchors.get(a["file"])
        rows.append(
            {
                "pc": a["pc"],
                "op": op,
                "operands": operands if target is None else operands[: len(operands) - len(str(target))],
                "target": labels.get(target, "") if target is not None else "",
                "line": a["line"] if index is not None else 0,
                "file": a["file"],
                "anchor": line_anchor(index, a["file"], a["line"]) if index is not None and a["line"] else "",
                "heap_alloc": a.get("heap_alloc", False),
                "write_barrier": a.get("write_barrier", False),
                "inlined_from": a.get("inlined_from", ""),
            }
        )
    fn_anchor = function_anchor(fn["name"])
    heap_allocs = sum(1 for a in instructions if a.get("heap_alloc"))
    barriers = sum(1 for a in instructions if a.get("write_barrier"))
    return {
        **{k: v for k, v in fn.items() if k != "asm"},
        "asm": fn.get("asm", []),
        "rows": rows,
        "rows_html": asm_rows_html(fn_anchor, rows),
        "user": fn.get("file") in anchors,
        "anchor": fn_anchor,
        "heap_allocs": heap_allocs,
        "write_barriers": barriers,
    }


def build_view(analysis: dict | None, files: list, window: dict[int, tuple[int, int]] | None = None) -> dict:
    """The view model: files with annotated lines, functions with asm, counts by kind.

    ``window`` (a big program's page, explorer/bigpage.py): only these lines, per file index
    (first, last; a file absent from it shows none), and the functions without their
    instructions and no per-function summary (both loaded on demand).
    """
    analysis = analysis or {}
    diags = analysis.get("diagnostics", [])
    functions = analysis.get("functions", [])
    names = [f.name if hasattr(f, "name") else f["name"] for f in files]
    anchors = {name: i for i, name in enumerate(names)}
    by_line: dict[tuple[str, int], list[dict]] = defaultdict(list)
    shown = None if window is None else {names[i]: span for i, span in window.items() if i < len(names)}
    for d in diags:
        if shown is not None and not (d["file"] in shown and shown[d["file"]][0] <= d["line"] <= shown[d["file"]][1]):
            continue
        note = _directive_note(d.get("details", {}).get("line_directive"))
        steps = _flow_steps(d, anchors)
        for step in steps:
            if step["line_directive"] == note:  # said once, on the decision
                step["line_directive"] = None
        by_line[(d["file"], d["line"])].append(
            {
                **d,
                "label": kind_label(d["kind"]),
                "heap": d["kind"] in HEAP_KINDS,
                "removed": _is_removed(d),
                "steps": steps,
                "line_directive": note,
            }
        )
    sources = [SourceFile(f.name, f.text) if hasattr(f, "name") else SourceFile(f["name"], f["text"]) for f in files]
    bidi = find_bidi(sources)
    bidi_by_line: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for b in bidi:
        bidi_by_line[(b["file"], b["line"])].append(b)
    asm_lines = {(a["file"], a["line"]) for f in functions for a in f.get("asm", [])}
    directives_by_line = directive_groups(analysis.get("directives") or [])
    file_views = []
    for index, f in enumerate(files):
        name, text = (f.name, f.text) if hasattr(f, "name") else (f["name"], f["text"])
        lines = []
        for number, line_html in _numbered_lines(text, None if window is None else window.get(index, (1, 0))):
            line_diags = by_line.get((name, number), [])
            groups = _groups(line_diags)
            line_bidi = bidi_by_line.get((name, number), [])
            gcassert_groups = directives_by_line.get((name, number), [])
            markers = [g.label for g in gcassert_groups] + [g.label for g in groups if g.items]
            if line_bidi:
                markers.insert(0, _bidi_label(line_bidi))
            lines.append(
                LineView(
                    number=number,
                    html=line_html,
                    diagnostics=line_diags,
                    heap=any(d["heap"] for d in line_diags),
                    has_asm=(name, number) in asm_lines,
                    anchor=line_anchor(index, name, number),
                    file=name,
                    groups=groups,
                    markers=markers,
                    bidi=line_bidi,
                    directives=gcassert_groups,
                )
            )
        file_views.append(FileView(name, lines))
    counts = Counter(d["kind"] for d in diags if not _is_removed(d))
    function_views = [_asm_rows(fn, anchors) if window is None else _asm_outline(fn, anchors) for fn in functions]
    for i, fn in enumerate(function_views):
        fn["index"] = i
    function_views.sort(key=lambda fn: (not fn["user"], fn.get("file", ""), fn.get("line", 0)))
    summary = (
        [
            {
                **row,
                "anchor": line_anchor(anchors[row["file"]], row["file"], row["line"]) if row["file"] in anchors else "",
            }
            for row in summaries_to_dicts(summarize(analysis))
        ]
        if (analysis.get("functions") or analysis.get("diagnostics")) and window is None
        else []
    )
    return {
        "files": file_views,
        "functions": function_views,
        "summary": summary,
        # printed by the compiler without a position (e.g. range-over-func's made-up #next)
        "unplaced": [{**d, "label": kind_label(d["kind"])} for d in diags if not d["file"] or d["line"] < 1],
        "counts": [{**kind_label(k), "count": counts[k]} for k in sorted(counts, key=kind_sort_key)],
        "heap_count": sum(counts[k] for k in ("moved-to-heap", "escapes-to-heap")),
        "alloc_count": counts["heap-alloc-call"],
        "removed_nil_checks": sum(1 for d in diags if _is_removed(d)),
        "errors": analysis.get("errors", []),
        "status": analysis.get("status", ""),
        "timings": analysis.get("timings", {}),
        "lang": analysis.get("lang", ""),
        "multi_file": len(file_views) > 1,
        "source_warnings": source_warnings(sources, bidi, index_of=anchors),
        "directives": directive_counts(analysis.get("directives") or []),
    }


def directive_counts(results: list[dict]) -> dict:
    """How many //gcassert: directives held, were violated, could not be decided."""
    counts = Counter(r.get("status", "") for r in results)
    return {
        "total": len(results),
        "held": counts["held"],
        "violated": counts["violated"] + counts["unknown"],
        "undecided": counts["undecided"],
    }


def _numbered_lines(text: str, span: tuple[int, int] | None):
    """(number, highlighted HTML) of every line, or of the lines ``first..last`` only."""
    if span is None:
        return enumerate(highlight_lines(text), start=1)
    from .bigpage import highlight_span  # a big program's page: only the lines it shows

    return zip(range(span[0], span[1] + 1), highlight_span(text, *span), strict=False)


def function_anchor(name: str) -> str:
    return "fn-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _asm_outline(fn: dict, anchors: dict[str, int]) -> dict:
    """A function of a big program's page without its instructions (loaded on demand)."""
    asm = fn.get("asm", [])
    return {
        **{k: v for k, v in fn.items() if k != "asm"},
        "asm": [],
        "rows": [],
        "rows_html": "",
        "lazy": True,
        "instructions": sum(1 for a in asm if not a["text"].startswith(DIRECTIVES)),
        "user": fn.get("file") in anchors,
        "anchor": function_anchor(fn["name"]),
        "heap_allocs": sum(1 for a in asm if a.get("heap_alloc")),
        "write_barriers": sum(1 for a in asm if a.get("write_barrier")),
    }


def _bidi_label(found: list[dict]) -> dict:
    """The gutter flag of a line holding bidirectional control characters."""
    codes = ", ".join(b["codepoint"] for b in found)
    return {
        "kind": "bidi",
        "text": "bidi",
        "icon": icon_svg("bidi"),
        "description": f"Bidirectional control character{'s' if len(found) > 1 else ''} {codes}: "
        "the code may read differently from what the compiler sees (Trojan Source, CVE-2021-42574).",
    }


def source_warnings(files: list[SourceFile], bidi: list[dict], index_of: dict[str, int]) -> dict:
    """What the banner above the annotated source says: bidirectional control characters
    (count, and the lines they are on, with anchors) and the //line directives that were
    disabled before compiling."""
    lines: dict[tuple[str, int], int] = {}
    for b in bidi:
        lines[(b["file"], b["line"])] = lines.get((b["file"], b["line"]), 0) + 1
    directives = [
        {"file": f.name, "line": d.line, "anchor": line_anchor(index_of.get(f.name, 0), f.name, d.line)}
        for f in files
        for d in line_directives.directives(f.text, f.name)
    ]
    return {
        "bidi_count": len(bidi),
        "bidi_lines": [
            {"file": file, "line": line, "count": count, "anchor": line_anchor(index_of.get(file, 0), file, line)}
            for (file, line), count in lines.items()
        ],
        "line_directives": directives,
        "multi_file": len(files) > 1,
    }
