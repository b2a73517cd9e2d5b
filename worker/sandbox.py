"""Run one command under bubblewrap with hard limits. Knows nothing about Go.

The sandbox has no network and no host files except the read-only paths the caller
names; ``/tmp`` is a private tmpfs and the only writable place; the input directory is
bound read-only at its own path. Limits: wall-clock timeout, CPU time, address space,
process count, written file size and captured output size. When the worker runs as
root, the command runs as an unprivileged user (nobody) instead.
"""

from __future__ import annotations

import os
import select
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import seccomp, spawn

NOBODY_UID = 65534
NOBODY_GID = 65534


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 20.0
    cpu_seconds: int = 30
    memory_bytes: int = 2 * 1024**3  # address space
    processes: int = 512  # threads count too; applies to the sandbox user
    file_bytes: int = 64 * 1024**2  # largest file the command may write
    output_bytes: int = 8 * 1024**2  # stdout + stderr captured
    nice: int = 0  # CPU priority: costly runs (the slow lane) yield the CPU to cheap ones


@dataclass
class SandboxResult:
    returncode: int
    stdout: str
    stderr: str
    wall_ms: float
    timed_out: bool = False
    output_truncated: bool = False
    limit: str = ""  # "" or which limit ended the run: time, cpu, memory, output, file


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    return path


