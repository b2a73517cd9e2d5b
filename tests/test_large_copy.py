"""Large copies (>= 128 bytes): the compiler reports them only in its optimization log
(``-json=0,<dir>``), which it writes inside the sandbox; the toolchain's ``ee-runner``
hands it back framed after the compiler's output (worker/runner, worker/parse/logopt.py).

Real compilers, real sandbox, no mocks.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import NEWEST_GO, OLDEST_GO
from worker import sandbox, toolchains
from worker.analysis import Analysis, SourceFile
from worker.compiler import LOGOPT_DIR, CompileRequest, compile_request
from worker.parse import diagnostic_lines
from worker.parse.logopt import new_marker, split_frames
from worker.summary import summarize

VERSIONS = (OLDEST_GO, NEWEST_GO)

# Line numbers matter: the assertions name them.
PROGRAM = """package main

type Big struct {
	a [128]int64 // 1024 bytes
}

type Small struct {
	a [8]int64 // 64 bytes
}

//go:noinline
func use(b Big) int64 { return b.a[3] }

//go:noinline
func useSmall(s Small) int64 { return s.a[3] }

var g Big
var gs Small

func main() {
	b := g
	b.a[1] = 2
	println(use(b))
	s := gs
	s.a[1] = 2
	println(useSmall(s))
}
"""

SMALL_ONLY = """package main

type Small struct {
	a [8]int64
}

//go:noinline
func useSmall(s Small) int64 { return s.a[3] }

var gs Small

func main() {
	s := gs
	s.a[1] = 2
	println(useSmall(s))
}
"""

# A copy inside an inlined body, and one at the call site of an inlined function.
INLINED = """package main

type Big struct{ a [64]int32 }

func clone(p *Big) Big {
	c := *p
	return c
}

func first(b Big) int32 { return b.a[0] }

var g Big

