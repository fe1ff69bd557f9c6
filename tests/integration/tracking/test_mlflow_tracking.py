"""MLflow tracking end to end: real builds logged to a real MLflow server (SQLite backend)
on loopback, read back with MLflow's own client."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.storage import open_store
from tasuki.tracking import MlflowTracker

from .pipeline import Broken, Evaluate, Prepare, Train, pipeline

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    # MLflow's own, raised while mlflow.pyfunc imports (its response types use Any).
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*Add type hints to the `predict` method:UserWarning"),
]


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, query: str) -> list[Any]:
    client = _client(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(experiments, query, max_results=1000))


def _build_run(uri: str, build_id: str) -> Any:
    found = _runs(uri, f"tags.`tasuki.build_id` = '{build_id}' and tags.`tasuki.kind` = 'build'")
    assert len(found) == 1, found
    return found[0]


def _children(uri: str, parent_id: str) -> dict[str, Any]:
    """The nested runs of ``parent_id`` by task class name."""
    runs = _runs(uri, f"tags.`mlflow.parentRunId` = '{parent_id}'")
    return {r.data.tags["tasuki.task"].rpartition(":")[2].rpartition(".")[2]: r for r in runs}


def _artifacts(uri: str, run_id: str, path: str) -> list[str]:
    return sorted(a.path for a in _client(uri).list_artifacts(run_id, path))


def _tracking_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("tasuki.tracking") and r.levelno >= logging.WARNING
    ]


def test_a_build_is_a_run_and_each_task_a_nested_run_then_cached_tasks_link_back(
    mlflow_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = str(tmp_path / "ws")
    root = pipeline()
    first = tasuki.build(
        root,
        workspace=workspace,
        executor="inline",
        progress="off",
        tracking="mlflow",
        tracking_uri=mlflow_uri,
        return_value=False,
    )
    assert first.ok
    assert _tracking_warnings(caplog) == []
    parent = _build_run(mlflow_uri, first.build_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tasuki.workspace"] == workspace
    assert parent.data.metrics["tasuki.tasks.ran"] == 3
    experiment = _client(mlflow_uri).get_experiment(parent.info.experiment_id)
    assert experiment.name == Evaluate.task_name()

    children = _children(mlflow_uri, parent.info.run_id)
    assert sorted(children) == ["Evaluate", "Prepare", "Train"]
    prep, train, evaluate = children["Prepare"], children["Train"], children["Evaluate"]
    tasks = {"Prepare": root.model.data, "Train": root.model, "Evaluate": root}
    for name, run in children.items():
        task = tasks[name]
        assert run.info.status == "FINISHED"
        tags = run.data.tags
        assert tags["tasuki.unique_id"] == task.unique_id
        assert tags["tasuki.task"] == type(task).task_name()
        assert tags["tasuki.build_id"] == first.build_id
        assert tags["tasuki.status"] == "ran"
        assert tags["tasuki.kind"] == "task"
        record = RunRecord.read(open_store(workspace), task.unique_id)
        assert tags["tasuki.code_fingerprint"] == record.code_fingerprint
        assert run.info.start_time is not None and run.info.end_time >= run.info.start_time

    # Parameters: significant ones, flattened, secrets masked; upstream tasks by id.
    assert prep.data.params["n"] == "3"
    assert prep.data.params["label"] == "a"
    assert prep.data.params["api_password"] == "***"
    assert "pw123" not in prep.data.params["source"]
    assert train.data.params["lr"] == "0.1"
    assert train.data.params["config.act"] == "relu"
    assert train.data.params["config.layers"] == "[8, 4]"
    assert train.data.params["data"] == root.model.data.unique_id

    # Metrics from log_metric, with their steps; NaN kept.
    assert prep.data.metrics["rows"] == 3
    history = _client(mlflow_uri).get_metric_history(train.info.run_id, "loss")
    assert [(m.step, round(m.value, 3)) for m in history] == [(0, 1.0), (1, 0.5), (2, 0.333)]
    assert evaluate.data.metrics["auc"] == 0.9
    assert evaluate.data.metrics["diverged"] != evaluate.data.metrics["diverged"]  # NaN

    # Artifacts: the log tail, opted-in outputs, the model with its load function named.
    assert _artifacts(mlflow_uri, prep.info.run_id, "tasuki") == ["tasuki/log_tail.txt"]
    tail = _client(mlflow_uri).download_artifacts(prep.info.run_id, "tasuki/log_tail.txt")
    assert "preparing 3 rows" in Path(tail).read_text()
    outputs = _artifacts(mlflow_uri, prep.info.run_id, "outputs")
    assert outputs == [f"outputs/prepare_{root.model.data.unique_id}.json"]
    assert _artifacts(mlflow_uri, evaluate.info.run_id, "outputs") == []  # not opted in
    model_files = _artifacts(mlflow_uri, train.info.run_id, "models/output")
    assert "models/output/MLmodel" in model_files  # an MLflow model (python_function)
    files = _artifacts(mlflow_uri, train.info.run_id, "models/output/artifacts/output")
    assert files == [
        "models/output/artifacts/output/tasuki_model.json",
        "models/output/artifacts/output/weights.json",
    ]
    about = _client(mlflow_uri).download_artifacts(
        train.info.run_id, "models/output/artifacts/output/tasuki_model.json"
    )
    assert json.loads(Path(about).read_text())["load_function"] == (
        "tests.integration.tracking.pipeline:load_model"
    )
    assert train.data.tags["tasuki.model.output.flavor"] == "python_function"
    assert train.data.tags["tasuki.model.output.load_function"].endswith(":load_model")

    # A second build finds everything cached: a new run whose children link to the first.
    tracker = MlflowTracker(mlflow_uri)
    second = tasuki.build(
        [root, root.model, root.model.data],
        workspace=workspace,
        executor="inline",
        progress="off",
        hooks=[tracker],
        return_value=False,
    )
    assert second.counts()["cached"] == 3
    stats = tracker.stats[second.build_id]
    assert stats.failure is None and stats.jobs_done == 3  # build run, one link job, close
    # The build's thread only queues: MLflow's requests run on the tracker's threads, so the
    # hook's time is a fraction of theirs (compared, not timed: a loaded CI host once took
    # 5.4 ms per hook call against a 5 ms bound).
    assert stats.hook_s < stats.mlflow_s / 2, stats
    parent2 = _build_run(mlflow_uri, second.build_id)
    assert parent2.info.run_id != parent.info.run_id
    links = _children(mlflow_uri, parent2.info.run_id)
    assert sorted(links) == ["Evaluate", "Prepare", "Train"]
    for name, link in links.items():
        assert link.data.tags["tasuki.kind"] == "link"
        assert link.data.tags["tasuki.status"] == "cached"
        assert link.data.tags["tasuki.produced_by_run"] == children[name].info.run_id
        assert link.data.tags["tasuki.produced_by_build"] == first.build_id
        assert link.data.params == {} and link.data.metrics == {}  # not logged again
    assert _tracking_warnings(caplog) == []


def test_a_failed_task_is_a_failed_nested_run_with_its_error(
    mlflow_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    task = Broken(data=Prepare(n=2))
    result = tasuki.run_build(
        task,
        workspace=str(tmp_path / "ws"),
        executor="inline",
        progress="off",
        hooks=[MlflowTracker(mlflow_uri, experiment="broken")],
    )
    assert not result.ok
    parent = _build_run(mlflow_uri, result.build_id)
    assert parent.info.status == "FAILED"
    children = _children(mlflow_uri, parent.info.run_id)
    broken = children["Broken"]
    assert broken.info.status == "FAILED"
    assert broken.data.tags["tasuki.status"] == "failed"
    assert broken.data.tags["tasuki.error.type"] == "ValueError"
    assert "fails on purpose" in broken.data.tags["tasuki.error.message"]
    assert broken.data.metrics["before_failing"] == 1.5
    error = _client(mlflow_uri).download_artifacts(broken.info.run_id, "tasuki/error.txt")
    assert "ValueError: the broken task fails on purpose" in Path(error).read_text()
    assert children["Prepare"].info.status == "FINISHED"
    assert _tracking_warnings(caplog) == []


@pytest.mark.parametrize("server", ["dead_uri", "silent_uri"])
def test_a_server_down_or_silent_warns_once_and_the_build_goes_on(
    server: str, request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = request.getfixturevalue(server)
    workspace = str(tmp_path / "ws")
    root = pipeline(n=4)
    tracker = MlflowTracker(uri, timeout=1.0, drain_timeout=10.0)
    t0 = time.perf_counter()
    value = tasuki.build(
        root, workspace=workspace, executor="inline", progress="off", hooks=[tracker]
    )
    elapsed = time.perf_counter() - t0
    assert value == 0.9
    warnings = _tracking_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert uri in warnings[0] and "stays in the run records" in warnings[0]
    # Bounded: the probe's timeout, not MLflow's minutes of retries.
    assert elapsed < 6.0, elapsed
    stats = tracker.last_stats
    assert stats is not None and stats.failure is not None
    store = open_store(workspace)
    assert RunRecord.read(store, root.model.unique_id).metrics[2]["value"] == pytest.approx(1 / 3)
    assert RunRecord.read(store, root.unique_id).metrics[1]["value"] == "NaN"


def test_tracking_from_settings_needs_a_uri(tmp_path: Path) -> None:
    from tasuki.errors import ConfigError

    with pytest.raises(ConfigError, match="tracking_uri"):
        tasuki.build(pipeline(), workspace=str(tmp_path / "ws"), tracking="mlflow")


def test_a_tracker_given_as_a_hook_is_not_doubled_by_the_setting(
    mlflow_uri: str, tmp_path: Path
) -> None:
    tracker = MlflowTracker(mlflow_uri, experiment="not-doubled")
    result = tasuki.run_build(
        Prepare(n=7),
        workspace=str(tmp_path / "ws"),
        executor="inline",
        progress="off",
        tracking="mlflow",
        tracking_uri=mlflow_uri,
        hooks=[tracker],
    )
    parent = _build_run(mlflow_uri, result.build_id)
    assert len(_children(mlflow_uri, parent.info.run_id)) == 1
    assert tracker.last_stats is not None and tracker.last_stats.failure is None


def test_the_local_executor_logs_the_same_runs(mlflow_uri: str, tmp_path: Path) -> None:
    """Tasks run in worker processes; the hook runs in the build's process all the same."""
    result = tasuki.run_build(
        pipeline(n=5),
        workspace=str(tmp_path / "ws"),
        executor="local",
        workers=2,
        progress="off",
        hooks=[MlflowTracker(mlflow_uri, experiment="local-executor")],
    )
    assert result.ok
    children = _children(mlflow_uri, _build_run(mlflow_uri, result.build_id).info.run_id)
    assert children["Prepare"].data.metrics["rows"] == 5
    history = _client(mlflow_uri).get_metric_history(children["Train"].info.run_id, "loss")
    assert [m.value for m in history] == [1.0, 0.5, pytest.approx(1 / 3)]