def threads_of_current_user() -> int:
    """How many threads the current user runs (RLIMIT_NPROC counts them all)."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue  # the process ended meanwhile
    return count


def process_limits(limits, drop: bool, uid: int = NOBODY_UID, gid: int = NOBODY_GID) -> spawn.ProcessLimits:
    """The launcher's limits for a sandbox's ``limits`` (:class:`Limits`, or the run
    sandbox's RunLimits, which also limits open files); ``drop``: the worker is root, the
    sandbox runs as ``uid``/``gid``."""
    # RLIMIT_NPROC counts every thread of the real user. As nobody that is the sandboxes
    # alone; as an ordinary user (a developer's `make run`) it includes their desktop, so
    # the budget is added on top of what they already run.
    return spawn.ProcessLimits(
        cpu_seconds=limits.cpu_seconds,
        memory_bytes=limits.memory_bytes,
        file_bytes=limits.file_bytes,
        processes=limits.processes if drop else threads_of_current_user() + limits.processes,
        open_files=getattr(limits, "open_files", 0),
        nice=getattr(limits, "nice", 0),
        uid=uid if drop else None,
        gid=gid if drop else None,
    )


def build_argv(command: list[str], *, ro_paths: list[Path], cwd: str, rw_paths: list[Path] = ()) -> list[str]:
    """bwrap argv; each of ``ro_paths`` is bound read-only at its own path, each of
    ``rw_paths`` (a scratch directory of one run, never shared) writable."""
    argv = [
        bwrap_path(),
        "--unshare-all",  # network, pid, ipc, uts, cgroup namespaces
        "--unshare-user",  # a user namespace, required (not just tried) so that:
        "--disable-userns",  # no nested user namespaces (a kernel attack surface) inside
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--dir",
        "/tmp/home",
        "--setenv",
        "HOME",
        "/tmp/home",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
    ]
    for path in ro_paths:
        argv += ["--ro-bind", str(path), str(path)]
    for path in rw_paths:
        argv += ["--bind", str(path), str(path)]
    argv += ["--chdir", cwd]
    return argv


def sandbox_argv(
    command: list[str], *, env: dict[str, str] | None, ro_paths: list[Path], cwd: str, rw_dir: Path | None
) -> tuple[list[str], int | None]:
    """The whole bwrap argv for ``command`` and the seccomp filter's fd it names (None when
    there is no filter); the caller closes the fd once the sandbox has started."""
    argv = build_argv(command, ro_paths=ro_paths, cwd=cwd, rw_paths=[rw_dir] if rw_dir is not None else [])
    for key, value in (env or {}).items():
        argv += ["--setenv", key, value]
    filter_fd = seccomp.filter_fd()
    if filter_fd is not None:
        argv += ["--seccomp", str(filter_fd)]
    return [*argv, "--", *command], filter_fd


def run(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    ro_paths: list[Path] = (),
    input_dir: Path | None = None,
    cwd: str = "/tmp",
    limits: Limits = Limits(),
    stdin: bytes = b"",
    rw_dir: Path | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
) -> SandboxResult:
    """Run ``command`` in a fresh sandbox and capture its output, within ``limits``.

    ``input_dir`` (files and subdirectories) is bound read-only; ``rw_dir``, a scratch
    directory of this run alone (a module's compiled packages), writable. ``on_stdout``
    is handed the stdout as it is written, in pieces, while the command runs
    (:func:`collect_files`); the result holds all of it all the same."""
    drop = os.geteuid() == 0
    if drop and input_dir is not None:
        _readable_by_all(input_dir)  # nobody must be able to read the input
    if drop and rw_dir is not None:
        _owned_by_nobody(rw_dir)  # and write its scratch directory
    paths = [Path(p) for p in ro_paths] + ([input_dir] if input_dir is not None else [])
    start = time.perf_counter()  # the run's time and wall-clock limit count its start
    started = _Started(sandbox_argv(command, env=env, ro_paths=paths, cwd=cwd, rw_dir=rw_dir), limits, bool(stdin))
    return started.hand_over(stdin, on_stdout, start)


class _Started:
    """A sandbox's outer process, started with its limits, its stdout and stderr going to
    two memory files, not pipes: the compiler writes each -m and pctab line with a write of
    its own (some 12,000 for a 500-line program), and a pipe woke this process for nearly
    each one. The sandbox's end is heard through a pidfd (:func:`collect_files`)."""

    def __init__(self, argv_and_filter: tuple[list[str], int | None], limits: Limits, stdin: bool) -> None:
        argv, filter_fd = argv_and_filter
        self.limits = limits
        self.out_fd = os.memfd_create("ee-stdout", os.MFD_CLOEXEC)
        self.err_fd = os.memfd_create("ee-stderr", os.MFD_CLOEXEC)
        try:
            self.proc = spawn.popen(
                argv,
                process_limits(limits, os.geteuid() == 0),
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=self.out_fd,
                stderr=self.err_fd,
                close_fds=True,
                pass_fds=() if filter_fd is None else (filter_fd,),
            )
        except BaseException:
            self._close_files()
            raise
        finally:
            if filter_fd is not None:
                os.close(filter_fd)

    def hand_over(
        self, stdin: bytes, on_stdout: Callable[[bytes], None] | None = None, start: float | None = None
    ) -> SandboxResult:
        """Write ``stdin`` (then close it) and collect the run within the limits, timed from
        ``start`` (a ``time.perf_counter()`` value; default now)."""
        start = time.perf_counter() if start is None else start
        try:
            if self.proc.stdin is not None:
                try:
                    self.proc.stdin.write(stdin)
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass
            out, err, limit = collect_files(
                self.proc,
                self.out_fd,
                self.err_fd,
                start + self.limits.wall_seconds,
                self.limits.output_bytes,
                on_stdout=on_stdout,
            )
        finally:
            self._close_files()
        wall_ms = (time.perf_counter() - start) * 1000
        rc = self.proc.returncode
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace")
        if not limit and rc != 0 and _looks_out_of_memory(stderr):
            limit = "memory"
        return SandboxResult(
            returncode=rc,
            stdout=stdout,
            stderr=stderr,
            wall_ms=wall_ms,
            timed_out=limit == "time",
            output_truncated=limit == "output",
            limit=limit,
        )

    def _close_files(self) -> None:
        for fd in (self.out_fd, self.err_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.out_fd = self.err_fd = -1


class StartedAhead(_Started):
    """A sandbox started before its work is known: ``command`` (the compiler runner's
    ``-request`` mode) waits for its input on stdin, so that namespaces, mounts, limits and
    the runner's own start (~10 ms) are paid while nobody waits (worker/prestart.py).

    Used once: :meth:`hand_over` gives it its input and collects its run as :func:`run`
    does, the wall-clock limit counted from then; :meth:`discard` ends one not used."""

    def __init__(
        self, command: list[str], *, ro_paths: list[Path], limits: Limits, env: dict[str, str] | None = None
    ) -> None:
        argv = sandbox_argv(command, env=env, ro_paths=[Path(p) for p in ro_paths], cwd="/tmp", rw_dir=None)
        super().__init__(argv, limits, stdin=True)
        self.pid = self.proc.pid

    def waiting(self) -> bool:
        """Still there, waiting for its input (not ended, not used)."""
        return self.out_fd >= 0 and self.proc.poll() is None

    def discard(self) -> None:
        if self.out_fd < 0:  # handed over or discarded already
            return
        _kill(self.proc)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc.stdin.close()
        self._close_files()


def _readable_by_all(top: Path) -> None:
    """The input's directories 0755 and files 0644 (a module's packages are subdirectories)."""
    os.chmod(top, 0o755)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


def _owned_by_nobody(top: Path) -> None:
    """A scratch directory of one run, given to the sandbox's user (files and subdirectories)."""
    os.chown(top, NOBODY_UID, NOBODY_GID)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), NOBODY_UID, NOBODY_GID, follow_symlinks=False)


