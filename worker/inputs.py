"""Validate and normalise what a user submits: one Go file or a txtar of several.

Errors a user can cause are raised as :class:`InvalidInput` with a message meant for
a person; nothing here touches the toolchain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .analysis import SourceFile

MAX_SOURCE_BYTES = 256 * 1024
MAX_FILES = 32
# A header is one line: trailing blanks, not the blank lines after it (they belong to the file).
TXTAR_HEADER = re.compile(r"^-- (.+?) --[ \t]*$", re.MULTILINE)
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}\.go$")
# A txtar's other files (go.mod, notes.txt, LICENSE): the same characters, any extension.
OTHER_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
DEFAULT_FILE = "main.go"


class InvalidInput(ValueError):
    """A problem with the user's input, worded for the user."""


def decode_source(raw: bytes | str) -> str:
    if isinstance(raw, str):
        text = raw
        size = len(text.encode("utf-8", "surrogatepass"))
    else:
        size = len(raw)
        if size > MAX_SOURCE_BYTES:
            raise InvalidInput(_too_large(size))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"The source is not valid UTF-8 (bad byte at offset {exc.start}). Go source files must be UTF-8 text."
            ) from None
    if size > MAX_SOURCE_BYTES:
        raise InvalidInput(_too_large(size))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"The source is not valid UTF-8 (bad character at offset {exc.start}).") from None
    if "\x00" in text:
        raise InvalidInput("The source contains a NUL byte: it looks like a binary file, not Go source.")
    return text.replace("\r\n", "\n")


def _too_large(size: int) -> str:
    return f"The source is {size / 1024:.0f} KiB; the limit is {MAX_SOURCE_BYTES // 1024} KiB."


def split_files(text: str) -> list[SourceFile]:
    """One file, or every section of a txtar archive (``-- name --`` headers), in order.

    The .go files are what is compiled; any other file of the archive (``go.mod``,
    ``notes.txt``) is kept with the source, stored and shown, but never compiled: the
    engine takes :func:`compiled_files` of the list.
    """
    if not text.strip():
        raise InvalidInput("The source is empty: paste or write a Go program first.")
    headers = list(TXTAR_HEADER.finditer(text))
    if not headers:
        return [SourceFile(DEFAULT_FILE, text)]
    files: list[SourceFile] = []
    # With a go.mod, the archive is a module: its packages live in directories (a/b.go).
    module = any(h.group(1).strip() == "go.mod" for h in headers)
    preamble = text[: headers[0].start()]
    if preamble.strip():
        files.append(SourceFile(DEFAULT_FILE, preamble))
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        name = header.group(1).strip()
        body = text[header.end() + 1 : end] if header.end() < len(text) else ""
        if module and "/" in name:
            check_module_path(name)
        elif is_go_file(name):
            if not FILE_NAME.match(name):
                raise InvalidInput(
                    f"File name {name!r} is not allowed: use plain names like util.go or util_test.go (no directories)."
                )
        elif not OTHER_FILE_NAME.match(name):
            raise InvalidInput(
                f"File name {name!r} is not allowed: use plain names like go.mod or notes.txt (no directories)."
            )
        if any(f.name == name for f in files):
            raise InvalidInput(f"The file {name} appears twice in the archive.")
        files.append(SourceFile(name, body))
    if len(files) > MAX_FILES:
        raise InvalidInput(f"The archive holds {len(files)} files; the limit is {MAX_FILES}.")
    go_files = compiled_files(files)
    if not go_files:
        raise InvalidInput("The archive holds no .go files.")
    if not any(f.text.strip() for f in go_files):
        raise InvalidInput("The source is empty: paste or write a Go program first.")
    return files


MAX_DEPTH = 8


def check_module_path(name: str) -> None:
    """A file in a module's directory (``internal/codec/codec.go``): plain names joined by
    slashes, no ``..``, no absolute path, no test file."""
    parts = name.split("/")
    base = parts[-1]
    bad = (
        len(parts) > MAX_DEPTH
        or not all(OTHER_FILE_NAME.match(p) for p in parts)
        or parts[0] == "_ee"  # the build's scratch directory (worker/modules.py)
        or (is_go_file(base) and (not FILE_NAME.match(base) or base.endswith("_test.go")))
    )
    if bad:
        raise InvalidInput(
            f"File name {name[:120]!r} is not allowed: in a module use paths like internal/codec/codec.go "
            f"(plain names, at most {MAX_DEPTH} levels, no .., no _test.go)."
        )


