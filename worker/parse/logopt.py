"""The compiler's optimization log (``-json=0,<dir>``), as framed by the sandbox runner.

The compiler writes LSP-shaped JSON (one file per source file: a header line, then one
diagnostic per line) into the sandbox's private ``/tmp``; ``worker/runner`` prints those
files to stdout after the compiler's own output, each between two lines carrying a nonce
chosen per run::

    #ee-logopt <nonce> begin main/main.json
    {"version":0,"package":"main",…,"file":"main.go"}
    {"range":{"start":{"line":21,"character":4},…},"code":"copy","message":"1024 bytes",…}
    #ee-logopt <nonce> end

``split_frames`` cuts them off the stream (the text parsers and ``Analysis.raw_output``
only ever see the compiler's own output); ``logopt_diagnostics`` turns the two codes
the text output lacks into diagnostics: ``copy`` entries become ``large-copy``, and
``cannotInlineCall`` entries that explain a call site (``cost 26 of main.medium exceeds
max caller cost 20``: the caller is "big", so its budget per call is smaller; a
recursive call) become ``call-not-inlined``. Every other code of the log (escape,
leak, canInlineFunction, nilcheck, isInBounds, …) repeats what the text output already
says, and says less; so do ``cannotInlineCall`` entries of the form ``f cannot be
inlined`` (the declaration's ``cannot inline f: reason`` says it, with the reason).

Positions: despite LSP's 0-based convention, the compiler writes ``src.Pos.Line()`` and
``Col()`` — 1-based line and byte column, exactly as in its text diagnostics — so they
are used as they are. The range is the outermost position (the call site in the user's
code when the copy happens in an inlined body); ``relatedInformation`` entries with the
message ``inlineLoc`` are the inlined positions, outermost first.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from worker.analysis import Diagnostic

FRAME_PREFIX = "#ee-logopt"
COPY_MESSAGE_RE = re.compile(r"^(\d+) bytes$")
# Codes the runner is asked to keep (others would only inflate the output).
CODES = ("copy", "cannotInlineCall")
CALLER_COST_RE = re.compile(r"^cost (\d+) of (\S+) exceeds max caller cost (\d+)$")
RECURSIVE_RE = re.compile(r"^(?:repeated )?recursive (?:call|cycle) to (\S+)$")


@dataclass
class LogoptFile:
    path: str  # relative to the log directory, e.g. "main/main.json" (package/file, URL-escaped)
    header: dict[str, Any] = field(default_factory=dict)  # version, package, goos, goarch, gc_version, file
    entries: list[dict[str, Any]] = field(default_factory=list)


def new_marker() -> str:
    """A nonce for one run's frame lines: compiler output quoting user text cannot forge it."""
    return secrets.token_hex(16)


def frame_begin(marker: str) -> str:
    """How the runner's first frame line starts: the first text that is not the compiler's."""
    return f"{FRAME_PREFIX} {marker} begin "


def split_frames(stdout: str, marker: str) -> tuple[str, list[LogoptFile]]:
    """(the compiler's own stdout, the framed log files) of a runner's stdout.

    The frames follow everything the compiler printed (the runner prints them after the
    compiler exited); the first frame line ends the compiler's part even when the
    compiler's last line had no newline. Lines of a frame that are not JSON objects are
    skipped; a frame cut short (an output limit) keeps what it has.
    """
    begin, end = frame_begin(marker), f"{FRAME_PREFIX} {marker} end"
    start = stdout.find(begin)
    if start < 0:
        return stdout, []
    own, framed = stdout[:start], stdout[start:]
    files: list[LogoptFile] = []
    current: LogoptFile | None = None
    for line in framed.splitlines():
        if line.startswith(begin):
            current = LogoptFile(line[len(begin) :])
            files.append(current)
        elif line == end:
            current = None
        elif current is not None and line.strip():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if not current.header and "range" not in record:
                current.header = record
            else:
                current.entries.append(record)
    return own, files


def file_name(uri_or_path: str) -> str:
    """A log's file reference ("main.go", "file://main.go", "file:///…/print.go") as the
    text diagnostics name it. The input directory's path is already cut off the stream
    (as for the text output), so the user's files come out as their plain names."""
    name = uri_or_path
    if name.startswith("file:"):
        parts = urlsplit(name)
        name = unquote(parts.netloc + parts.path)
    return name


def _position(record: dict[str, Any]) -> tuple[int, int]:
    start = (record.get("range") or {}).get("start") or {}
    return int(start.get("line") or 0), int(start.get("character") or 0)


def entries(files: list[LogoptFile], code: str) -> Iterator[tuple[str, int, int, str, dict[str, Any]]]:
    """(file, line, column, message, entry) of each entry with that code, in log order."""
    for log in files:
        file = file_name(str(log.header.get("file", "")))
        for entry in log.entries:
            if entry.get("code") == code:
                yield (file, *_position(entry), str(entry.get("message", "")), entry)


def large_copy_diagnostics(files: list[LogoptFile]) -> list[Diagnostic]:
    """One synthetic ``large-copy`` diagnostic per ``copy`` entry (the compiler logs moves
    and zeroings of >= 128 bytes it lowers to bulk copies), in log order."""
    found = []
    for file, line, column, message, entry in entries(files, "copy"):
        m = COPY_MESSAGE_RE.match(message)
        if not m:
            continue
        inlined = [
            (file_name(str(info["location"].get("uri", ""))), *_position(info["location"]))
            for info in entry.get("relatedInformation") or []
            if info.get("message") == "inlineLoc" and isinstance(info.get("location"), dict)
        ]
        size = int(m.group(1))
        details = {
            "synthetic": True,
            "source": "logopt",
            "bytes": size,
            # positions inside inlined bodies, outermost first ([] when the copy is the
            # function's own code)
            "inlined_positions": [f"{f}:{ln}:{col}" for f, ln, col in inlined],
        }
        found.append(Diagnostic(file, line, column, "large-copy", f"large copy: {size} bytes", details=details))
    return found


def call_not_inlined_diagnostics(files: list[LogoptFile]) -> list[Diagnostic]:
    """``call-not-inlined``: calls to an inlinable function that were not inlined at that
    site, with the compiler's reason verbatim (for example a caller too big for the
    callee's cost). Calls to functions that are never inlinable are left out."""
    found = []
    for file, line, column, message, _ in entries(files, "cannotInlineCall"):
        details: dict[str, Any] = {"synthetic": True, "source": "logopt"}
        if m := CALLER_COST_RE.match(message):
            details.update(subject=m.group(2), callee=m.group(2), cost=int(m.group(1)), max_cost=int(m.group(3)))
        elif m := RECURSIVE_RE.match(message):
            details.update(subject=m.group(1), callee=m.group(1), recursive=True)
        else:
            continue
        found.append(Diagnostic(file, line, column, "call-not-inlined", message, details=details))
    return found


def logopt_diagnostics(files: list[LogoptFile]) -> list[Diagnostic]:
    """Everything the log adds to the text output, in log order per kind."""
    return large_copy_diagnostics(files) + call_not_inlined_diagnostics(files)
