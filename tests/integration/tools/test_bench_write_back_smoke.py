"""The write-back benchmark runs end to end (a few rows, one repeat) and reports each case."""

from __future__ import annotations

import pytest

from tests._bench import load_benchmark

pytestmark = pytest.mark.services


def test_write_back_benchmark_runs_and_reports_every_case(postgres_url: str) -> None:
    bench = load_benchmark("bench_write_back")
    rows = bench.run(quick=True, repeat=1, rows=2_000)
    cases = [r["case"] for r in rows]
    for backend in ("PostgreSQL", "DuckDB"):
        assert [c for c in cases if c.startswith(backend)] == [
            f"{backend}: floor, a new table from the data",
            f"{backend}: replace, the table's columns",
            f"{backend}: replace, other columns",
            f"{backend}: append",
        ]
    assert all(r["rows"] == 2_000 and r["runs"] == 1 and r["s"] > 0 for r in rows)
    assert {r["x floor"] for r in rows if "floor" in r["case"]} == {1.0}