def is_go_file(name: str) -> bool:
    return name.endswith(".go")


def compiled_files(files: list[SourceFile]) -> list[SourceFile]:
    """The files the compiler is given: the .go ones (a txtar's go.mod or notes are not)."""
    return [f for f in files if is_go_file(f.name)]


def join_files(files: list[SourceFile]) -> str:
    """The inverse of :func:`split_files` (a single main.go stays plain text)."""
    if len(files) == 1 and files[0].name == DEFAULT_FILE:
        return files[0].text
    return "".join(f"-- {f.name} --\n{f.text if f.text.endswith(chr(10)) else f.text + chr(10)}" for f in files)


_COMMENT_OR_STRING = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|`[^`]*`', re.DOTALL)
_IMPORT_BLOCK = re.compile(r"\bimport\s*\(([^)]*)\)", re.DOTALL)
_IMPORT_SPEC = re.compile(r'(?:^|[\s;(])(?:[A-Za-z_][A-Za-z0-9_]*\s+|\.\s+)?("(?:\\.|[^"\\\n])*"|`[^`]*`)')
_IMPORT_SINGLE = re.compile(r'\bimport\s+(?:[A-Za-z_][A-Za-z0-9_]*\s+|\.\s+)?("(?:\\.|[^"\\\n])*"|`[^`]*`)')
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


@dataclass(frozen=True)
class ImportSite:
    file: str
    line: int
    column: int
    path: str


def find_imports(files: list[SourceFile]) -> list[ImportSite]:
    """The import paths of each file with their positions (best effort, pre-compile)."""
    sites: list[ImportSite] = []
    for f in files:
        header = _header_region(f.text)
        for m in _IMPORT_SINGLE.finditer(header):
            sites.append(_site(f, header, m.start(1), m.group(1)))
        for block in _IMPORT_BLOCK.finditer(header):
            body_start = block.start(1)
            for m in _IMPORT_SPEC.finditer(block.group(1)):
                sites.append(_site(f, header, body_start + m.start(1), m.group(1)))
    return sites


def _header_region(text: str) -> str:
    """The file up to its first top-level declaration other than import, comments blanked."""
    blanked = _COMMENT_OR_STRING.sub(lambda m: m.group(0) if m.group(0)[0] in '"`' else _blank(m.group(0)), text)
    m = re.search(r"^(func|type|var|const)\b", blanked, re.MULTILINE)
    return blanked[: m.start()] if m else blanked


def _blank(s: str) -> str:
    return "".join(c if c == "\n" else " " for c in s)


def _site(f: SourceFile, header: str, offset: int, literal: str) -> ImportSite:
    line = header.count("\n", 0, offset) + 1
    column = offset - (header.rfind("\n", 0, offset) + 1) + 1
    return ImportSite(f.name, line, column, literal[1:-1])


def package_name(files: list[SourceFile]) -> str:
    for f in files:
        blanked = _COMMENT_OR_STRING.sub(lambda m: _blank(m.group(0)), f.text)
        m = _PACKAGE.search(blanked)
        if m:
            return m.group(1)
    return "main"


# Bidirectional control characters (Trojan Source, CVE-2021-42574): they make an editor or
# a web page show code in an order other than the compiler's.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def find_bidi(files: list[SourceFile]) -> list[dict]:
    """Every bidirectional control character of the files: ``file``, ``line``, ``column``
    (1-based; the column in bytes, as the compiler counts), ``codepoint`` ("U+202E") and
    ``name`` ("RIGHT-TO-LEFT OVERRIDE")."""
    import unicodedata

    found = []
    for f in files:
        line, line_start = 1, 0
        for m in BIDI_CONTROLS.finditer(f.text):
            newlines = f.text.count("\n", line_start, m.start())
            if newlines:
                line += newlines
                line_start = f.text.rindex("\n", 0, m.start()) + 1
            char = m.group()
            found.append(
                {
                    "file": f.name,
                    "line": line,
                    "column": len(f.text[line_start : m.start()].encode("utf-8")) + 1,
                    "codepoint": f"U+{ord(char):04X}",
                    "name": unicodedata.name(char, ""),
                }
            )
    return found
