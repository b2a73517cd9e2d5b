"""Which costly decisions run in a loop, read off the compiled code's control-flow graph.

``mark_loops`` sets ``details["in_loop"]`` on every decision that costs something each
time its line runs (``PER_EXECUTION_KINDS``): ``True`` when that code runs in a loop,
``False`` when it does not, ``None`` when this cannot be told (no assembly listing,
wasm, a function whose control flow could not be read).

How, per function (worker/cfg.py builds the graph from the ``-S=2`` listing): basic
blocks and edges, natural loops of the back edges (by dominators), and every other
cycle (strongly connected components, for ``goto`` loops without a single header). An
instruction is *in a loop* when its block is on a cycle. Two kinds of cycle of the
compiled code are not loops of the source and are left out: the stack-growth path back
to the function's entry (cfg.py), and the copy/zeroing loops the compiler emits for one
large move (a block that jumps to itself, of one line, calling nothing: Go 1.25+ copies
large values with such loops on amd64, arm64 and riscv64).

Then, per decision, from the most precise evidence available:

* ``heap-alloc-call``: its own call instruction.
* ``moved-to-heap``, ``escapes-to-heap``: the allocating runtime calls on its line (an
  allocation happens in one of them), when the line has some: true if any of them is
  in a loop. So a loop header's one-time work (``for _, x := range make([]int, n)``) is
  not in the loop, and a line that calls an inlined function allocating both inside and
  outside its loop is (the line is the finest position the listing gives).
* otherwise (``large-copy``, and heap decisions whose line calls no allocator): the
  line's instructions. The listing labels instructions with the outermost position (the
  call site for inlined code), so inlined code counts where it was inlined. Register
  shuffles are left out (``is_register_shuffle``): the register allocator labels a
  spill, reload or rematerialized constant with the line of the value's user and places
  it wherever the value is live — a spill of ``total`` in a loop's header carries the
  line of ``fmt.Println(total)`` after the loop.

The decision's own function's instructions are used when it has some on that line; a
range-over-func loop's body (``main.f-range1``, called by the iterator once per element)
is in a loop wherever its own code branches. The callee's own copy of an inlined
function is judged by its own code, not by its call sites.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from . import cfg
from .analysis import Analysis, Diagnostic, Function

# Decisions that cost something each time their line runs.
PER_EXECUTION_KINDS = frozenset({"moved-to-heap", "escapes-to-heap", "heap-alloc-call", "large-copy"})
HEAP_DECISIONS = frozenset({"moved-to-heap", "escapes-to-heap"})

BRANCH_OPS = re.compile(r"^(J[A-Z]*|B[A-Z]*|CB[A-Z]*|TB[A-Z]*)$")
CALL_OPS = frozenset({"CALL", "BL", "JAL", "BSR"})


def branch_target(text: str) -> int | None:
    """The pc a branch instruction jumps to, if it names one (for the assembly pane's labels)."""
    op, _, operands = text.partition("\t")
    if op in CALL_OPS or not BRANCH_OPS.match(op):
        return None
    last = operands.rsplit(",", 1)[-1].strip()
    return int(last) if last.isdigit() else None


# ---- which instructions say where a line runs -------------------------------------------

# Entries of the listing that are not work of the line they are labelled with.
_NOT_WORK = cfg.PSEUDO_OPS | {"NOP", "NOOP"}
# Moves of one register's worth, per GOARCH: what a register allocator emits to spill,
# reload, copy and rematerialize values.
_MOVES = {
    "amd64": frozenset({"MOVQ", "MOVL", "MOVW", "MOVB", "MOVSD", "MOVSS", "MOVBLZX", "MOVWLZX", "MOVBQZX", "MOVWQZX"}),
    "386": frozenset({"MOVL", "MOVW", "MOVB", "MOVSD", "MOVSS", "MOVBLZX", "MOVWLZX"}),
    "arm64": frozenset({"MOVD", "MOVW", "MOVWU", "MOVH", "MOVHU", "MOVB", "MOVBU", "FMOVD", "FMOVS"}),
    "riscv64": frozenset({"MOV", "MOVW", "MOVWU", "MOVH", "MOVHU", "MOVB", "MOVBU", "MOVD", "MOVF", "FMOVD", "FMOVF"}),
}
# A named stack slot: "main.total+40(SP)", "main..autotmp_13-8(SP)", "main.xs+96(FP)".
_STACK_SLOT = re.compile(r"^[^\s(),$]+[+-]\d+\((?:SP|FP)\)$|^[^\s(),$]+\((?:SP|FP)\)$")
_REGISTER = re.compile(r"^(?:[A-Z][A-Z0-9]*|g)$")


def is_register_shuffle(text: str, goarch: str) -> bool:
    """An instruction the register allocator may place anywhere the value is live.

    A spill or reload (a move between a register and a named stack slot), a copy between
    registers, or a rematerialized constant or address (``MOVQ $7, AX``,
    ``LEAQ type:main.T(SB), AX``, ``MOVD $main.x-512(SP), R1``, ``XORL CX, CX``). These carry
    the position of the value they move, not of the code around them: a spill of
    ``total`` inside a loop is labelled with the line of ``fmt.Println(total)`` after it.
    """
    op, _, rest = text.partition("\t")
    operands = [o.strip() for o in rest.split(",")] if rest else []
    if len(operands) != 2:
        return False
    a, b = operands
    if goarch in ("amd64", "386"):
        if op in ("XORL", "XORQ") and a == b and _REGISTER.match(a):
            return True
        if op in ("LEAQ", "LEAL") and _REGISTER.match(b) and (a.endswith("(SB)") or _STACK_SLOT.match(a)):
            return True
    if op not in _MOVES.get(goarch, ()):
        return False
    if _REGISTER.match(b) and (_REGISTER.match(a) or a.startswith("$") or _STACK_SLOT.match(a)):
        return True
    return bool(_REGISTER.match(a) and _STACK_SLOT.match(b))


def _is_work(text: str) -> bool:
    return text.partition("\t")[0] not in _NOT_WORK


# ---- per function ------------------------------------------------------------------------


# The body of a range-over-func loop, compiled as a function the iterator calls once per
# element: "main.Sorted-range1", "main.Lines.func1#VUTeKbHKruY=#-range1", "main.f-range1-range2".
_RANGE_BODY = re.compile(r"-range\d+(?:#[^#]*#)?$")


def is_range_body(name: str) -> bool:
    return bool(_RANGE_BODY.search(name))


@dataclass
class FunctionLoops:
    fn: Function
    loops: cfg.Loops | None  # None: cannot tell
    reason: str = ""
    # (work instructions' (file, line) and index, allocating calls' pc and index): index()
    indexed: tuple[list[tuple[tuple[str, int], int]], list[tuple[int, int]]] | None = field(default=None, repr=False)

    def index(self) -> tuple[list[tuple[tuple[str, int], int]], list[tuple[int, int]]]:
        """The instructions :class:`LoopFacts` looks up: those doing work, by source line,
        and the allocating calls, by pc (found once; worker/streaming.py finds them while
        the compiler still runs)."""
        if self.indexed is None:
            work = [((a.file, a.line), i) for i, a in enumerate(self.fn.asm) if a.line and _is_work(a.text)]
            calls = [(a.pc, i) for i, a in enumerate(self.fn.asm) if a.heap_alloc]
            self.indexed = (work, calls)
        return self.indexed

    def in_loop(self, i: int) -> bool | None:
        """Whether instruction ``i`` of the listing runs in a loop (None: cannot tell).

        All of a range-over-func loop's body runs once per iteration, wherever its own
        code branches.
        """
        if is_range_body(self.fn.name):
            return True
        return None if self.loops is None else self.loops.instruction_in_cycle(i)


def _drop_memory_loops(graph: cfg.Graph) -> None:
    """Remove the self-edge of blocks that are one large move's copy loop."""
    asm = graph.function.asm
    for block in graph.blocks:
        if block.index not in block.succs:
            continue
        body = range(block.first, block.end)
        positions = {(asm[i].file, asm[i].line) for i in body if _is_work(asm[i].text)}
        calls = any(graph.flows[i].kind == "call" or asm[i].text.startswith("DUFF") for i in body)
        if len(positions) == 1 and not calls:
            block.succs.remove(block.index)
            block.preds.remove(block.index)


def function_loops(fn: Function, goarch: str, tables: dict[str, list[int]] | None = None) -> FunctionLoops:
    try:
        graph = cfg.build(fn, goarch, tables)
    except cfg.CannotTell as e:
        return FunctionLoops(fn, None, str(e))
    _drop_memory_loops(graph)
    return FunctionLoops(fn, cfg.loops(graph))


# ---- per decision --------------------------------------------------------------------------


def _any(values: list[bool | None]) -> bool | None:
    """True if any is True; else None if any is unknown (or there are none); else False."""
    if any(v is True for v in values):
        return True
    if not values or any(v is None for v in values):
        return None
    return False


class LoopFacts:
    """In-loop facts of one analysis, by function and by source line."""

    def __init__(
        self,
        analysis: Analysis,
        known: dict[int, FunctionLoops] | None = None,
        tables: dict[str, dict[str, list[int]]] | None = None,
    ) -> None:
        """``known``: loops already found (by ``id`` of the function), as
        worker/streaming.py finds them while the compiler runs; ``tables``: the listing's
        jump tables when already read (else they are read off ``analysis.raw_output``)."""
        self.goarch = analysis.goarch
        if tables is None:
            tables = cfg.jump_tables(analysis.raw_output.splitlines()) if analysis.raw_output else {}
        known = known or {}
        self.lines: dict[tuple[str, int], list[tuple[FunctionLoops, int]]] = defaultdict(list)
        # (function, pc) -> the allocating call there
        self.calls: dict[tuple[str, int], tuple[FunctionLoops, int]] = {}
        for fn in analysis.functions:
            if not fn.asm:
                continue
            facts = known.get(id(fn)) or function_loops(fn, analysis.goarch, tables.get(fn.name))
            work, calls = facts.index()
            for key, i in work:
                self.lines[key].append((facts, i))
            for pc, i in calls:
                self.calls.setdefault((fn.name, pc), (facts, i))

    def _line(self, d: Diagnostic, *, allocations: bool = False) -> list[bool | None]:
        """In-loop facts of the instructions labelled with the decision's line.

        The decision's own function's instructions when it has some there (a closure on
        the line of a loop in its enclosing function is not in that loop), else every
        function's (a generic function's instantiations, inlined copies).
        """
        found = self.lines.get((d.file, d.line), [])
        own = [(f, i) for f, i in found if f.fn.name == d.function]
        found = own or found
        if allocations:
            return [f.in_loop(i) for f, i in found if f.fn.asm[i].heap_alloc]
        kept = [(f, i) for f, i in found if not is_register_shuffle(f.fn.asm[i].text, self.goarch)] or found
        return [f.in_loop(i) for f, i in kept]

    def decide(self, d: Diagnostic) -> bool | None:
        if d.kind == "heap-alloc-call":
            call = self.calls.get((d.function, d.details.get("pc")))  # type: ignore[arg-type]
            if call is not None:
                return call[0].in_loop(call[1])
        if d.kind in HEAP_DECISIONS or d.kind == "heap-alloc-call":
            calls = self._line(d, allocations=True)
            if calls:
                return _any(calls)
        return _any(self._line(d))


def mark_loops(
    analysis: Analysis,
    known: dict[int, FunctionLoops] | None = None,
    tables: dict[str, dict[str, list[int]]] | None = None,
) -> None:
    """Set ``details["in_loop"]`` (True, False or None) on every costly decision (``known``
    and ``tables`` as :class:`LoopFacts` takes them)."""
    facts = LoopFacts(analysis, known, tables)
    for d in analysis.diagnostics:
        if d.kind in PER_EXECUTION_KINDS:
            d.details["in_loop"] = facts.decide(d)
