"""Assertions in the code: ``//gcassert:`` directives, decided from the compiler's own output.

Teams write these comments for gcassert (github.com/jordanlewis/gcassert); this module
honours the same ones, plus one of its own:

``//gcassert:inline``
    On a line with a call: a call on that line is inlined (the compiler says ``inlining
    call to f`` there; as gcassert, one inlined call on the line is enough). On a function
    declaration: *every* call of that function in the package is inlined.
``//gcassert:bce``
    No bounds check is left on that line (no ``Found IsInBounds`` / ``IsSliceInBounds``).
``//gcassert:noescape``
    Nothing declared or allocated on that line escapes: no ``moved to heap``, no ``…
    escapes to heap``, no ``leaking param`` (to the heap or to a result; as gcassert).
``//gcassert:noalloc`` (ours)
    No heap allocation on that line: nothing moved to or escaping to the heap (``new``,
    ``make``, a composite literal's address, a closure, an interface conversion), no
    heap-allocated loop variable, closure or defer, and no heap-allocating runtime call
    (``runtime.newobject``, ``makeslice``, ``growslice``, ``convT64``, …) in the assembly.

Placement, as gcassert: after the code, as a trailing comment of the line it is about, or
alone on a line above it, where it applies to the next line holding code (blank lines and
other comments between are skipped). ``//gcassert:a,b`` carries several directives; ``//
gcassert:`` (one space) is accepted too. A directive of a declaration line (``func f(…)``)
with ``inline`` is about the function's calls; the others are about that line (its
parameters, for ``noescape``).

Each directive gives one :class:`DirectiveResult`: ``held`` true (with a short note of
why), false (with the compiler's own message: ``moved to heap: t`` and its flow,
``Found IsInBounds``, ``cannot inline big: function too complex: cost 203 exceeds budget
80``) or None when the compiler's output cannot decide it (the diagnostic group it needs
was switched off, the line's function was never compiled, the function is never called).
Plain Python on an :class:`~worker.analysis.Analysis`: no Django, no compiler run.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from .analysis import Analysis, CallSite, Diagnostic, DirectiveResult, Function, SourceFile
from .line_directives import comments

KNOWN = ("inline", "bce", "noescape", "noalloc")
DESCRIPTIONS = {
    "inline": "The call on this line is inlined; on a function declaration, every call of the function is.",
    "bce": "No bounds check is left on this line.",
    "noescape": "Nothing declared or allocated on this line escapes to the heap (or leaks as a parameter).",
    "noalloc": "No heap allocation on this line: no escape to the heap and no allocating runtime call.",
}
# The diagnostic groups (worker/compiler.py) each directive is decided from.
NEEDS = {"inline": ("inline",), "bce": ("bce",), "noescape": ("escape",), "noalloc": ("escape",)}
MAX_NAME = 40  # a longer (unknown) name is cut: it comes from the user's code
MAX_PER_COMMENT = 8
MAX_DIRECTIVES = 1000  # checked per compilation; the rest are left out (documented)
STATUSES = ("held", "violated", "undecided", "unknown")

# "//gcassert:inline", "// gcassert:bce,noescape" (gcassert's own pattern, at the comment's start)
_DIRECTIVE_RE = re.compile(r"^// ?gcassert:([\w,]*)")
_FUNC_DECL_RE = re.compile(
    r"^\s*func\s*(?:\(\s*(?:[A-Za-z_]\w*\s+)?\*?\s*(?P<recv>[A-Za-z_]\w*)[^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)\s*[\[(]"
)
_CALLEE_RE = re.compile(r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?\(")
_ASM_CALL_RE = re.compile(r"^CALL\s+(?P<symbol>[^\s(]+)\(SB\)")
_INTO_RE = re.compile(r"^(?P<callee>.+?) into (?P<caller>\S+)$")

NO_ALLOC_KINDS = frozenset({"moved-to-heap", "escapes-to-heap", "heap-alloc-call"})
NO_ESCAPE_KINDS = frozenset({"moved-to-heap", "escapes-to-heap", "leaking-param"})


@dataclass(frozen=True)
class Found:
    """A directive as written in the source."""

    file: str
    comment_line: int
    line: int  # the code line it applies to (0: none follows)
    names: tuple[str, ...]
    declaration: tuple[str, str] | None  # (receiver type, name) when the line declares a func
    code: str  # the code line's text


# --- finding the directives ----------------------------------------------------------------


def find(files: list[SourceFile]) -> list[Found]:
    """Every ``//gcassert:`` comment of the files, with the code line it applies to."""
    found = []
    for f in files:
        lines = f.text.split("\n")
        data = f.text.encode("utf-8")
        code_lines = _code_lines(data, len(lines))
        ordered = sorted(code_lines)
        for c in comments(data):
            if c.block:
                continue
            text = data[c.start : c.end].decode("utf-8", errors="replace")
            m = _DIRECTIVE_RE.match(text)
            if not m:
                continue
            names = tuple(n[:MAX_NAME] for n in m.group(1).split(",") if n)[:MAX_PER_COMMENT] or ("",)
            if c.line in code_lines:
                target = c.line
            else:
                after = bisect_right(ordered, c.line)
                target = ordered[after] if after < len(ordered) else 0
            code = lines[target - 1] if target else ""
            decl = _FUNC_DECL_RE.match(code)
            declaration = (decl["recv"] or "", decl["name"]) if decl else None
            found.append(Found(f.name, c.line, target, names, declaration, code))
    return found


