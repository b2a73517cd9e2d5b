"""A compile sandbox started ahead (worker/prestart.py, the runner's ``-request`` mode),
with or without the compiler started in it (``-ahead``): the same compile as in a
sandbox started for it, the same walls, its limits counted from the hand-over, used once
and only for the settings it was started with; a compiler started for another shape of
program is ended and the request run whole."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.stack import slow_program
from worker import compiler, prestart, sandbox, toolchains
from worker.compiler import CompileRequest, compile_request
from worker.inputs import split_files

# Two files: the runner writes each into the sandbox's own /tmp.
PROGRAM = """\
-- main.go --
package main

func main() { println(*newInt(1), total([]int{1, 2, 3})) }

-- lib.go --
package main

func newInt(v int) *int { return &v }

func total(s []int) (t int) {
	for i := range s {
		t += s[i]
	}
	return t
}
"""
SYSTEM = [p for p in (Path("/usr"), Path("/bin"), Path("/lib"), Path("/lib64")) if p.exists()]
ADDRESS = re.compile(r"0x[0-9a-f]{8,}")  # the compiler's own heap addresses in its debug dump


@pytest.fixture(autouse=True)
def nothing_waits():
    prestart.discard_all()
    yield
    prestart.discard_all()


@pytest.fixture
def hand_overs(monkeypatch) -> list[bytes]:
    """What was handed to sandboxes started ahead."""
    given: list[bytes] = []
    real = sandbox.StartedAhead.hand_over

    def spy(self, stdin, on_stdout=None):
        given.append(stdin)
        return real(self, stdin, on_stdout)

    monkeypatch.setattr(sandbox.StartedAhead, "hand_over", spy)
    return given


def comparable(analysis) -> dict:
    data = json.loads(json.dumps(analysis.to_dict(), default=str))  # without the hand-over (gzip'd raw output)
    data.pop("timings")
    data["raw_output"] = ADDRESS.sub("0x…", data["raw_output"])
    return data


def test_a_compile_in_a_sandbox_started_ahead_is_the_same_as_in_a_new_one(hand_overs):
    request = CompileRequest(split_files(PROGRAM))
    cold = compile_request(request)
    assert hand_overs == []
    assert compiler.prepare_sandbox(None, request.limits)
    assert prestart.waiting_count() == 1
    ahead = compile_request(CompileRequest(split_files(PROGRAM)))
    assert len(hand_overs) == 1 and prestart.waiting_count() == 0  # taken, used once
    assert b'"name": "lib.go"' in hand_overs[0]
    assert cold.status == ahead.status == "ok"
    assert any(d.message == "moved to heap: v" and d.file == "lib.go" for d in ahead.diagnostics)
    assert "/tmp/ee-src-" not in ahead.raw_output  # the sandbox's own directory is cut as the host's is
    assert comparable(ahead) == comparable(cold)


def handed(hand_overs: list[bytes]) -> list[str]:
    """How each hand-over ran: "ahead" (the files' text for the compiler started ahead) or "whole"."""
    return ["ahead" if json.loads(given).get("ahead") else "whole" for given in hand_overs]


ONE_FILE = "package main\n\nfunc f() *int { x := 1; return &x }\n\nfunc main() { println(*f()) }\n"


def test_a_program_of_the_planned_shape_goes_to_the_compiler_started_ahead(hand_overs):
    request = CompileRequest(split_files(ONE_FILE))
    cold = compile_request(request)
    compiler.prepare_sandbox(None, request.limits)  # the default shape: one main.go of package main
    (ready,) = prestart._ready.values()
    assert ready.ahead["files"] == [{"name": "main.go"}] and "-p" in ready.ahead["argv"]
    ahead = compile_request(CompileRequest(split_files(ONE_FILE)))
    assert handed(hand_overs) == ["ahead"]
    assert set(json.loads(hand_overs[0])) == {"ahead", "files"}  # nothing but the text is sent
    assert any(d.message == "moved to heap: x" for d in ahead.diagnostics)
    assert comparable(ahead) == comparable(cold)


def test_another_package_or_other_settings_run_whole_and_read_the_same(hand_overs):
    other_package = ONE_FILE.replace("package main", "package lib").replace("func main() { println(*f()) }", "")
    for source, groups in ((other_package, compiler.DIAGNOSTIC_GROUPS), (ONE_FILE, ("escape",))):
        cold = compile_request(CompileRequest(split_files(source), groups=groups))
        compiler.prepare_sandbox(None, sandbox.Limits())
        whole = compile_request(CompileRequest(split_files(source), groups=groups))
        assert comparable(whole) == comparable(cold)
    assert handed(hand_overs) == ["whole", "whole"]


def test_the_last_programs_shape_is_planned_with_many_files_and_a_big_one(hand_overs):
    """Thirteen files (the compiler opens at most 11 at a time) and one of 100 KB (past a
    pipe's 64 KiB): each is written as the compiler opens it."""
    from scripts.bench import large_program

    files = {f"f{i:02}.go": f"package main\n\nfunc g{i}(n int) *int {{ return &n }}\n" for i in range(12)}
    files["main.go"] = large_program(30) + "// a comment to make it long\n" * 3500
    assert len(files["main.go"]) > 100_000
    source = "".join(f"-- {name} --\n{text}" for name, text in files.items())
    request = CompileRequest(split_files(source))
    cold = compile_request(request)
    compiler.prepare_sandbox(None, request.limits, like=request)
    ahead = compile_request(CompileRequest(split_files(source)))
    assert handed(hand_overs) == ["ahead"]
    assert cold.status == "ok", cold.errors
    assert comparable(ahead) == comparable(cold)
    import gzip

    for analysis in (cold, ahead):  # read as it came: its raw output gzip'd on the way, the same
        assert gzip.decompress(analysis._raw_output_gz).decode() == analysis.raw_output


def test_a_compiler_started_ahead_that_ends_before_reading_its_files_does_not_hang_the_run():
    tc = toolchains.get(None)
    limits = dataclasses.replace(sandbox.Limits(), wall_seconds=10)
    plan = compiler._ahead_plan(tc, CompileRequest(split_files(ONE_FILE), limits=limits))
    plan["argv"].insert(1, "-no-such-flag")
    assert prestart.prepare(tc, limits, plan)
    ready = prestart.take(tc, limits)
    text = {"ahead": True, "files": [{"name": "main.go", "text": "package main\n" + "// padding\n" * 20000}]}
    result = ready.sandbox.hand_over(json.dumps(text).encode())
    assert not result.limit, "the runner waited for a reader that had ended"
    assert result.returncode == 2 and "flag provided but not defined: -no-such-flag" in result.stderr


def test_a_big_program_is_read_while_it_compiles_as_in_a_new_sandbox(hand_overs):
    from scripts.bench import large_program

    source = large_program(12)  # past streaming.STREAM_FROM_CHARS
    cold = compile_request(CompileRequest(split_files(source)))
    compiler.prepare_sandbox(None, sandbox.Limits())
    ahead = compile_request(CompileRequest(split_files(source)))
    assert len(hand_overs) == 1
    assert comparable(ahead) == comparable(cold)


def test_its_wall_clock_limit_counts_from_the_hand_over_not_from_its_start(hand_overs):
    limits = dataclasses.replace(sandbox.Limits(), wall_seconds=0.6)
    compiler.prepare_sandbox(None, limits)
    time.sleep(1.0)  # idle longer than the limit: not counted
    done = compile_request(CompileRequest(split_files(PROGRAM), limits=limits))
    assert done.status == "ok", done.errors
    compiler.prepare_sandbox(None, limits)
    bomb = compile_request(CompileRequest(split_files(slow_program("ahead")), groups=("wb",), limits=limits))
    assert len(hand_overs) == 2
    assert (bomb.status, bomb.limit) == ("limit", "time")
    assert bomb.errors == ["The compiler ran past its time limit (0.6 s) and was stopped."]


def test_one_started_with_other_limits_is_not_taken(hand_overs):
    compiler.prepare_sandbox(None, sandbox.Limits())
    other = dataclasses.replace(sandbox.Limits(), cpu_seconds=7)
    done = compile_request(CompileRequest(split_files(PROGRAM), limits=other))
    assert done.status == "ok" and hand_overs == []
    assert prestart.waiting_count() == 1  # still there for a compile with its limits
    compiler.prepare_sandbox(None, other)  # one waits per process: the other one ends
    assert prestart.waiting_count() == 1
    compile_request(CompileRequest(split_files(PROGRAM), limits=other))
    assert len(hand_overs) == 1


def test_one_that_ended_before_its_use_is_not_used_and_the_compile_still_runs(hand_overs):
    compiler.prepare_sandbox(None, sandbox.Limits())
    (ready,) = prestart._ready.values()
    os.kill(ready.sandbox.pid, 9)
    deadline = time.monotonic() + 5
    while ready.sandbox.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)
    done = compile_request(CompileRequest(split_files(PROGRAM)))
    assert done.status == "ok" and hand_overs == []
    assert prestart.waiting_count() == 0


