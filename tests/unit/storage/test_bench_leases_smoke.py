"""The lease benchmark's local cases run and report their figures (timings not judged)."""

from __future__ import annotations

from tests._bench import load_benchmark


def test_the_lease_benchmark_runs_quickly() -> None:
    bench = load_benchmark("bench_leases")
    rows = bench._local_rows(tasks=5, repeat=3)
    assert [r["case"] for r in rows] == ["local range", "local disk"]
    assert all(r["wall ms/task, lease"] > 0 and r["CPU ms/task, lease"] >= 0 for r in rows)
    assert {r["verdict"] for r in rows} <= {"met", "NOT met"}
    env = bench.environment()
    assert set(env) == {"machine", "versions", "load (1/5/15 min)"} and "moto" in env["versions"]
