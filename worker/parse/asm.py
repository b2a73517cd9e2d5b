"""Assembly listing of the Go compiler -> ``Function`` values.

Two outputs of the same compile run are combined:

* ``-S=2``: every symbol as ``name<abi> STEXT size=… args=0x… locals=0x… funcid=…``,
  then one line per instruction, ``\\t0x001a 00026 (main.go:13)\\tMOVQ\\t$1, AX``,
  labelled with the OUTERMOST position (the user's call site for inlined code), then a hex
  dump and ``rel`` lines (skipped). Data symbols (SRODATA, SDWARF…) are skipped.
* ``-d=pctab=pctoinline``: for each function a table giving, per instruction, the index
  of the inlined call it came from (-1: the function's own code), and the function's
  inlining tree ``index | parent | callee (call position) pc=…``. This is what names the
  inlined function of each instruction (``AsmLine.inlined_from``).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

from worker.analysis import AsmLine, Function

# ---- -S ---------------------------------------------------------------------------
_SYMBOL_RE = re.compile(
    r"^(?P<name>\S.*?)(?:<\d+>)? (?P<type>S[A-Z0-9_]+) (?:(?:static|dupok|cfunc|nosplit|topframe|asm) )*"
    r"size=(?P<size>\d+)(?P<attrs>(?: \w+(?:=0x[0-9a-f]+)?)*)$"
)
_INSTRUCTION_RE = re.compile(r"^\t0x(?P<pc>[0-9a-f]+) \d{5,} \((?P<pos>[^)]*)\)\t(?P<text>.*)$")
_HEXDUMP_RE = re.compile(r"^\t0x[0-9a-f]+(?: [0-9a-f]{2})+ ")
_REL_RE = re.compile(r"^\trel \d+\+\d+ t=")
_TEXT_RE = re.compile(r"^TEXT\s")

# ---- -d=pctab=pctoinline -------------------------------------------------------------
_PCTAB_START_RE = re.compile(r"^funcpctab (?P<name>.+) \[valfunc=(?P<table>\w+)\]$")
_PCTAB_ROW_RE = re.compile(r"^ *(?P<pc>[0-9a-f]+) (?P<val>[ \d-]{6}) \d{5,} \(")
_PCTAB_DONE_RE = re.compile(r"^ *[0-9a-f]+ done$")
_PCTAB_WROTE_RE = re.compile(r"^wrote \d+ bytes to 0x[0-9a-f]+$")
_PCTAB_BYTES_RE = re.compile(r"^(?: [0-9a-f]{2})+$")
_INLTREE_START_RE = re.compile(r"^-- inlining tree for (?P<name>.+):$")
_INLTREE_NODE_RE = re.compile(r"^(?P<index>\d+) \| (?P<parent>-?\d+) \| (?P<func>.+) \((?P<pos>[^()]*)\) pc=-?\d+$")
_INLTREE_END = "--"

# A call as each GOARCH prints it: "CALL\truntime.f(SB)" (amd64, 386, arm64, …),
# "Call\truntime.f(SB)" (wasm), "JAL\tX1, runtime.f(SB)" (riscv64: jump and link).
_CALL_RE = re.compile(r"^(?:CALL|Call|BL|JAL(?:\s+\w+,)?)\s+(?P<target>runtime\.[\w.]+?)(?:<[^>]*>)?\(SB\)")

# Runtime functions that (may) allocate on the heap, by name prefix. Measured on 1.21
# (runtime.newobject, makeslice, growslice, convT64, concatstring2, makemap_small, …)
# and 1.27, which calls size-specialised mallocgc variants directly
# (runtime.mallocgcSmallNoScanSC2, mallocgcSmallScanNoHeaderSC3, mallocgcTinySC2, …) and
# moves stack-built slices to the heap with runtime.moveSlice*.
HEAP_ALLOC_PREFIXES: tuple[str, ...] = (
    "mallocgc",
    "newobject",
    "newarray",
    "makeslice",  # makeslice, makeslice64, makeslicecopy
    "growslice",
    "moveSlice",
    "makemap",
    "makechan",
    "mapassign",  # may allocate when the map grows
    "concatstring",
    "concatbyte",  # []byte(a + b): concatbyte2…5, concatbytes (newer Go; 1.21 converts the string)
    "convT",  # convT, convT16/32/64, convTstring, convTslice, convTnoptr (not convI2I)
    "slicebytetostring",
    "slicerunetostring",
    "stringtoslicebyte",
    "stringtoslicerune",
    "intstring",
    "newproc",  # a goroutine
    "deferproc",  # a heap-allocated defer record
    "deferrangefunc",  # a defer in a range-over-func body: its record's head, always new (Go 1.23+)
)
HEAP_ALLOC_EXCLUDED = frozenset({"slicebytetostringtmp", "deferprocStack", "makemap_smallNoAlloc"})

# Write barriers: the buffered barrier calls and the typed copy/clear helpers.
WRITE_BARRIER_PREFIXES: tuple[str, ...] = (
    "gcWriteBarrier",
    "wbZero",
    "wbMove",
    "typedmemmove",
    "typedmemclr",
    "typedslicecopy",
    "bulkBarrierPreWrite",
)
# The "is the write barrier on?" test that guards each barrier.
_WRITE_BARRIER_FLAG_RE = re.compile(r"\bruntime\.writeBarrier\(SB\)")


def runtime_callee(text: str) -> str:
    """``runtime.X`` when the instruction calls a runtime function, else ""."""
    if "runtime." not in text:
        return ""
    m = _CALL_RE.match(text)
    return m["target"] if m else ""


def _runtime_name_has_prefix(callee: str, prefixes: tuple[str, ...]) -> bool:
    name = callee.removeprefix("runtime.")
    return bool(callee) and name.startswith(prefixes)


def is_heap_alloc_call(text: str) -> bool:
    callee = runtime_callee(text)
    return _runtime_name_has_prefix(callee, HEAP_ALLOC_PREFIXES) and (
        callee.removeprefix("runtime.") not in HEAP_ALLOC_EXCLUDED
    )


def is_write_barrier(text: str) -> bool:
    if "runtime." not in text:
        return False
    return _runtime_name_has_prefix(runtime_callee(text), WRITE_BARRIER_PREFIXES) or bool(
        _WRITE_BARRIER_FLAG_RE.search(text)
    )


def split_position(pos: str) -> tuple[str, int]:
    """``"main.go:13"`` -> ("main.go", 13); ``"<unknown line number>"`` -> ("", 0)."""
    file, sep, line = pos.rpartition(":")
    if not sep or not line.isdigit():
        return "", 0
    return file, int(line)


def _unnamed(pattern: re.Pattern) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern.pattern)


# Every shape of an -S listing or pctab dump line, as one pattern (one match per line).
_ASM_LINE_RE = re.compile(
    "|".join(
        f"(?:{_unnamed(p)})"
        for p in (
            _INSTRUCTION_RE,
            _HEXDUMP_RE,
            _REL_RE,
            _SYMBOL_RE,
            _PCTAB_START_RE,
            _PCTAB_ROW_RE,
            _PCTAB_DONE_RE,
            _PCTAB_WROTE_RE,
            _PCTAB_BYTES_RE,
            _INLTREE_START_RE,
            _INLTREE_NODE_RE,
        )
    )
)


def is_asm_line(line: str) -> bool:
    """Whether a line belongs to the -S listing or the pctab dump (not a diagnostic)."""
    return line == _INLTREE_END or _ASM_LINE_RE.match(line) is not None


@dataclass
class InlineCall:
    func: str
    parent: int
    position: str


@dataclass
class InlineTable:
    """One function's pc -> inlining-tree index table and its tree."""

    changes: list[tuple[int, int]] = field(default_factory=list)  # (pc, index) in output order
    tree: list[InlineCall] = field(default_factory=list)
    # Each row's instruction as the -S=2 listing prints it ("\t0x001a 00026 (main.go:22)\tMOVQ…"):
    # the dump lists the function's instructions long before the listing, printed last.
    listing: list[str] = field(default_factory=list)
    done: bool = False  # its dump ended

    def index_at(self, pc: int) -> int:
        """The value in effect at ``pc``: the last change at or before it (-1 if none)."""
        at = bisect_right(self.changes, pc, key=lambda change: change[0])
        return self.changes[at - 1][1] if at else -1

    def chain_at(self, pc: int) -> list[str]:
        """Inlined functions at ``pc``, outermost (called from the user's code) first."""
        return self.chain_of(self.index_at(pc))

    def chain_of(self, index: int) -> list[str]:
        """Inlined functions of tree node ``index``, outermost first ([] for -1)."""
        chain: list[str] = []
        while 0 <= index < len(self.tree) and len(chain) <= len(self.tree):
            chain.append(self.tree[index].func)
            index = self.tree[index].parent
        return chain[::-1]

    def chains(self, pcs: list[int]) -> list[list[str]]:
        """``chain_at`` of each of ``pcs`` (in increasing order, as a function's listing
        is), walking the changes once; instructions under the same node share one list."""
        if any(a > b for a, b in zip(pcs, pcs[1:], strict=False)):
            return [self.chain_at(pc) for pc in pcs]
        out: list[list[str]] = []
        by_index: dict[int, list[str]] = {}
        changes, at, index = self.changes, 0, -1
        for pc in pcs:
            while at < len(changes) and changes[at][0] <= pc:
                index = changes[at][1]
                at += 1
            chain = by_index.get(index)
            if chain is None:
                chain = by_index[index] = self.chain_of(index)
            out.append(chain)
        return out


