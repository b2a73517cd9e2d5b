"""Control-flow graphs of the compiled functions, read off the ``-S=2`` listing.

A function's listing (``Function.asm``) is cut into basic blocks: a block starts at the
first instruction, at every branch target and after every instruction that does not
fall through or that branches (jump, conditional branch, return, tail call, a call that
never returns such as ``runtime.panicIndex``, a trap). Edges are the fall-through and
the branch targets. On top of that: the dominator tree (the simple iterative
algorithm), back edges (an edge whose target dominates its source), each back edge's
natural loop, and the strongly connected components, which also find cycles without a
dominating header (irreducible control flow, possible with ``goto``).

Branch forms, as the listing prints them (Go's assembler syntax, after assembly):

* amd64, 386: ``JMP\\t39`` and the conditional ``J<cc>\\t29`` name the target pc;
  ``JMP\\t(DI)(SI*8)`` is a jump table's indirect jump; ``JMP\\tf(SB)`` a tail call;
  ``RET``.
* arm64: ``JMP\\t44`` (B), ``B<cc>\\t172``, ``CBZ``/``CBNZ``(``W``) ``R1, 120``,
  ``TBZ``/``TBNZ`` ``$3, R1, 120``; ``JMP\\t(R27)`` indirect; ``RET\\t(R30)``.
* riscv64: targets are offsets from the branch's own pc: ``BNE\\tX6, X10, $-72``,
  ``BEQZ\\tX9, $24``, ``JAL\\tX0, $10`` (a jump; ``JAL\\tX1, f(SB)`` is a call);
  ``JALR\\tX0, X1`` returns, another ``JALR\\tX0, Xn`` jumps indirectly.
* A jump table's targets are in a data symbol ``<function>.jump<N>`` of the same
  listing (``rel 8+8 t=R_ADDR main.sw<1>+62``), named by the instruction that loads its
  address just before the indirect jump (``LEAQ\\tmain.sw.jump7(SB), DI``).

The stack-growth path (call ``runtime.morestack*``, then jump back to the function's
entry) is not an edge: it runs the function again from the start, it is not a loop.

wasm is not read: its listing has no ordinary branches. Each function is one
``Loop`` around a ``BrTable`` that dispatches on ``PC_B``; "jumps" are stores of a
resume-point number into ``PC_B`` followed by ``Br`` to that loop, and the "pc" column
counts resume points, not bytes. Every function is a cycle at the wasm level, and the
Go-level graph is an internal convention of the backend, so ``build`` refuses (the
caller says "cannot tell").

Anything this module does not recognise as straight-line code or a known branch form
makes ``build`` raise :class:`CannotTell` for that function rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .analysis import Function

GOARCHES = frozenset({"amd64", "386", "arm64", "riscv64"})

# Listing entries that are not machine instructions (no size, no execution).
PSEUDO_OPS = frozenset({"TEXT", "PCDATA", "FUNCDATA", "PCALIGN", "PCALIGNMAX"})

_X86_CONDITIONAL = re.compile(r"^J(?:CC|CS|CXZL|CXZQ|CXZW|EQ|GE|GT|HI|LE|LS|LT|MI|NE|OC|OS|PC|PL|PS)$")
_ARM64_CONDITIONAL = re.compile(r"^B(?:EQ|NE|CS|HS|CC|LO|MI|PL|VS|VC|HI|LS|GE|LT|GT|LE)$")
_ARM64_COMPARE_BRANCH = re.compile(r"^(?:CBZW?|CBNZW?|TBZ|TBNZ)$")
_RISCV_BRANCH = re.compile(r"^B(?:EQ|NE|LT|GE|LTU|GEU|GT|LE|GTU|LEU|EQZ|NEZ|LEZ|GEZ|LTZ|GTZ)$")
_TRAPS = frozenset({"UD2", "UNDEF", "BRK", "EBREAK", "HLT"})
_SYMBOL_OPERAND = re.compile(r"^(?P<symbol>.+)\(SB\)$")
_RISCV_OFFSET = re.compile(r"^\$(-?\d+)$")
# Runtime functions that never return: the code after a call to one is another block.
_NO_RETURN = re.compile(r"^runtime\.(?:panic\w*|gopanic|goPanic\w*|throw|fatal\w*|block|unreachableMethod|panicwrap)$")
_MORESTACK = re.compile(r"^runtime\.morestack\w*$")
_JUMP_TABLE_REF = re.compile(r"^\$?(?P<table>.+\.jump\d+)\(SB\)$")
_JUMP_TABLE_SYMBOL = re.compile(r"^(?P<name>.+\.jump\d+)(?:<\d+>)? SRODATA\b")
_JUMP_TABLE_REL = re.compile(r"^\trel \d+\+\d+ t=\S+ (?P<function>.+?)(?:<\d+>)?\+(?P<offset>\d+)$")


class CannotTell(Exception):
    """The listing of a function has a control-flow form this module cannot read."""


@dataclass(frozen=True)
class Flow:
    """What an instruction does to control flow."""

    kind: str  # "plain" | "call" | "jump" | "branch" | "indirect" | "exit"
    target: int | None = None  # the pc jumped or branched to
    callee: str = ""  # for "call": the symbol called, when named


PLAIN = Flow("plain")


def _operands(text: str) -> tuple[str, list[str]]:
    op, _, rest = text.partition("\t")
    return op.strip(), [o.strip() for o in _split_operands(rest)] if rest.strip() else []


def _split_operands(rest: str) -> list[str]:
    """Split on commas outside brackets (``(R29, R30)``, ``f[go.shape.int,go.shape.string](SB)``)."""
    if "," not in rest:  # most control-flow instructions: one operand (a pc, a symbol)
        return [rest]
    if "(" not in rest and "[" not in rest and "{" not in rest:
        return rest.split(",")
    parts, depth, current = [], 0, []
    for ch in rest:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _pc(operand: str) -> int:
    if not operand.isdigit():
        raise CannotTell(f"branch target {operand!r} is not a pc")
    return int(operand)


def _call(operands: list[str]) -> Flow:
    m = _SYMBOL_OPERAND.match(operands[-1]) if operands else None
    return Flow("call", callee=m["symbol"] if m else "")


# x86 mnemonics that may change control flow start with one of these (CALL, RET, JMP, Jcc,
# LOOP*, XBEGIN, the traps UD2/HLT): any other instruction is plain, without reading operands.
_X86_FLOW_STARTS = ("C", "R", "J", "L", "X", "U", "H")


def classify(text: str, pc: int, goarch: str) -> Flow:
    """The control-flow effect of one listed instruction on ``goarch``."""
    if goarch in ("amd64", "386"):
        if not text.startswith(_X86_FLOW_STARTS):
            return PLAIN
        op = text.partition("\t")[0].strip()  # CMPQ, LEAQ, XORL…: plain, without reading operands
        if op not in ("CALL", "RET") and op not in _TRAPS and not op.startswith(("J", "LOOP", "XBEGIN")):
            return PLAIN
    op, operands = _operands(text)
    if goarch in ("amd64", "386"):
        if op == "CALL":
            return _call(operands)
        if op == "RET" or op in _TRAPS:
            return Flow("exit")
        if op == "JMP":
            if len(operands) != 1:
                raise CannotTell(f"unknown jump form {text!r}")
            if operands[0].isdigit():
                return Flow("jump", int(operands[0]))
            if _SYMBOL_OPERAND.match(operands[0]):
                return Flow("exit")  # a tail call
            return Flow("indirect")
        if _X86_CONDITIONAL.match(op):
            return Flow("branch", _pc(operands[-1] if operands else ""))
        if op.startswith("J") or op.startswith("LOOP") or op.startswith("XBEGIN"):
            raise CannotTell(f"unknown branch {op}")
        return PLAIN
    if goarch == "arm64":
        if op in ("CALL", "BL"):
            return _call(operands)
        if op == "RET" or op in _TRAPS:
            return Flow("exit")
        if op in ("JMP", "B"):
            if len(operands) != 1:
                raise CannotTell(f"unknown jump form {text!r}")
            if operands[0].isdigit():
                return Flow("jump", int(operands[0]))
            if _SYMBOL_OPERAND.match(operands[0]):
                return Flow("exit")
            return Flow("indirect")
        if _ARM64_CONDITIONAL.match(op) or _ARM64_COMPARE_BRANCH.match(op):
            return Flow("branch", _pc(operands[-1] if operands else ""))
        if op in ("BR", "BLR", "ERET"):
            raise CannotTell(f"unknown branch {op}")
        return PLAIN
    if goarch == "riscv64":
        if op == "CALL":
            return _call(operands)
        if op == "RET" or op in _TRAPS:
            return Flow("exit")
        if op in ("JAL", "JMP"):
            link = operands[0] if op == "JAL" and len(operands) == 2 else "X0"
            target = operands[-1] if operands else ""
            if _SYMBOL_OPERAND.match(target):
                return _call(operands) if link != "X0" else Flow("exit")
            m = _RISCV_OFFSET.match(target)
            if m and link == "X0":
                return Flow("jump", pc + int(m[1]))
            raise CannotTell(f"unknown jump form {text!r}")
        if op == "JALR":
            link = operands[0] if operands else ""
            if link == "X0":
                return Flow("exit") if operands[1:] == ["X1"] else Flow("indirect")
            return _call(operands)
        if _RISCV_BRANCH.match(op):
            m = _RISCV_OFFSET.match(operands[-1]) if operands else None
            if not m:
                raise CannotTell(f"unknown branch form {text!r}")
            return Flow("branch", pc + int(m[1]))
        return PLAIN
    raise CannotTell(f"the listing of {goarch} is not read")


def no_return(callee: str) -> bool:
    return bool(_NO_RETURN.match(callee))


class JumpTableReader:
    """function -> jump table -> target pcs, from the data symbols of a ``-S`` listing read
    as it arrives: :meth:`feed` its lines in pieces, in order, then :meth:`finish`."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, list[int]]] = {}
        self._current: list[tuple[str, int]] | None = None
        self._name = ""

    def feed(self, listing: Iterable[str]) -> None:
        current, name = self._current, self._name
        for line in listing:
            if current is None and ".jump" not in line:
                continue  # neither a jump table's symbol nor one of its lines
            m = _JUMP_TABLE_SYMBOL.match(line)
            if m:
                name, current = m["name"], []
                continue
            if current is None:
                continue
            m = _JUMP_TABLE_REL.match(line)
            if m:
                current.append((m["function"], int(m["offset"])))
                continue
            if line.startswith("\t"):
                continue  # the hex dump
            self._close(current, name)
            current = None
        self._current, self._name = current, name

    @property
    def inside(self) -> bool:
        """Whether the last line read was in a jump table's symbol."""
        return self._current is not None

    def _close(self, current: list[tuple[str, int]], name: str) -> None:
        for function, offset in current:
            self.tables.setdefault(function, {}).setdefault(name, []).append(offset)

    def finish(self) -> dict[str, dict[str, list[int]]]:
        if self._current is not None:
            self._close(self._current, self._name)
            self._current = None
        return self.tables