def test_train_model_loads_back_from_mlflow(mlflow_uri: str, tmp_path: Path) -> None:
    """A model target is an MLflow model: pyfunc loads it through the task's load function."""
    import mlflow.pyfunc

    task = Train(data=Prepare(n=2), lr=0.5)
    result = tasuki.run_build(
        task,
        workspace=str(tmp_path / "ws"),
        executor="inline",
        progress="off",
        hooks=[MlflowTracker(mlflow_uri, experiment="model-load")],
    )
    runs = _children(mlflow_uri, _build_run(mlflow_uri, result.build_id).info.run_id)
    folder = _client(mlflow_uri).download_artifacts(
        runs["Train"].info.run_id, "models/output", str(tmp_path / "dl")
    )
    model = mlflow.pyfunc.load_model(folder)
    assert model.predict([2.0, 4.0]) == [1.0, 2.0]
    loaded = model.unwrap_python_model().model
    assert (loaded.weights, loaded.lr) == ([0, 1], 0.5)


def test_a_model_whose_load_function_cannot_be_imported_is_kept_as_files(
    mlflow_uri: str, tmp_path: Path
) -> None:
    class LambdaModel(tasuki.Task):
        def output(self) -> Any:
            return self.make_model_target(
                "m.zip",
                save_function=lambda m, d: (d / "m.txt").write_text(m),
                load_function=lambda d: (d / "m.txt").read_text(),
            )

        def run(self) -> None:
            self.dump("weights")

    result = tasuki.run_build(
        LambdaModel(),
        workspace=str(tmp_path / "ws"),
        executor="inline",
        progress="off",
        hooks=[MlflowTracker(mlflow_uri, experiment="lambda-model")],
    )
    run = _children(mlflow_uri, _build_run(mlflow_uri, result.build_id).info.run_id)["LambdaModel"]
    assert _artifacts(mlflow_uri, run.info.run_id, "models/output") == [
        "models/output/m.txt",
        "models/output/tasuki_model.json",
    ]
    assert "tasuki.model.output.flavor" not in run.data.tags
    assert "<lambda>" in run.data.tags["tasuki.model.output.load_function"]


def test_a_server_that_stalls_after_answering_holds_the_build_no_longer_than_the_bound(
    stalling_uri: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    import mlflow  # noqa: F401  (imported before timing: the tracker imports it off-thread)

    root = pipeline(n=6)
    tracker = MlflowTracker(stalling_uri, timeout=1.0, drain_timeout=2.0)
    t0 = time.perf_counter()
    result = tasuki.run_build(
        root, workspace=str(tmp_path / "ws"), executor="inline", progress="off", hooks=[tracker]
    )
    elapsed = time.perf_counter() - t0
    assert result.ok
    assert elapsed < 5.0, elapsed  # the 2 s bound, not MLflow's 120 s per request
    warnings = _tracking_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "did not finish within 2 s" in warnings[0]
    stats = tracker.last_stats
    assert stats is not None and stats.drain_s == pytest.approx(2.0, abs=0.5)
    # The thread still waiting on the server cannot hold the process at exit.
    hanging = [t for t in threading.enumerate() if t.name.startswith("tasuki-tracking")]
    assert hanging and all(t.daemon for t in hanging)
    assert RunRecord.read(open_store(str(tmp_path / "ws")), root.unique_id).metrics