def test_a_forked_process_does_not_take_its_parents():
    compiler.prepare_sandbox(None, sandbox.Limits())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a pool process forked by a worker that had one ready
        os.write(write, str(prestart.waiting_count()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"0"
    os.close(read)
    assert prestart.waiting_count() == 1  # the parent's is still its own


def started_ahead(extra_ro: list[Path] = ()) -> sandbox.StartedAhead:
    tc = toolchains.get(None)
    return sandbox.StartedAhead(
        [str(tc.runner), "-request"], ro_paths=[*tc.sandbox_paths(), *extra_ro], limits=sandbox.Limits()
    )


def runner_request(argv: list[str], files: list[dict] | None = None, directory: str = "/tmp/ee-src-test") -> bytes:
    return json.dumps(
        {
            "marker": "0123456789abcdef0123",
            "logopt": "/tmp/logopt",
            "codes": [],
            "dir": directory,
            "files": files or [],
            "env": [],
            "argv": argv,
        }
    ).encode()


def test_the_walls_are_those_of_a_new_sandbox(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    ready = started_ahead(SYSTEM)
    time.sleep(0.2)
    script = (
        f"id -u; echo ==net; cat /proc/net/dev; echo ==files; cat {secret} /etc/passwd 2>&1; ls /; pwd;"
        " cat main.go; touch /usr/x 2>&1"
    )
    result = ready.hand_over(runner_request(["/bin/sh", "-c", script], [{"name": "main.go", "text": "package x"}]))
    assert result.returncode in (0, 1), result.stderr
    out = result.stdout
    if os.geteuid() == 0:
        assert out.splitlines()[0] == str(sandbox.NOBODY_UID)
    net = out.split("==net\n")[1].split("==files\n")[0].splitlines()[2:]  # after the two header lines
    assert [line.split(":")[0].strip() for line in net] == ["lo"]
    assert "top secret" not in out and "root:x:0" not in out
    assert "/tmp/ee-src-test\npackage x" in out  # ran in the directory the runner wrote
    assert "Read-only file system" in out


@pytest.mark.parametrize(
    "request_bytes, message",
    [
        (b"{not json", "not valid JSON"),
        (runner_request(["/x"], [{"name": "../escape.go", "text": "package x"}]), "is not a plain name"),
        (runner_request(["/x"], [{"name": "a/b.go", "text": "package x"}]), "is not a plain name"),
        (runner_request(["/x"], directory="/etc/x"), "is not a new directory in /tmp"),
        (runner_request(["/x"], directory="/tmp/a/../../etc"), "is not a new directory in /tmp"),
        (runner_request([]), "names no command"),
    ],
)
def test_the_runner_refuses_a_malformed_request(request_bytes, message):
    result = started_ahead().hand_over(request_bytes)
    assert result.returncode == 125
    assert message in result.stderr and result.stdout == ""


def test_a_sandbox_taken_but_not_handed_over_is_ended(monkeypatch):
    compiler.prepare_sandbox(None, sandbox.Limits())
    (ready,) = prestart._ready.values()

    def broken(*args, **kwargs):
        raise RuntimeError("building the request failed")

    monkeypatch.setattr(compiler, "runner_request", broken)
    with pytest.raises(RuntimeError):
        compile_request(CompileRequest(split_files(ONE_FILE)))
    assert not ready.sandbox.waiting() and prestart.waiting_count() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(ready.sandbox.pid, 0)  # ended and reaped, not left waiting
