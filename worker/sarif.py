"""An analysis as a SARIF 2.1.0 log, for code-scanning tools.

One run; one rule per diagnostic kind (its id is the kind, its description the one in
``analysis.KINDS``); one result per decision, at the decision's position, with the
enclosing function as a logical location and the ``-m=2`` escape flow as a code flow.
``partialFingerprints`` are built from the same identity the diff uses (kind, function,
subject), not from the line, so a tool that tracks results across commits sees a
moved function's decisions as the same results.

Locations are always physical (the compiler never sees a ``//line`` directive, see
worker/line_directives.py); where a directive would have placed a decision elsewhere,
that position is added as ``properties.lineDirective`` of the result (and of the code
flow's location), never as a location: the file it names does not exist.
"""

from __future__ import annotations

import hashlib
from typing import Any

from . import directive_report
from .analysis import KINDS, Analysis, Diagnostic, FlowStep
from .compare import as_analysis, is_compared, source_lines, subject_of

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "Escape Explorer"
FINGERPRINT = "escapeExplorerDecision/v1"
# Kinds a reader should not miss; everything else is informational.
LEVELS = {"error": "error", "moved-to-heap": "warning", "escapes-to-heap": "warning"}
SKIPPED_KINDS = frozenset({"escape-flow", "other"})  # explanations and unclassified lines are not findings


def to_sarif(analysis: Analysis | dict[str, Any], *, source_url: str = "", tool_version: str = "") -> dict[str, Any]:
    """The SARIF log of one analysis. ``source_url``: the permalink, given as the run's web page."""
    analysis = as_analysis(analysis)
    diagnostics = [d for d in analysis.diagnostics if d.kind not in SKIPPED_KINDS]
    kinds = sorted({d.kind for d in diagnostics}, key=list(KINDS).index)
    rule_index = {kind: i for i, kind in enumerate(kinds)}
    sources = source_lines(analysis)
    # //gcassert: directives (worker/directives.py): rules gcassert/<directive> after the kinds
    directive_rules = directive_report.sarif_rules(analysis.directives)
    directive_index = {rule["id"]: len(kinds) + i for i, rule in enumerate(directive_rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": tool_version or analysis.go,
                "rules": [_rule(kind) for kind in kinds] + directive_rules,
            }
        },
        "artifacts": [
            {
                "location": {"uri": f.name, "uriBaseId": "SRCROOT"},
                "sourceLanguage": "go",
                "length": len(f.text.encode()),
            }
            for f in analysis.files
        ],
        "results": [_result(d, rule_index[d.kind], sources) for d in diagnostics]
        + directive_report.sarif_results(
            analysis.directives,
            directive_index,
            lambda file, line, column: code_point_column(sources.get(file, []), line, column),
        ),
        "columnKind": "unicodeCodePoints",
        "properties": {
            "go": analysis.go,
            "goarch": analysis.goarch,
            "lang": analysis.lang,
            "toolchain": analysis.toolchain,
            "status": analysis.status,
        },
    }
    if source_url:
        run["properties"]["permalink"] = source_url
    if analysis.errors and not any(d.kind == "error" for d in diagnostics):
        run["invocations"] = [
            {
                "executionSuccessful": False,
                "toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in analysis.errors],
            }
        ]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(kind: str) -> dict[str, Any]:
    return {
        "id": kind,
        "name": "".join(part.capitalize() for part in kind.split("-")),
        "shortDescription": {"text": KINDS.get(kind, kind)},
        "defaultConfiguration": {"level": LEVELS.get(kind, "note")},
        "properties": {"tags": ["go", "compiler"]},
    }


def code_point_column(lines: list[str], line: int, column: int) -> int:
    """The compiler counts columns in bytes; SARIF here in Unicode code points."""
    if not 1 <= line <= len(lines):
        return column
    return len(lines[line - 1].encode("utf-8")[: column - 1].decode("utf-8", "ignore")) + 1


def _location(file: str, line: int, column: int, sources: dict[str, list[str]]) -> dict[str, Any]:
    if not file:  # a decision the compiler printed without a position: only its function locates it
        return {}
    physical: dict[str, Any] = {"artifactLocation": {"uri": file, "uriBaseId": "SRCROOT"}}
    if line >= 1:
        region: dict[str, Any] = {"startLine": line}
        if column >= 1:
            region["startColumn"] = code_point_column(sources.get(file, []), line, column)
        physical["region"] = region
    return {"physicalLocation": physical}


def _result(d: Diagnostic, rule_index: int, sources: dict[str, list[str]]) -> dict[str, Any]:
    subject = subject_of(d, sources) if is_compared(d) else str(d.details.get("subject") or "")
    location = _location(d.file, d.line, d.column, sources)
    if d.function:
        location["logicalLocations"] = [{"fullyQualifiedName": d.function, "kind": "function"}]
    identity = "\x00".join([d.kind, d.function, d.inlined_from, subject or d.message])
    result: dict[str, Any] = {
        "ruleId": d.kind,
        "ruleIndex": rule_index,
        "level": LEVELS.get(d.kind, "note"),
        "message": {"text": d.message},
        "locations": [location] if location else [],
        "partialFingerprints": {FINGERPRINT: hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {
            k: v for k, v in {"subject": subject, "inlinedFrom": d.inlined_from, "package": d.package}.items() if v
        },
    }
    directive = d.details.get("line_directive")
    if directive:
        result["properties"]["lineDirective"] = _line_directive(directive)
    steps = {s["step"]: s for s in d.details.get("flow_line_directives") or []}
    if d.flow:
        result["codeFlows"] = [
            {
                "message": {"text": d.explanation or d.message},
                "threadFlows": [
                    {"locations": [_flow_location(s, sources, steps.get(i)) for i, s in enumerate(d.flow)]}
                ],
            }
        ]
    return result


def _flow_location(
    step: FlowStep, sources: dict[str, list[str]], directive: dict[str, Any] | None = None
) -> dict[str, Any]:
    location = _location(step.file, step.line, step.column, sources)
    location["message"] = {"text": step.message}
    if directive:
        location["properties"] = {"lineDirective": _line_directive(directive)}
    return {"location": location, "nestingLevel": max(step.depth - 1, 0)}


def _line_directive(directive: dict[str, Any]) -> dict[str, Any]:
    """Where a //line directive would have placed a decision (column 0: unknown); the
    directive's own physical file and line."""
    return {
        "file": str(directive.get("file", "")),
        "line": int(directive.get("line", 0)),
        "column": int(directive.get("column", 0)),
        "directiveFile": str(directive.get("directive_file", "")),
        "directiveLine": int(directive.get("directive_line", 0)),
    }
