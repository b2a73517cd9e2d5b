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
only ever see the compiler's own output); ``large_copy_diagnostics`` turns the ``copy``
entries into ``large-copy`` diagnostics. Only ``copy`` is used: every other code of the
log (escape, leak, canInlineFunction, nilcheck, isInBounds, …) repeats what the text
output already says, and says less.

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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from worker.analysis import Diagnostic

FRAME_PREFIX = "#ee-logopt"
COPY_MESSAGE_RE = re.compile(r"^(\d+) bytes$")
# Codes the runner is asked to keep (others would only inflate the output).
CODES = ("copy",)


@dataclass
class LogoptFile:
    path: str  # relative to the log directory, e.g. "main/main.json" (package/file, URL-escaped)
    header: dict[str, Any] = field(default_factory=dict)  # version, package, goos, goarch, gc_version, file
    entries: list[dict[str, Any]] = field(default_factory=list)


def new_marker() -> str:
    """A nonce for one run's frame lines: compiler output quoting user text cannot forge it."""
    return secrets.token_hex(16)


def split_frames(stdout: str, marker: str) -> tuple[str, list[LogoptFile]]:
    """(the compiler's own stdout, the framed log files) of a runner's stdout.

    The frames follow everything the compiler printed (the runner prints them after the
    compiler exited); the first frame line ends the compiler's part even when the
    compiler's last line had no newline. Lines of a frame that are not JSON objects are
    skipped; a frame cut short (an output limit) keeps what it has.
    """
    start = stdout.find(f"{FRAME_PREFIX} {marker} begin ")
    if start < 0:
        return stdout, []
    own, framed = stdout[:start], stdout[start:]
    begin, end = f"{FRAME_PREFIX} {marker} begin ", f"{FRAME_PREFIX} {marker} end"
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


def large_copy_diagnostics(files: list[LogoptFile]) -> list[Diagnostic]:
    """One synthetic ``large-copy`` diagnostic per ``copy`` entry (the compiler logs moves
    and zeroings of >= 128 bytes it lowers to bulk copies), in log order."""
    found = []
    for log in files:
        file = file_name(str(log.header.get("file", "")))
        for entry in log.entries:
            if entry.get("code") != "copy":
                continue
            message = str(entry.get("message", ""))
            m = COPY_MESSAGE_RE.match(message)
            if not m:
                continue
            line, column = _position(entry)
            inlined = [
                (file_name(str(info["location"].get("uri", ""))), *_position(info["location"]))
                for info in entry.get("relatedInformation") or []
                if info.get("message") == "inlineLoc" and isinstance(info.get("location"), dict)
            ]
            size = int(m.group(1))
            found.append(
                Diagnostic(
                    file=file,
                    line=line,
                    column=column,
                    kind="large-copy",
                    message=f"large copy: {size} bytes",
                    details={
                        "synthetic": True,
                        "source": "logopt",
                        "bytes": size,
                        # positions inside inlined bodies, outermost first ([] when the
                        # copy is the function's own code)
                        "inlined_positions": [f"{f}:{ln}:{col}" for f, ln, col in inlined],
                    },
                )
            )
    return found
