"""The engine across architectures and across files: real compiler, real sandbox.

* Architectures: one program compiled for every GOARCH the setup prepares, on the
  newest toolchain; the assembly must be that architecture's (its own mnemonics), every
  instruction the compiler placed must map to a source line, and the heap allocation and
  inlining must be found in each dialect (riscv64 calls with JAL, wasm with Call).
* Several files: a txtar archive whose diagnostics and assembly carry their own file.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.conftest import NEWEST_GO, go_versions_under_test
from worker import toolchains
from worker.analysis import Analysis, Function, SourceFile
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files
from worker.parse import diagnostic_lines

PROGRAM = """\
package main

type P struct{ x, y int }

//go:noinline
func newP(x int) *P {
	return &P{x: x, y: x * 2}
}

func sum(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}

func main() {
	p := newP(3)
	println(p.x + sum([]int{1, 2, 3}))
}
"""

# GOARCH -> (mnemonics its listing must use, mnemonics it must not use)
DIALECTS: dict[str, tuple[set[str], set[str]]] = {
    "amd64": ({"MOVQ", "CALL", "RET", "LEAQ"}, {"MOVD", "MOVL\t$type", "JAL", "Get"}),
    "arm64": ({"MOVD", "CALL", "RET", "ADD"}, {"MOVQ", "MOVL", "JAL", "Get"}),
    "386": ({"MOVL", "CALL", "RET", "LEAL"}, {"MOVQ", "MOVD", "JAL", "Get"}),
    "riscv64": ({"MOV", "JAL", "JALR", "ADDI"}, {"MOVQ", "MOVL", "CALL", "Get"}),
    "wasm": ({"Get", "Set", "I64Load", "I64Store", "I32Const", "Call", "Block", "End"}, {"MOVQ", "CALL", "JAL"}),
}
# The -S listing's own "(file:line)" for an instruction, independent of the parser.
_LISTED_POSITION = re.compile(r"^\t0x[0-9a-f]+ \d{5,} \((?P<pos>[^)]*)\)\t")


def mnemonics(fn: Function) -> Counter[str]:
    return Counter(a.text.split("\t", 1)[0] for a in fn.asm)


def function(analysis: Analysis, name: str) -> Function:
    [fn] = [f for f in analysis.functions if f.name == name]
    return fn


@pytest.fixture(scope="module")
def newest() -> toolchains.Toolchain:
    tc = toolchains.get(NEWEST_GO)
    if tc is None:
        pytest.fail(f"Go {NEWEST_GO} is not installed: python -m worker.toolchains install {NEWEST_GO} --goarch all")
    return tc


@pytest.mark.parametrize("goarch", list(DIALECTS))
def test_assembly_is_the_architectures_own(goarch: str, newest: toolchains.Toolchain) -> None:
    if goarch not in newest.goarches():
        pytest.fail(
            f"Go {NEWEST_GO} has no std for {goarch}: python -m worker.toolchains install {NEWEST_GO} --goarch all"
        )
    analysis = compile_request(CompileRequest([SourceFile("main.go", PROGRAM)], go=NEWEST_GO, goarch=goarch))
    assert (analysis.status, analysis.goarch) == ("ok", goarch), analysis.errors

    every = Counter()
    for fn in analysis.functions:
        every += mnemonics(fn)
    must, must_not = DIALECTS[goarch]
    assert must <= set(every), f"{goarch} lacks {must - set(every)}"
    assert not must_not & set(every), f"{goarch} has {must_not & set(every)}"
    if goarch == "wasm":
        assert any(m.startswith(("I64Load", "I32Load")) for m in every)

    # Every function of the program, at its declaration, with a frame where it needs one.
    new_p, main = function(analysis, "main.newP"), function(analysis, "main.main")
    assert (new_p.file, new_p.line) == ("main.go", 6) and (main.file, main.line) == ("main.go", 18)
    assert new_p.frame_size > 0 and new_p.asm[0].text.startswith("TEXT\tmain.newP(SB)")

    # Every instruction maps to a source line, except those the compiler itself lists
    # at "<unknown line number>".
    listed = [m["pos"] for m in map(_LISTED_POSITION.match, analysis.raw_output.splitlines()) if m]
    unknown = sum(1 for pos in listed if pos == "<unknown line number>")
    instructions = [a for fn in analysis.functions for a in fn.asm]
    assert len(instructions) == len(listed)
    assert sum(1 for a in instructions if a.line == 0) == unknown
    assert all(a.file == "main.go" for a in instructions if a.line)

    # The heap allocation of &P{…}, found in this architecture's call syntax.
    [alloc] = [a for a in new_p.asm if a.heap_alloc]
    assert alloc.line == 7 and "runtime.mallocgc" in alloc.text
    [heap_call] = [d for d in analysis.diagnostics if d.kind == "heap-alloc-call"]
    assert (heap_call.line, heap_call.function) == (7, "main.newP")
    # sum inlined into main: its instructions are on main's line 20 and name sum.
    inlined = [a for a in main.asm if a.inlined_from == "main.sum"]
    assert inlined and {a.line for a in inlined if a.line} == {20}
    # The diagnostics do not depend on the architecture's assembly.
    [escape] = [d for d in analysis.diagnostics if d.kind == "escapes-to-heap"]
    assert (escape.line, escape.column, escape.function) == (7, 9, "main.newP")


def test_wasm_calls_and_write_barriers_are_recognised(newest: toolchains.Toolchain) -> None:
    if "wasm" not in newest.goarches():
        pytest.skip(f"the standard library of Go {NEWEST_GO} is not prepared for wasm")
    source = "package main\n\nvar sink *int\n\nfunc main() {\n\tsink = new(int)\n}\n"
    analysis = compile_request(CompileRequest([SourceFile("main.go", source)], go=NEWEST_GO, goarch="wasm"))
    main = function(analysis, "main.main")
    assert [a.text for a in main.asm if a.heap_alloc] == ["Call\truntime.mallocgcTinySC2(SB)"]
    barrier = [a.text for a in main.asm if a.write_barrier]
    assert "Call\truntime.gcWriteBarrier2(SB)" in barrier  # old and new value
    assert all(a.line == 6 for a in main.asm if a.heap_alloc or a.write_barrier)


TXTAR = """\
-- a.go --
package main

