"""The guard benchmark runs and reports every step for both dialects (timings not judged)."""

from __future__ import annotations

from tests._bench import load_benchmark


def test_the_guard_benchmark_runs_quickly() -> None:
    bench = load_benchmark("bench_guard")
    rows = bench.run(quick=True, repeat=1)
    assert [(r["dialect"], r["step"]) for r in rows] == [
        (d, s) for d in ("postgres", "duckdb") for s in ("parse", "guard", "check_query")
    ]
    assert all(r["wall ms"] > 0 and r["function calls"] >= 30 for r in rows)
    assert 1800 <= rows[0]["query bytes"] <= 3000  # about the 2 KB the limit speaks of
    assert {r["verdict"] for r in rows if r["step"] == "guard"} <= {"met", "NOT met"}
