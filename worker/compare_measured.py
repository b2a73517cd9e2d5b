"""What the measurements of two compilations say changed: allocs/op, B/op and ns/op per
benchmark, measured allocs/op per function. Pure functions over the stored measurement
dicts (worker/measure.py); no Django.

Measured figures are noisy (a pool refilled after a GC, a map's growth, time), so they are
kept apart from the compiler's decisions (worker/compare.py) everywhere they are shown,
and labelled "measured, noisy". A benchmark's allocs/op is testing's own integer figure;
a per-operation change below ``NOISE_PER_OP`` is not reported for functions.
"""

from __future__ import annotations

NOISE_PER_OP = 0.05
LABEL = "measured, noisy: from running the benchmarks, not a compiler decision"


def _number(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != int(value):
        return f"{value:.3g}" if value < 100 else str(round(value))
    return str(int(value))


def compare_measurements(a: dict | None, b: dict | None) -> dict | None:
    """None when neither side was measured; else the benchmarks and functions of both
    sides, what changed, and one sentence per change (``allocs/op 1 → 0 in BenchmarkPool``)."""
    if not a and not b:
        return None
    a, b = a or {}, b or {}
    bench_a = {x["name"]: x for x in a.get("benchmarks") or []}
    bench_b = {x["name"]: x for x in b.get("benchmarks") or []}
    benchmarks, changes = [], []
    for name in list(bench_a) + [n for n in bench_b if n not in bench_a]:
        x, y = bench_a.get(name), bench_b.get(name)
        row = {
            "name": name,
            "allocs_per_op": [x and x.get("allocs_per_op"), y and y.get("allocs_per_op")],
            "bytes_per_op": [x and x.get("bytes_per_op"), y and y.get("bytes_per_op")],
            "ns_per_op": [x and x.get("ns_per_op"), y and y.get("ns_per_op")],
        }
        if x is None or y is None:
            row["change"] = "added" if x is None else "removed"
            changes.append(f"{name} {'only after' if x is None else 'only before'}")
        else:
            row["change"] = "changed" if row["allocs_per_op"][0] != row["allocs_per_op"][1] else "same"
            for key, unit in (("allocs_per_op", "allocs/op"), ("bytes_per_op", "B/op")):
                before, after = row[key]
                if before != after:
                    changes.append(f"{unit} {_number(before)} → {_number(after)} in {name}")
        benchmarks.append(row)
    functions = []
    fa = {f["name"]: f for f in a.get("functions") or []}
    fb = {f["name"]: f for f in b.get("functions") or []}
    both_ran = a.get("result") == "ok" and b.get("result") == "ok"
    for name in sorted(set(fa) | set(fb)) if both_ran else []:
        before = (fa.get(name) or {}).get("allocs_per_op") or 0
        after = (fb.get(name) or {}).get("allocs_per_op") or 0
        if abs(before - after) >= NOISE_PER_OP:
            functions.append({"name": name, "allocs_per_op": [before, after]})
            changes.append(f"allocs/op {_number(before)} → {_number(after)} in {name} (per-line profile)")
    return {
        "label": LABEL,
        "a": {"result": a.get("result", ""), "mode": a.get("mode", ""), "benchtime": a.get("benchtime", "")},
        "b": {"result": b.get("result", ""), "mode": b.get("mode", ""), "benchtime": b.get("benchtime", "")},
        "benchmarks": benchmarks,
        "functions": functions,
        "changes": changes,
    }


def render_markdown(measured: dict | None) -> str:
    """A section for the review comment, after the compiler's decisions; "" without one."""
    if not measured:
        return ""
    lines = ["", f"### Measured ({measured['label']})", ""]
    if not measured["benchmarks"] and not measured["functions"]:
        sides = [k for k in ("a", "b") if measured[k]["result"]]
        lines.append("Only one side was measured." if len(sides) == 1 else "No benchmark results to compare.")
        return "\n".join(lines) + "\n"
    if measured["benchmarks"]:
        lines += ["| benchmark | allocs/op | B/op | ns/op |", "|---|---|---|---|"]
        for row in measured["benchmarks"]:
            cells = [" → ".join(_number(v) for v in row[key]) for key in ("allocs_per_op", "bytes_per_op", "ns_per_op")]
            lines.append(f"| `{row['name']}` | {cells[0]} | {cells[1]} | {cells[2]} |")
        lines.append("")
    for change in measured["changes"]:
        lines.append(f"- {change}")
    return "\n".join(lines) + "\n"
