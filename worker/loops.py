"""Which source lines run inside a loop, read off the compiled code itself.

A loop in machine code is a backward branch: an instruction at pc P that jumps to a
target T < P repeats everything between T and P. Every instruction in such a range is
in a loop, and so is its source line. Reading this from the assembly rather than from
the source means it is what the compiler built (after inlining and optimisation), for
GOARCHes whose branches name their target pc (amd64, arm64, 386; not riscv64, whose
listing gives relative offsets, nor wasm, whose loops are structured).
"""

from __future__ import annotations

import re
from collections import defaultdict

from .analysis import Analysis, Function

BRANCH_OPS = re.compile(r"^(J[A-Z]*|B[A-Z]*|CB[A-Z]*|TB[A-Z]*)$")
CALL_OPS = frozenset({"CALL", "BL", "JAL", "BSR"})
# Decisions that cost something each time their line runs.
PER_EXECUTION_KINDS = frozenset({"moved-to-heap", "escapes-to-heap", "heap-alloc-call", "large-copy"})


def branch_target(text: str) -> int | None:
    """The pc a branch instruction jumps to, if it names one."""
    op, _, operands = text.partition("\t")
    if op in CALL_OPS or not BRANCH_OPS.match(op):
        return None
    last = operands.rsplit(",", 1)[-1].strip()
    return int(last) if last.isdigit() else None


def loop_ranges(fn: Function) -> list[tuple[int, int]]:
    """(first pc, last pc) of each backward branch's range.

    A branch back to the function's entry is not a loop: it is the stack-growth path
    (call runtime.morestack, then start the function again).
    """
    entry = fn.asm[0].pc if fn.asm else 0
    ranges = []
    for a in fn.asm:
        target = branch_target(a.text)
        if target is not None and entry < target < a.pc:
            ranges.append((target, a.pc))
    return ranges


def loop_lines(functions: list[Function]) -> dict[str, set[int]]:
    """file -> the source lines with an instruction inside some loop."""
    lines: dict[str, set[int]] = defaultdict(set)
    for fn in functions:
        ranges = loop_ranges(fn)
        if not ranges:
            continue
        for a in fn.asm:
            if a.line and any(lo <= a.pc <= hi for lo, hi in ranges):
                lines[a.file].add(a.line)
    return lines


def mark_loops(analysis: Analysis) -> None:
    """Set ``details["in_loop"] = True`` on costly decisions whose line runs in a loop."""
    lines = loop_lines(analysis.functions)
    for d in analysis.diagnostics:
        if d.kind in PER_EXECUTION_KINDS and d.line in lines.get(d.file, ()):
            d.details["in_loop"] = True
