"""Reading a compile's output while the compiler runs (worker/streaming.py) gives exactly
what reading it whole at the end gives: on captured real output cut into pieces at every
kind of place, and on real compiles of programs that exercise each reader (a switch
compiled to a jump table, generics, closures, a failed compile, many functions)."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from worker import cfg, compiler, sandbox, streaming, toolchains
from worker.analysis import Analysis, SourceFile
from worker.compiler import CompileRequest, compiler_argv, compiler_env, read_run, resolve_lang, runner_argv
from worker.inputs import package_name, split_files
from worker.parse import logopt as logopt_parse

CAPTURED = Path(__file__).parent / "data" / "captured"
CASES = sorted(CAPTURED.glob("1.*/*.txt"))
WORKDIR = Path("/tmp/ee-src-streaming-test")


def stream_for(marker: str, workdir: Path, goarch: str) -> streaming.CompileStream:
    """The stream compiler.compile_request makes for a compile in ``workdir``."""
    return streaming.CompileStream(marker, lambda text: compiler.rewrite_paths(text, workdir), goarch)


def analysis_of(
    result: sandbox.SandboxResult, files: list[SourceFile], marker: str, workdir: Path, stream=None
) -> dict:
    analysis = Analysis(go="1.27.3", goarch="amd64", lang="go1.27", files=files)
    read_run(analysis, result, files, package_name(files), marker, workdir, sandbox.Limits(), stream)
    data = analysis.to_dict()
    data.pop("timings", None)
    return data


def result_of(stdout: str, returncode: int) -> sandbox.SandboxResult:
    return sandbox.SandboxResult(
        returncode=returncode,
        stdout=stdout,
        stderr="",
        wall_ms=1.0,
        timed_out=False,
        output_truncated=False,
        limit="",
    )


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}-{p.stem}")
@pytest.mark.parametrize("cut", ["lines", "bytes", "one piece"])
def test_captured_output_read_in_pieces_equals_it_read_whole(path: Path, cut: str) -> None:
    meta = json.loads(path.with_suffix(".json").read_text())
    files = [SourceFile(name, "") for name in meta["files"]]
    text = path.read_text()
    data = text.encode()
    rng = random.Random(path.name + cut)
    if cut == "lines":  # pieces end at newlines, as the sandbox hands them
        ends = [i + 1 for i, b in enumerate(data) if b == 0x0A]
        points = sorted(rng.sample(ends, min(len(ends), 12)))
    elif cut == "bytes":  # anywhere, even inside a UTF-8 character
        points = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, 40)))
    else:
        points = []
    stream = stream_for("0123456789abcdef", WORKDIR, "amd64")
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        stream.feed_bytes(data[start:end])
    result = result_of(text, meta["exit_code"])
    whole = analysis_of(result, files, "0123456789abcdef", WORKDIR)
    streamed = analysis_of(result, files, "0123456789abcdef", WORKDIR, stream)
    assert stream.read_chars > 0 and not stream.read_whole
    assert streamed == whole
    assert whole["functions"] or meta["exit_code"] != 0


def test_what_follows_the_runner_frames_is_not_read_as_the_compiler_output() -> None:
    path = CAPTURED / "1.27.3" / "escape.txt"
    text = path.read_text()
    marker = logopt_parse.new_marker()
    framed = (
        text.rstrip("\n")  # the compiler's last line without its newline: the frame still ends it
        + f"{logopt_parse.FRAME_PREFIX} {marker} begin main.json\n"
        + '{"version":0,"package":"main","goos":"linux","goarch":"amd64","gc_version":"go1.27.3","file":"main.go"}\n'
        + f"{logopt_parse.FRAME_PREFIX} {marker} end\n"
    )
    stream = stream_for(marker, WORKDIR, "amd64")
    stream.feed_bytes(framed.encode())
    files = [SourceFile("main.go", "")]
    result = result_of(framed, 0)
    assert analysis_of(result, files, marker, WORKDIR, stream) == analysis_of(result, files, marker, WORKDIR)
    assert not stream.read_whole
    assert stream.read_chars < len(text)  # the last, unfinished line was left for the end


def test_a_stream_that_does_not_match_the_output_is_read_whole() -> None:
    text = (CAPTURED / "1.27.3" / "escape.txt").read_text()
    stream = stream_for("0123456789abcdef", WORKDIR, "amd64")
    stream.feed_bytes(b"main.go:1:1: something the compiler never printed\n")
    files = [SourceFile("main.go", "")]
    result = result_of(text, 0)
    assert analysis_of(result, files, "0123456789abcdef", WORKDIR, stream) == analysis_of(
        result, files, "0123456789abcdef", WORKDIR
    )
    assert stream.read_whole


# Loops of every shape, a switch compiled to a jump table (main.dispatch), closures, generics.
SHAPES = (Path(__file__).parent / "data" / "loops" / "marked_shapes.go").read_text()

MANY_FUNCTIONS = (
    "package main\n\n"
    + "".join(
        f"type T{i} struct{{ a, b *int }}\n\nfunc f{i}(n int) *T{i} {{\n\tx := n + {i}\n"
        f"\tt := &T{i}{{a: &x}}\n\tfor j := 0; j < n; j++ {{\n\t\tt.b = &j\n\t}}\n\treturn t\n}}\n\n"
        for i in range(120)
    )
    + "func main() {\n"
    + "".join(f"\tprintln(f{i}({i}))\n" for i in range(120))
    + "}\n"
)

BROKEN = "package main\n\nfunc main() {\n\tx := 1\n\tprintln(y)\n}\n"


@pytest.mark.parametrize("name", ["shapes", "many functions", "broken"])
def test_a_real_compile_read_while_it_runs_equals_it_read_whole(name: str) -> None:
    source = {"shapes": SHAPES, "many functions": MANY_FUNCTIONS, "broken": BROKEN}[name]
    tc = toolchains.get(None)
    req = CompileRequest(split_files(source))
    marker = logopt_parse.new_marker()
    workdir = Path(tempfile.mkdtemp(prefix="ee-src-"))
    stream = stream_for(marker, workdir, req.goarch)
    try:
        compiler.write_sources(workdir, req.files)
        result = sandbox.run(
            runner_argv(tc, compiler_argv(tc, req, resolve_lang(tc, None), workdir), marker),
            env=compiler_env(tc, req.goarch),
            ro_paths=tc.sandbox_paths(),
            input_dir=workdir,
            cwd=str(workdir),
            on_stdout=stream.feed_bytes,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert not result.limit
    streamed = analysis_of(result, req.files, marker, workdir, stream)
    assert not stream.read_whole
    whole = analysis_of(result, req.files, marker, workdir)
    assert streamed == whole
    # The same output in small pieces: each function is complete long before the end (the
    # jump table's function waits for its table, a data symbol printed last).
    small = stream_for(marker, workdir, req.goarch)
    data = result.stdout.encode()
    for start in range(0, len(data), 997):
        small.feed_bytes(data[start : start + 997])
    assert analysis_of(result, req.files, marker, workdir, small) == whole
    assert not small.read_whole
    # In two pieces, the listing (printed after the last function) in the second: every
    # function's instructions are taken from its pctab dump, read in the first.
    two = stream_for(marker, workdir, req.goarch)
    listing = data.rfind(b"\n", 0, data.find(b" STEXT ")) + 1
    two.feed_bytes(data[:listing])
    two.feed_bytes(data[listing:])
    assert analysis_of(result, req.files, marker, workdir, two) == whole
    if name != "broken":
        assert two.listings_read_early == len([f for f in whole["functions"] if f["asm"]])
    if name == "broken":
        assert streamed["status"] == "compile-error"
        assert any("undefined: y" in e for e in streamed["errors"])
    else:
        assert "#ee-logopt" in result.stdout  # the runner's frames followed, and were not read as output
        kinds = {d["kind"] for d in streamed["diagnostics"]}
        assert "escapes-to-heap" in kinds
    if name == "shapes":
        [dispatch] = [f for f in streamed["functions"] if f["name"] == "main.dispatch"]
        jumps = [a for a in dispatch["asm"] if cfg.classify(a["text"], a["pc"], "amd64").kind == "indirect"]
        assert jumps, "no jump table: the test lost its point"
        assert any(
            d["details"].get("in_loop") is True and d["function"] == "main.dispatch" for d in streamed["diagnostics"]
        )
    if name == "many functions":
        assert stream.read_chars > 0  # it was read while the compiler ran, not only at the end


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_the_hex_dump_and_relocation_lines_dropped_unread_change_nothing(path: Path, monkeypatch) -> None:
    """OutputReader drops runs of the listing's hex dump and relocation lines before
    splitting the text; reading every one of them gives the same parse."""
    import re

    import worker.parse

    meta = json.loads(path.with_suffix(".json").read_text())
    text = path.read_text()
    assert worker.parse._INERT_RUNS.search(text) or meta["exit_code"] != 0  # the test has its subject
    dropped = worker.parse.parse_compiler_output(text, meta["files"], exit_code=meta["exit_code"])
    monkeypatch.setattr(worker.parse, "_INERT_RUNS", re.compile(r"(?!)"))
    assert worker.parse.parse_compiler_output(text, meta["files"], exit_code=meta["exit_code"]) == dropped


def test_only_a_program_big_enough_to_gain_is_read_while_it_compiles() -> None:
    small = split_files(BROKEN)
    big = split_files(MANY_FUNCTIONS)
    assert streaming.for_request("m", str, "amd64", small) is None
    assert isinstance(streaming.for_request("m", str, "amd64", big), streaming.CompileStream)


def test_the_raw_output_is_gzipped_as_it_is_read_and_equals_it_whole() -> None:
    import gzip

    import orjson

    big = compiler.compile_request(CompileRequest(split_files(MANY_FUNCTIONS)))
    assert big.status == "ok" and big._raw_output_gz is not None
    assert gzip.decompress(big._raw_output_gz).decode("utf-8") == big.raw_output
    assert "_raw_output_gz" not in big.to_dict() and b"_raw_output_gz" not in orjson.dumps(big)
    small = compiler.compile_request(CompileRequest(split_files(BROKEN)))  # not read as it came
    assert small._raw_output_gz is None and small.raw_output
    read_whole = stream_for("0123456789abcdef", WORKDIR, "amd64")
    read_whole.feed_bytes(b"main.go:1:1: something the compiler never printed\n")
    text = (CAPTURED / "1.27.3" / "escape.txt").read_text()
    analysis = Analysis(go="1.27.3", goarch="amd64", lang="go1.27", files=[SourceFile("main.go", "")])
    read_run(
        analysis, result_of(text, 0), analysis.files, "main", "0123456789abcdef", WORKDIR, sandbox.Limits(), read_whole
    )
    assert read_whole.read_whole and analysis._raw_output_gz is None  # what was compressed is not the output
