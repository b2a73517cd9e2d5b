"""The measured side of a comparison (worker/compare_measured.py): pure, from stored dicts."""

from worker.compare_measured import compare_measurements, render_markdown


def side(allocs: int, size: int, per_op: float | None = None) -> dict:
    return {
        "result": "ok",
        "mode": "benchmarks",
        "benchtime": "100ms",
        "benchmarks": [
            {
                "name": "BenchmarkPool",
                "iterations": 10,
                "ns_per_op": 12.5,
                "bytes_per_op": size,
                "allocs_per_op": allocs,
            }
        ],
        "functions": [{"name": "main.use", "allocs_per_op": per_op if per_op is not None else float(allocs)}],
    }


def test_nothing_measured_is_none():
    assert compare_measurements(None, None) is None
    assert render_markdown(None) == ""


def test_changes_are_said_per_benchmark_and_function():
    m = compare_measurements(side(1, 4096), side(0, 0))
    assert m["changes"] == [
        "allocs/op 1 → 0 in BenchmarkPool",
        "B/op 4096 → 0 in BenchmarkPool",
        "allocs/op 1 → 0 in main.use (per-line profile)",
    ]
    assert m["benchmarks"][0]["change"] == "changed"
    text = render_markdown(m)
    assert text.startswith("\n### Measured (measured, noisy")
    assert "| `BenchmarkPool` | 1 → 0 | 4096 → 0 | 12.5 → 12.5 |" in text


def test_noise_below_the_threshold_is_not_a_change():
    m = compare_measurements(side(1, 4096, 1.0026), side(1, 4096, 1.01))
    assert m["changes"] == [] and m["functions"] == []
    assert m["benchmarks"][0]["change"] == "same"


def test_one_side_only():
    m = compare_measurements(side(1, 8), None)
    assert m["changes"] == ["BenchmarkPool only before"]
    assert m["benchmarks"][0]["allocs_per_op"] == [1, None]
