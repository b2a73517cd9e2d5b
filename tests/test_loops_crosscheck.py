"""A second, independent answer to "does this instruction run in a loop?", on real code.

worker/loops.py answers it with basic blocks, a dominator tree, natural loops and strongly
connected components (worker/cfg.py). This test answers it again from the listing alone,
without any of that: it reads each instruction's successors itself (its own reading of
the branch forms), computes which instructions each instruction can reach (a transitive
closure by fixed point over bit sets), and calls an instruction in a loop when it can
reach itself. The two must agree on every instruction of every function, on realistic
programs (tests/data/loops/*.go, 200+ lines each, many loop shapes) and on standard
library packages compiled through the engine, for each GOARCH whose listing is read.

Both apply the same two rules of what is not a loop of the source: the stack-growth
path's jump back to the entry, and a large move's copy loop (a straight run of one line,
calling nothing, that branches back to its own start).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker import toolchains
from worker.analysis import Analysis, Function, SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files
from worker.loops import LoopFacts

DATA = Path(__file__).parent / "data" / "loops"
CONFIGS = [(OLDEST_GO, "amd64"), (NEWEST_GO, "amd64"), (NEWEST_GO, "arm64"), (NEWEST_GO, "386"), (NEWEST_GO, "riscv64")]
PROGRAMS = ["textproc.go", "graphs.go", "machine.go"]
NEWEST_ONLY = ["iterators.go"]  # range over functions and integers: go1.23+
STD_PACKAGES = ["bufio", "encoding/csv", "regexp/syntax", "compress/flate"]

# ---- an independent reading of the listing ----------------------------------------------

NUMBER = re.compile(r"^\d+$")
RISCV_OFFSET = re.compile(r"^\$(-?\d+)$")
NO_RETURN = re.compile(r"runtime\.(panic\w*|gopanic|goPanic\w*|throw|fatal\w*|block|unreachableMethod)\(SB\)$")
JUMP_TABLE = re.compile(r"^(\S+\.jump\d+)(?:<\d+>)? SRODATA")
JUMP_ENTRY = re.compile(r"^\trel \d+\+\d+ t=\S+ .*\+(\d+)$")
JUMP_TABLE_LOAD = re.compile(r"([^\s$,]+\.jump\d+)\(SB\)")


def operand_list(text: str) -> list[str]:
    rest = text.partition("\t")[2]
    out, depth, cur = [], 0, ""
    for ch in rest:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and not depth:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*out, cur.strip()] if rest.strip() else out


def effect(text: str, pc: int, goarch: str) -> tuple[bool, int | None, bool]:
    """(falls through, target pc or None, indirect jump) for one instruction."""
    op = text.partition("\t")[0]
    ops = operand_list(text)
    last = ops[-1] if ops else ""
    if op in ("RET", "UD2", "UNDEF", "BRK", "EBREAK"):
        return False, None, False
    if op in ("CALL", "BL") or (op in ("JAL", "JALR") and ops and ops[0] != "X0"):
        return not NO_RETURN.search(last), None, False
    if goarch == "riscv64":
        if op == "JALR":  # JALR X0, X1 returns; JALR X0, Xn jumps through a register
            return False, None, ops[1:] != ["X1"]
        if op == "JAL":
            m = RISCV_OFFSET.match(last)
            return False, (pc + int(m[1])) if m else None, False
        if op.startswith("B") and RISCV_OFFSET.match(last):
            return True, pc + int(RISCV_OFFSET.match(last)[1]), False
        return True, None, False
    if op == "JMP":
        if NUMBER.match(last):
            return False, int(last), False
        return False, None, not last.endswith("(SB)")
    conditional = op.startswith("J") if goarch in ("amd64", "386") else re.match(r"^(B[A-Z]{2}|CBN?ZW?|TBN?Z)$", op)
    if conditional and NUMBER.match(last) and op not in ("BIC", "BFI", "BFM"):
        return True, int(last), False
    return True, None, False


def jump_table_entries(raw: str) -> dict[str, list[int]]:
    tables: dict[str, list[int]] = {}
    name = None
    for line in raw.splitlines():
        m = JUMP_TABLE.match(line)
        if m:
            name = m[1]
            tables[name] = []
            continue
        m = JUMP_ENTRY.match(line) if name else None
        if m:
            tables[name].append(int(m[1]))
        elif not line.startswith("\t"):
            name = None
    return tables


PSEUDO = {"TEXT", "PCDATA", "FUNCDATA", "PCALIGN", "NOP"}


def cyclic_instructions(fn: Function, goarch: str, tables: dict[str, list[int]]) -> list[bool]:
    asm = fn.asm
    n = len(asm)
    first = {}
    for i, a in enumerate(asm):
        first.setdefault(a.pc, i)
    entry = asm[0].pc
    effects = [effect(a.text, a.pc, goarch) for a in asm]
    succ: list[list[int]] = [[] for _ in range(n)]
    targeted = set()
    after_morestack = False
    for i, (falls, target, indirect) in enumerate(effects):
        text = asm[i].text
        if "runtime.morestack" in text:
            after_morestack = True
        if falls and i + 1 < n:
            succ[i].append(i + 1)
        targets = [target] if target is not None else []
        if indirect:
            loads = [m[1] for j in range(max(0, i - 11), i) if (m := JUMP_TABLE_LOAD.search(asm[j].text))]
            targets = tables[loads[-1]]
        for t in targets:
            if t == entry and after_morestack:
                continue
            succ[i].append(first[t])
            targeted.add(first[t])
        if target is not None or indirect or not falls:
            after_morestack = False
    # A large move's copy loop: a branch back over a straight run of one line that calls nothing.
    for i, (_, target, _) in enumerate(effects):
        if target is None or first[target] > i:
            continue
        t = first[target]
        run = range(t, i + 1)
        straight = all(effects[j] == (True, None, False) for j in range(t, i)) and not any(
            j in targeted for j in range(t + 1, i + 1)
        )
        lines = {(asm[j].file, asm[j].line) for j in run if asm[j].text.partition("\t")[0] not in PSEUDO}
        calls = any(asm[j].text.startswith(("CALL", "BL\t", "DUFF", "JAL\tX1", "JAL\tX5", "JALR\tX1")) for j in run)
        if straight and len(lines) == 1 and not calls:
            succ[i].remove(t)
    # reach[i]: the instructions i reaches in one step or more (bit j set: i reaches j)
    reach = [0] * n
    changed = True
    while changed:
        changed = False
        for i in range(n - 1, -1, -1):
            new = 0
            for s in succ[i]:
                new |= reach[s] | (1 << s)
            if new != reach[i]:
                reach[i] = new
                changed = True
    return [bool(reach[i] >> i & 1) for i in range(n)]


# ---- the check ------------------------------------------------------------------------------


def agree(analysis: Analysis) -> int:
    """Assert both methods agree on every instruction; return how many are in a loop."""
    assert analysis.status == "ok", analysis.errors
    facts = LoopFacts(analysis)
    tables = jump_table_entries(analysis.raw_output)
    by_function = {}
    for entries in facts.lines.values():
        for f, _ in entries:
            by_function[id(f)] = f
    checked = looping = 0
    for f in by_function.values():
        assert f.loops is not None, f"{f.fn.name}: {f.reason}"
        independent = cyclic_instructions(f.fn, analysis.goarch, tables)
        for i, a in enumerate(f.fn.asm):
            assert f.loops.instruction_in_cycle(i) == independent[i], (f.fn.name, a.pc, a.text)
        checked += len(f.fn.asm)
        looping += sum(independent)
    assert checked
    return looping


@pytest.mark.parametrize(("go", "goarch"), CONFIGS)
@pytest.mark.parametrize("program", PROGRAMS)
def test_programs(program, go, goarch):
    source = (DATA / program).read_text()
    assert len(source.splitlines()) >= 200
    analysis = compile_request(CompileRequest(split_files(source), go=go, goarch=goarch))
    assert agree(analysis) > 100


@pytest.mark.parametrize("goarch", ["amd64", "arm64", "386", "riscv64"])
@pytest.mark.parametrize("program", NEWEST_ONLY)
def test_programs_of_newer_go(program, goarch):
    source = (DATA / program).read_text()
    analysis = compile_request(CompileRequest(split_files(source), go=NEWEST_GO, goarch=goarch))
    assert agree(analysis) > 100


def std_files(go: str, package: str) -> list[SourceFile]:
    [toolchain] = [t for t in toolchains.installed() if t.version == go]
    files = []
    for path in sorted((toolchain.root / "go" / "src" / package).glob("*.go")):
        text = path.read_text()
        if path.name.endswith("_test.go") or "//go:build" in text.split("\npackage ", 1)[0]:
            continue
        files.append(SourceFile(path.name, text))
    return files


@pytest.mark.parametrize(("go", "goarch"), CONFIGS)
@pytest.mark.parametrize("package", STD_PACKAGES)
def test_standard_library_packages(package, go, goarch):
    analysis = compile_request(CompileRequest(std_files(go, package), go=go, goarch=goarch))
    assert agree(analysis) > 50