def _code_lines(data: bytes, count: int) -> set[int]:
    """The lines holding something other than blanks and comments."""
    blanked = bytearray(data)
    for c in comments(data):
        for i in range(c.start, c.end):
            if blanked[i] != 0x0A:
                blanked[i] = 0x20
    return {i for i, line in enumerate(bytes(blanked).split(b"\n"), start=1) if line.strip()} & set(range(1, count + 1))


# --- the compiler's output, indexed ----------------------------------------------------------


def function_key(name: str, package: str = "") -> tuple[str, str]:
    """(receiver type, name) of a function as the compiler names it: ``big``, ``(*T).Get``,
    ``T.Val``, ``Map[go.shape.int]``, ``main.(*T).Get`` (in the assembly)."""
    name = re.sub(r"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]", "", name)  # type arguments
    if package and name.startswith(package + "."):
        name = name[len(package) + 1 :]
    recv, dot, method = name.rpartition(".")
    if not dot:
        return "", name
    return recv.strip("()").lstrip("*"), method


@dataclass
class _Index:
    by_line: dict[tuple[str, int], list[Diagnostic]]
    cannot_inline: dict[tuple[str, str], Diagnostic]  # function key -> "cannot inline f: reason"
    calls: dict[tuple[str, int], list[tuple[str, str]]]  # (file, line) -> callees the assembly calls there
    code: dict[tuple[str, int], bool]  # (file, line) -> the line has instructions
    spans: list[tuple[str, int, int]]  # (file, first, last) lines of each compiled function
    package: str
    has_asm: bool
    # function key -> its call sites the compiler reported: inlined, or not inlined (with why)
    sites: dict[tuple[str, str], dict[tuple[str, int, int], CallSite]] = field(default_factory=dict)


def _index(analysis: Analysis, package: str) -> _Index:
    by_line: dict[tuple[str, int], list[Diagnostic]] = defaultdict(list)
    cannot: dict[tuple[str, str], Diagnostic] = {}
    for d in analysis.diagnostics:
        by_line[(d.file, d.line)].append(d)
        if d.kind == "cannot-inline" and " into " not in d.details.get("subject", ""):
            cannot.setdefault(function_key(d.details.get("subject", "")), d)
    calls: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    code: dict[tuple[str, int], bool] = {}
    spans = []
    user_files = {f.name for f in analysis.files}
    for fn in analysis.functions:
        spans.extend(_span(fn))
        for a in fn.asm:
            if not a.line or a.file not in user_files:
                continue
            code[(a.file, a.line)] = True
            m = _ASM_CALL_RE.match(a.text)
            if m and m["symbol"].startswith(package + "."):
                calls[(a.file, a.line)].append(function_key(m["symbol"], package))
    has_asm = any(fn.asm for fn in analysis.functions)
    sites: dict[tuple[str, str], dict[tuple[str, int, int], CallSite]] = defaultdict(dict)
    for d in analysis.diagnostics:
        if d.kind == "inlining-call":
            key = function_key(d.details.get("callee", ""), package)
            sites[key].setdefault((d.file, d.line, d.column), CallSite(d.file, d.line, d.column, True, d.message))
    for d in analysis.diagnostics:
        callee = ""
        if d.kind == "call-not-inlined":
            callee = d.details.get("callee", "")
        elif d.kind == "cannot-inline" and (m := _INTO_RE.match(d.details.get("subject", ""))):
            callee = m["callee"]
        if callee:
            key = function_key(callee, package)
            sites[key][(d.file, d.line, d.column)] = CallSite(d.file, d.line, d.column, False, d.message)
    return _Index(by_line, cannot, calls, code, spans, package, has_asm, sites)


def _span(fn: Function) -> list[tuple[str, int, int]]:
    lines = [a.line for a in fn.asm if a.file == fn.file and a.line >= fn.line]
    return [(fn.file, fn.line, max(lines))] if fn.file and lines else []