func main() {
	x := clone(&g)
	println(x.a[0], first(g))
}
"""


def toolchain(version: str) -> toolchains.Toolchain:
    tc = toolchains.get(version)
    if tc is None or not tc.has_runner():
        pytest.fail(f"Go {version} with its runner is not installed: python -m worker.toolchains install {version}")
    return tc


def analyse(source: str, version: str, **kwargs) -> Analysis:
    toolchain(version)
    analysis = compile_request(CompileRequest([SourceFile("main.go", source)], go=version, **kwargs))
    assert analysis.status == "ok", analysis.errors
    return analysis


def copies(analysis: Analysis) -> list[tuple[int, int, int, str]]:
    return sorted(
        (d.line, d.column, d.details["bytes"], d.function) for d in analysis.diagnostics if d.kind == "large-copy"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_a_1k_struct_assigned_and_passed_by_value_is_a_large_copy(version: str) -> None:
    analysis = analyse(PROGRAM, version)
    # b := g (the ":=" at 21:4) and use(b) (the call's "(" at 23:13); nothing for Small.
    assert copies(analysis) == [(21, 4, 1024, "main.main"), (23, 13, 1024, "main.main")]
    [assign, _] = sorted((d for d in analysis.diagnostics if d.kind == "large-copy"), key=lambda d: d.line)
    assert assign.message == "large copy: 1024 bytes"
    assert assign.file == "main.go" and assign.details["user_file"] is True
    assert assign.details | {"bytes": 1024, "source": "logopt", "synthetic": True} == assign.details
    assert assign.inlined_from == ""
    # Synthetic: no printed line of its own, like heap-alloc-call.
    assert diagnostic_lines(assign) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_the_log_never_reaches_the_raw_output_and_the_text_is_unchanged(version: str) -> None:
    analysis = analyse(PROGRAM, version)
    assert "#ee-logopt" not in analysis.raw_output
    assert '"code"' not in analysis.raw_output and LOGOPT_DIR not in analysis.raw_output
    raw = Counter(line for line in analysis.raw_output.splitlines() if line.startswith("main.go:"))
    rebuilt = Counter(line for d in analysis.diagnostics for line in diagnostic_lines(d) if d.file == "main.go")
    assert raw and raw == rebuilt


@pytest.mark.parametrize("version", VERSIONS)
def test_a_64_byte_struct_copy_is_not_reported(version: str) -> None:
    analysis = analyse(SMALL_ONLY, version)
    assert copies(analysis) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_copies_in_inlined_code_name_the_inlined_function(version: str) -> None:
    analysis = analyse(INLINED, version)
    found = {(d.line, d.column): d for d in analysis.diagnostics if d.kind == "large-copy"}
    # clone's own body (compiled on its own too): c := *p
    assert found[(6, 4)].function == "main.clone" and found[(6, 4)].inlined_from == ""
    # the same copy, inlined at the call in main: reported at the call site
    inlined = found[(15, 12)]
    assert (inlined.function, inlined.inlined_from) == ("main.main", "main.clone")
    assert inlined.details["inlined_positions"] == ["main.go:6:4"]
    assert all(d.details["bytes"] == 256 for d in found.values())


@pytest.mark.parametrize("version", VERSIONS)
def test_large_copies_without_the_assembly_and_in_the_summary(version: str) -> None:
    groups = ("escape", "inline", "wb", "bce", "nil", "loopvar")
    analysis = analyse(PROGRAM, version, groups=groups)
    assert analysis.functions == []
    # Attributed by the declarations ("cannot inline main: …") alone.
    assert copies(analysis) == [(21, 4, 1024, "main.main"), (23, 13, 1024, "main.main")]
    summary = {s.name: s for s in summarize(analysis)}
    assert summary["main.main"].large_copies == 2
    assert summary["main.use"].large_copies == 0


def test_other_goarches_report_large_copies_too() -> None:
    tc = toolchain(NEWEST_GO)
    if "arm64" not in tc.goarches():
        pytest.skip("arm64 std is not prepared")
    analysis = analyse(PROGRAM, NEWEST_GO, goarch="arm64")
    assert [(line, size) for line, _, size, _ in copies(analysis)] == [(21, 1024), (23, 1024)]


def test_a_compile_error_still_comes_back_with_its_exit_status() -> None:
    toolchain(NEWEST_GO)
    analysis = compile_request(
        CompileRequest([SourceFile("main.go", "package main\n\nfunc main() { var b [200]byte; x := b }\n")])
    )
    assert analysis.status == "compile-error"
    assert any("declared and not used: x" in e for e in analysis.errors)
    assert "#ee-logopt" not in analysis.raw_output


# ---- the frames ---------------------------------------------------------------------


def test_frames_are_cut_off_only_with_the_run_s_own_nonce() -> None:
    marker = new_marker()
    forged = f"#ee-logopt {'0' * 32} begin main/main.json\n"
    header = '{"version":0,"package":"main","file":"main.go"}'
    entry = '{"range":{"start":{"line":3,"character":2},"end":{"line":3,"character":2}},"code":"copy","message":"256 bytes"}'
    stdout = (
        f"main.go:1:1: something\n{forged}"
        f"#ee-logopt {marker} begin main/main.json\n{header}\n{entry}\n#ee-logopt {marker} end\n"
    )
    own, files = split_frames(stdout, marker)
    assert own == f"main.go:1:1: something\n{forged}"
    [log] = files
    assert (log.path, log.header["file"], [e["message"] for e in log.entries]) == (
        "main/main.json",
        "main.go",
        ["256 bytes"],
    )
    assert split_frames(own, marker) == (own, [])
    # An output limit can cut a frame short: what is there is kept.
    truncated = f"#ee-logopt {marker} begin main/main.json\n{header}\n{entry[:40]}"
    assert split_frames(truncated, marker)[1][0].entries == []


# ---- the sandbox boundary -----------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_the_runner_is_a_static_binary_inside_the_toolchain_dir(version: str) -> None:
    tc = toolchain(version)
    assert tc.runner.is_relative_to(tc.root)
    with tc.runner.open("rb") as f:
        elf = f.read(64)
    assert elf[:4] == b"\x7fELF"
    # No program header of type PT_INTERP (3): no dynamic loader, no libc needed.
    phoff, phentsize, phnum = (
        int.from_bytes(elf[32:40], "little"),
        int.from_bytes(elf[54:56], "little"),
        int.from_bytes(elf[56:58], "little"),
    )
    data = tc.runner.read_bytes()
    types = [int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], "little") for i in range(phnum)]
    assert types and 3 not in types
    # Besides GOROOT and the prepared std, the toolchain dir holds the runner and its stamp.
    assert sorted(p.name for p in (tc.root / "bin").iterdir()) == ["ee-runner", "ee-runner.sha256"]
    assert os.access(tc.runner, os.X_OK)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_sandbox_still_has_no_shell(version: str, tmp_path: Path) -> None:
    """What the compiler sees, with the runner as the command: no /bin/sh, no /usr, no libc."""
    tc = toolchain(version)
    marker = new_marker()
    for program in ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/env"):
        result = sandbox.run([str(tc.runner), "-marker", marker, "--", program, "-c", "echo pwned"], ro_paths=[tc.root])
        assert result.returncode == 127, (program, result.stdout, result.stderr)
        assert "pwned" not in result.stdout and "no such file or directory" in result.stderr
    # The runner forwards what it runs, and its exit status.
    result = sandbox.run([str(tc.runner), "-marker", marker, "--", str(tc.go), "version"], ro_paths=[tc.root])
    assert result.returncode == 0 and result.stdout.startswith(f"go version go{version} ")
    assert f"#ee-logopt {marker}" not in result.stdout  # no log directory, no frames
    result = sandbox.run(
        [str(tc.runner), "-marker", marker, "--", str(tc.go), "no-such-command"],
        ro_paths=[tc.root],
        env={"GOROOT": str(tc.goroot), "HOME": "/tmp", "GOTELEMETRY": "off"},
    )
    assert result.returncode == 2 and "unknown command" in result.stderr
    # Without a nonce the runner refuses to run anything.
    result = sandbox.run([str(tc.runner), "--", str(tc.go), "version"], ro_paths=[tc.root])
    assert result.returncode == 125 and result.stdout == ""
