"""The sandbox is a security boundary: check each wall with real processes."""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from worker import sandbox, seccomp, spawn, toolchains

SYSTEM = [Path("/usr"), Path("/bin"), Path("/lib"), Path("/lib64")]
SYSTEM = [p for p in SYSTEM if p.exists()]


@pytest.fixture(autouse=True, params=["launcher", "pre-exec hook"])
def started_by(request, monkeypatch):
    """Every wall is checked both ways a sandbox can start (worker/spawn.py): through the
    launcher (the install builds it) and through the pre-exec hook (without it)."""
    if request.param == "launcher":
        assert spawn.launcher() is not None, "the install did not build ee-launch"
    else:
        monkeypatch.setattr(spawn, "launcher", lambda: None)
    return request.param


def sh(script: str, **kwargs) -> sandbox.SandboxResult:
    return sandbox.run(["/bin/sh", "-c", script], ro_paths=SYSTEM, **kwargs)


def test_runs_as_an_unprivileged_user_when_the_worker_is_root():
    result = sh("id -u")
    assert result.returncode == 0
    if os.geteuid() == 0:
        assert result.stdout.strip() == str(sandbox.NOBODY_UID)


def test_no_network():
    result = sh("cat /proc/net/dev")
    interfaces = [line.split(":")[0].strip() for line in result.stdout.splitlines() if ":" in line]
    assert interfaces == ["lo"]