def jump_tables(listing: Iterable[str]) -> dict[str, dict[str, list[int]]]:
    """function -> jump table -> target pcs, from the data symbols of a ``-S`` listing."""
    reader = JumpTableReader()
    reader.feed(listing)
    return reader.finish()


class TablesPending(Exception):
    """:func:`build` met an indirect jump while its function's jump tables are not read yet
    (they are data symbols, printed after the last function)."""


# For :func:`build` while the listing still arrives: the jump tables are not known yet.
TABLES_PENDING: dict[str, list[int]] = {}


@dataclass
class Block:
    index: int
    first: int  # index of its first instruction in Function.asm
    end: int  # one past its last instruction
    succs: list[int] = field(default_factory=list)
    preds: list[int] = field(default_factory=list)


@dataclass
class Graph:
    function: Function
    blocks: list[Block]
    block_of: list[int]  # instruction index -> block index
    flows: list[Flow]  # instruction index -> its control-flow effect

    @property
    def entry(self) -> int:
        return 0

    def edges(self) -> list[tuple[int, int]]:
        return [(b.index, s) for b in self.blocks for s in b.succs]


def build(fn: Function, goarch: str, tables: dict[str, list[int]] | None = None) -> Graph:
    """The basic blocks and edges of one function. Raises :class:`CannotTell`."""
    if goarch not in GOARCHES:
        raise CannotTell(f"the listing of {goarch} is not read")
    asm = fn.asm
    if not asm:
        raise CannotTell("no listing")
    pending = tables is TABLES_PENDING
    tables = tables or {}
    first_at: dict[int, int] = {}
    for i, a in enumerate(asm):
        first_at.setdefault(a.pc, i)
    flows = [classify(a.text, a.pc, goarch) for a in asm]

    def index_of(pc: int) -> int:
        if pc not in first_at:
            raise CannotTell(f"branch to pc {pc}, which no instruction starts")
        return first_at[pc]

    targets: list[list[int]] = [[] for _ in asm]  # instruction -> target instruction indexes
    ends = [False] * len(asm)  # the instruction ends its block
    falls = [True] * len(asm)  # control can continue to the next instruction
    for i, flow in enumerate(flows):
        if flow.kind in ("jump", "branch"):
            targets[i] = [index_of(flow.target)]  # type: ignore[arg-type]
            ends[i] = True
            falls[i] = flow.kind == "branch"
        elif flow.kind == "indirect":
            if pending:
                raise TablesPending(fn.name)
            targets[i] = [index_of(pc) for pc in _indirect_targets(fn, i, tables)]
            ends[i], falls[i] = True, False
        elif flow.kind == "exit" or (flow.kind == "call" and no_return(flow.callee)):
            ends[i], falls[i] = True, False
    # The stack-growth path jumps back to the entry after calling runtime.morestack*.
    entry_pc = asm[0].pc
    leaders = {0}
    for i in range(len(asm)):
        leaders.update(targets[i])
        if ends[i] and i + 1 < len(asm):
            leaders.add(i + 1)
    starts = sorted(leaders)
    blocks = []
    block_of = [0] * len(asm)
    for n, first in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(asm)
        blocks.append(Block(n, first, end))
        for i in range(first, end):
            block_of[i] = n
    for block in blocks:
        last = block.end - 1
        growth = any(
            flows[i].kind == "call" and _MORESTACK.match(flows[i].callee) for i in range(block.first, block.end)
        )
        succs: list[int] = []
        for t in targets[last]:
            if growth and asm[t].pc == entry_pc:
                continue
            succs.append(block_of[t])
        if falls[last] and block.end < len(asm):
            succs.append(block_of[block.end])
        block.succs = list(dict.fromkeys(succs))
    for block in blocks:
        for s in block.succs:
            blocks[s].preds.append(block.index)
    return Graph(fn, blocks, block_of, flows)


