"""Cross-reference diagnostics and assembly of one compile run.

* ``Diagnostic.function``: the enclosing function, from (in order) what the message
  itself names ("… escapes to heap in main:", "main capturing by …", "can inline f"),
  else the smallest assembled function whose source lines contain the diagnostic, else
  the nearest function declared above it (from "can/cannot inline" lines).
* ``Diagnostic.inlined_from``: a decision reported at exactly the position of an
  "inlining call to X" printed before it was made in X's inlined body (the compiler
  reports inlined code at the call site). When several calls are inlined there (X's body
  inlines Y), X — the call the user wrote — is named; details["inline_chain"] lists them
  all. Names are symbol names ("main.speak") like ``AsmLine.inlined_from`` whenever the
  assembly's inlining trees contain the callee, else the compiler's text ("speak").
  A diagnostic that knows its own inlining (``details["inlined_positions"]``, from the
  optimization log: ``large-copy``) gets an ``inlined_from`` only when that list is not
  empty: a copy at a call site (passing the argument) is the caller's own code.
* Heap-allocating runtime calls in the assembly become synthetic ``heap-alloc-call``
  diagnostics at the user's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.analysis import Diagnostic, Function
from worker.parse.asm import runtime_callee

Position = tuple[str, int, int]

# Kinds whose position is a declaration or the inlined call itself, not inlined code.
_NOT_INLINED_CODE = frozenset({"inlining-call", "can-inline", "cannot-inline", "error", "heap-alloc-call"})


@dataclass(frozen=True)
class _Span:
    name: str
    file: str
    first: int
    last: int
    column: int = 0  # column of the declaration ("func" of a literal) when known

    def contains(self, file: str, line: int, column: int) -> bool:
        if file != self.file or not self.first <= line <= self.last:
            return False
        # A closure starts mid-line: what precedes it, and the func literal itself, is
        # the enclosing function's ("func literal escapes to heap" is main's decision).
        return line > self.first or not self.column or column > self.column


def qualify(name: str, package: str) -> str:
    """Compiler-internal function name ("newT", "main.func1", "(*T).M") -> symbol name."""
    return f"{package}.{name}" if name else ""


_CLOSURE_RE = re.compile(r"\.func\d+(?:\.\d+)*(?:#.*#)?$")


def _spans(functions: list[Function], declared: dict[str, tuple[str, int, int]]) -> list[_Span]:
    # Copies of a closure made by inlining its enclosing function ("main.main.counter.func1"
    # in 1.21, "main.counter.func1#…#" in 1.22+) have no "can inline" line of their own:
    # they start where the closure they copy was declared.
    closure_columns = {
        (file, line): column for name, (file, line, column) in declared.items() if _CLOSURE_RE.search(name)
    }
    spans = []
    for fn in functions:
        lines = [a.line for a in fn.asm if a.file == fn.file and a.line > 0]
        if fn.file and fn.line:
            file, line, column = declared.get(fn.name, ("", 0, 0))
            column = column if (file, line) == (fn.file, fn.line) else 0
            if not column and _CLOSURE_RE.search(fn.name):
                column = closure_columns.get((fn.file, fn.line), 0)
            spans.append(_Span(fn.name, fn.file, min([fn.line, *lines]), max([fn.line, *lines]), column))
    return spans


def _named_function(d: Diagnostic, package: str, assembled: set[str]) -> str:
    details = d.details
    name = ""
    for key in ("explained_in", "in", "closure_of"):
        if details.get(key):
            name = details[key]
            break
    else:
        if d.kind in ("can-inline", "cannot-inline"):
            name = details.get("subject", "")
    qualified = qualify(name, package)
    # An instantiation of another package's generic function ("slices.pdqsortCmpFunc[…]",
    # compiled into this package) is printed with its own package: keep that name.
    if qualified not in assembled and name in assembled:
        return name
    return qualified


def _declarations(diagnostics: list[Diagnostic], package: str) -> dict[str, tuple[str, int, int]]:
    """Symbol name -> declaration position, from the "can/cannot inline F" lines."""
    return {
        qualify(d.details["subject"], package): (d.file, d.line, d.column)
        for d in diagnostics
        if d.kind in ("can-inline", "cannot-inline") and d.details.get("subject")
    }


def _enclosing(file: str, line: int, column: int, spans: list[_Span], declared: dict[str, tuple[str, int, int]]) -> str:
    containing = [s for s in spans if s.contains(file, line, column)]
    if containing:
        return min(containing, key=lambda s: (s.last - s.first, -s.first, -s.column)).name
    above = [(pos[1], name) for name, pos in declared.items() if pos[0] == file and pos[1] <= line]
    return max(above)[1] if above else ""


def _inlined_symbols(functions: list[Function]) -> set[str]:
    return {name for fn in functions for asm in fn.asm for name in asm.inline_chain}


_LOCAL_METHOD_RE = re.compile(r"^\(\*?[^.()]+\)\.")


def _symbol_for(callee: str, symbols: set[str], package: str, local: set[str] | None = None) -> str:
    """The symbol name of an inlined callee as the compiler prints it.

    "speak" -> "main.speak", "main.func1" (a closure of main) -> "main.main.func1",
    "(*T).M" -> "main.(*T).M"; imported ones ("fmt.Println") are already symbol names.
    The assembly's inlining trees decide when they name exactly one match.
    """
    if callee in symbols:
        return callee
    matches = [s for s in symbols if s.endswith("." + callee)]
    if len(matches) == 1:
        return matches[0]
    # "local.func1": a closure of this package's function local, not package local's func1.
    outer = callee.split(".", 1)[0]
    closure_of_local = bool(local) and qualify(outer, package) in local and _CLOSURE_RE.search(callee)
    is_local = (
        "." not in callee or callee.startswith(f"{package}.") or _LOCAL_METHOD_RE.match(callee) or closure_of_local
    )
    return qualify(callee, package) if is_local else callee


def attribute(diagnostics: list[Diagnostic], functions: list[Function], package: str = "main") -> None:
    """Fill ``function`` and ``inlined_from`` of each diagnostic (in output order), in place.

    Only "inlining call" lines printed BEFORE a diagnostic count for it: 1.22+ prints
    "devirtualizing a.M to *T" between the inlining of the enclosing call and the
    inlining of the devirtualized call itself, at the same position.
    """
    declared = _declarations(diagnostics, package)
    spans = _spans(functions, declared)
    symbols = _inlined_symbols(functions)
    assembled = {fn.name for fn in functions}
    local_functions = assembled | set(declared)
    inlined_at: dict[Position, list[str]] = {}
    for d in diagnostics:
        if not d.function:
            d.function = _named_function(d, package, assembled) or _enclosing(d.file, d.line, d.column, spans, declared)
        position = (d.file, d.line, d.column)
        if d.kind == "inlining-call":
            d.details["callee_symbol"] = _symbol_for(d.details["callee"], symbols, package, local_functions)
            inlined_at.setdefault(position, []).append(d.details["callee_symbol"])
            continue
        chain = inlined_at.get(position)
        if d.details.get("inlined_positions") == []:
            chain = None  # the diagnostic's own record says it is not in inlined code
        if chain and d.kind not in _NOT_INLINED_CODE and not d.inlined_from:
            d.inlined_from = chain[0]
            d.details["inline_chain"] = list(chain)


def heap_alloc_diagnostics(functions: list[Function]) -> list[Diagnostic]:
    """One synthetic diagnostic per heap-allocating runtime call in the assembly."""
    found = []
    for fn in functions:
        for asm in fn.asm:
            if not asm.heap_alloc or not asm.line:
                continue
            callee = runtime_callee(asm.text)
            found.append(
                Diagnostic(
                    file=asm.file,
                    line=asm.line,
                    column=0,
                    kind="heap-alloc-call",
                    message=f"{callee} call (heap allocation)",
                    function=fn.name,
                    inlined_from=asm.inlined_from,
                    details={"synthetic": True, "subject": callee, "callee": callee, "pc": asm.pc},
                )
            )
    return found
