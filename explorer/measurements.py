"""Measured allocations beside the compiler's predictions: the API's ``measurements``
object, and what the page shows on each line, in the benchmark table and in the
per-function summary.

The measurement itself is made by the engine (worker/measure.py) and stored with the
compilation (models.Measurement). Here it is read and set against the analysis:

- a line with a heap decision (moved to heap, escapes to heap) and allocations measured on
  it: **agree**;
- a heap decision, but nothing measured on the line: **predicted, not measured** (the line
  did not run, the allocation was optimised away, or the value went to the heap through a
  path that allocated elsewhere);
- allocations measured on a line without a heap decision: **measured, not predicted** (an
  ``append`` that grows, a map insert, a conversion to an interface or string made by a
  runtime call the escape analysis does not report).
"""

from __future__ import annotations

from django.conf import settings

from worker.analysis import HEAP_KINDS
from worker.summary import HEAP_DECISIONS

from .models import Compilation, Measurement
from .render import line_anchor

# Below this many allocations per operation a line without a heap decision is not called a
# disagreement: one-off setup, a sync.Pool refilled after a GC, a map's rare growth.
RARE_PER_OP = 0.01
PREDICTED = {
    "moved-to-heap": "moved to heap",
    "escapes-to-heap": "escapes to heap",
    "heap-alloc-call": "heap-allocating call",
}
VERDICTS = {
    "agree": "prediction and measurement agree",
    "rare": "allocates rarely (setup, a pool refilled after a GC): not a per-operation cost",
    "predicted-not-measured": "predicted heap, but no allocation was measured on this line",
    "measured-not-predicted": "allocations measured, but the compiler reported no heap decision on this line",
}


def measurement_of(comp: Compilation) -> Measurement | None:
    try:
        return comp.measurement
    except Measurement.DoesNotExist:
        return None


def measurements_payload(comp: Compilation, analysis: dict | None) -> dict | None:
    """The API's ``measurements`` object, or None when the program was never measured."""
    m = measurement_of(comp)
    if m is None:
        return None
    result = m.result or {}
    lines = [{**line, "verdict": verdict} for line, verdict in _verdicts(result.get("lines") or [], analysis)]
    package = _package(analysis)
    return {
        "status": m.status,
        "failure": m.failure,
        "error": m.error,
        "result": result.get("status", ""),
        "mode": result.get("mode", ""),
        "benchmarks": result.get("benchmarks", []),
        "profiled_benchmarks": result.get("profiled_benchmarks", []),
        "lines": lines,
        "functions": function_totals(result.get("lines") or [], package),
        "disagreements": disagreements(result, analysis),
        "stdout": result.get("stdout", ""),
        "stderr": result.get("stderr", ""),
        "exit_code": result.get("exit_code"),
        "truncated": bool(result.get("truncated")),
        "limit": result.get("limit", ""),
        "errors": list(result.get("errors") or []) + ([m.error] if m.error else []),
        "notes": result.get("notes", []),
        "unattributed": result.get("unattributed", {"allocs": 0, "bytes": 0}),
        "benchtime": result.get("benchtime", ""),
        "sandbox": result.get("sandbox", {}),
        "memory_limit": result.get("memory_limit", "address-space"),
        "timings": result.get("timings", {}),
        "created": m.created.isoformat(),
        "finished": m.finished.isoformat() if m.finished else None,
    }


def _package(analysis: dict | None) -> str:
    for fn in (analysis or {}).get("functions") or []:
        name = fn.get("name", "")
        if "." in name and not name.startswith("type:"):
            return name.split(".", 1)[0]
    return "main"


def function_totals(lines: list[dict], package: str) -> list[dict]:
    """Measured allocations per function (of the innermost user frame that allocated)."""
    totals: dict[str, dict] = {}
    for line in lines:
        name = f"{package}.{line.get('function', '')}"
        entry = totals.setdefault(
            name, {"name": name, "allocs": 0, "bytes": 0, "allocs_per_op": None, "bytes_per_op": None}
        )
        entry["allocs"] += line.get("allocs", 0)
        entry["bytes"] += line.get("bytes", 0)
        if line.get("allocs_per_op") is not None:
            entry["allocs_per_op"] = round((entry["allocs_per_op"] or 0) + line["allocs_per_op"], 4)
            entry["bytes_per_op"] = round((entry["bytes_per_op"] or 0) + (line.get("bytes_per_op") or 0), 1)
    return sorted(totals.values(), key=lambda e: e["name"])


def _heap_lines(analysis: dict | None) -> dict[tuple[str, int], list[dict]]:
    found: dict[tuple[str, int], list[dict]] = {}
    for d in (analysis or {}).get("diagnostics") or []:
        if d.get("kind") in HEAP_KINDS and d.get("file") and d.get("line", 0) > 0:
            found.setdefault((d["file"], d["line"]), []).append(d)
    return found


def _verdicts(lines: list[dict], analysis: dict | None):
    heap = _heap_lines(analysis)
    for line in lines:
        yield line, verdict_of(line, (line.get("file"), line.get("line")) in heap)


def verdict_of(line: dict, predicted: bool) -> str:
    if predicted:
        return "agree"
    per_op = line.get("allocs_per_op")
    return "rare" if per_op is not None and per_op < RARE_PER_OP else "measured-not-predicted"