def _compiled(index: _Index, file: str, line: int) -> bool:
    """Whether the line lies in a function the compiler generated code for (True when the
    assembly was not collected: nothing says otherwise)."""
    if not index.has_asm:
        return True
    return any(f == file and first <= line <= last for f, first, last in index.spans)


# --- deciding ----------------------------------------------------------------------------------


def check(analysis: Analysis, groups: tuple[str, ...] | None = None, package: str = "") -> list[DirectiveResult]:
    """The result of every directive in the analysis's files. ``groups``: the diagnostic
    groups the compile collected (all when None); ``package``: the package name the
    assembly qualifies the user's functions with (read from the files when empty)."""
    found = find(analysis.files)
    if not found:
        return []
    if not package:
        from .inputs import package_name

        try:
            package = package_name(analysis.files)
        except Exception:  # noqa: BLE001 - an invalid package clause: no asm names to match
            package = "main"
    index = _index(analysis, package)
    collected = set(groups) if groups is not None else None
    results = []
    for f in found:
        for name in f.names:
            if len(results) == MAX_DIRECTIVES:
                return results
            results.append(_decide(f, name, analysis, index, collected))
    return results


def _result(f: Found, name: str, held: bool | None, reason: str, **extra) -> DirectiveResult:
    if held is None:
        status = "unknown" if name not in KNOWN else "undecided"
    else:
        status = "held" if held else "violated"
    return DirectiveResult(f.file, f.line, name, held, reason, status=status, comment_line=f.comment_line, **extra)


def _decide(f: Found, name: str, analysis: Analysis, index: _Index, collected: set[str] | None) -> DirectiveResult:
    if name not in KNOWN:
        shown = name or "(none)"
        return _result(f, name, None, f"unknown directive {shown!r}: known are {', '.join(KNOWN)}.")
    if not f.line:
        return _result(f, name, None, "no code follows this directive in its file.")
    if analysis.status != "ok":
        return _result(f, name, None, "the program did not compile: nothing to decide from.")
    missing = [g for g in NEEDS[name] if collected is not None and g not in collected]
    if missing:
        return _result(f, name, None, f"the {', '.join(missing)} diagnostics were not collected in this compile.")
    if name == "inline" and f.declaration:
        return _inline_function(f, index)
    if not _compiled(index, f.file, f.line):
        return _result(
            f,
            name,
            None,
            "the compiler generated no code for this line's function "
            "(a generic function never instantiated, or code it removed).",
        )
    here = index.by_line.get((f.file, f.line), [])
    if name == "inline":
        return _inline_line(f, here, index)
    if name == "bce":
        return _bce(f, here, index)
    if name == "noescape":
        return _noescape(f, here)
    return _noalloc(f, here, index, collected)


def _sorted(diags: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diags, key=lambda d: d.column)


def with_flow(d: Diagnostic) -> str:
    """The compiler's message, and the -m=2 explanation that came with it: ``moved to heap: t
    (t escapes to heap in newT: flow: ~r0 ← &t: from &t (address-of) at main.go:40:9; …)``."""
    parts = ([d.explanation] if d.explanation else []) + [s.message for s in d.flow]
    if not parts:
        return d.message
    text = parts[0]
    for part in parts[1:]:
        text += (" " if text.endswith(":") else "; ") + part
    return f"{d.message} ({text})"


def _bce(f: Found, here: list[Diagnostic], index: _Index) -> DirectiveResult:
    checks = _sorted([d for d in here if d.kind == "bounds-check"])
    if checks:
        reason = "; ".join(f"{d.message} (column {d.column})" if d.column else d.message for d in checks)
        return _result(f, "bce", False, reason)
    if index.has_asm and not index.code.get((f.file, f.line)):
        return _result(f, "bce", True, "no bounds check: the compiler generated no code for this line.")
    return _result(f, "bce", True, "no bounds check left on this line (check_bce reported none).")


def _noescape(f: Found, here: list[Diagnostic]) -> DirectiveResult:
    escapes = [d for d in here if d.kind in NO_ESCAPE_KINDS and not d.details.get("content")]
    if escapes:
        return _result(f, "noescape", False, "; ".join(with_flow(d) for d in _sorted(escapes)))
    stays = [d.details.get("subject", "") for d in here if d.kind == "does-not-escape"]
    note = f" ({', '.join(s for s in stays if s)} does not escape)" if any(stays) else ""
    return _result(f, "noescape", True, f"nothing on this line escapes to the heap{note}.")


