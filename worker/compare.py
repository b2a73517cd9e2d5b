"""A semantic diff of two analyses: which compiler decisions appeared, disappeared or changed.

Pure functions over :class:`~worker.analysis.Analysis` (or its ``to_dict`` form); no
Django, no toolchain. Decisions are matched by *what they are about*, never by line:

    identity = (group, function, inline context, subject)

* ``group`` folds kinds that describe one decision (``moved-to-heap`` and
  ``escapes-to-heap`` are both "heap"; ``can-inline`` and ``cannot-inline`` are both
  "inlinability").
* ``function`` is the enclosing function, ``inline context`` the chain of inlined
  calls the decision came from (so ``t`` of an inlined ``newT`` is not ``t`` of the
  caller).
* ``subject`` is the variable, expression or callee (``Diagnostic.details["subject"]``).
  Bounds checks, nil checks and write barriers carry none from the compiler; their
  subject is the expression at the reported column of the source (``s[3]``,
  ``p.next``, the left side of ``x.f = p``).

Identities are multisets: two identical escapes in one function and one removed give
exactly one removed. Two decisions with the same identity whose *state* differs (a
function that was inlinable and is not any more, an inlining cost that moved, a
parameter that now leaks to the heap instead of to a result) are reported as changed,
not as one added and one removed. Frame sizes are compared per function.

Heap allocations are the compiler's escape decisions (``moved-to-heap``,
``escapes-to-heap``). ``heap-alloc-call`` (a runtime allocation call found in the
assembly) is left out: it restates those decisions, and the runtime function it names
changes between Go versions (``runtime.newobject`` vs ``runtime.mallocgcSmallNoScanSC2``),
which would make every cross-version diff noisy. Nil checks the compiler removed
(``removed nil check``) cost nothing and are left out; kept ones count. ``does-not-escape``
is the absence of a heap decision and is left out too, as are ``escape-flow``,
``loop-var``, ``large-copy``, ``error`` and ``other``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from .analysis import Analysis, Diagnostic

# kind -> the group whose decisions are matched with one another
GROUPS: dict[str, str] = {
    "moved-to-heap": "heap",
    "escapes-to-heap": "heap",
    "leaking-param": "leak",
    "closure-capture": "capture",
    "can-inline": "inlinability",
    "cannot-inline": "inlinability",
    "inlining-call": "inlined-call",
    "devirtualized": "devirtualized",
    "write-barrier": "write-barrier",
    "bounds-check": "bounds-check",
    "nil-check": "nil-check",
    "large-copy": "large-copy",
    "call-not-inlined": "call-not-inlined",
}
# group -> (singular, plural) as the summary says it
GROUP_NOUNS: dict[str, tuple[str, str]] = {
    "heap": ("heap allocation", "heap allocations"),
    "bounds-check": ("bounds check", "bounds checks"),
    "nil-check": ("nil check", "nil checks"),
    "write-barrier": ("write barrier", "write barriers"),
    "inlined-call": ("inlined call", "inlined calls"),
    "inlinability": ("inlinability decision", "inlinability decisions"),
    "leak": ("leaking parameter", "leaking parameters"),
    "capture": ("closure capture", "closure captures"),
    "devirtualized": ("devirtualized call", "devirtualized calls"),
    "large-copy": ("large copy", "large copies"),
    "call-not-inlined": ("call not inlined", "calls not inlined"),
}
HEAP_GROUP = "heap"
MINUS = "\u2212"  # the summary's minus sign, as typeset

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Decision:
    """One compiler decision, reduced to what the diff matches and shows."""

    kind: str
    group: str
    function: str
    subject: str
    context: str  # inlined calls the decision came from, outermost first ("" when none)
    message: str
    file: str
    line: int  # shown, never matched
    column: int
    state: str = ""  # what may change while the identity stays (inlinability, leak target, capture mode)
    cost: int | None = None  # inlining cost, when the compiler printed one
    in_loop: bool = False  # its line runs in a loop (worker/loops.py): shown, never matched

    @property
    def key(self) -> Key:
        return (self.group, self.function, self.context, self.subject)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Change:
    """The same decision on both sides, in a different state."""

    group: str
    function: str
    subject: str
    before: Decision
    after: Decision
    description: str  # e.g. "parse is no longer inlinable: function too complex: cost 91 exceeds budget 80"

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "function": self.function,
            "subject": self.subject,
            "description": self.description,
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


@dataclass(frozen=True)
class FrameChange:
    function: str
    file: str  # the after side's file of the function
    before: int  # bytes of locals
    after: int
    before_line: int
    after_line: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Side:
    """What a reader needs to know about one side: its settings and whether it compiled."""

    go: str
    goarch: str
    lang: str
    status: str
    errors: tuple[str, ...]
    files: tuple[str, ...]
    options: str = ""  # flags and build settings added ("-l GOAMD64=v3")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "errors": list(self.errors), "files": list(self.files)}


@dataclass
class Summary:
    counts: dict[str, dict[str, int]]  # group -> {"added": n, "removed": n}
    heap_added: int
    heap_removed: int
    changed: int
    frames_changed: int
    phrases: list[str]  # "+2 heap allocations in parse", "−1 bounds check in sum", …

    @property
    def headline(self) -> str:
        return ", ".join(self.phrases) if self.phrases else "No change in the compiler's decisions."

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "headline": self.headline}


@dataclass
class Diff:
    a: Side
    b: Side
    added: list[Decision] = field(default_factory=list)  # on side b only (lines are b's)
    removed: list[Decision] = field(default_factory=list)  # on side a only (lines are a's)
    changed: list[Change] = field(default_factory=list)
    frames: list[FrameChange] = field(default_factory=list)
    summary: Summary | None = None

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.frames)

    @property
    def new_heap(self) -> list[Decision]:
        return [d for d in self.added if d.group == HEAP_GROUP]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "comparable": self.a.ok and self.b.ok,
            "empty": self.empty,
            "added": [d.to_dict() for d in self.added],
            "removed": [d.to_dict() for d in self.removed],
            "changed": [c.to_dict() for c in self.changed],
            "frames": [f.to_dict() for f in self.frames],
            "summary": self.summary.to_dict() if self.summary else None,
        }


# --- decisions of one analysis -------------------------------------------------------


def as_analysis(value: Analysis | dict[str, Any]) -> Analysis:
    return value if isinstance(value, Analysis) else Analysis.from_dict(value)


def decisions_of(analysis: Analysis | dict[str, Any]) -> list[Decision]:
    """The decisions of an analysis that the diff compares (see the module docstring)."""
    analysis = as_analysis(analysis)
    sources = source_lines(analysis)
    decisions = []
    for d in analysis.diagnostics:
        if not is_compared(d):
            continue
        decisions.append(
            Decision(
                kind=d.kind,
                group=GROUPS[d.kind],
                function=d.function,
                subject=subject_of(d, sources),
                context=_context(d),
                message=d.message,
                file=d.file,
                line=d.line,
                column=d.column,
                state=_state(d),
                cost=d.details.get("cost") if isinstance(d.details.get("cost"), int) else None,
                in_loop=bool(d.details.get("in_loop")),
            )
        )
    return decisions


def is_compared(d: Diagnostic) -> bool:
    """Whether the diff looks at this diagnostic at all."""
    return d.kind in GROUPS and not (d.kind == "nil-check" and d.details.get("removed"))


def source_lines(analysis: Analysis) -> dict[str, list[str]]:
    return {f.name: f.text.splitlines() for f in analysis.files}


def subject_of(d: Diagnostic, sources: dict[str, list[str]]) -> str:
    """What a decision is about: the compiler's subject, else the expression at its column."""
    return str(d.details.get("subject") or "") or expression_at(sources.get(d.file, []), d.line, d.column)


