"""//gcassert: directive results (worker/directives.py) for people and tools: text lines,
a Markdown section, SARIF rules and results.

SARIF: one rule per directive (``gcassert/inline``, ``gcassert/bce``, ``gcassert/noescape``,
``gcassert/noalloc``; ``gcassert/unknown`` for a misspelt one); a violated directive is a
``fail`` result (level ``error``) with the compiler's reason as its message, a held one a
``pass`` and an undecided one ``open`` (level ``none``, as SARIF requires for those kinds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .analysis import DirectiveResult
from .directives import DESCRIPTIONS, KNOWN
from .review import _escape as markdown_escape

SIGNS = {"held": "✓", "violated": "✗", "undecided": "?", "unknown": "✗"}
FINGERPRINT = "escapeExplorerDirective/v1"


def _get(r: DirectiveResult | dict, key: str, default: Any = None) -> Any:
    return r.get(key, default) if isinstance(r, dict) else getattr(r, key, default)


def violations(results: list) -> list:
    """Violated directives, and unknown ones (a misspelt directive never checks anything)."""
    return [r for r in results if _get(r, "status") in ("violated", "unknown")]


def format_line(r: DirectiveResult | dict) -> str:
    """``main.go:61: //gcassert:inline VIOLATED: cannot inline big: …``."""
    words = {"held": "held", "violated": "VIOLATED", "undecided": "undecided", "unknown": "UNKNOWN"}
    status = _get(r, "status", "")
    return f"{_get(r, 'file')}:{_get(r, 'line')}: //gcassert:{_get(r, 'directive')} {words.get(status, '?')}: {_get(r, 'reason')}"


def counts_line(results: list) -> str:
    by = {s: sum(1 for r in results if _get(r, "status") == s) for s in SIGNS}
    return (
        f"gcassert: {len(results)} directive{'s' if len(results) != 1 else ''}: {by['held']} held, "
        f"{by['violated'] + by['unknown']} violated, {by['undecided']} undecided"
    )


def render_text(results: list, *, all_results: bool = False) -> str:
    """The violations (and undecided directives), one line each, then the counts."""
    shown = results if all_results else [r for r in results if _get(r, "status") != "held"]
    return "".join(format_line(r) + "\n" for r in shown) + counts_line(results) + "\n"


def _cell(text: str) -> str:
    """Markdown-inert text for a table cell (the review's own escaping)."""
    return markdown_escape(str(text))


def render_markdown(results: list) -> str:
    """A Markdown section: the counts, and a table of the directives not held."""
    lines = ["### //gcassert: directives", "", counts_line(results).removeprefix("gcassert: ") + ".", ""]
    shown = [r for r in results if _get(r, "status") != "held"]
    if shown:
        lines += ["| | Where | Directive | Why |", "|---|---|---|---|"]
        for r in shown:
            sign = SIGNS.get(_get(r, "status"), "?")
            where = f"{_get(r, 'file')}:{_get(r, 'line')}"
            lines.append(f"| {sign} | {_cell(where)} | {_cell(_get(r, 'directive'))} | {_cell(_get(r, 'reason'))} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def rule_id(directive: str) -> str:
    return f"gcassert/{directive if directive in KNOWN else 'unknown'}"


def sarif_rules(results: list) -> list[dict[str, Any]]:
    ids = sorted({rule_id(_get(r, "directive")) for r in results})
    return [
        {
            "id": rid,
            "name": "Gcassert" + rid.split("/")[1].capitalize(),
            "shortDescription": {
                "text": DESCRIPTIONS.get(rid.split("/")[1], "A //gcassert: directive this tool does not know.")
            },
            "defaultConfiguration": {"level": "error"},
            "properties": {"tags": ["go", "compiler", "gcassert"]},
        }
        for rid in ids
    ]


def sarif_results(
    results: list, rule_index: dict[str, int], column_of: Callable[[str, int, int], int] | None = None
) -> list[dict[str, Any]]:
    """``column_of(file, line, byte column)``: the column as the log counts them."""
    out = []
    for r in results:
        status = _get(r, "status", "")
        rid = rule_id(_get(r, "directive"))
        kind = {"held": "pass", "undecided": "open"}.get(status, "fail")
        identity = "\x00".join([rid, _get(r, "file"), _get(r, "function", "") or str(_get(r, "line"))])
        location = {
            "physicalLocation": {
                "artifactLocation": {"uri": _get(r, "file"), "uriBaseId": "SRCROOT"},
                "region": {"startLine": max(1, int(_get(r, "line") or _get(r, "comment_line") or 1))},
            }
        }
        result: dict[str, Any] = {
            "ruleId": rid,
            "ruleIndex": rule_index[rid],
            "kind": kind,
            "level": "error" if kind == "fail" else "none",
            "message": {"text": f"//gcassert:{_get(r, 'directive')} {status}: {_get(r, 'reason')}"},
            "locations": [location],
            "partialFingerprints": {FINGERPRINT: hashlib.sha256(identity.encode()).hexdigest()[:32]},
            "properties": {"status": status, "commentLine": _get(r, "comment_line", 0)},
        }
        sites = [s for s in _get(r, "sites", []) or [] if not _get(s, "inlined")]
        if sites:
            result["relatedLocations"] = [
                {
                    "id": i,
                    "physicalLocation": {
                        "artifactLocation": {"uri": _get(s, "file"), "uriBaseId": "SRCROOT"},
                        "region": {"startLine": max(1, int(_get(s, "line")))}
                        | (
                            {"startColumn": _column(column_of, _get(s, "file"), _get(s, "line"), _get(s, "column"))}
                            if _get(s, "column")
                            else {}
                        ),
                    },
                    "message": {"text": f"not inlined: {_get(s, 'reason')}"},
                }
                for i, s in enumerate(sites)
            ]
        out.append(result)
    return out


def _column(column_of: Callable[[str, int, int], int] | None, file: str, line: int, column: int) -> int:
    return column_of(file, line, column) if column_of else column