def _indirect_targets(fn: Function, i: int, tables: dict[str, list[int]]) -> list[int]:
    """The targets of the indirect jump at instruction ``i``: its jump table's entries."""
    for j in range(i - 1, max(-1, i - 12), -1):
        for operand in _split_operands(fn.asm[j].text.partition("\t")[2]):
            m = _JUMP_TABLE_REF.match(operand.strip())
            if m and m["table"] in tables:
                return tables[m["table"]]
    raise CannotTell(f"indirect jump at pc {fn.asm[i].pc} with no jump table to read")


# ---- loops ------------------------------------------------------------------------------


def reverse_postorder(graph: Graph) -> list[int]:
    """The blocks the entry reaches, in reverse postorder of a depth-first search."""
    seen = {graph.entry}
    order: list[int] = []
    work = [(graph.entry, iter(graph.blocks[graph.entry].succs))]
    while work:
        b, succs = work[-1]
        for s in succs:
            if s not in seen:
                seen.add(s)
                work.append((s, iter(graph.blocks[s].succs)))
                break
        else:
            work.pop()
            order.append(b)
    return order[::-1]


class Dominators:
    """The dominator tree of the blocks the entry reaches.

    Computed with the simple iterative algorithm over the reverse postorder (Cooper,
    Harvey and Kennedy: "A Simple, Fast Dominance Algorithm"): each block's immediate
    dominator is the meet of its processed predecessors' until nothing changes. Queries
    ("does a dominate b?") use the tree's depth-first numbering.
    """

    def __init__(self, graph: Graph) -> None:
        order = reverse_postorder(graph)
        number = {b: n for n, b in enumerate(order)}
        idom: dict[int, int] = {graph.entry: graph.entry}

        def meet(a: int, b: int) -> int:
            while a != b:
                while number[a] > number[b]:
                    a = idom[a]
                while number[b] > number[a]:
                    b = idom[b]
            return a

        changed = True
        while changed:
            changed = False
            for b in order[1:]:
                new = -1
                for p in graph.blocks[b].preds:
                    if p in idom:
                        new = p if new < 0 else meet(p, new)
                if new >= 0 and idom.get(b) != new:
                    idom[b] = new
                    changed = True
        self.idom = {b: d for b, d in idom.items() if b != graph.entry}  # block -> immediate dominator
        children: dict[int, list[int]] = {}
        for b, d in self.idom.items():
            children.setdefault(d, []).append(b)
        self.enter: dict[int, int] = {}
        self.leave: dict[int, int] = {}
        clock = 0
        work = [(graph.entry, False)]
        while work:
            b, done = work.pop()
            if done:
                self.leave[b] = clock
                clock += 1
                continue
            self.enter[b] = clock
            clock += 1
            work.append((b, True))
            work.extend((c, False) for c in children.get(b, ()))

    def reaches(self, b: int) -> bool:
        return b in self.enter

    def dominates(self, a: int, b: int) -> bool:
        """Whether every path from the entry to ``b`` passes ``a`` (both reachable)."""
        if a not in self.enter or b not in self.enter:
            return False
        return self.enter[a] <= self.enter[b] and self.leave[b] <= self.leave[a]


