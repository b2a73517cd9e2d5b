"""Parse the combined stdout/stderr of ONE ``compile`` run.

The stream interleaves diagnostics (``-m=2``, ``-d=wb,…``, errors), the ``-S=2``
listing and the ``-d=pctab=pctoinline`` dump. ``parse_compiler_output`` splits it and
dispatches: ``diagnostics`` for positioned lines, ``asm`` for the listing and the pctab
dump, ``link`` to cross-reference them. The optimization log (``-json``), which the
sandbox runner appends to stdout in frames, is cut off first (``logopt.split_frames``)
and only what the text lacks becomes diagnostics (``logopt.logopt_diagnostics``: large
copies, calls not inlined at their site).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from worker.analysis import Diagnostic, Function
from worker.parse.asm import _SYMBOL_RE as SYMBOL_RE
from worker.parse.asm import AsmReader, PreparedListing, is_asm_line, runtime_callee
from worker.parse.diagnostics import POSITION_RE, DiagnosticReader, classify, diagnostic_lines
from worker.parse.link import attribute, heap_alloc_diagnostics
from worker.parse.logopt import LogoptFile, logopt_diagnostics

__all__ = ["OutputReader", "ParsedOutput", "diagnostic_lines", "is_diagnostic", "parse_compiler_output", "split_output"]


@dataclass
class ParsedOutput:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "main.go:5:2: undefined: x", …
    unparsed: list[str] = field(default_factory=list)  # lines neither diagnostics nor assembly


def is_diagnostic(line: str) -> bool:
    """Whether a line of the stream is a diagnostic rather than the assembly listing's or
    the pctab dump's. A line with a position prefix is a diagnostic even if it could also
    pass for a symbol header; the assembly's own lines are recognised by their shapes."""
    # A position never starts with a blank (POSITION_RE): such lines need only the one test.
    return (line[:1] not in ("\t", " ") and POSITION_RE.match(line) is not None) or not is_asm_line(line)


def split_output(text: str) -> tuple[list[str], list[str]]:
    """(diagnostic lines, assembly lines) of the stream, each in output order."""
    diagnostic: list[str] = []
    assembly: list[str] = []
    for line in text.splitlines():
        (diagnostic if is_diagnostic(line) else assembly).append(line)
    return diagnostic, assembly


# Runs of the listing's hex dump and relocation lines (of printable ASCII, so that they are
# lines to str.splitlines too), each after a newline. No reader but the jump tables'
# (worker/cfg.py, which reads the text itself) looks at them: OutputReader drops them before
# splitting (a third of a listing's lines; one regular expression instead of a loop each).
_INERT_RUNS = re.compile(r"\n(?:\t(?:0x[0-9a-f]+(?: [0-9a-f]{2})+ |rel \d+\+\d+ t=)[ -~]*\n)+")


class OutputReader:
    """:func:`parse_compiler_output` of a stream read as it arrives: :meth:`feed` it whole
    lines in pieces, in order, while the compiler still prints, then :meth:`finish` with
    the rest. The decisions are read as if the compile succeeded; when it turns out to have
    failed they are read again (a failed compile prints little)."""

    def __init__(self, prepare: bool = False) -> None:
        """``prepare``: the output arrives in pieces; read each function's instructions off
        its pctab dump as soon as it ends, and take them instead of reading its listing
        again when the listing's lines are the same (:class:`worker.parse.asm.AsmReader`)."""
        self.diagnostic_lines: list[str] = []
        self.asm = AsmReader(prepare)
        self._diagnostics = DiagnosticReader(failed=False)
        self._notes = CompileNoteOrder()

    def feed(self, text: str) -> None:
        """Read ``text``, whole lines (or the stream's last piece)."""
        lines = _INERT_RUNS.sub("\n", text).splitlines()
        diagnostic: list[str] = []
        assembly: list[str] = []
        taken: list[tuple[int, int]] = []  # line ranges of listings taken as prepared
        asm = self.asm
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            i += 1
            if is_diagnostic(line):
                diagnostic.append(line)
                continue
            assembly.append(line)
            if asm.prepared and " STEXT " in line:
                m = SYMBOL_RE.match(line)
                prepared = m and m["type"] == "STEXT" and asm.prepared_listing(m["name"])
                if prepared and lines[i : i + len(prepared[0])] == prepared[0]:
                    listing = PreparedListing()
                    listing.function = prepared[1]
                    assembly.append(listing)
                    taken.append((i, i + len(prepared[0])))
                    i += len(prepared[0])
        self.diagnostic_lines += diagnostic
        self._diagnostics.feed(diagnostic)
        asm.feed(assembly)
        if taken:  # no note is among a listing's instructions
            kept, at = [], 0
            for start, end in taken:
                kept += lines[at:start]
                at = end
            lines = kept + lines[at:]
        self._notes.feed(lines)

    def finish(
        self,
        rest: str,
        user_files: list[str],
        *,
        exit_code: int | None = None,
        package: str = "main",
        logopt: list[LogoptFile] | None = None,
    ) -> ParsedOutput:
        """Read ``rest``, the stream's end, and return the whole parse (arguments as
        :func:`parse_compiler_output`'s)."""
        self.feed(rest)
        functions = self.asm.finish()
        parsed = self._diagnostics.finish()
        if exit_code is not None:
            failed = exit_code != 0
        else:
            failed = not functions and any(
                d.kind == "error" or (d.kind == "other" and not d.details.get("note")) for d in parsed.diagnostics
            )
        if failed:
            again = DiagnosticReader(failed=True)
            again.feed(self.diagnostic_lines)
            parsed = again.finish()
        copies = logopt_diagnostics(logopt or [])
        # After the text's diagnostics: every "inlining call" line counts for the copies.
        attribute(parsed.diagnostics + copies, functions, package)
        self._notes.attribute(parsed.diagnostics, functions)
        diagnostics = parsed.diagnostics + heap_alloc_diagnostics(functions) + copies
        for d in diagnostics:
            d.details.setdefault("user_file", d.file in user_files)
        return ParsedOutput(
            diagnostics=diagnostics, functions=functions, errors=parsed.errors, unparsed=parsed.unparsed
        )