func main() {
	p := NewPoint(1, 2)
	println(p.Sum())
	keep(p)
}
-- b.go --
package main

type Point struct{ X, Y int }

var kept *Point

func NewPoint(x, y int) *Point { return &Point{x, y} }

func (p *Point) Sum() int { return p.X + p.Y }

//go:noinline
func keep(p *Point) { kept = p }
"""


@pytest.mark.parametrize("version", go_versions_under_test())
def test_txtar_files_keep_their_names(version: str) -> None:
    files = split_files(TXTAR)
    assert [f.name for f in files] == ["a.go", "b.go"]
    analysis = compile_request(CompileRequest(files, go=version))
    assert analysis.status == "ok", analysis.errors

    def at(file: str, line: int, kind: str):
        return [d for d in analysis.diagnostics if (d.file, d.line, d.kind) == (file, line, kind)]

    [can] = at("b.go", 7, "can-inline")
    assert (can.column, can.function, can.details["cost"]) == (6, "main.NewPoint", 7)
    [call] = at("a.go", 4, "inlining-call")
    assert (call.column, call.details["callee_symbol"], call.function) == (15, "main.NewPoint", "main.main")
    # The same escape, in NewPoint's own file and at the call site in a.go, naming NewPoint.
    [own] = at("b.go", 7, "escapes-to-heap")
    assert (own.column, own.function, own.inlined_from) == (41, "main.NewPoint", "")
    [inlined] = at("a.go", 4, "escapes-to-heap")
    assert (inlined.function, inlined.inlined_from) == ("main.main", "main.NewPoint")
    [leak] = at("b.go", 12, "leaking-param")
    assert leak.function == "main.keep"
    [barrier] = at("b.go", 12, "write-barrier")
    assert barrier.column == 28
    assert {d.file for d in analysis.diagnostics} == {"a.go", "b.go"}
    assert all(d.details["user_file"] for d in analysis.diagnostics)

    # The assembly: each function in its file, instructions on that file's lines.
    files_of = {f.name: f.file for f in analysis.functions}
    assert files_of["main.main"] == "a.go"
    assert files_of["main.NewPoint"] == files_of["main.keep"] == files_of["main.(*Point).Sum"] == "b.go"
    main = function(analysis, "main.main")
    assert {a.file for a in main.asm if a.line} == {"a.go"}
    [alloc] = [a for a in main.asm if a.heap_alloc]
    assert (alloc.file, alloc.line, alloc.inlined_from) == ("a.go", 4, "main.NewPoint")
    keep = function(analysis, "main.keep")
    assert {(a.file, a.line) for a in keep.asm} == {("b.go", 12)}
    assert any(a.write_barrier for a in keep.asm)

    # No position anywhere names the sandbox's directory.
    rebuilt = [line for d in analysis.diagnostics for line in diagnostic_lines(d)]
    assert rebuilt and all(line.startswith(("a.go:", "b.go:")) for line in rebuilt)
    assert "/tmp/" not in analysis.raw_output


@pytest.mark.parametrize("goarch", list(DIALECTS))
def test_every_prepared_goarch_imports_the_standard_library(goarch: str, newest: toolchains.Toolchain) -> None:
    assert newest.std_is_complete(goarch), f"std of Go {NEWEST_GO} for {goarch} is incomplete"
    src = 'package main\n\nimport (\n\t"fmt"\n\t"strings"\n\t"sync"\n)\n\nvar mu sync.Mutex\n\nfunc main() {\n\tmu.Lock()\n\tfmt.Println(strings.ToUpper("ok"))\n\tmu.Unlock()\n}\n'
    analysis = compile_request(CompileRequest(split_files(src), go=NEWEST_GO, goarch=goarch))
    assert analysis.status == "ok", analysis.errors
    assert any(d.kind == "inlining-call" and "fmt.Println" in d.message for d in analysis.diagnostics)