def _context(d: Diagnostic) -> str:
    chain = d.details.get("inline_chain") or ([d.inlined_from] if d.inlined_from else [])
    return " > ".join(str(c) for c in chain)


_POSITION = re.compile(r"\S+\.go:\d+(?::\d+)?")


def _state(d: Diagnostic) -> str:
    if d.kind == "can-inline":
        return f"inlinable, cost {d.details['cost']}" if "cost" in d.details else "inlinable"
    if d.kind == "cannot-inline":
        return f"not inlinable: {d.details.get('reason', d.message)}"
    if d.kind in ("leaking-param", "closure-capture"):
        return _POSITION.sub("", d.message)
    if d.kind in ("large-copy", "call-not-inlined"):
        return d.message
    return ""


# --- the expression a check is about -------------------------------------------------

_WORD = re.compile(rb"[A-Za-z0-9_\x80-\xff]+")
_ASSIGN_OPS = b"=:+-*/%&|^<>!"


def expression_at(lines: list[str], line: int, column: int) -> str:
    """The source expression a check at ``line:column`` is about (columns count bytes).

    ``[`` -> the index or slice expression (``s[i]``, ``b[lo:hi]``); ``.`` -> the selector
    (``p.next``); ``(`` -> the call (``f(…)``); an assignment operator -> its left side;
    otherwise the word that starts there (``*`` included). "" when there is no source.
    """
    if not (1 <= line <= len(lines)) or column < 1:
        return ""
    text = lines[line - 1].encode("utf-8")
    i = column - 1
    if i >= len(text):
        return ""
    c = text[i : i + 1]
    if c in (b"[", b"("):
        start, end = _operand_start(text, i), _matching_close(text, i)
        if end < 0:
            return ""
        expr = text[start : end + 1] if c == b"[" else text[start:i] + b"(\xe2\x80\xa6)"
        return expr.decode("utf-8", "replace")
    if c == b".":
        name = _WORD.match(text, i + 1)
        return (text[_operand_start(text, i) : i + 1] + (name.group(0) if name else b"")).decode("utf-8", "replace")
    if c in _ASSIGN_OPS and c != b"*":
        j = i
        while j > 0 and text[j - 1 : j] in _ASSIGN_OPS + b" \t":
            j -= 1
        return text[_operand_start(text, j) : j].decode("utf-8", "replace")
    star = c == b"*"
    word = _WORD.match(text, i + 1 if star else i)
    return ((b"*" if star else b"") + (word.group(0) if word else b"")).decode("utf-8", "replace")


