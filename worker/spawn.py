"""Start a sandbox's outer process (bubblewrap) with its limits: one way for both sandboxes.

The limits (CPU time, address space, written file size, no core files, open files,
processes) and the drop to an unprivileged user must be in place before bubblewrap runs.
A Python ``preexec_fn`` would do it, but it makes ``subprocess`` fork the whole worker
process and run Python in the child: 8.5 ms per start from a Django worker, measured.
``ee-launch`` (worker/launcher/launch.c, a small C program built at install time next to
the toolchains) applies them and execs the command, and the worker starts it with vfork:
about 1 ms. Without the launcher (not built yet, or no C compiler), the pre-exec hook does
the same.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("worker.spawn")
LAUNCHER_SOURCE = Path(__file__).resolve().parent / "launcher" / "launch.c"


@dataclass(frozen=True)
class ProcessLimits:
    cpu_seconds: int
    memory_bytes: int  # address space
    file_bytes: int
    processes: int  # of the user the command runs as (threads count)
    open_files: int = 0  # 0: unchanged
    nice: int = 0  # 0: unchanged
    uid: int | None = None  # run as this user and group (the worker runs as root)
    gid: int | None = None


def launcher_path() -> Path:
    from .toolchains import home

    return home() / "bin" / "ee-launch"


_warned: set[Path] = set()


def launcher() -> str | None:
    """The launcher's path when it is built, else None (the slower pre-exec hook is used)."""
    path = launcher_path()
    if os.access(path, os.X_OK):
        return str(path)
    if path not in _warned:
        _warned.add(path)
        log.warning("%s is missing (python -m worker.toolchains install builds it): sandboxes start slower", path)
    return None


def launcher_argv(limits: ProcessLimits) -> list[str]:
    """The launcher's options for ``limits`` (without the launcher itself and ``--``)."""
    argv = [
        f"-cpu={limits.cpu_seconds}",
        f"-as={limits.memory_bytes}",
        f"-fsize={limits.file_bytes}",
        f"-nproc={limits.processes}",
    ]
    if limits.open_files:
        argv.append(f"-nofile={limits.open_files}")
    if limits.nice > 0:
        argv.append(f"-nice={limits.nice}")
    if limits.uid is not None:
        argv += [f"-uid={limits.uid}", f"-gid={limits.gid}"]
    return argv


def popen(argv: list[str], limits: ProcessLimits, **popen_args) -> subprocess.Popen:
    """``subprocess.Popen(argv, …)`` in a new session, within ``limits``: through the
    launcher when it is built, else through the pre-exec hook."""
    path = launcher()
    if path is not None:
        return subprocess.Popen([path, *launcher_argv(limits), "--", *argv], start_new_session=True, **popen_args)
    return subprocess.Popen(argv, preexec_fn=_apply_in_child(limits), **popen_args)


def _apply_in_child(limits: ProcessLimits):
    def apply() -> None:
        os.setsid()
        if limits.nice > 0:
            os.nice(limits.nice)
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if limits.open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if limits.uid is not None:
            os.setgroups([])
            os.setgid(limits.gid)
            os.setuid(limits.uid)
        hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        allowed = limits.processes if hard == resource.RLIM_INFINITY else min(limits.processes, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (allowed, allowed))

    return apply