def disagreements(result: dict, analysis: dict | None) -> list[dict]:
    """Lines where the prediction and the measurement part ways, each said plainly."""
    if not has_report(result):
        return []
    measured = {(line["file"], line["line"]): line for line in result.get("lines") or []}
    out = []
    for (file, number), diags in sorted(_heap_lines(analysis).items()):
        decisions = [d for d in diags if d["kind"] in HEAP_DECISIONS]
        if decisions and (file, number) not in measured:
            out.append(
                {
                    "file": file,
                    "line": number,
                    "verdict": "predicted-not-measured",
                    "predicted": decisions[0].get("message", ""),
                    "text": f"{file}:{number}: the compiler says “{decisions[0].get('message', '')}”, "
                    "but no allocation was measured on this line (did it run?).",
                }
            )
    heap = _heap_lines(analysis)
    for (file, number), line in sorted(measured.items()):
        if verdict_of(line, (file, number) in heap) == "measured-not-predicted":
            out.append(
                {
                    "file": file,
                    "line": number,
                    "verdict": "measured-not-predicted",
                    "predicted": "",
                    "text": f"{file}:{number}: {describe(line)} measured, but the compiler reported no heap "
                    "decision on this line.",
                }
            )
    return out


def has_report(result: dict | None) -> bool:
    """The program ran to its end and its allocations were reported."""
    if not result or result.get("status") != "ok":
        return False
    return not any("ended before" in note for note in result.get("notes") or [])


def describe(line: dict) -> str:
    """ "1 alloc/op, 4096 B/op" under a benchmark, "3 allocs, 96 B" in a program's run."""
    per_op = line.get("allocs_per_op")
    if per_op is not None:
        shown = _number(per_op)
        return f"{shown} alloc{'' if shown == '1' else 's'}/op, {_number(line.get('bytes_per_op') or 0)} B/op"
    allocs = line.get("allocs", 0)
    return f"{allocs} alloc{'' if allocs == 1 else 's'}, {line.get('bytes', 0)} B"


def _number(value: float) -> str:
    """Per-operation figures as a person reads them: 4096, 7.5, 1, 0.0002."""
    if value >= 100:
        return str(round(value))
    if value >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if value == 0:
        return "0"
    return f"{value:.2g}"


def payload_result(m: Measurement) -> dict:
    return m.result or {}


# --- the page ---------------------------------------------------------------------------------


def page_context(comp: Compilation, view: dict | None) -> dict:
    """What templates/partials/measurements.html and the measured column need; annotates
    the view's lines (``line.measured``) and summary rows (``measured_allocs_per_op``)."""
    m = measurement_of(comp)
    from worker.inputs import InvalidInput, split_files
    from worker.measure import RUNNABLE_GOARCHES, check_runnable

    compiled = (comp.analysis or {}).get("status") == "ok"  # a program with compile errors cannot run
    runnable = settings.RUN_ENABLED and comp.goarch in RUNNABLE_GOARCHES and compiled
    if runnable:
        try:
            check_runnable(split_files(comp.source))
        except InvalidInput:
            runnable = False
    context = {"measurement": m, "can_measure": runnable, "measured": None}
    if m is None or m.status != Measurement.Status.DONE or view is None:
        return context
    payload = measurements_payload(comp, comp.analysis)
    context["measured"] = payload
    by_line = {(line["file"], line["line"]): line for line in payload["lines"]}
    heap = _heap_lines(comp.analysis)
    missing = {(d["file"], d["line"]) for d in payload["disagreements"] if d["verdict"] == "predicted-not-measured"}
    index = {file.name: i for i, file in enumerate(view.get("files", []))}
    for d in payload["disagreements"]:
        d["anchor"] = line_anchor(index.get(d["file"], 0), d["file"], d["line"])
    for file in view.get("files", []):
        for line in file.lines:
            key = (file.name, line.number)
            if key in by_line:
                entry = by_line[key]
                line.measured = {
                    "predicted": _predicted(heap.get(key)),
                    "text": describe(entry),
                    "verdict": entry["verdict"],
                    "says": VERDICTS[entry["verdict"]],
                    "chain": " ← ".join(entry.get("call_chain") or []),
                    "via": (entry.get("call_chain") or [""])[-1] if len(entry.get("call_chain") or []) > 1 else "",
                }
            elif key in missing:
                line.measured = {
                    "predicted": _predicted(heap.get(key)),
                    "text": "no allocation",
                    "verdict": "predicted-not-measured",
                    "says": VERDICTS["predicted-not-measured"],
                    "chain": "",
                }
    per_function = {f["name"]: f for f in payload["functions"]}
    for row in view.get("summary", []):
        found = per_function.get(row["name"])
        row["measured"] = (describe(found) if found else "0") if has_report(payload_result(m)) else None
    context["measured_summary"] = has_report(payload_result(m))
    return context


def _predicted(decisions: list[dict] | None) -> str:
    kinds = [d["kind"] for d in decisions or []]
    for kind in PREDICTED:
        if kind in kinds:
            return PREDICTED[kind]
    return "no heap decision"


def cache_key(comp: Compilation) -> str:
    """What of the measurement the cached result page depends on (views.result_html)."""
    m = measurement_of(comp)
    state = f":m{m.pk}:{m.status}:{m.finished.isoformat() if m.finished else ''}" if m else ":m-"
    return state + (":run" if settings.RUN_ENABLED else ":norun")