def test_host_files_are_not_visible(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    result = sh(f"cat {secret} /etc/passwd /root/.bashrc 2>&1; ls /")
    assert "top secret" not in result.stdout
    assert "root:x:0" not in result.stdout
    assert sorted(result.stdout.split()[-6:]) != []  # ls ran
    assert "home" not in result.stdout.split() and "etc" not in result.stdout.split()


def test_bound_paths_are_read_only_and_tmp_is_the_only_writable_place():
    # like the compiler's input: a fresh directory under the system temp dir
    tmp_path = Path(tempfile.mkdtemp(prefix="ee-test-"))
    (tmp_path / "in.go").write_text("package main\n")
    result = sandbox.run(
        [
            "/bin/sh",
            "-c",
            f"echo x > {tmp_path}/in.go; echo $?; echo y > /usr/evil; echo $?; echo z > /tmp/ok && cat /tmp/ok",
        ],
        ro_paths=SYSTEM,
        input_dir=tmp_path,
        cwd=str(tmp_path),
    )
    codes = result.stdout.split()
    assert codes[0] != "0" and codes[1] != "0" and codes[2] == "z"
    assert (tmp_path / "in.go").read_text() == "package main\n"


def test_wall_clock_timeout_kills_the_run():
    result = sh("sleep 30", limits=sandbox.Limits(wall_seconds=1))
    assert result.timed_out and result.limit == "time"
    assert result.wall_ms < 5000


def test_cpu_time_limit():
    result = sh("while :; do :; done", limits=sandbox.Limits(wall_seconds=20, cpu_seconds=1))
    assert result.limit == "cpu"


def test_output_size_limit():
    result = sh("yes xxxxxxxxxxxxxxxxxxxx", limits=sandbox.Limits(output_bytes=100_000))
    assert result.output_truncated and result.limit == "output"
    assert len(result.stdout) <= 200_000


def test_stdout_is_handed_over_while_the_command_runs():
    """on_stdout (worker/streaming.py reads the compiler's output with it) gets whole lines
    as they are written, before the end; the result still holds everything."""
    pieces: list[tuple[float, bytes]] = []
    started = time.perf_counter()
    result = sh(
        "echo one; sleep 0.4; echo two; sleep 0.3; printf 'three, no newline'",
        on_stdout=lambda piece: pieces.append((time.perf_counter() - started, piece)),
    )
    ended = time.perf_counter() - started
    assert result.returncode == 0 and result.stdout == "one\ntwo\nthree, no newline"
    assert b"".join(p for _, p in pieces) == b"one\ntwo\n"  # whole lines only (the end is read after)
    assert pieces[0][1] == b"one\n" and pieces[0][0] < ended - 0.6  # while it slept


def test_a_failing_stdout_reader_does_not_end_the_run():
    calls = []

    def reader(piece: bytes) -> None:
        calls.append(piece)
        raise RuntimeError("a reader's bug")

    result = sh("echo one; sleep 0.1; echo two", on_stdout=reader)
    assert result.returncode == 0 and result.stdout == "one\ntwo\n"
    assert calls == [b"one\n"]  # not called again


def test_output_size_limit_while_stdout_is_read():
    handed = []
    result = sh(
        "yes xxxxxxxxxxxxxxxxxxxx",
        limits=sandbox.Limits(output_bytes=100_000),
        on_stdout=lambda piece: handed.append(len(piece)),
    )
    assert result.output_truncated and result.limit == "output"
    assert sum(handed) <= 100_000


def test_file_size_limit():
    result = sh("head -c 2000000 /dev/zero > /tmp/big; echo $?", limits=sandbox.Limits(file_bytes=100_000))
    assert result.stdout.strip() != "0" or result.limit == "file"


def test_memory_limit():
    # a process that asks for far more address space than allowed fails to get it
    result = sh(
        "head -c 300000000 /dev/zero | tail -c 1 >/dev/null; echo done",
        limits=sandbox.Limits(memory_bytes=64 * 1024**2),
    )
    assert result.returncode == 0  # small tools still work under the limit
    big = (
        sandbox.run(
            ["/usr/bin/python3", "-c", "x = bytearray(512 * 1024 * 1024)"],
            ro_paths=SYSTEM,
            limits=sandbox.Limits(memory_bytes=256 * 1024**2),
        )
        if Path("/usr/bin/python3").exists()
        else None
    )
    if big is not None:
        assert big.returncode != 0 and "MemoryError" in big.stderr


def test_a_costly_lane_runs_at_a_lower_priority():
    assert sh("nice", limits=sandbox.Limits(nice=7)).stdout.strip() == str(os.nice(0) + 7)


def test_the_launcher_refuses_to_start_a_command_without_its_limits():
    launcher = spawn.launcher_path()
    for argv in (
        [str(launcher), "--", "/bin/true"],  # no limits
        [str(launcher), "-cpu=1", "-as=100000000", "-fsize=1000", "-nproc=10", "--", "true"],  # not absolute
        [str(launcher), "-cpu=1", "-as=100000000", "-fsize=1000", "-nproc=10", "-uid=65534", "--", "/bin/true"],
    ):
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 125 and done.stderr.startswith(("usage: ee-launch", "ee-launch:")), done


def test_the_launcher_refuses_malformed_options():
    launcher = str(spawn.launcher_path())
    ok = ["-cpu=1", "-as=100000000", "-fsize=1000", "-nproc=10"]
    for bad in (
        ["-cpu=-1"],
        ["-cpu=1x"],
        ["-cpu="],
        ["-cpu=99999999999999999999999"],
        ["-colour=1"],
        ["cpu=1"],
        ["-nice=20"],
        ["-uid=4294967296", "-gid=1"],
        ["-uid=1", "-gid=-1"],
    ):
        done = subprocess.run([launcher, *ok, *bad, "--", "/bin/true"], capture_output=True, text=True)
        assert done.returncode == 125 and done.stderr.startswith(("usage: ee-launch", "ee-launch:")), (bad, done)
    done = subprocess.run([launcher, *ok], capture_output=True, text=True)  # no command
    assert done.returncode == 125, done


def test_the_launcher_puts_each_limit_in_place_before_the_command_runs():
    """What the command finds: /proc/self/limits and status of the command itself."""
    launcher = str(spawn.launcher_path())
    argv = [launcher, "-cpu=7", "-as=900000000", "-fsize=123456", "-nproc=4321", "-nofile=77", "-nice=3"]
    if os.geteuid() == 0:
        argv += ["-uid=65534", "-gid=65534"]
    script = "cat /proc/self/limits; grep -E '^(Uid|Gid|Groups):' /proc/self/status; cut -d' ' -f19 /proc/self/stat"
    done = subprocess.run([*argv, "--", "/bin/sh", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    limits = {line[:26].strip(): line[26:].split()[:2] for line in done.stdout.splitlines() if line.startswith("Max ")}
    assert limits["Max cpu time"] == ["7", "8"]
    assert limits["Max address space"] == ["900000000", "900000000"]
    assert limits["Max file size"] == ["123456", "123456"]
    assert limits["Max core file size"] == ["0", "0"]
    assert limits["Max open files"] == ["77", "77"]
    assert limits["Max processes"][0] == limits["Max processes"][1] and int(limits["Max processes"][0]) <= 4321
    before = os.getpriority(os.PRIO_PROCESS, 0)
    assert int(done.stdout.splitlines()[-1]) == min(19, before + 3)  # the niceness, added
    if os.geteuid() == 0:
        status = dict(
            line.split(":", 1) for line in done.stdout.splitlines() if line.startswith(("Uid", "Gid", "Groups"))
        )
        assert status["Uid"].split() == ["65534"] * 4 and status["Gid"].split() == ["65534"] * 4
        assert status["Groups"].split() == []


def test_the_launcher_never_runs_out_of_its_own_memory_under_the_limit():
    """Nothing of the launcher may need memory once the address space is limited: when it was
    a Go program, its runtime did in about 1 start in 100 (fatal error: runtime: out of
    memory), which the run sandbox then reported as the program's memory limit."""
    launcher = str(spawn.launcher_path())
    failed = []
    for _ in range(400):
        done = subprocess.run(
            [launcher, "-cpu=5", "-as=50000000", "-fsize=1000000", "-nproc=1000", "--", "/usr/bin/true"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            failed.append(done.stderr[:200])
    assert not failed, f"{len(failed)} of 400 starts failed: {failed[0]}"


@pytest.mark.skipif(os.geteuid() != 0, reason="the process limit binds the sandbox user when we drop from root")
def test_process_count_limit():
    result = sh(
        "for i in $(seq 50); do sleep 5 & done; wait; echo finished",
        limits=sandbox.Limits(processes=10, wall_seconds=10),
    )
    assert "fork" in result.stderr.lower() or "resource" in result.stderr.lower() or result.returncode != 0


def test_no_capabilities_and_no_nested_user_namespaces():
    result = sh("grep CapEff /proc/self/status; unshare -U true && echo nested-userns-allowed")
    assert "CapEff:\t0000000000000000" in result.stdout
    assert "nested-userns-allowed" not in result.stdout


PTRACE_TRACEME = "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); r = libc.syscall(101, 0, 0, 0, 0); print(r, ctypes.get_errno())"


@pytest.mark.skipif(seccomp.filter_fd() is None, reason="the seccomp filter is built for x86_64 only")
def test_seccomp_denies_ptrace_and_keyrings_but_not_ordinary_work():
    python = "/usr/bin/python3"
    if not Path(python).exists():
        pytest.skip("no system python3 to probe with")
    result = sandbox.run([python, "-c", PTRACE_TRACEME], ro_paths=SYSTEM)
    assert result.stdout.split() == ["-1", "1"], result.stderr  # EPERM
    keyctl = "import ctypes; libc = ctypes.CDLL(None, use_errno=True); print(libc.syscall(250, 0, 0, 0, 0), ctypes.get_errno())"
    assert sandbox.run([python, "-c", keyctl], ro_paths=SYSTEM).stdout.split() == ["-1", "1"]
    assert sh("echo ok; ls /tmp >/dev/null && echo still-ok").stdout.split() == ["ok", "still-ok"]


def test_the_filter_is_well_formed():
    program = seccomp.x86_64_filter()
    assert len(program) % 8 == 0
    assert len(program) // 8 == 5 + len(set(seccomp.DENIED_X86_64.values())) + 2


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists(),
    reason="needs root (to become an ordinary user) and the system python",
)
def test_the_engine_works_for_an_ordinary_user(tmp_path):
    """As a developer runs it (not root): the process budget is added to what they run."""
    source = Path(tempfile.mkdtemp(prefix="ee-user-")) / "main.go"
    source.write_text("package main\n\nfunc f() *int {\n\tx := 1\n\treturn &x\n}\n\nfunc main() { println(*f()) }\n")
    source.parent.chmod(0o755)
    source.chmod(0o644)
    env = {
        "HOME": "/tmp",
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "ESCAPE_EXPLORER_HOME": str(toolchains.home()),
        "PATH": "/usr/bin:/bin",
    }
    # the system python: the engine is the standard library only
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-m",
            "worker",
            str(source),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/tmp",
    )
    analysis = json.loads(result.stdout)
    assert analysis["status"] == "ok", (analysis.get("errors"), result.stderr[-2000:])
    assert any(d["message"] == "moved to heap: x" for d in analysis["diagnostics"])
