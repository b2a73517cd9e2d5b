"""Run a user's program (a binary we built) under a stricter sandbox than the compiler's.

Knows nothing about Go. The walls (docs/SECURITY.md, "The run sandbox"):

- bubblewrap with every namespace unshared: no network (an empty network namespace), its
  own PID namespace (the program sees only itself; its own ``/proc``, never the host's),
  IPC, UTS and cgroup namespaces, a user namespace in which no further ones may be made;
- a filesystem of nothing but the program's own directory (read-only), a minimal ``/dev``
  and a small private tmpfs at ``/tmp`` (``tmpfs_bytes``); the root itself is remounted
  read-only; no toolchain, no ``/usr``, no ``/etc``;
- the seccomp filter of the compiler's sandbox (worker/seccomp.py);
- rlimits: CPU seconds, address space (the memory limit: per process, so together with the
  process limit it bounds the whole tree), processes/threads, open files, file size, no
  core dumps; as root, the program runs as a user of its own (``RUN_UID``), so its process
  count is not shared with the compiler's sandboxes (which run as nobody);
- a wall clock, after which the whole sandbox is killed (bubblewrap is PID 1 of the
  namespace: when it dies, the kernel kills everything in it), and an output cap.

The memory limit is the address-space limit (``MEMORY_LIMIT_KIND``): this host's cgroups
are v1 without delegation, so a cgroup-v2 limit for the whole tree is not available.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import sandbox, seccomp, spawn
from .sandbox import bwrap_path

RUN_UID = 65533  # "nogroup"-range id, not nobody: the compiler sandboxes' thread count is not ours
RUN_GID = 65533
MEMORY_LIMIT_KIND = "address-space"
PROGRAM_DIR = "/run/ee"  # where the program's directory is bound (read-only) inside


@dataclass(frozen=True)
class RunLimits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 8
    # address space per process: the Go runtime reserves ~700 MiB of it at start, so 1 GiB
    # leaves a heap of about 300 MiB (measured, go1.27.3)
    memory_bytes: int = 1024**3
    processes: int = 64  # threads count too (the Go runtime makes a few)
    open_files: int = 64
    file_bytes: int = 4 * 1024**2  # largest file the program may write (in its tmpfs)
    tmpfs_bytes: int = 16 * 1024**2
    output_bytes: int = 4 * 1024**2  # stdout + stderr captured, then the run is stopped

    def describe(self) -> dict:
        return {**asdict(self), "memory_limit": MEMORY_LIMIT_KIND, "network": False}


@dataclass
class RunResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    wall_ms: float
    limit: str = ""  # "" or the wall that ended the run: time, cpu, memory, output, file


def build_argv(program_dir: Path, command: list[str], env: dict[str, str], limits: RunLimits) -> list[str]:
    argv = [
        bwrap_path(),
        "--unshare-all",  # network, pid, ipc, uts, cgroup
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--hostname",
        "sandbox",
        "--proc",
        "/proc",  # the sandbox's own PID namespace: only its own processes
        "--dev",
        "/dev",
        "--size",
        str(limits.tmpfs_bytes),
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        str(program_dir),
        PROGRAM_DIR,
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "TMPDIR",
        "/tmp",
    ]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


def run(
    program_dir: Path, command: list[str], *, env: dict[str, str] | None = None, limits: RunLimits = RunLimits()
) -> RunResult:
    """Run ``command`` (its first word a file of ``program_dir``, named by its path inside,
    under ``PROGRAM_DIR``) in a fresh run sandbox, within ``limits``."""
    as_root = os.geteuid() == 0
    if as_root:  # the program's user must be able to read and execute it
        os.chmod(program_dir, 0o755)
    argv = build_argv(program_dir, command, env or {}, limits)
    filter_fd = seccomp.filter_fd()
    if filter_fd is not None:
        argv += ["--seccomp", str(filter_fd)]
    argv += ["--", *command]
    try:
        return _run(argv, limits, as_root, () if filter_fd is None else (filter_fd,))
    finally:
        if filter_fd is not None:
            os.close(filter_fd)


def _run(argv: list[str], limits: RunLimits, as_root: bool, pass_fds: tuple[int, ...]) -> RunResult:
    start = time.perf_counter()
    proc = spawn.popen(
        argv,
        sandbox.process_limits(limits, as_root, RUN_UID, RUN_GID),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        pass_fds=pass_fds,
    )
    stdout, stderr, limit = sandbox.collect(proc, start + limits.wall_seconds, limits.output_bytes, keep_within=True)
    rc = proc.returncode
    if not limit and rc != 0 and _out_of_memory(stderr):
        limit = "memory"
    return RunResult(
        returncode=rc,
        stdout=stdout,
        stderr=stderr,
        wall_ms=(time.perf_counter() - start) * 1000,
        limit=limit,
    )


def _out_of_memory(stderr: bytes) -> bool:
    text = stderr.lower()
    return (
        b"fatal error: out of memory" in text or b"runtime: out of memory" in text or b"cannot allocate memory" in text
    )
