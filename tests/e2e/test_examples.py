"""End-to-end runs of examples/ through the real ``tasuki`` command, ``run.py`` and the API.

Every command runs in a subprocess with its own temporary workspace, from the repository
root (as the README tells users to) unless the test is about running from elsewhere.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from examples.hello.tasks import TaskA, TaskB
from examples.wine.tasks import (
    Evaluate,
    Features,
    LoadWine,
    Report,
    SplitData,
    TrainLogistic,
    TrainRandomForest,
)

import tasuki

REPO = Path(__file__).resolve().parents[2]
TASUKI = Path(sys.executable).parent / "tasuki"

FLAKY_TASKS = """
from pathlib import Path

import tasuki


class Good(tasuki.Task):
    def output(self):
        return self.make_target("good.json")

    def run(self):
        self.dump({"ok": True})


class Flaky(tasuki.Task):
    def output(self):
        return self.make_target("flaky.json")

    def run(self):
        if Path("broken.flag").exists():
            raise ValueError("flaky input is broken; remove broken.flag")
        self.dump({"ok": True})


class Both(tasuki.Task):
    def requires(self):
        return {"good": Good(), "flaky": Flaky()}

    def output(self):
        return self.make_target("both.json")

    def run(self):
        self.dump(sorted(self.load()))
"""


def tasuki_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tasuki`` console script."""
    if not TASUKI.exists():
        pytest.fail(f"no tasuki script at {TASUKI}; install the project: pip install -e .")
    return subprocess.run(
        [str(TASUKI), *args], cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )


