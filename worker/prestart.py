"""A compile sandbox started ahead, one per worker process: the next compile skips the
sandbox's start.

Starting a sandbox (the launcher's limits, bubblewrap's namespaces and mounts, the
runner's own start) takes longer than compiling a small program: ~11 ms of a 20-line
program's ~16 ms in the sandbox, measured (``make bench``). So after each job, while
nobody waits, the worker starts the sandbox its next compile will most likely need (the
same toolchain and limits; :func:`prepare`), its runner waiting for the request on stdin
(worker/runner, ``-request``). A compile takes it (:func:`take`) when it matches, else
starts its own as before. Each sandbox is used once; at most one waits per process, and
it ends with the process (bubblewrap's --die-with-parent).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from . import sandbox, toolchains

log = logging.getLogger("worker.prestart")

_Key = tuple[str, tuple[str, ...], sandbox.Limits]
_ready: dict[_Key, sandbox.StartedAhead] = {}
_pid = os.getpid()


def _key(tc: toolchains.Toolchain, limits: sandbox.Limits) -> _Key:
    return (str(tc.runner), tuple(str(p) for p in tc.sandbox_paths()), limits)


def _forget_inherited() -> None:
    """A forked child does not own its parent's sandbox (nor can it wait for it)."""
    global _pid
    if _pid != os.getpid():
        _ready.clear()
        _pid = os.getpid()


def take(tc: toolchains.Toolchain, limits: sandbox.Limits) -> sandbox.StartedAhead | None:
    """The sandbox started ahead for this toolchain and these limits, if one waits; it is
    no longer kept here (the caller uses it or discards it)."""
    _forget_inherited()
    ready = _ready.pop(_key(tc, limits), None)
    if ready is None:
        return None
    if ready.waiting():
        return ready
    # It ended on its own: a runner built before -request existed, or killed from outside.
    log.warning("a sandbox started ahead for %s ended before it was used", tc.version)
    ready.discard()
    return None


def prepare(tc: toolchains.Toolchain, limits: sandbox.Limits) -> bool:
    """Start a sandbox for the next compile with this toolchain and these limits, unless one
    waits already; one waiting for other settings is ended. False when none could start
    (the compile then starts its own)."""
    _forget_inherited()
    key = _key(tc, limits)
    if key in _ready and _ready[key].waiting():
        return True
    discard_all()
    if not tc.has_runner():
        return False
    try:
        _ready[key] = sandbox.StartedAhead(
            [str(tc.runner), "-request"], ro_paths=[Path(p) for p in tc.sandbox_paths()], limits=limits
        )
    except (OSError, sandbox.SandboxUnavailable) as exc:
        log.warning("could not start a sandbox ahead: %s", exc)
        return False
    return True


def discard_all() -> None:
    """End every sandbox waiting here (settings changed, the process is ending, tests)."""
    _forget_inherited()
    while _ready:
        _, ready = _ready.popitem()
        ready.discard()


def waiting_count() -> int:
    _forget_inherited()
    return sum(1 for ready in _ready.values() if ready.waiting())