def _operand_start(text: bytes, end: int) -> int:
    """Where the operand ending just before ``end`` starts (names, selectors, [..], (..))."""
    i = end
    while i > 0:
        c = text[i - 1 : i]
        if c in (b"]", b")"):
            opening = _matching_open(text, i - 1)
            if opening < 0:
                break
            i = opening
        elif _WORD.match(c) or c == b".":
            i -= 1
        else:
            break
    return i


_PAIRS = {b"[": b"]", b"(": b")"}


def _matching_close(text: bytes, i: int) -> int:
    opening, closing, depth = text[i : i + 1], _PAIRS[text[i : i + 1]], 0
    for j in range(i, len(text)):
        ch = text[j : j + 1]
        depth += (ch == opening) - (ch == closing)
        if depth == 0:
            return j
    return -1


def _matching_open(text: bytes, i: int) -> int:
    closing = text[i : i + 1]
    opening = b"[" if closing == b"]" else b"("
    depth = 0
    for j in range(i, -1, -1):
        ch = text[j : j + 1]
        depth += (ch == closing) - (ch == opening)
        if depth == 0:
            return j
    return -1


# --- the diff ------------------------------------------------------------------------


def side_of(analysis: Analysis) -> Side:
    return Side(
        go=analysis.go,
        goarch=analysis.goarch,
        lang=analysis.lang,
        status=analysis.status,
        errors=tuple(analysis.errors),
        files=tuple(f.name for f in analysis.files),
        options=analysis.options,
    )


def compare(a: Analysis | dict[str, Any], b: Analysis | dict[str, Any]) -> Diff:
    """What changed in the compiler's decisions from ``a`` (before) to ``b`` (after)."""
    a, b = as_analysis(a), as_analysis(b)
    diff = Diff(side_of(a), side_of(b))
    before, after = _by_key(decisions_of(a)), _by_key(decisions_of(b))
    for key in sorted(before.keys() | after.keys()):
        removed, added, pairs = _match(before.get(key, []), after.get(key, []))
        diff.removed += removed
        diff.added += added
        diff.changed += [_change(x, y) for x, y in pairs if x.state != y.state]
    diff.frames = _frames(a, b)
    order = _position_order
    diff.removed.sort(key=order)
    diff.added.sort(key=order)
    diff.changed.sort(key=lambda c: order(c.after))
    diff.summary = summarise(diff)
    return diff


def _by_key(decisions: Iterable[Decision]) -> dict[Key, list[Decision]]:
    groups: dict[Key, list[Decision]] = defaultdict(list)
    for d in decisions:
        groups[d.key].append(d)
    return groups


