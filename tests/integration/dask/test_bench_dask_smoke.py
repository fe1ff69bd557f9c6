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
    assert [(r["workload"], r["case"]) for r in rows] == [
        ("chain", "dask.delayed"),
        ("chain", "tasuki dask"),
        ("fan-in", "dask.delayed"),
        ("fan-in", "tasuki dask"),
        ("chain", "verdict"),
        ("fan-in", "verdict"),
    ]
    assert all(r["wall ms/task"] > 0 for r in rows)
    for verdict, (plain, ours) in zip(rows[4:], (rows[0:2], rows[2:4]), strict=True):
        ratio = ours["wall ms/task"] / plain["wall ms/task"]
        assert verdict["wall ms/task"] == pytest.approx(ratio)
        assert verdict["verdict"].endswith("within 20 %")