def collect_files(
    proc: subprocess.Popen,
    out_fd: int,
    err_fd: int,
    deadline: float,
    output_bytes: int,
    on_stdout: Callable[[bytes], None] | None = None,
) -> tuple[bytes, bytes, str]:
    """Wait for a sandbox writing its stdout and stderr to the files ``out_fd`` and
    ``err_fd`` until it ends or ``deadline`` (a ``time.perf_counter()`` value) passes or it
    wrote more than ``output_bytes`` (then its process group is killed); return (stdout,
    stderr, limit) as :func:`collect` does, each read up to ``output_bytes`` + 1 bytes.

    The sizes are looked at every few milliseconds (more often at first), so a flood can
    write past ``output_bytes`` until the next look, never past the file size limit
    (RLIMIT_FSIZE): an output past ``output_bytes`` is the output limit whatever signal
    then ended the run.

    ``on_stdout``: handed what stdout gained at each look (every 2 ms then), up to its
    last newline, while the sandbox runs and the output is within ``output_bytes``; a
    callback that raises is not called again."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:  # a kernel before 5.3: look every few milliseconds instead
        pidfd = None
    limit = ""
    try:
        poller = select.poll()
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        interval = 0.002 if on_stdout else 0.005
        handed = 0  # stdout bytes handed to on_stdout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                limit = "time"
                break
            wait = min(remaining, interval if pidfd is not None else 0.002)
            if pidfd is not None and poller.poll(wait * 1000):
                break  # it ended
            if pidfd is None:
                time.sleep(wait)
                if proc.poll() is not None:
                    break
            written = _size(out_fd)
            if written + _size(err_fd) > output_bytes:
                limit = "output"
                break
            if on_stdout is not None:
                if written > handed:
                    piece = os.pread(out_fd, written - handed, handed)
                    piece = piece[: piece.rfind(b"\n") + 1]
                    if piece:
                        handed += len(piece)
                        try:
                            on_stdout(piece)
                        except Exception:
                            on_stdout = None
                            interval = 0.005
            else:
                interval = min(interval * 2, 0.04)
    finally:
        if pidfd is not None:
            os.close(pidfd)
    limit = _end(proc, limit, deadline)
    if _size(out_fd) + _size(err_fd) > output_bytes:
        limit = "output"
    out, err = _read_file(out_fd, output_bytes + 1), _read_file(err_fd, output_bytes + 1)
    return out, err, limit or _limit_of_exit(proc.returncode)


def _end(proc: subprocess.Popen, limit: str, deadline: float) -> str:
    """Kill the run's process group when a limit ended it, and reap it (killed too if it
    outlives the deadline). Returns the limit, "time" when the deadline ended it here."""
    if limit:
        _kill(proc)
    try:
        proc.wait(timeout=5 if limit else max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        limit = limit or "time"
        _kill(proc)
        proc.wait()
    return limit


def _size(fd: int) -> int:
    return os.fstat(fd).st_size


def _read_file(fd: int, most: int) -> bytes:
    chunks, left, offset = [], min(most, _size(fd)), 0
    while left > 0:
        chunk = os.pread(fd, min(left, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _limit_of_exit(rc: int | None) -> str:
    """The limit a signal that ended the run stands for ("" when none): bubblewrap reports a
    signal that ended the command as 128 + its number."""
    if rc is None or 0 <= rc <= 128:
        return ""
    sig = -rc if rc < 0 else rc - 128
    return {signal.SIGXCPU: "cpu", signal.SIGKILL: "cpu", signal.SIGXFSZ: "file"}.get(sig, "")


def collect(
    proc: subprocess.Popen, deadline: float, output_bytes: int, *, keep_within: bool = False
) -> tuple[bytes, bytes, str]:
    """Read a sandboxed process's stdout and stderr until both close, ``deadline`` (a
    ``time.perf_counter()`` value) passes or more than ``output_bytes`` came (then its
    process group is killed); wait for it. Returns (stdout, stderr, limit): limit "" or
    which one ended it — time, output, or from the signal that ended it, cpu or file.
    ``keep_within``: keep at most ``output_bytes`` of what was read (else all of it)."""
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    total, limit = 0, ""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    open_streams = 2
    while open_streams and not limit:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            limit = "time"
            break
        for key, _ in sel.select(timeout=min(remaining, 0.5)):
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            chunks[key.data].append(data[: max(0, output_bytes - total)] if keep_within else data)
            total += len(data)
            if total > output_bytes:
                limit = "output"
                break
    limit = _end(proc, limit, deadline)
    sel.close()
    proc.stdout.close()
    proc.stderr.close()
    return b"".join(chunks["stdout"]), b"".join(chunks["stderr"]), limit or _limit_of_exit(proc.returncode)


def _looks_out_of_memory(stderr: str) -> bool:
    return "out of memory" in stderr or "cannot allocate memory" in stderr.lower()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
