"""The command-line benchmark runs end to end (one repeat, tasuki's cases) and reports each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._bench import load_benchmark


def test_cli_benchmark_runs_and_reports_every_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_benchmark("bench_cli")
    monkeypatch.setattr(bench, "GOKART_PY", tmp_path / "no-gokart" / "python")
    rows, info = bench.measure(1, gokart=False)
    assert {(r["case"], r["side"]) for r in rows} == {
        ("--help", "tasuki"),
        ("run, cached", "tasuki"),
        ("run, cached, a query task and its reader", "tasuki"),
        ("show ID", "tasuki"),
    }
    assert all(r["runs"] == 1 and r["wall_ms"] > 0 and r["cpu_ms"] > 0 for r in rows)
    section = bench.render(rows, info, 1)
    assert section.startswith("## Command line") and "gokart's venv was missing" in section
