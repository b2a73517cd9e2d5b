"""The -S=2 + -d=pctab=pctoinline parser against real compiler output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from worker.analysis import Function
from worker.parse import ParsedOutput, diagnostic_lines, parse_compiler_output, split_output
from worker.parse.asm import is_heap_alloc_call, is_write_barrier, parse_asm, parse_inline_tables

CAPTURED = Path(__file__).parent / "data" / "captured"
VERSIONS = ("1.21.13", "1.27.3")


def parse(version: str, case: str) -> ParsedOutput:
    meta = json.loads((CAPTURED / version / f"{case}.json").read_text())
    return parse_compiler_output((CAPTURED / version / f"{case}.txt").read_text(), meta["files"])


def function(parsed: ParsedOutput, name: str) -> Function:
    [fn] = [f for f in parsed.functions if f.name == name]
    return fn


def calls(fn: Function) -> list[tuple[int, str]]:
    return [(a.line, a.text.split("\t")[-1]) for a in fn.asm if a.text.startswith("CALL")]


@pytest.mark.parametrize(
    ("version", "frame", "size", "alloc"),
    [("1.21.13", 24, 54, "runtime.newobject(SB)"), ("1.27.3", 40, 66, "runtime.mallocgcSmallNoScanSC2(SB)")],
)
def test_new_t_frame_and_heap_allocation(version: str, frame: int, size: int, alloc: str) -> None:
    parsed = parse(version, "escape")
    new_t = function(parsed, "main.newT")
    assert (new_t.file, new_t.line) == ("main.go", 5)
    assert (new_t.frame_size, new_t.args_size, new_t.size) == (frame, 0, size)
    assert new_t.asm[0].text.startswith("TEXT\tmain.newT(SB), ABIInternal, $")
    assert new_t.asm[0].text.endswith(f"${frame}-0")
    [heap] = [a for a in new_t.asm if a.heap_alloc]
    assert (heap.file, heap.line, heap.text) == ("main.go", 6, f"CALL\t{alloc}")
    assert heap.pc > 0 and heap.inlined_from == ""
    # The matching synthetic diagnostic, invisible to the fidelity check.
    [synthetic] = [d for d in parsed.diagnostics if d.kind == "heap-alloc-call" and d.function == "main.newT"]
    assert (synthetic.file, synthetic.line, synthetic.column) == ("main.go", 6, 0)
    assert synthetic.message == f"{alloc.removesuffix('(SB)')} call (heap allocation)"
    assert synthetic.details["synthetic"] is True and diagnostic_lines(synthetic) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_only_text_symbols_hex_and_rel_skipped(version: str) -> None:
    parsed = parse(version, "escape")
    names = [f.name for f in parsed.functions]
    assert {"main.newT", "main.store", "main.identity", "main.deref", "main.sum", "main.main"} <= set(names)
    assert not any(n.startswith(("type:", "go:", "gclocals", "aux for")) for n in names)
    for fn in parsed.functions:
        assert [a.pc for a in fn.asm] == sorted(a.pc for a in fn.asm)
        # Every line is an instruction (upper-case mnemonic): no hex dump, no "rel" line.
        assert all(re.match(r"^[A-Z][A-Z0-9.]*(\t|$)", a.text) for a in fn.asm), fn.name
    assert parsed.unparsed == []


@pytest.mark.parametrize("version", VERSIONS)
def test_inlined_code_is_attributed_to_call_site_and_named(version: str) -> None:
    parsed = parse(version, "escape")
    main = function(parsed, "main.main")
    # t := newT() at line 33: the allocation of newT's t is inlined into main.
    at_33 = [a for a in main.asm if a.line == 33]
    assert at_33 and {a.inlined_from for a in at_33} >= {"main.newT"}
    assert all(a.file == "main.go" for a in at_33)
    # store(&x) at 35 is inlined: its write barrier happens in main, on the call's line.
    barrier = [a for a in main.asm if a.write_barrier and a.text.startswith("CALL")]
    assert barrier and {(a.line, a.inlined_from) for a in barrier} == {(35, "main.store")}
    # x itself is moved to the heap by main, not by the inlined code.
    [alloc] = [a for a in main.asm if a.heap_alloc]
    assert (alloc.line, alloc.inlined_from) == (34, "")


def test_nested_inlining_chain() -> None:
    parsed = parse("1.27.3", "inlining")
    main = function(parsed, "main.main")
    concat = [a for a in main.asm if a.text == "CALL\truntime.concatstring2(SB)"]
    # speak() inlined into main, (*Dog).Sound devirtualized and inlined into speak.
    assert [(a.line, a.inline_chain, a.inlined_from) for a in concat] == [
        (49, ["main.speak", "main.(*Dog).Sound"], "main.(*Dog).Sound")
    ]
    assert concat[0].heap_alloc


@pytest.mark.parametrize("version", VERSIONS)
def test_heap_allocating_calls(version: str) -> None:
    parsed = parse(version, "alloc")
    expected = {
        "main.box": "runtime.convT64",
        "main.grow": "runtime.growslice",
        "main.makeBuf": "runtime.makeslice",
        "main.concat": "runtime.concatstring2",
        "main.toString": "runtime.slicebytetostring",
        "main.counts": "runtime.makemap_small",
    }
    for name, callee in expected.items():
        fn = function(parsed, name)
        assert f"CALL\t{callee}(SB)" in {a.text for a in fn.asm if a.heap_alloc}, name
    # Square.Area allocates nothing; neither does a morestack call.
    assert not any(a.heap_alloc for a in function(parsed, "main.Square.Area").asm)
    grow = function(parsed, "main.grow")
    moves = [a for a in grow.asm if "moveSlice" in a.text]
    # 1.27 builds s on the stack and moves it to the heap only when returning it.
    assert bool(moves) == (version == "1.27.3")
    assert all(a.heap_alloc and a.line == 20 for a in moves)


@pytest.mark.parametrize("version", VERSIONS)
def test_write_barriers_in_asm(version: str) -> None:
    parsed = parse(version, "checks")
    link = function(parsed, "main.link")
    barrier_calls = [a for a in link.asm if a.write_barrier and a.text.startswith("CALL")]
    assert [(a.line, a.text) for a in barrier_calls] == [(15, "CALL\truntime.gcWriteBarrier2(SB)")]
    flag_tests = [a for a in link.asm if a.write_barrier and not a.text.startswith("CALL")]
    assert flag_tests and all("runtime.writeBarrier(SB)" in a.text for a in flag_tests)
    assert not any(a.write_barrier for a in function(parsed, "main.get").asm)


@pytest.mark.parametrize("version", VERSIONS)
def test_multifile_positions(version: str) -> None:
    parsed = parse(version, "multifile")
    norm = function(parsed, "main.(*Point).Norm")
    assert (norm.file, norm.line) == ("point.go", 9)
    main = function(parsed, "main.main")
    assert {a.file for a in main.asm if a.line} == {"main.go"}
    # NewPoint and Norm are inlined and constant-folded: println(1*1 + 2*2).
    assert [a for a in main.asm if a.line == 4] == []
    assert (5, "MOVL\t$5, AX") in [(a.line, a.text) for a in main.asm]
    assert not any(a.heap_alloc for a in main.asm)


def test_compile_error_has_no_functions() -> None:
    for version in VERSIONS:
        assert parse(version, "typeerror").functions == []


# ---- shapes, independent of captures -------------------------------------------------

HEADER_121 = "main.f<1> STEXT size=54 args=0x8 locals=0x18 funcid=0x0 align=0x0"
HEADER_127 = "main.f<1> STEXT nosplit size=5 align=0x0 args=0x10 locals=0x0 funcid=0x0 leaf"


@pytest.mark.parametrize(("header", "frame", "args", "size"), [(HEADER_121, 24, 8, 54), (HEADER_127, 0, 16, 5)])
def test_symbol_header_formats(header: str, frame: int, args: int, size: int) -> None:
    lines = [
        header,
        "\t0x0000 00000 (main.go:3)\tTEXT\tmain.f(SB), ABIInternal, $24-8",
        "\t0x0000 00000 (<unknown line number>)\tNOP",
        "\t0x0000 48 89 e5                                         H..",
        "\trel 3+4 t=R_CALL runtime.newobject<1>+0",
        'go:string."a b"<0> SRODATA dupok size=3 align=0x1',
        "\t0x0000 61 20 62                                         a b",
    ]
    [fn] = parse_asm(lines)
    assert (fn.name, fn.frame_size, fn.args_size, fn.size, fn.line) == ("main.f", frame, args, size, 3)
    assert [(a.file, a.line) for a in fn.asm] == [("main.go", 3), ("", 0)]


def test_inline_table_values_hold_until_changed() -> None:
    lines = [
        "funcpctab main.main [valfunc=pctoinline]",
        "     0     -1 00000 (main.go:12)\tTEXT\tmain.main(SB), ABIInternal, $184-0",
        "    1a        00026 (main.go:13)\tXCHGL\tAX, AX",
        "    1b      1 00027 (main.go:13)\tMOVQ\t$1, main.t+72(SP)",
        "    24        00036 (main.go:13)\tMOVQ\t$2, main.t+80(SP)",
        "    2d     -1 00045 (main.go:14)\tRET",
        "    2e done",
        "wrote 9 bytes to 0xc000123456",
        " 02 36 01 12 01 00",
        "-- inlining tree for main.main:",
        "0 | -1 | main.outer (main.go:13:11) pc=26",
        "1 | 0 | main.inner (main.go:4:2) pc=26",
        "--",
    ]
    table = parse_inline_tables(lines)["main.main"]
    assert [table.chain_at(pc) for pc in (0x1A, 0x1B, 0x24, 0x2D)] == [
        [],
        ["main.outer", "main.inner"],
        ["main.outer", "main.inner"],
        [],
    ]
    # The one-walk form parse_asm uses gives the same chains, in order or not.
    for pcs in ([0, 0x19, 0x1A, 0x1B, 0x1B, 0x24, 0x2C, 0x2D, 0x40], [0x2D, 0x1B, 0x0, 0x24]):
        assert table.chains(pcs) == [table.chain_at(pc) for pc in pcs]
    diagnostic, assembly = split_output("\n".join(lines))
    assert diagnostic == [] and assembly == lines


@pytest.mark.parametrize(
    ("text", "alloc", "barrier"),
    [
        ("CALL\truntime.newobject(SB)", True, False),
        ("CALL\truntime.mallocgcSmallScanNoHeaderSC3(SB)", True, False),
        ("CALL\truntime.slicebytetostringtmp(SB)", False, False),
        ("CALL\truntime.deferprocStack(SB)", False, False),
        ("CALL\truntime.convI2I(SB)", False, False),
        ("CALL\truntime.gcWriteBarrier2(SB)", False, True),
        ("CALL\truntime.typedmemmove(SB)", False, True),
        ("CMPL\truntime.writeBarrier(SB), $0", False, True),
        ("CALL\tmain.newobject(SB)", False, False),
    ],
)
def test_runtime_call_classification(text: str, alloc: bool, barrier: bool) -> None:
    assert (is_heap_alloc_call(text), is_write_barrier(text)) == (alloc, barrier)


@pytest.mark.parametrize("path", sorted(CAPTURED.glob("1.*/*.txt")), ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_the_span_index_finds_the_functions_asking_every_span_would(path: Path, monkeypatch) -> None:
    """link.attribute looks up the functions covering a line in an index (every span is
    asked when the spans are too long in all): the same functions either way."""
    from worker.parse import link

    meta = json.loads(path.with_suffix(".json").read_text())
    text = path.read_text()
    indexed = parse_compiler_output(text, meta["files"], exit_code=meta["exit_code"])
    monkeypatch.setattr(link._SpanIndex, "LIMIT", 0)
    assert parse_compiler_output(text, meta["files"], exit_code=meta["exit_code"]) == indexed
    assert any(d.function for d in indexed.diagnostics) or meta["exit_code"] != 0