def _position_order(d: Decision) -> tuple[str, int, int, str]:
    return (d.file, d.line, d.column, d.message)


def _match(
    before: list[Decision], after: list[Decision]
) -> tuple[list[Decision], list[Decision], list[tuple[Decision, Decision]]]:
    """Pair decisions of one identity: same state first, then in source order.

    Returns (only before, only after, pairs). Source order only decides which of several
    equal decisions pair up; it never decides whether something changed.
    """
    rest_a = sorted(before, key=_position_order)
    rest_b = sorted(after, key=_position_order)
    pairs: list[tuple[Decision, Decision]] = []
    for x in list(rest_a):
        y = next((y for y in rest_b if y.state == x.state), None)
        if y is not None:
            pairs.append((x, y))
            rest_a.remove(x)
            rest_b.remove(y)
    n = min(len(rest_a), len(rest_b))
    pairs += list(zip(rest_a[:n], rest_b[:n], strict=True))
    return rest_a[n:], rest_b[n:], pairs


def short_name(function: str) -> str:
    """``main.parse`` -> ``parse``; ``example.com/p.(*T).M`` -> ``(*T).M``."""
    tail = function.rsplit("/", 1)[-1]
    return tail.split(".", 1)[1] if "." in tail else tail


def _change(x: Decision, y: Decision) -> Change:
    name = x.subject or short_name(x.function)
    if x.group == "inlinability":
        if x.kind == "can-inline" and y.kind == "cannot-inline":
            text = f"{name} is no longer inlinable: {y.state.removeprefix('not inlinable: ')}"
        elif x.kind == "cannot-inline" and y.kind == "can-inline":
            text = f"{name} is now inlinable" + (f" (cost {y.cost})" if y.cost is not None else "")
        elif x.kind == "can-inline":
            text = f"inlining cost of {name}: {x.cost} \u2192 {y.cost}"
        else:
            text = f"{name} is still not inlinable: {y.state.removeprefix('not inlinable: ')}"
    else:
        text = f"{x.message} \u2192 {y.message} in {short_name(x.function)}"
    return Change(x.group, x.function, x.subject, x, y, text)


def _frames(a: Analysis, b: Analysis) -> list[FrameChange]:
    after = {f.name: f for f in b.functions}
    changes = []
    for fa in a.functions:
        fb = after.get(fa.name)
        if fb is not None and fa.frame_size != fb.frame_size:
            changes.append(FrameChange(fa.name, fb.file, fa.frame_size, fb.frame_size, fa.line, fb.line))
    return changes


# --- the summary ---------------------------------------------------------------------


def summarise(diff: Diff) -> Summary:
    counts: dict[str, dict[str, int]] = {g: {"added": 0, "removed": 0} for g in GROUP_NOUNS}
    per_function: dict[tuple[str, str], dict[str, int]] = {}
    for verb, decisions in (("added", diff.added), ("removed", diff.removed)):
        for d in decisions:
            counts[d.group][verb] += 1
            n = per_function.setdefault(
                (d.function, d.group), {"added": 0, "removed": 0, "added-loop": 0, "removed-loop": 0}
            )
            n[verb] += 1
            n[f"{verb}-loop"] += d.in_loop
    phrases = []
    for (function, group), n in per_function.items():
        for verb, sign in (("added", "+"), ("removed", MINUS)):
            if n[verb]:
                noun = GROUP_NOUNS[group][0 if n[verb] == 1 else 1]
                where = f" in {short_name(function)}" if function else ""
                looping = n[f"{verb}-loop"]
                hot = "" if not looping else " (in a loop)" if looping == n[verb] else f" ({looping} in a loop)"
                phrases.append(f"{sign}{n[verb]} {noun}{where}{hot}")
    phrases += [
        c.description.split(":")[0] for c in diff.changed if c.group == "inlinability" and c.before.kind != c.after.kind
    ]
    phrases += [f"frame of {short_name(f.function)} {f.before} \u2192 {f.after} B" for f in diff.frames]
    return Summary(
        counts=counts,
        heap_added=counts[HEAP_GROUP]["added"],
        heap_removed=counts[HEAP_GROUP]["removed"],
        changed=len(diff.changed),
        frames_changed=len(diff.frames),
        phrases=phrases,
    )
