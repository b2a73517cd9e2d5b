"""``//line`` directives: found, disabled before compiling, and mapped afterwards.

Go source may say where its positions come from (cmd/compile, "Compiler Directives")::

    //line file.go:10          the next line is line 10 of file.go, columns unknown
    //line file.go:10:4        … and the character after the comment is column 4
    /*line file.go:10:4*/      the same, anywhere in a line, for the character after it
    //line :10                 no file name, no column: the file name becomes empty
    //line :10:4               no file name, a column: the most recent file name

The compiler then prints positions in that fictional file, which no page can place and
whose name is chosen by the author of the program (it may hold ``:``, blanks, Markdown,
HTML). So the engine never lets the compiler see a live directive: :func:`neutralize`
turns ``//line `` into ``//LINE `` and ``/*line `` into ``/*LINE `` (the compiler only
recognises the lower-case prefix followed by a blank), keeping every byte offset, line
and column, so every position the compiler prints is physical. :func:`directives` and
:func:`directive_position` then tell, for a physical position, what the directive would
have reported; :func:`annotate` records it on the decisions.

The rules, from ``cmd/compile/internal/syntax`` (parser.go ``init``/``updateBase``,
scanner.go), the same in Go 1.21 and 1.27:

* A ``//line`` comment is a directive only when it starts in column 1 (byte column, so not
  after a BOM); a ``/*line`` comment anywhere, if terminated. The text after ``line `` is
  peeled from the back: ``:digits`` is the line, or, when the part before it also ends in
  ``:digits``, those are line and column; the rest is the file name (it may hold blanks
  and colons). No ``:`` at all: not a directive. A bad number, line 0, column 0: the
  compiler reports an error and the directive has no effect.
* It applies from the character after the comment: for ``//line`` the start of the next
  line, for ``/*line*/`` the byte after ``*/`` on the line where the comment *starts*
  (what the compiler does for one spanning several lines, too).
* Lines count on from the directive's line; the column is the directive's on the line it
  applies to (plus the byte distance), the physical one on later lines, and unknown (0)
  throughout when the directive gave none.

The file name is reported as written: Go 1.22+ cleans it (``filepath.Clean``) before
printing, 1.21 does not.

A small lexer finds the comments: it skips interpreted and raw string literals and rune
literals exactly as the Go scanner ends them (at the closing quote, at a newline for
``"`` and ``'``, at the end of the file), so ``"/*line x:1*/"`` is text, not a directive.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

POS_MAX = 1 << 30  # cmd/compile/internal/syntax.PosMax
# The compiler prints no column for column 0 and for columns of 255 and more
# (cmd/internal/src: colMax).
COL_MAX = 255
_PREFIX = b"line "
_DISABLED = b"LINE "


@dataclass(frozen=True)
class Comment:
    """A comment of a Go file: byte offsets, and the 1-based line and byte column of its start."""

    start: int
    end: int  # exclusive; a line comment ends before its newline
    line: int
    column: int
    block: bool  # /* … */ rather than // …
    terminated: bool = True


@dataclass(frozen=True)
class LineDirective:
    """A directive the compiler would act on."""

    line: int  # physical line of the comment
    column: int  # physical byte column where the comment starts
    text: str  # the comment as written
    block: bool  # /*line …*/ rather than //line …
    file: str  # the file name it gives ("" when none; inherited when empty with a column)
    target_line: int
    target_column: int  # 0: unknown
    start_line: int  # the physical position from which it applies
    start_column: int


@dataclass(frozen=True)
class DirectivePosition:
    """Where a directive puts a physical position."""

    file: str
    line: int
    column: int  # 0: unknown
    directive: LineDirective


def comments(text: str | bytes) -> Iterator[Comment]:
    """The comments of a Go source file, in order (string and rune literals skipped)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    n = len(data)
    i = 0
    line = 1
    line_start = 0

    def advance_lines(upto: int) -> None:
        nonlocal line, line_start
        count = data.count(b"\n", i, upto)
        if count:
            line += count
            line_start = data.rindex(b"\n", i, upto) + 1

    while i < n:
        c = data[i]
        if c == 0x2F and i + 1 < n and data[i + 1] in (0x2F, 0x2A):  # "//" or "/*"
            block = data[i + 1] == 0x2A
            terminated = True
            if block:
                close = data.find(b"*/", i + 2)
                terminated = close >= 0
                end = close + 2 if terminated else n
            else:
                newline = data.find(b"\n", i)
                end = n if newline < 0 else newline
            yield Comment(i, end, line, i - line_start + 1, block, terminated)
            advance_lines(end)
            i = end
        elif c in (0x22, 0x27):  # "…" or '…': end at the quote, a newline or the end of the file
            j = i + 1
            while j < n:
                ch = data[j]
                if ch == 0x5C:  # a backslash consumes the quote or a backslash after it, nothing else
                    j += 2 if j + 1 < n and data[j + 1] in (c, 0x5C) else 1
                    continue
                if ch == c:
                    j += 1
                    break
                if ch == 0x0A:
                    break
                j += 1
            i = j
        elif c == 0x60:  # `raw`, over lines, to the next backquote or the end of the file
            close = data.find(b"`", i + 1)
            end = n if close < 0 else close + 1
            advance_lines(end)
            i = end
        else:
            if c == 0x0A:
                line += 1
                line_start = i + 1
            i += 1