def _noalloc(f: Found, here: list[Diagnostic], index: _Index, collected: set[str] | None) -> DirectiveResult:
    allocs = [d for d in here if d.kind in NO_ALLOC_KINDS]
    allocs += [
        d
        for d in here
        if (d.kind == "loop-var" and d.details.get("allocation") == "heap")
        or (d.kind == "closure" and d.details.get("where") == "heap")
        or (d.kind == "defer" and d.details.get("how") == "heap-allocated")
    ]
    if allocs:
        seen, reasons = set(), []
        for d in _sorted(allocs):
            text = with_flow(d)
            if text not in seen:
                seen.add(text)
                reasons.append(text)
        return _result(f, "noalloc", False, "; ".join(reasons))
    asm = index.has_asm and (collected is None or "asm" in collected)
    how = "no escape to the heap and no allocating runtime call" if asm else "no escape to the heap"
    note = "" if asm else " (the assembly was not collected: runtime calls not checked)"
    return _result(f, "noalloc", True, f"no heap allocation on this line: {how}{note}.")


def _inline_line(f: Found, here: list[Diagnostic], index: _Index) -> DirectiveResult:
    inlined = _sorted([d for d in here if d.kind == "inlining-call"])
    left = _not_inlined_here(f, here, index)
    if inlined:
        reason = "; ".join(d.message for d in inlined)
        if left:
            reason += ". Not inlined on this line: " + "; ".join(left)
        return _result(f, "inline", True, reason)
    if left:
        return _result(f, "inline", False, "; ".join(left))
    if index.has_asm and not index.code.get((f.file, f.line)):
        return _result(f, "inline", None, "the compiler generated no code for this line: no call to decide on.")
    return _result(f, "inline", False, "call was not inlined: the compiler reported no inlining on this line.")


def _not_inlined_here(f: Found, here: list[Diagnostic], index: _Index) -> list[str]:
    """The compiler's reasons for the calls on this line that stayed calls."""
    reasons: list[str] = []
    keys: set[tuple[str, str]] = set()
    for d in _sorted(here):
        if d.kind == "call-not-inlined" or (d.kind == "cannot-inline" and " into " in d.details.get("subject", "")):
            if d.message not in reasons:
                reasons.append(d.message)
            into = _INTO_RE.match(d.details.get("subject", ""))
            callee = d.details.get("callee") or (into["callee"] if into else "")
            if callee:
                keys.add(function_key(callee, index.package))
    callees = list(index.calls.get((f.file, f.line), []))
    # without the assembly, the names called on the line (a guess the compiler's reasons confirm)
    if not index.has_asm:
        callees += [("", n) for n in _CALLEE_RE.findall(f.code)]
        callees += [(r, n) for r, n in index.cannot_inline if n in _CALLEE_RE.findall(f.code)]
    for key in dict.fromkeys(callees):
        if key in keys:
            continue
        d = index.cannot_inline.get(key)
        if d is not None:
            keys.add(key)
            reasons.append(d.message)
        elif index.has_asm:
            keys.add(key)
            reasons.append(f"call to {_name(key)} was not inlined (the assembly calls it here)")
    return reasons


def _name(key: tuple[str, str]) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _inline_function(f: Found, index: _Index) -> DirectiveResult:
    assert f.declaration is not None
    key = f.declaration
    fname = _name(key)
    declared = index.cannot_inline.get(key)
    sites = dict(index.sites.get(key, {}))
    for (file, line), callees in index.calls.items():
        count = callees.count(key)
        known = sum(1 for (sf, sl, _), s in sites.items() if (sf, sl) == (file, line) and not s.inlined)
        for i in range(count - known):
            why = declared.message if declared else f"the assembly calls {fname} here: the call was not inlined"
            sites[(file, line, -1 - i)] = CallSite(file, line, 0, False, why)
    ordered = sorted(sites.values(), key=lambda s: (s.file, s.line, s.column))
    extra = {"target": "function", "function": fname, "sites": ordered}
    failed = [s for s in ordered if not s.inlined]
    if failed:
        reason = "; ".join(f"call at {_site(s)} not inlined: {s.reason}" for s in failed)
        return _result(f, "inline", False, reason, **extra)
    if ordered:
        where = ", ".join(_site(s) for s in ordered)
        return _result(f, "inline", True, f"every call of {fname} is inlined ({len(ordered)}: {where}).", **extra)
    why = f" The compiler says: {declared.message}." if declared else ""
    return _result(f, "inline", None, f"{fname} is never called in this package: no call to decide on.{why}", **extra)


def _site(s: CallSite) -> str:
    return f"{s.file}:{s.line}:{s.column}" if s.column else f"{s.file}:{s.line}"


def results_from_dicts(items: list[dict]) -> list[DirectiveResult]:
    return [DirectiveResult(**{**d, "sites": [CallSite(**s) for s in d.get("sites", [])]}) for d in items]
