"""A compile's output read while the compiler still runs.

The compiler prints as it goes: the ``-m`` decisions first, then, as soon as each function
is compiled (``-c 1``: one after the other), its pctab dump (``-d=pctab=pctoinline``: each
instruction with the inlined call it came from) and inlining tree; the ``-S=2`` listing of
every symbol comes only at the end. :class:`CompileStream` is handed each new piece of the
sandbox's stdout (:func:`worker.sandbox.run`'s ``on_stdout``, whole lines, every 2 ms) and
reads it at once, on the worker's other core while the compiler runs on one: the decisions
are parsed, each function's instructions read off its dump as soon as the dump ends, and
its loops found. When the listing comes, a function whose instruction lines equal its
dump's rows takes what was read (one list comparison; any other is read line by line).
At 500 lines the ~60 ms of reading that followed the compile became ~20 (the listing's
piece ~7, the cross-references, loop marks and checks ~12). The raw output, which is
stored gzip'd, is compressed piece by piece too (``StreamedParse.raw_output_gz``): at 500
lines 1.4 MB, ~6 ms less after the compile.

The result is that of reading the whole output at once (:func:`worker.parse.parse_compiler_output`
and :func:`worker.loops.mark_loops`): the pieces are whole lines, the same readers run
over the same lines in the same order, and :meth:`CompileStream.finish` checks that what
was read is the start of the compiler's output as finally cut from the runner's frames;
when it is not (or reading a piece failed) the output is read again whole.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from . import cfg
from .analysis import SourceFile
from .loops import FunctionLoops, function_loops
from .parse import OutputReader, ParsedOutput
from .parse.logopt import LogoptFile, frame_begin

log = logging.getLogger("worker.streaming")


@dataclass
class StreamedParse:
    """What :meth:`CompileStream.finish` returns: the parse and what the loop marking needs."""

    parsed: ParsedOutput
    loops: dict[int, FunctionLoops] = field(default_factory=dict)  # by id of the function
    jump_tables: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    raw_output_gz: bytes = b""  # the whole output (``finish``'s), gzip'd at level 1


class CompileStream:
    """The output of one compile under the runner (``marker``: its frames' nonce), read in
    pieces; ``rewrite_paths`` is what the engine does to the whole output's text (it cuts
    the sandbox's input directory: ``compiler.rewrite_paths``), done to each piece."""

    def __init__(self, marker: str, rewrite_paths: Callable[[str], str], goarch: str) -> None:
        self.goarch = goarch
        self._frame_start = frame_begin(marker)
        self._rewrite_paths = rewrite_paths
        self._reader = OutputReader(prepare=True)
        self._tables = cfg.JumpTableReader()
        self._pieces: list[str] = []  # what was read, as text
        self._gzip = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: the gzip format
        self._gzipped: list[bytes] = []
        self._pending = b""  # bytes after the last newline, not yet read
        self._looked = 0  # functions whose loops were looked for
        self._looked_prepared = 0
        # by id of a function read off its dump: its loops, and how many instructions it had then
        self._loops_prepared: dict[int, tuple[FunctionLoops | None, int]] = {}
        self._loops: dict[int, FunctionLoops] = {}
        self._open = True  # False: the runner's frames began, or reading failed
        self._failed = False
        self.read_chars = 0  # how much of the output was read as it came
        self.read_whole = False  # finish found it unusable: the output was read whole

    def feed_bytes(self, data: bytes) -> None:
        """Read the next piece of stdout (the sandbox's ``on_stdout``)."""
        if not self._open:
            return
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        if not cut:
            return
        text = data[:cut].decode("utf-8", "replace")  # a newline never splits a character
        frames = text.find(self._frame_start)
        if frames >= 0:  # the compiler has ended: what follows is the runner's, read whole
            self._open = False
            text = text[: text.rfind("\n", 0, frames) + 1]
            if not text:
                return
        text = self._rewrite_paths(text)  # a path has no newline: piece by piece is the same
        try:
            self._reader.feed(text)
            self._read_jump_tables(text)
            self._find_loops()
        except Exception:
            log.exception("reading the compiler's output as it came failed; it is read whole")
            self._open, self._failed = False, True
            return
        self._pieces.append(text)
        self._gzipped.append(self._gzip.compress(text.encode("utf-8")))
        self.read_chars += len(text)

    def _read_jump_tables(self, text: str) -> None:
        if self._tables.inside or ".jump" in text:  # else no line of it is a jump table's
            self._tables.feed(text.splitlines())

    def _find_loops(self) -> None:
        asm = self._reader.asm
        # The functions read off their pctab dumps: their loops while the compiler runs on.
        while self._looked_prepared < len(asm.prepared):
            fn = asm.prepared[self._looked_prepared]
            self._looked_prepared += 1
            self._loops_prepared[id(fn)] = (self._loops_of(fn), len(fn.asm))
        functions, complete = asm.functions, asm.complete
        while self._looked < complete:
            fn = functions[self._looked]
            self._looked += 1
            if not fn.asm:
                continue
            read = asm.adopted.get(id(fn))  # its instructions read off its dump (the same list)
            found, length = self._loops_prepared.get(id(read), (None, -1)) if read is not None else (None, -1)
            if length != len(fn.asm):  # not read off a dump, or the listing had more: look now
                found = self._loops_of(fn)
            if found is not None:
                self._loops[id(fn)] = dataclasses.replace(found, fn=fn)

    def _loops_of(self, fn) -> FunctionLoops | None:
        try:
            found = function_loops(fn, self.goarch, cfg.TABLES_PENDING)
            found.index()  # what the loop marking looks up, while there is time
            return found
        except cfg.TablesPending:
            return None  # a switch's jump table: found at the end, when the tables are read

    @property
    def listings_read_early(self) -> int:
        """How many functions' instructions were read off their pctab dumps, not the listing."""
        return len(self._reader.asm.adopted)

    def finish(
        self,
        output: str,
        user_files: list[str],
        *,
        exit_code: int,
        package: str,
        logopt: list[LogoptFile],
    ) -> StreamedParse | None:
        """The parse of ``output`` (the compiler's stdout cut from the frames, paths cut,
        then its stderr), or None when what was read is not its start."""
        read = "".join(self._pieces)
        if self._failed or not output.startswith(read):
            if not self._failed:
                log.warning("the output read as it came is not the output's start; it is read whole")
            self.read_whole = True
            return None
        rest = output[len(read) :]
        self._read_jump_tables(rest)
        parsed = self._reader.finish(rest, user_files, exit_code=exit_code, package=package, logopt=logopt)
        gzipped = b"".join([*self._gzipped, self._gzip.compress(rest.encode("utf-8")), self._gzip.flush()])
        return StreamedParse(parsed, self._loops, self._tables.finish(), gzipped)


# Below this many characters of source a compile's output is read at the end, whole: it
# arrives in one or two pieces anyway (the listing and the dumps together), so reading it
# as it comes would only add CPU (~1 ms of a 20-line program's ~3 ms): nothing to overlap.
STREAM_FROM_CHARS = 4096


def for_request(
    marker: str, rewrite_paths: Callable[[str], str], goarch: str, files: list[SourceFile]
) -> CompileStream | None:
    """A stream for a compile of ``files``, or None when it is too small to gain from one."""
    if sum(len(f.text) for f in files) < STREAM_FROM_CHARS:
        return None
    return CompileStream(marker, rewrite_paths, goarch)