def parse_compiler_output(
    text: str,
    user_files: list[str],
    *,
    exit_code: int | None = None,
    package: str = "main",
    logopt: list[LogoptFile] | None = None,
) -> ParsedOutput:
    """Parse one compile run's output.

    ``user_files``: the user's file names (as passed to the compiler, e.g. "main.go").
    ``exit_code``: the compiler's exit status when known; otherwise a run that produced
    no functions and some unrecognised positioned line is taken as failed.
    ``logopt``: the run's optimization log files (``logopt.split_frames``), if any.
    """
    return OutputReader().finish(text, user_files, exit_code=exit_code, package=package, logopt=logopt)


# What the backend prints while it compiles one function (-d=wb, -d=ssa/check_bce, -d=nil).
_COMPILE_NOTES = frozenset({"write-barrier", "bounds-check", "nil-check"})
# How their messages end ("write barrier", "Found IsInBounds", "generated nil check"): each is
# a whole line, so only lines ending so are asked of diagnostics.classify.
_COMPILE_NOTE_ENDS = ("write barrier", "InBounds", "nil check")
_PCTAB_RE = re.compile(r"^funcpctab (?P<name>.+) \[valfunc=pctoinline\]$")
# Walk says "write barrier" for a pointerful copy, append or clear, compiled to one of these.
_WALK_BARRIER_CALLS = frozenset({"runtime.typedslicecopy", "runtime.memclrHasPointers"})


class CompileNoteOrder:
    """The function of each write barrier, bounds check and nil check: the one being compiled
    when it was printed, not the one whose lines contain it. :meth:`feed` every line of the
    stream in order, then :meth:`attribute`.

    Positions cannot tell apart functions that share lines: the instantiations of a generic
    function, a closure and the wrapper of its ``go`` statement, the copies of an inlined
    closure, wrappers and package initializers (all at ``<autogenerated>:1``). The order can:
    with ``-m`` every warning is printed as it is made, and with ``-c 1`` functions are
    compiled one after the other, each followed by its ``funcpctab F [valfunc=pctoinline]``
    dump. Walk, which runs for every function before the first is compiled, prints a
    "write barrier" for each pointerful copy, append or clear: such a note, on a line where
    the next function has no code, goes to the one function calling typedslicecopy or
    memclrHasPointers there. Without ``-m`` the warnings are buffered and printed, sorted,
    after the last dump: then, as without a dump, positions stay.
    """

    def __init__(self) -> None:
        self.names: list[str] = []  # the function compiled when each note was printed
        self.pending = 0  # notes printed since the last dump

    def feed(self, lines: list[str]) -> None:
        names, pending = self.names, self.pending
        for line in lines:
            if line.startswith("funcpctab "):
                m = _PCTAB_RE.match(line)
                if m:
                    names += [m["name"]] * pending
                    pending = 0
                continue
            if not line.endswith(_COMPILE_NOTE_ENDS) or line[:1] in ("\t", " "):
                continue  # not a note (their messages are whole lines), or never a position
            m = POSITION_RE.match(line)
            if m and m["msg"] is not None and (known := classify(m["msg"])) and known[0] in _COMPILE_NOTES:
                pending += 1
        self.pending = pending

    def attribute(self, diagnostics: list[Diagnostic], functions: list[Function]) -> None:
        names, pending = self.names, self.pending
        notes = [d for d in diagnostics if d.kind in _COMPILE_NOTES and d.line]
        if pending or not names or len(names) != len(notes):
            return
        code: dict[str, set[tuple[str, int]]] = defaultdict(set)
        walk_sites: dict[tuple[str, int], set[str]] = defaultdict(set)
        for fn in functions:
            code[fn.name].update((a.file, a.line) for a in fn.asm)
            for a in fn.asm:
                if "runtime." in a.text and runtime_callee(a.text) in _WALK_BARRIER_CALLS:
                    walk_sites[(a.file, a.line)].add(fn.name)
        for d, name in zip(notes, names, strict=True):
            here = (d.file, d.line)
            sites = walk_sites.get(here, set()) if d.kind == "write-barrier" and here not in code[name] else set()
            if len(sites) > 1:
                continue  # a walk note of one of several functions: the position's guess stays
            d.function = next(iter(sites)) if sites else name
