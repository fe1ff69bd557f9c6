"""The pipeline benchmark's one-task cases run end to end (tasuki alone, one repeat): the
build outside a project and in one (a git work tree with a settings file), and the targets
computed from them."""

from __future__ import annotations

from pathlib import Path

from tests._bench import load_benchmark


def test_the_one_task_cases_run_and_their_targets_are_computed(tmp_path: Path) -> None:
    bench = load_benchmark("bench_pipeline")
    report = load_benchmark("_pipeline_report")
    plan = bench.plan(False, [], compat=False, sides=["tasuki"], cases=["single", "project"])
    assert [(k.case, k.n) for k, _ in plan] == [("single", 1), ("project", 1)]
    outcomes = bench.run_cases(plan, 1, scratch=tmp_path)
    for o in outcomes:
        assert not o.error, o.error
        assert set(o.times) == {"cold", "warm", "root deleted"}
    project = tmp_path.glob("tasuki-pipeline-bench-*")
    assert list(project) == []  # the run's folder (and its project) are removed
    rows = {r[0]: r for r in report.targets(outcomes)}
    for title in (
        "one task (fixed cost of a build)",
        "one task, in a git project with a settings file",
    ):
        for mode, wanted in (("cold", "<= 5 ms"), ("warm", "<= 1 ms")):
            row = rows[f"{title}, {mode}, CPU beyond import"]
            assert row[1] == wanted
            assert row[2].endswith("ms [1 run]")
            assert row[3] == "one run, not counted"