def _is_directive_comment(data: bytes, c: Comment) -> bool:
    """A comment the compiler hands to its directive handler as a line directive."""
    if not data.startswith(_PREFIX, c.start + 2):
        return False
    if c.block:
        return c.terminated
    return c.column == 1


def neutralize(text: str) -> str:
    """``text`` with every line directive disabled; same length, lines and columns.

    Every comment that begins ``//line `` or ``/*line `` is changed, in any column (a
    ``//line`` that is not in column 1 is no directive, but changing a comment changes
    nothing else): the compiler then treats it as an ordinary comment.
    """
    data = text.encode("utf-8")
    if _PREFIX not in data:
        return text
    out = bytearray(data)
    for c in comments(data):
        if data.startswith(_PREFIX, c.start + 2):
            out[c.start + 2 : c.start + 2 + len(_PREFIX)] = _DISABLED
    return out.decode("utf-8")


def _trailing_digits(text: str) -> tuple[int, int, bool]:
    """Go's ``trailingDigits``: (index after the last ':', its number, whether it parsed)."""
    i = text.rfind(":")
    if i < 0:
        return 0, 0, False
    digits = text[i + 1 :]
    if digits and digits.isascii() and digits.isdigit() and int(digits) < 1 << 64:
        return i + 1, int(digits), True
    return i + 1, 0, False


def parse(text: str, previous_file: str) -> tuple[str, int, int] | None:
    """(file, line, column) of a directive's text after ``line ``, or None when the
    compiler would ignore it or reject it (Go's ``updateBase``)."""
    i, n, ok = _trailing_digits(text)
    if i == 0 or not ok:
        return None
    i2, n2, ok2 = _trailing_digits(text[: i - 1])
    if ok2:
        line, column = n2, n
        if column == 0 or column > POS_MAX:
            return None
        name = text[: i2 - 1]
    else:
        line, column = n, 0
        name = text[: i - 1]
    if line == 0 or line > POS_MAX:
        return None
    if name == "" and ok2:
        name = previous_file
    return name, line, column


def directives(text: str, filename: str = "") -> list[LineDirective]:
    """The line directives of one file, in order. ``filename``: the file's own name, which
    a directive with a column but no file name inherits when no directive came before."""
    data = text.encode("utf-8")
    if _PREFIX not in data:
        return []
    found: list[LineDirective] = []
    current = filename
    for c in comments(data):
        if not _is_directive_comment(data, c):
            continue
        raw = data[c.start : c.end].decode("utf-8")
        body = raw[2:-2] if c.block else raw[2:].removesuffix("\r")
        parsed = parse(body[len("line ") :], current)
        if parsed is None:
            continue
        name, line, column = parsed
        if c.block:
            start_line, start_column = c.line, c.column + (c.end - c.start)
        else:
            start_line, start_column = c.line + 1, 1
        found.append(LineDirective(c.line, c.column, raw, c.block, name, line, column, start_line, start_column))
        current = name
    return found


def directive_position(found: list[LineDirective], line: int, column: int) -> DirectivePosition | None:
    """Where the directives of a file put the physical position (line, byte column), or None
    when no directive applies there (or the position is none: line 0).

    A position printed without a column (0) is taken to lie after every ``/*line*/`` of its
    line: the compiler stops printing columns at ``COL_MAX``, so such a position is far to
    the right (or it has no column at all, and then either choice is a guess). Its column
    stays unknown (0) in the result.
    """
    if line < 1 or not found:
        return None
    starts = [(d.start_line, d.start_column) for d in found]
    index = bisect.bisect_right(starts, (line, column if column >= 1 else POS_MAX)) - 1
    if index < 0:
        return None
    d = found[index]
    target_line = d.target_line + (line - d.start_line)
    if d.target_column == 0 or column < 1:
        target_column = 0
    elif line == d.start_line:
        target_column = d.target_column + (column - d.start_column)
    else:
        target_column = column
    return DirectivePosition(d.file, target_line, target_column, d)


def detail(file: str, position: DirectivePosition) -> dict[str, Any]:
    """What ``Diagnostic.details["line_directive"]`` holds."""
    return {
        "file": position.file,
        "line": position.line,
        "column": position.column,
        "directive_file": file,
        "directive_line": position.directive.line,
    }


def annotate(diagnostics: list, files: list) -> None:
    """Record on each decision (and each flow step) inside a directive's range what the
    directive would have reported: ``details["line_directive"]`` for the decision's own
    position, ``details["flow_line_directives"]`` (``{"step": i, …}`` per step) for its
    flow. Positions are physical: the compiler saw the directives disabled."""
    by_file = {f.name: directives(f.text, f.name) for f in files}
    by_file = {name: found for name, found in by_file.items() if found}
    if not by_file:
        return
    for d in diagnostics:
        found = by_file.get(d.file)
        position = directive_position(found, d.line, d.column) if found else None
        if position is not None:
            d.details["line_directive"] = detail(d.file, position)
        steps = []
        for index, s in enumerate(d.flow):
            found = by_file.get(s.file)
            position = directive_position(found, s.line, s.column) if found else None
            if position is not None:
                steps.append({"step": index, **detail(s.file, position)})
        if steps:
            d.details["flow_line_directives"] = steps