class InlineTableReader:
    """The ``-d=pctab=pctoinline`` dump, by function name, read as it arrives: :meth:`feed`
    the listing's lines in pieces, in order; ``tables`` holds what was read so far."""

    def __init__(self, listings: bool = False) -> None:
        """``listings``: keep each row's instruction (``InlineTable.listing``)."""
        self.tables: dict[str, InlineTable] = {}
        self.listings = listings
        self.done: list[str] = []  # functions whose pctoinline dump ended, in order
        self._current: InlineTable | None = None
        self._name = ""

    def feed(self, lines: Iterable[str]) -> None:
        tables, current, name, done, listings = self.tables, self._current, self._name, self.done, self.listings
        for line in lines:
            if line[:1] == "\t":
                continue  # the -S listing's instructions, dumps and relocations
            m = _PCTAB_START_RE.match(line)
            if m:
                name = m["name"]
                current = tables.setdefault(name, InlineTable()) if m["table"] == "pctoinline" else None
                continue
            m = _INLTREE_START_RE.match(line)
            if m:
                name = m["name"]
                current = tables.setdefault(name, InlineTable())
                current.tree = []
                continue
            if current is None:
                continue
            m = _PCTAB_ROW_RE.match(line)
            if m:
                pc = int(m["pc"], 16)
                if m["val"].strip():
                    current.changes.append((pc, int(m["val"])))
                if listings:
                    current.listing.append(f"\t0x{pc:04x} {line[m.end('val') + 1 :]}")
                continue
            if listings and line.endswith(" done") and _PCTAB_DONE_RE.match(line) and not current.done:
                current.done = True
                done.append(name)
                continue
            m = _INLTREE_NODE_RE.match(line)
            if m:
                current.tree.append(InlineCall(m["func"], int(m["parent"]), m["pos"]))
        self._current, self._name = current, name


