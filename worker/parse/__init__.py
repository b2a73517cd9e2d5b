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

from dataclasses import dataclass, field

from worker.analysis import Diagnostic, Function
from worker.parse.asm import is_asm_line, parse_asm
from worker.parse.diagnostics import POSITION_RE, diagnostic_lines, parse_diagnostics
from worker.parse.link import attribute, heap_alloc_diagnostics
from worker.parse.logopt import LogoptFile, logopt_diagnostics

__all__ = ["ParsedOutput", "diagnostic_lines", "parse_compiler_output", "split_output"]


@dataclass
class ParsedOutput:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "main.go:5:2: undefined: x", …
    unparsed: list[str] = field(default_factory=list)  # lines neither diagnostics nor assembly


def split_output(text: str) -> tuple[list[str], list[str]]:
    """(diagnostic lines, assembly lines) of the stream, each in output order.

    A line with a position prefix is a diagnostic even if it could also pass for a
    symbol header; the assembly's own lines are recognised by their shapes.
    """
    diagnostic: list[str] = []
    assembly: list[str] = []
    for line in text.splitlines():
        if POSITION_RE.match(line) or not is_asm_line(line):
            diagnostic.append(line)
        else:
            assembly.append(line)
    return diagnostic, assembly


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
    diagnostic_text, assembly_text = split_output(text)
    functions = parse_asm(assembly_text)
    failed = exit_code != 0 if exit_code is not None else not functions and _has_unknown_line(diagnostic_text)
    parsed = parse_diagnostics(diagnostic_text, failed=failed)
    copies = logopt_diagnostics(logopt or [])
    # After the text's diagnostics: every "inlining call" line counts for the copies.
    attribute(parsed.diagnostics + copies, functions, package)
    diagnostics = parsed.diagnostics + heap_alloc_diagnostics(functions) + copies
    for d in diagnostics:
        d.details.setdefault("user_file", d.file in user_files)
    return ParsedOutput(diagnostics=diagnostics, functions=functions, errors=parsed.errors, unparsed=parsed.unparsed)


def _has_unknown_line(lines: list[str]) -> bool:
    return any(
        d.kind == "error" or (d.kind == "other" and not d.details.get("note"))
        for d in parse_diagnostics(lines).diagnostics
    )
