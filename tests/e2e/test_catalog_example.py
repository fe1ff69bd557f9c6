"""examples/catalog end to end, as a user runs it: a subprocess from the repository root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_catalog_example_runs_and_traces_the_written_table_to_its_source(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "examples.catalog.run", "--folder", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "search 返品: dwh/main/orders/amount" in out.stdout
    assert "search 日次集計: dwh/main/daily_revenue" in out.stdout
    assert "<- read: table dwh/main/orders" in out.stdout
    events = json.loads((tmp_path / "openlineage.json").read_text())
    assert any(o["name"] == "main.daily_revenue" for e in events for o in e.get("outputs", [])), (
        events
    )
    # A second run is all cache hits and changes nothing in the catalog's history.
    again = subprocess.run(
        [sys.executable, "-m", "examples.catalog.run", "--folder", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 cached" in again.stdout or "cached" in again.stdout
