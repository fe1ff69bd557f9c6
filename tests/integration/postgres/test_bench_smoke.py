"""The warehouse benchmark still runs end to end (tiny table) and reports what it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._bench import load_benchmark
from tests._services import PG_DSN


def test_warehouse_benchmark_runs_on_a_small_table(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_benchmark("bench_warehouse")
    monkeypatch.setattr(bench, "POSTGRES", PG_DSN)
    monkeypatch.setattr(bench, "DATABASE", f"{postgres_url.rsplit('/', 1)[1]}_bench")
    out = tmp_path / "figures.json"
    argv = ["--rows", "3000", "--repeat", "1", "--cases", "tasuki,connectorx,adbc"]
    assert bench.main([*argv, "--no-docs", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    keys = {row["key"] for row in figures["rows"]}
    assert {"tasuki_unload", "tasuki_total", "tasuki_parts", "connectorx", "adbc"} <= keys
    assert all(row["rows"] == 3000 and row["median_s"] > 0 for row in figures["rows"])
    verdict = figures["machine"]["adbc_build"].split()[0]
    assert verdict in ("optimised", "unoptimised", "unknown")
