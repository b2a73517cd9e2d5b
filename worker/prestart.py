"""A compile sandbox started ahead, one per worker process: the next compile skips the
sandbox's start, and most often the compiler's own.

Starting a sandbox (the launcher's limits, bubblewrap's namespaces and mounts, the
runner's own start) takes longer than compiling a small program, and the compiler's own
start (its runtime, its packages' initialisation, its flags, the standard library's
import configuration) ~4.5 ms more (``make bench`` shows the engine both ways). So after
each job, while nobody waits, the worker starts the sandbox its next compile will most
likely need (the same toolchain and limits; :func:`prepare`), its runner waiting for the
request on stdin (worker/runner, ``-request``) and, with an ``ahead`` plan, the compiler
already running with the argv the next compile would most likely have (the last one's
shape), waiting in its first read of a source file: a named pipe the runner fills when
the request comes. A compile takes it (:func:`take`) when toolchain and limits match; it
then sends only its files' text when its argv is the planned one, else a whole request
(the runner ends the planned compiler first). Each sandbox is used once; at most one
waits per process, and it ends with the process (bubblewrap's --die-with-parent).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from . import sandbox, toolchains

log = logging.getLogger("worker.prestart")


@dataclass
class Ready:
    sandbox: sandbox.StartedAhead
    ahead: dict | None  # the runner's -ahead request (without the files' text) it started with


_Key = tuple[str, tuple[str, ...], sandbox.Limits]
_ready: dict[_Key, Ready] = {}
_pid = os.getpid()


def _key(tc: toolchains.Toolchain, limits: sandbox.Limits) -> _Key:
    return (str(tc.runner), tuple(str(p) for p in tc.sandbox_paths()), limits)


def _forget_inherited() -> None:
    """A forked child does not own its parent's sandbox (nor can it wait for it)."""
    global _pid
    if _pid != os.getpid():
        _ready.clear()
        _pid = os.getpid()


def take(tc: toolchains.Toolchain, limits: sandbox.Limits) -> Ready | None:
    """The sandbox started ahead for this toolchain and these limits, if one waits; it is
    no longer kept here (the caller uses it or discards it)."""
    _forget_inherited()
    ready = _ready.pop(_key(tc, limits), None)
    if ready is None:
        return None
    if ready.sandbox.waiting():
        return ready
    # It ended on its own: a runner built before -request existed, or killed from outside.
    log.warning("a sandbox started ahead for %s ended before it was used", tc.version)
    ready.sandbox.discard()
    return None


def prepare(tc: toolchains.Toolchain, limits: sandbox.Limits, ahead: dict | None = None) -> bool:
    """Start a sandbox for the next compile with this toolchain and these limits (with
    ``ahead``, the runner's request without the files' text, its compiler too), unless one
    waits already; one waiting for other settings is ended. False when none could start
    (the compile then starts its own)."""
    _forget_inherited()
    key = _key(tc, limits)
    if key in _ready and _ready[key].sandbox.waiting():
        return True
    discard_all()
    if not tc.has_runner():
        return False
    command = [str(tc.runner), "-request"] + (["-ahead", json.dumps(ahead)] if ahead else [])
    try:
        started = sandbox.StartedAhead(command, ro_paths=[Path(p) for p in tc.sandbox_paths()], limits=limits)
    except (OSError, sandbox.SandboxUnavailable) as exc:
        log.warning("could not start a sandbox ahead: %s", exc)
        return False
    _ready[key] = Ready(started, ahead)
    return True


def discard_all() -> None:
    """End every sandbox waiting here (settings changed, the process is ending, tests)."""
    _forget_inherited()
    while _ready:
        _, ready = _ready.popitem()
        ready.sandbox.discard()


def waiting_count() -> int:
    _forget_inherited()
    return sum(1 for ready in _ready.values() if ready.sandbox.waiting())
