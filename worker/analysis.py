"""The typed result of one compilation: what the compiler decided, per source position.

Everything here is plain data (dataclasses) so the engine runs without Django and the
result round-trips through JSON (``Analysis.to_dict`` / ``Analysis.from_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

# The documented list of diagnostic kinds (docs/API.md mirrors it).
KINDS: dict[str, str] = {
    "moved-to-heap": "A variable was moved to the heap (moved to heap: x).",
    "escapes-to-heap": "A value escapes to the heap (… escapes to heap).",
    "does-not-escape": "A value stays on the stack (… does not escape).",
    "leaking-param": "A parameter leaks to the heap or to a result (leaking param: p …).",
    "escape-flow": "An escape explanation (-m=2 header with its flow) not matched to a decision.",
    "closure-capture": "A closure captures a variable by value or by reference.",
    "can-inline": "A function can be inlined (with its cost).",
    "cannot-inline": "A function cannot be inlined (with the reason).",
    "inlining-call": "A call was inlined at this site.",
    "call-not-inlined": "A call to an inlinable function not inlined at this site (e.g. its caller is too big).",
    "devirtualized": "An interface call was devirtualized.",
    "write-barrier": "A pointer store that needs a GC write barrier (-d=wb).",
    "bounds-check": "A bounds check the compiler kept (Found IsInBounds / IsSliceInBounds).",
    "nil-check": "A nil check the compiler kept (-d=nil).",
    "loop-var": "A loop variable: per-iteration, heap- or stack-allocated (-d=loopvar).",
    "large-copy": "A large value copy.",
    "heap-alloc-call": "A heap-allocating runtime call in the assembly (runtime.newobject, …).",
    "prove": "What the prove pass proved or disproved, e.g. a bounds check removed (-d=ssa/prove/debug).",
    "defer": "How a defer was compiled: open-coded, stack- or heap-allocated (-d=defer).",
    "closure": "How a closure was compiled: on the stack, on the heap, or as a global (-d=closure).",
    "append": "How an append was compiled (-d=append).",
    "liveness": "Values live at a call, and stack objects (-live).",
    "param-use": "A parameter a function mutates or calls (-d=escapemutationscalls).",
    "interface-conversion": "An interface conversion that uses a global instead of an allocation (-d=escapedebug).",
    "error": "A compile error (syntax, type, import).",
    "other": "A line the parser does not classify; shown verbatim, never dropped.",
}

HEAP_KINDS = frozenset({"moved-to-heap", "escapes-to-heap", "heap-alloc-call"})


@dataclass
class FlowStep:
    """One line of the `-m=2` explanation under a decision.

    ``message`` is the compiler's text without its position prefix and indentation,
    e.g. ``flow: ~r0 ← &t:`` or ``from &t (address-of) at main.go:9:9``. The position
    is the step's own: for a ``from … at F:L:C`` line it is F:L:C; for a ``flow:`` line
    it is the position printed at the start of that line.
    """

    file: str
    line: int
    column: int
    message: str
    depth: int = 0  # indentation level: 1 for "flow:", 2 for "from … at …"


@dataclass
class Diagnostic:
    file: str  # file name as the user gave it (e.g. "main.go"), never a sandbox path
    line: int
    column: int
    kind: str  # one of KINDS
    message: str  # the compiler's own text, verbatim (positions rewritten to user file names)
    function: str = ""  # enclosing function (e.g. "main.newT"), when known
    flow: list[FlowStep] = field(default_factory=list)
    explanation: str = ""  # the -m=2 header this decision's flow came with, e.g. "t escapes to heap in newT:"
    inlined_from: str = ""  # function whose inlined body produced this, when known
    details: dict[str, Any] = field(default_factory=dict)  # parsed extras: cost, reason, variable, …
    package: str = ""  # import path, in a module's analysis (worker/modules.py); "" for one package


@dataclass
class AsmLine:
    pc: int  # offset within the function
    file: str  # source file of the instruction (user file name, or GOROOT-relative path)
    line: int  # source line in the user's file the instruction is attributed to (0 if none)
    text: str  # the instruction, e.g. "CALL\truntime.newobject(SB)"
    inlined_from: str = ""  # function the instruction came from when inlined (innermost)
    heap_alloc: bool = False  # a heap-allocating runtime call
    write_barrier: bool = False
    # inlined calls the instruction is inside, outermost (the call in the user's code) first;
    # inline_chain[-1] == inlined_from
    inline_chain: list[str] = field(default_factory=list)


@dataclass
class Function:
    name: str  # e.g. "main.newT"
    file: str = ""
    line: int = 0  # line of the TEXT directive (the func declaration)
    frame_size: int = 0  # locals, bytes
    args_size: int = 0
    size: int = 0  # code size in bytes
    asm: list[AsmLine] = field(default_factory=list)


@dataclass
class SourceFile:
    name: str
    text: str


@dataclass
class Timings:
    queued_ms: float = 0.0
    compile_ms: float = 0.0  # wall time of the sandboxed compiler run (from the hand-over to a sandbox started ahead)
    parse_ms: float = 0.0
    total_ms: float = 0.0


@dataclass
class CallSite:
    """One call of a function carrying ``//gcassert:inline`` on its declaration."""

    file: str
    line: int
    column: int  # 0 when only the assembly shows the call (no column)
    inlined: bool
    reason: str  # the compiler's message for that site


