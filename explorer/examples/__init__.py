"""Example Go programs for the playground's examples menu.

Each ``NN-slug.go`` file in this folder starts with ``// Title: …`` and ``// Shows: …``,
optionally followed by ``// Lang: go1.21`` when it must be compiled with that
language version. The header stays in the source shown to the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
_FILE_NAME = re.compile(r"^\d+-(?P<slug>[a-z0-9-]+)\.go$")
_HEADER = re.compile(r"^//\s*(?P<key>Title|Shows|Lang):\s*(?P<value>.+?)\s*$")


@dataclass(frozen=True)
class Example:
    slug: str  # file name without number and extension, e.g. "return-address"
    title: str
    shows: str  # one sentence: what to look at
    lang: str  # language version to compile with, e.g. "go1.21"; "" for the toolchain's own
    source: str


def parse_example(file_name: str, source: str) -> Example:
    match = _FILE_NAME.match(file_name)
    if not match:
        raise ValueError(f"example file name must look like NN-slug.go: {file_name}")
    header: dict[str, str] = {}
    for line in source.splitlines()[:3]:
        found = _HEADER.match(line)
        if found:
            header[found["key"]] = found["value"]
    if "Title" not in header or "Shows" not in header:
        raise ValueError(f"{file_name}: first lines must be '// Title: …' and '// Shows: …'")
    return Example(
        slug=match["slug"],
        title=header["Title"],
        shows=header["Shows"],
        lang=header.get("Lang", ""),
        source=source,
    )


@cache
def load_examples() -> list[Example]:
    """All examples, sorted by file name (the number prefix sets the menu order)."""
    paths = sorted(p for p in EXAMPLES_DIR.glob("*.go") if p.is_file())
    return [parse_example(p.name, p.read_text(encoding="utf-8")) for p in paths]


def get_example(slug: str) -> Example | None:
    return next((e for e in load_examples() if e.slug == slug), None)