def parse_inline_tables(lines: Iterable[str]) -> dict[str, InlineTable]:
    """The ``-d=pctab=pctoinline`` dump, by function name."""
    reader = InlineTableReader()
    reader.feed(lines)
    return reader.tables


def _hex_attr(attrs: str, key: str) -> int:
    m = re.search(rf"\b{key}=(0x[0-9a-f]+|\d+)\b", attrs)
    return int(m[1], 0) if m else 0


class PreparedListing(str):
    """Stands, in the assembly lines handed to :meth:`AsmReader.feed`, for a function's
    instruction lines that were found equal to its pctab dump's rows (the empty string to
    every other reader): their instructions, read while the compiler ran."""

    function: Function


class AsmReader:
    """The text functions (STEXT symbols) of a listing read as it arrives: :meth:`feed` the
    assembly lines in pieces, in order, then :meth:`finish` once. :func:`parse_asm` is the
    whole listing at once.

    The compiler prints the listing after its last function, but each function's pctab
    dump, printed as soon as that function is compiled, lists the same instructions
    (``InlineTable.listing``). They are read from the dump while the compiler runs
    (:meth:`prepared_listing`); when the listing comes, a caller that finds a function's
    instruction lines equal to those rows hands a :class:`PreparedListing` instead of them."""

    def __init__(self, prepare: bool = False) -> None:
        """``prepare``: read each function's instructions off its pctab dump as it ends
        (for output read as it arrives; reading a whole output at once, it would be wasted)."""
        self.functions: list[Function] = []
        self._current: Function | None = None
        self._positions: dict[str, tuple[str, int]] = {}  # the listing repeats a few positions many times
        self._tables = InlineTableReader(listings=prepare)
        self._prepare_listings = prepare
        self._prepared: dict[str, tuple[list[str], Function]] = {}
        self.prepared: list[Function] = []  # what was read off the dumps, in order
        self.adopted: dict[int, Function] = {}  # id of a function -> the one its prepared listing was read into

    @property
    def complete(self) -> int:
        """How many of ``functions`` (the first ones) will get no more instructions."""
        return len(self.functions) - (self._current is not None)

    def feed(self, lines: list[str]) -> None:
        self._tables.feed(lines)
        functions, current = self.functions, self._current
        for line in lines:
            # Symbol headers start with the symbol's name; instructions, dumps and tables with blanks.
            if line[:1] not in ("\t", " "):
                m = _SYMBOL_RE.match(line)
                if m:
                    current = None
                    if m["type"] == "STEXT":
                        attrs = m["attrs"]
                        current = Function(
                            name=m["name"],
                            frame_size=_hex_attr(attrs, "locals"),
                            args_size=_hex_attr(attrs, "args"),
                            size=int(m["size"]),
                        )
                        functions.append(current)
                elif line.__class__ is PreparedListing and current is not None and not current.asm:
                    read = line.function
                    current.asm = read.asm  # the same list: loops found on it hold for both
                    if read.line or read.file:
                        current.file, current.line = read.file, read.line
                    self.adopted[id(current)] = read
                continue
            if current is None or not line.startswith("\t0x"):
                continue
            self._instruction(current, line)  # or a hex dump, rel lines, pctab dump: skipped
        self._current = current
        if self._prepare_listings:
            self._prepare()

    def _instruction(self, function: Function, line: str) -> bool:
        """Add the instruction ``line`` of the listing to ``function``; False if it is none."""
        m = _INSTRUCTION_RE.match(line)
        if not m:
            return False
        pc, pos, text = m.group("pc", "pos", "text")
        positions = self._positions
        where = positions.get(pos)
        if where is None:
            where = positions[pos] = split_position(pos)
        if not function.asm and _TEXT_RE.match(text):
            function.file, function.line = where
        runtime_call = "runtime." in text  # the two tests below ask nothing else of most lines
        function.asm.append(
            AsmLine(
                pc=int(pc, 16),
                file=where[0],
                line=where[1],
                text=text,
                heap_alloc=runtime_call and is_heap_alloc_call(text),
                write_barrier=runtime_call and is_write_barrier(text),
            )
        )
        return True

    def _prepare(self) -> None:
        """Read the instructions of each function whose pctab dump ended since."""
        done, tables = self._tables.done, self._tables.tables
        for name in done:
            rows = tables[name].listing[1:]  # the dump's first row repeats the TEXT line
            function = Function(name=name)
            if rows and all(self._instruction(function, row) for row in rows):
                self._prepared[name] = (rows, function)
                self.prepared.append(function)
        done.clear()

    def prepared_listing(self, name: str) -> tuple[list[str], Function] | None:
        """The instruction lines function ``name``'s listing will have, and what they read
        as, taken once (None when its dump was not read whole)."""
        return self._prepared.pop(name, None)

    def finish(self) -> list[Function]:
        """The functions, each instruction named with the inlined call it came from."""
        tables = self._tables.tables
        for fn in self.functions:
            table = tables.get(fn.name)
            if table is None or not fn.asm:
                continue
            for asm, chain in zip(fn.asm, table.chains([a.pc for a in fn.asm]), strict=True):
                if chain:
                    asm.inlined_from = chain[-1]
                    asm.inline_chain = chain
        return self.functions


def parse_asm(lines: Iterable[str]) -> list[Function]:
    """The text functions (STEXT symbols) of the listing, with inlining attribution."""
    reader = AsmReader()
    reader.feed(list(lines))
    return reader.finish()