@dataclass
class DirectiveResult:
    """One //gcassert: directive of the user's code, decided from the compiler's output
    (worker/directives.py)."""

    file: str
    line: int  # the line the directive is about (the code line)
    directive: str  # inline | bce | noescape | noalloc (or the unknown name as written)
    held: bool | None  # None: undecided or an unknown directive
    reason: str  # the compiler's message when violated; a short explanation otherwise
    status: str = "held"  # held | violated | undecided | unknown
    comment_line: int = 0  # the line of the //gcassert comment (== line when trailing)
    target: str = "line"  # line | function (inline on a declaration)
    function: str = ""  # the declared function, for target "function"
    sites: list[CallSite] = field(default_factory=list)


@dataclass
class Analysis:
    go: str  # toolchain version, e.g. "1.27.3"
    goarch: str
    lang: str  # language version used, e.g. "go1.27"
    files: list[SourceFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # user-facing errors (compile errors, limits hit)
    status: str = "ok"  # ok | compile-error | invalid-input | limit | internal-error
    limit: str = ""  # with status "limit": which one (time, cpu, memory, output, file)
    options: str = ""  # the compiler flags and build settings the request added ("-l GOAMD64=v3"), or ""
    toolchain: str = ""  # full `go version` string
    timings: Timings = field(default_factory=Timings)
    raw_output: str = ""  # the compiler's combined stdout/stderr (sandbox paths rewritten)
    directives: list[DirectiveResult] = field(default_factory=list)  # //gcassert: assertions (worker/directives.py)
    packages: list[str] = field(default_factory=list)  # a module's analysed packages (import paths); [] for one
    # Fields named with a leading underscore are the engine's hand-over to its caller, never
    # part of the analysis' JSON (orjson skips them, so does to_dict): raw_output gzip'd
    # (level 1) while the compiler printed it, when it was read as it came (worker/streaming.py).
    _raw_output_gz: bytes | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Like dataclasses.asdict, without its deep copies (several times faster on large results)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, listings: bool = True) -> Analysis:
        """The analysis of its dict form. ``listings=False`` leaves each function's ``asm``
        as the stored dicts (tens of thousands in a large result, most of the time it takes
        to rebuild: for readers that only ask whether a function has a listing)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["files"] = [SourceFile(**f) for f in data.get("files", [])]
        kwargs["diagnostics"] = [
            Diagnostic(**{**d, "flow": [FlowStep(**s) for s in d.get("flow", [])]}) for d in data.get("diagnostics", [])
        ]
        kwargs["functions"] = [
            Function(**{**f, "asm": [AsmLine(**a) for a in f.get("asm", [])] if listings else f.get("asm", [])})
            for f in data.get("functions", [])
        ]
        kwargs["timings"] = Timings(**data.get("timings", {}))
        kwargs["directives"] = [
            DirectiveResult(**{**r, "sites": [CallSite(**s) for s in r.get("sites", [])]})
            for r in data.get("directives", [])
        ]
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_dataclass(value):  # our dataclasses have no slots: their fields are their __dict__
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value