def back_edges(graph: Graph, dom: Dominators | None = None) -> list[tuple[int, int]]:
    """Edges (source, header) whose target dominates their source."""
    dom = dom if dom is not None else Dominators(graph)
    return [(s, t) for s, t in graph.edges() if dom.dominates(t, s)]


def natural_loop(graph: Graph, source: int, header: int) -> set[int]:
    """The header plus every block that reaches ``source`` without passing the header."""
    body = {header, source}
    stack = [source] if source != header else []
    while stack:
        b = stack.pop()
        for p in graph.blocks[b].preds:
            if p not in body:
                body.add(p)
                stack.append(p)
    return body


def strongly_connected(graph: Graph) -> list[list[int]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(len(graph.blocks)):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succs = graph.blocks[v].succs
            if i < len(succs):
                work.append((v, i + 1))
                w = succs[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return components


@dataclass
class Loops:
    graph: Graph
    dominators: Dominators
    natural: list[tuple[int, set[int]]]  # (header, blocks) per back edge
    irreducible: list[set[int]]  # cyclic components with blocks no natural loop holds
    cyclic: set[int]  # blocks on some cycle

    def instruction_in_cycle(self, i: int) -> bool:
        return self.graph.block_of[i] in self.cyclic


def loops(graph: Graph) -> Loops:
    """Natural loops (by dominators) and every other cycle (by strongly connected components)."""
    dom = Dominators(graph)
    natural = [(h, {b for b in natural_loop(graph, s, h) if dom.reaches(b)}) for s, h in back_edges(graph, dom)]
    in_natural = set().union(*(body for _, body in natural)) if natural else set()
    irreducible = []
    cyclic = set(in_natural)
    for component in strongly_connected(graph):
        members = set(component)
        if len(component) == 1:
            b = component[0]
            if b not in graph.blocks[b].succs:
                continue
        cyclic |= members
        if members - in_natural:
            irreducible.append(members)
    return Loops(graph, dom, natural, irreducible, cyclic)
