"""The Dask benchmark runs and computes its verdict from its table (timings not judged)."""

from __future__ import annotations

import importlib
import sys

import pytest

from tests._bench import BENCHMARKS

pytestmark = pytest.mark.slow


def test_the_dask_benchmark_runs_quickly(monkeypatch):
    # Workers import the benchmark's task class by name: benchmarks/ must be on their path
    # (spawned worker processes inherit sys.path).
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "bench_dask", raising=False)
    bench = importlib.import_module("bench_dask")
    rows = bench.run(quick=True, repeat=1)
    assert [r["case"] for r in rows] == ["dask.delayed", "tasuki dask", "verdict"]
    assert all(r["wall ms/task"] > 0 for r in rows)
    ratio = rows[1]["wall ms/task"] / rows[0]["wall ms/task"]
    assert rows[2]["wall ms/task"] == pytest.approx(ratio)
    assert rows[2]["verdict"].endswith("within 20 %")
