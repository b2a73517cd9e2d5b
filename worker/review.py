"""A :class:`~worker.compare.Diff` for people and review tools: text, Markdown, JSON payload.

Shared by the CLI (worker/review_cli.py) and the API/pages (explorer/review_api.py), so
every surface says the same thing. Links back to the permalinks are optional: a local
CLI run has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .compare import Decision, Diff, Side, short_name

MAX_MARKDOWN_ROWS = 200  # a PR comment stays well under the 65,536-character limit


@dataclass(frozen=True)
class Links:
    """Absolute (or site-relative) URLs of the compare permalink and of each side's page."""

    compare: str = ""  # /c/<a>/<b>
    a: str = ""  # /s/<a>
    b: str = ""  # /s/<b>

    def line(self, side: str, sides: Diff, file: str, line: int) -> str:
        """The URL of ``file:line`` on one side's page ("" without links or without a line)."""
        base = self.a if side == "a" else self.b
        if not base or line < 1:
            return ""
        return base + anchor(sides.a if side == "a" else sides.b, file, line)


def anchor(side: Side, file: str, line: int) -> str:
    """The fragment of a line on the permalink page: #L<n>, or #<file>-L<n> when there are
    several files (percent-encoded: a browser decodes it before looking up the id)."""
    return f"#L{line}" if len(side.files) <= 1 else "#" + quote(f"{file}-L{line}", safe="")


def describe(d: Decision) -> str:
    """A decision in one line: the compiler's message, plus its subject and inline context when the message lacks them."""
    text = d.message
    if d.subject and d.subject not in text:
        text += f" ({d.subject})"
    if d.context:
        text += f" [inlined {d.context}]"
    return text


def position(d: Decision) -> str:
    return f"{d.file}:{d.line}" if d.line else d.file


def settings(side: Side) -> str:
    return f"Go {side.go} · {side.goarch} · {side.lang}" + (f" · {side.options}" if side.options else "")


# --- JSON ------------------------------------------------------------------------------


def diff_payload(diff: Diff, links: Links | None = None) -> dict[str, Any]:
    """``Diff.to_dict()`` with a ``url`` on each decision (its line on its own side) and the permalinks."""
    links = links or Links()
    payload = diff.to_dict()
    for item, d in zip(payload["added"], diff.added, strict=True):
        item["url"] = links.line("b", diff, d.file, d.line)
    for item, d in zip(payload["removed"], diff.removed, strict=True):
        item["url"] = links.line("a", diff, d.file, d.line)
    for item, c in zip(payload["changed"], diff.changed, strict=True):
        item["before"]["url"] = links.line("a", diff, c.before.file, c.before.line)
        item["after"]["url"] = links.line("b", diff, c.after.file, c.after.line)
    payload["links"] = {"compare": links.compare, "a": links.a, "b": links.b}
    return payload


# --- plain text ------------------------------------------------------------------------


def render_text(diff: Diff, links: Links | None = None) -> str:
    assert diff.summary is not None
    out = [f"before: {settings(diff.a)}", f"after:  {settings(diff.b)}", ""]
    out += _problems(diff)
    out.append(diff.summary.headline)
    sections: list[tuple[str, list[str]]] = [
        ("added", [f"  + {position(d):<14} {short_name(d.function):<16} {describe(d)}" for d in diff.added]),
        ("removed", [f"  - {position(d):<14} {short_name(d.function):<16} {describe(d)}" for d in diff.removed]),
        (
            "changed",
            [f"  ~ {position(c.after):<14} {short_name(c.function):<16} {c.description}" for c in diff.changed],
        ),
        (
            "frame sizes",
            [f"  ~ {short_name(f.function):<31} {f.before} -> {f.after} bytes" for f in diff.frames],
        ),
    ]
    for title, lines in sections:
        if lines:
            out += ["", f"{title}:", *lines]
    if links and links.compare:
        out += ["", f"side by side: {links.compare}"]
    return "\n".join(out) + "\n"


def _problems(diff: Diff) -> list[str]:
    lines = []
    for name, side in (("before", diff.a), ("after", diff.b)):
        if not side.ok:
            first = side.errors[0] if side.errors else side.status
            lines.append(f"warning: {name} did not compile cleanly ({side.status}): {first}")
    return lines + ([""] if lines else [])


# --- Markdown --------------------------------------------------------------------------


def render_markdown(diff: Diff, links: Links | None = None) -> str:
    """A pull-request comment: headline, settings with permalinks, one table row per change."""
    assert diff.summary is not None
    links = links or Links()
    out = ["### Compiler decisions: before → after", "", f"**{_escape(diff.summary.headline)}**", ""]
    out.append(f"Before: {_link(settings(diff.a), links.a)} → After: {_link(settings(diff.b), links.b)}")
    if links.compare:
        out[-1] += f" · {_link('side by side', links.compare)}"
    out.append("")
    for name, side in (("before", diff.a), ("after", diff.b)):
        if not side.ok:
            first = side.errors[0] if side.errors else side.status
            # the compiler's message quotes the program: a code span, where nothing is a link
            out += [f"> :warning: {name} did not compile cleanly ({_escape(side.status)}): {_code(first)}", ""]
    rows = _markdown_rows(diff, links)
    if rows:
        out += ["| | Decision | Function | Where |", "|---|---|---|---|"]
        out += rows[:MAX_MARKDOWN_ROWS]
        if len(rows) > MAX_MARKDOWN_ROWS:
            more = f"… and {len(rows) - MAX_MARKDOWN_ROWS} more"
            out.append(f"\n{_link(more, links.compare)}" if links.compare else f"\n{more}")
    return "\n".join(out).rstrip() + "\n"


def _markdown_rows(diff: Diff, links: Links) -> list[str]:
    rows = []
    for sign, side, decisions in (("➕", "b", diff.added), ("➖", "a", diff.removed)):
        for d in decisions:
            where = _link(position(d), links.line(side, diff, d.file, d.line))
            rows.append(f"| {sign} | {_code(describe(d))} | {_code(short_name(d.function))} | {where} |")
    for c in diff.changed:
        where = " → ".join(
            [
                _link(position(c.before), links.line("a", diff, c.before.file, c.before.line)),
                _link(position(c.after), links.line("b", diff, c.after.file, c.after.line)),
            ]
        )
        rows.append(f"| 🔁 | {_escape(c.description)} | {_code(short_name(c.function))} | {where} |")
    for f in diff.frames:
        rows.append(f"| 🔁 | frame size {f.before} → {f.after} bytes | {_code(short_name(f.function))} | |")
    return rows


def _link(text: str, url: str) -> str:
    return f"[{_escape(text)}]({_url(url)})" if url else _escape(text)


def _url(url: str) -> str:
    """A link destination that cannot end early or open another link: blanks, brackets,
    parentheses, quotes, backslashes and non-ASCII characters percent-encoded (an existing
    %XX is kept)."""
    return quote(url, safe="/:?#&=%@!$*+,;~")


def _escape(text: str) -> str:
    """Markdown-inert text for a table cell (no emphasis, links, HTML, entities or cell breaks)."""
    out = []
    for ch in text:
        if ch in "\\`*_{}[]<>()#+!|~&":
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _code(text: str) -> str:
    """A code span safe inside a table cell, whatever backticks the text holds."""
    text = text.replace("\n", " ").replace("|", "\\|")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
