"""The revisions benchmark runs end to end (one small case, one repeat) and computes its
verdicts from its own table."""

from __future__ import annotations

import json
from pathlib import Path

from tests._bench import load_benchmark


def test_revisions_benchmark_runs_against_a_base_revision(tmp_path: Path) -> None:
    bench = load_benchmark("bench_revisions")
    out = tmp_path / "rows.json"
    assert bench.main(["--base", "HEAD", "--quick", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["machine"]) == {"cpu", "cores", "os", "python", "file system"}
    rows = doc["rows"]
    assert [(r["case"], r["n"], r["mode"]) for r in rows] == [
        ("chain", 100, "cold"),
        ("chain", 100, "warm"),
        ("chain", 100, "root deleted"),
    ]
    for row in rows:
        assert len(row["base_cpu"]) == len(row["new_cpu"]) == 1 and row["new_cpu"][0] > 0
        limited = row["mode"] != "cold"
        within = max(row["ratio_wall"], row["ratio_cpu"]) <= 1.10
        assert row["verdict"] == (("met" if within else "NOT met") if limited else "reference")


def test_the_one_task_cases_run_outside_and_inside_a_project(tmp_path: Path) -> None:
    bench = load_benchmark("bench_revisions")
    out = tmp_path / "rows.json"
    cases = "single,project,query"
    argv = ["--base", "HEAD", "--repeat", "1", "--cases", cases, "--json", str(out)]
    assert bench.main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["case"], r["n"]) for r in rows] == (
        [("single", 1)] * 3 + [("project", 1)] * 3 + [("query", 1)] * 3
    )