def python(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run this interpreter (the project's virtualenv) on ``args``."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )


def summary_line(stderr: str) -> str:
    """The ``Scheduled N tasks in Xs: ...`` line of the execution summary."""
    lines = [line for line in stderr.splitlines() if line.startswith("Scheduled ")]
    assert len(lines) == 1, stderr
    return re.sub(r" in [\d.]+s:", ":", lines[0])


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


# ------------------------------------------------------------------------------- hello


def test_hello_cli_runs_then_caches(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    uid, upstream_uid = TaskB(param="world").unique_id, TaskA(param="world").unique_id

    first = ok(tasuki_cli("run", "examples.hello.tasks:TaskB", "--param", "world", "-w", ws))
    assert first.stdout.strip() == f"examples.hello.tasks:TaskB {uid}"
    assert summary_line(first.stderr) == "Scheduled 2 tasks: 2 ran"
    assert "INFO running TaskA(param='world'): it has no run record" in first.stderr
    assert first.stderr.count("INFO running") == 2  # what the second run must not print
    assert tasuki.load(TaskB(param="world"), workspace=ws) == "hello world!!"
    record = ok(tasuki_cli("show", uid, "--json", "-w", ws)).stdout

    second = ok(tasuki_cli("run", "examples.hello.tasks:TaskB", "--param", "world", "-w", ws))
    assert second.stdout.strip() == f"examples.hello.tasks:TaskB {uid}"
    assert summary_line(second.stderr) == "Scheduled 2 tasks: 1 cached, 1 not needed"
    assert "INFO running" not in second.stderr  # no task started (progress says "running 0")
    # Nothing was rewritten: the record (with its timestamps) is byte for byte the same.
    assert ok(tasuki_cli("show", uid, "--json", "-w", ws)).stdout == record

    shown = ok(tasuki_cli("show", uid[:10], "-w", ws)).stdout
    assert "task:        examples.hello.tasks:TaskB" in shown
    assert f"unique id:   {uid}" in shown
    assert 'param = "world"' in shown
    assert f"examples.hello.tasks:TaskA {upstream_uid}" in shown
    output_line = next(line for line in shown.splitlines() if f"task_b_{uid}.pkl" in line)
    assert Path(output_line.split()[0]).is_file()

    mermaid = ok(
        tasuki_cli(
            "tree",
            "examples.hello.tasks:TaskB",
            "--param",
            "world",
            "-w",
            ws,
            "--format",
            "mermaid",
        )
    ).stdout
    assert mermaid.startswith("flowchart")
    node_a, node_b = f"n{upstream_uid[:12]}", f"n{uid[:12]}"
    assert f"{node_a} --> {node_b}" in mermaid
    assert mermaid.count("complete") == 2


def test_hello_cli_workers_and_task_parameter(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    upstream = {"task": "examples.hello.tasks:TaskA", "params": {"param": "moon"}}
    proc = ok(
        tasuki_cli(
            "run",
            "examples.hello.tasks:TaskB",
            "--param",
            "world",
            "--upstream",
            json.dumps(upstream),
            "--workers",
            "2",
            "-w",
            ws,
            "--tree",
        )
    )
    task = TaskB(param="world", upstream=TaskA(param="moon"))
    assert proc.stdout.strip().endswith(f"examples.hello.tasks:TaskB {task.unique_id}")
    assert summary_line(proc.stderr) == "Scheduled 2 tasks: 2 ran"
    assert tasuki.load(task, workspace=ws) == "hello moon!!"
    # The task parameter replaced TaskA(param="world"): it was never built.
    assert not (Path(ws) / TaskA(param="world").output().key).exists()
    assert task.unique_id != TaskB(param="world").unique_id


def test_hello_run_py_module_and_script_share_ids(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    first = ok(python("-m", "examples.hello.run", "--workspace", ws))
    assert first.stdout.splitlines()[0] == "hello world!!"
    assert "second run: 2 tasks cached, 0 ran" in first.stdout
    # Run as a file from another folder: same module names, so same ids, so all cached.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = ok(python(str(REPO / "examples/hello/run.py"), "--workspace", ws, cwd=elsewhere))
    assert again.stdout == first.stdout
    assert sorted(p.name for p in (Path(ws) / "examples/hello/tasks").iterdir()) == sorted(
        [Path(TaskA(param="world").output().key).name, Path(TaskB(param="world").output().key).name]
    )


# ------------------------------------------------------------------------------- CLI errors


def test_cli_unknown_task_path_exits_2(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    proc = tasuki_cli("run", "examples.hello.tasks:TaskZ", "--param", "x", "-w", ws)
    assert proc.returncode == 2, proc.stderr
    assert "'TaskZ'" in proc.stderr
    assert "TaskA, TaskB" in proc.stderr
    assert "Traceback" not in proc.stderr

    proc = tasuki_cli("run", "examples.nope:TaskB", "-w", ws)
    assert proc.returncode == 2, proc.stderr
    assert "'examples.nope'" in proc.stderr
    assert not Path(ws, "examples").exists()


def test_cli_unknown_or_missing_parameter_exits_2(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    proc = tasuki_cli("run", "examples.hello.tasks:TaskB", "--parm", "world", "-w", ws)
    assert proc.returncode == 2, proc.stderr
    assert "unknown parameter --parm" in proc.stderr
    assert "Did you mean --param?" in proc.stderr

    proc = tasuki_cli("run", "examples.hello.tasks:TaskB", "-w", ws)
    assert proc.returncode == 2, proc.stderr
    assert "missing required parameter param" in proc.stderr

    proc = tasuki_cli("show", "0123456789abcdef", "-w", ws)
    assert proc.returncode == 2, proc.stderr
    assert "0123456789" in proc.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_failing_task_exits_1_and_resume_command_works(tmp_path: Path, workers: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "flaky_tasks.py").write_text(FLAKY_TASKS, encoding="utf-8")
    flag = project / "broken.flag"
    flag.touch()

    failed = tasuki_cli("run", "flaky_tasks:Both", "-w", "ws", "--workers", workers, cwd=project)
    assert failed.returncode == 1, failed.stderr
    assert "ValueError: flaky input is broken; remove broken.flag" in failed.stderr
    assert summary_line(failed.stderr) == "Scheduled 3 tasks: 1 ran, 1 failed, 1 upstream failed"
    # The other branch kept going and its output stays for the resumed run.
    assert list((project / "ws/flaky_tasks").glob("good_*.json"))
    resume = [line for line in failed.stderr.splitlines() if "Resume with: " in line]
    assert len(resume) == 1, failed.stderr
    command = shlex.split(resume[0].split("Resume with: ", 1)[1])
    assert command == ["tasuki", "run", "flaky_tasks:Both", "-w", "ws", "--workers", workers]

    flag.unlink()
    resumed = ok(tasuki_cli(*command[1:], cwd=project))
    assert summary_line(resumed.stderr) == "Scheduled 3 tasks: 2 ran, 1 cached"
    assert "* 1 cached: Good" in resumed.stderr


# ------------------------------------------------------------------------------- wine


@pytest.mark.slow
def test_wine_run_py_builds_then_caches(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    proc = ok(python("-m", "examples.wine.run", "--workspace", ws))
    assert "Scheduled 8 tasks" in proc.stdout
    assert re.search(
        r"^second run: 8 tasks cached, 0 ran \(first run [\d.]+s, second run", proc.stdout, re.M
    )
    paths = dict(
        line.split(": ", 1)
        for line in proc.stdout.splitlines()
        if line.startswith(("report: ", "scores: "))
    )
    report = Path(paths["report"]).read_text(encoding="utf-8")
    assert report.startswith("# Wine cultivar classification")
    assert "| TrainLogistic |" in report and "| TrainRandomForest |" in report
    scores = json.loads(Path(paths["scores"]).read_text(encoding="utf-8"))
    assert {m["model"] for m in scores["ranking"]} == {"TrainLogistic", "TrainRandomForest"}

    # As a script from another folder: the same ids, so even the first build is cached.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = ok(python(str(REPO / "examples/wine/run.py"), "--workspace", ws, cwd=elsewhere))
    assert "Scheduled 8 tasks in" in again.stdout
    assert re.search(r"Scheduled 8 tasks in [\d.]+s: 1 cached, 7 not needed", again.stdout)
    assert "second run: 8 tasks cached, 0 ran" in again.stdout


@pytest.mark.slow
def test_wine_build_scores_cache_and_model_swap(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    report = Report(models=[TrainLogistic(), TrainRandomForest()])
    outputs = tasuki.build(report, workspace=ws, progress="off")

    ranking = outputs["scores"]["ranking"]
    assert [m["model"] for m in ranking] != [] and len(ranking) == 2
    for m in ranking:
        assert m["accuracy"] > 0.85, m
        assert m["macro_f1"] > 0.85, m
        matrix = m["confusion_matrix"]
        assert len(matrix) == 3 and sum(map(sum, matrix)) == m["test_rows"] == 54
    assert outputs["report"].startswith("# Wine cultivar classification")

    again = tasuki.run_build(report, workspace=ws, progress="off")
    assert again.ok and again.counts()["ran"] == 0
    assert again.counts()["cached"] + again.counts()["not_needed"] == 8

    # The model target holds the joblib file and its metadata, and loads back fitted.
    model_key = TrainLogistic().output().key
    with zipfile.ZipFile(Path(ws) / model_key) as zf:
        assert sorted(zf.namelist()) == ["meta.json", "model.joblib"]
        assert json.loads(zf.read("meta.json"))["class"] == "LogisticRegression"
    estimator = tasuki.load(TrainLogistic(), workspace=ws)
    test = tasuki.load(Features(), workspace=ws)["test"]
    assert estimator.predict(test.drop(columns=["target"])).shape == (54,)

    # Swapping the model task parameter moves only the ids downstream of the model.
    logistic, forest = Evaluate(model=TrainLogistic()), Evaluate(model=TrainRandomForest())
    assert logistic.unique_id != forest.unique_id
    swapped = Report(models=[TrainLogistic(), TrainRandomForest(n_estimators=50)])
    before = set(tasuki.build_graph([report]).nodes)
    after = set(tasuki.build_graph([swapped]).nodes)
    changed = {
        TrainRandomForest(n_estimators=50).unique_id,
        Evaluate(model=TrainRandomForest(n_estimators=50)).unique_id,
        swapped.unique_id,
    }
    assert after - before == changed
    assert before - after == {TrainRandomForest().unique_id, forest.unique_id, report.unique_id}
    shared = {LoadWine().unique_id, SplitData().unique_id, Features().unique_id}
    assert shared | {TrainLogistic().unique_id, logistic.unique_id} <= before & after

    result = tasuki.run_build(swapped, workspace=ws, progress="off")
    assert result.ok
    assert {r.uid for r in result.by_status("ran")} == changed
    assert {r.uid for r in result.by_status("cached")} == {Features().unique_id, logistic.unique_id}

    # The command line builds the same task value from JSON: same id, found cached, and no
    # scikit-learn import needed to tell.
    evaluate = Evaluate(model=TrainRandomForest(n_estimators=50))
    model = {"task": "examples.wine.tasks:TrainRandomForest", "params": {"n_estimators": 50}}
    proc = ok(
        tasuki_cli("run", "examples.wine.tasks:Evaluate", "--model", json.dumps(model), "-w", ws)
    )
    assert proc.stdout.strip() == f"examples.wine.tasks:Evaluate {evaluate.unique_id}"
    assert summary_line(proc.stderr) == "Scheduled 5 tasks: 1 cached, 4 not needed"
    metrics = tasuki.load(evaluate, workspace=ws)
    assert metrics["params"]["n_estimators"] == 50
    shown = ok(tasuki_cli("show", evaluate.unique_id, "-w", ws)).stdout
    assert "task log:" in shown
    assert f"accuracy: {json.dumps(metrics['accuracy'])}" in shown
