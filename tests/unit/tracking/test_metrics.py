"""Task.log_metric: values land in the run record (tracking off too), bad input is refused
with the task, the key and the value named."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.errors import TaskError
from tasuki.storage import open_store


class Fit(tasuki.Task):
    epochs: int = 3
    extra: ClassVar[dict[str, Any]] = {}

    def run(self) -> None:
        for epoch in range(self.epochs):
            self.log_metric("train/loss", 1.0 / (epoch + 1), step=epoch)
        self.log_metrics({"auc": 0.75, "n": 10, "nan": math.nan, "inf": -math.inf})
        self.dump("fitted")


class LogsBadly(tasuki.Task):
    key: str = "loss"
    value: str = "1.0"
    kind: str = "value"

    def run(self) -> None:
        self.log_metric("kept", 2.0)
        if self.kind == "value":
            self.log_metric(self.key, self.value)  # type: ignore[arg-type]
        elif self.kind == "key":
            self.log_metric(self.value, 1.0)
        elif self.kind == "bool":
            self.log_metric(self.key, True)
        elif self.kind == "step":
            self.log_metric(self.key, 1.0, step=1.5)  # type: ignore[arg-type]
        elif self.kind == "mapping":
            self.log_metrics([("a", 1.0)])  # type: ignore[arg-type]
        self.dump("never")


def _build(task: tasuki.Task, tmp_path: Path) -> Any:
    return tasuki.run_build(task, workspace=str(tmp_path / "ws"), executor="inline", progress="off")


def test_metrics_land_in_the_record_with_tracking_off(tmp_path: Path) -> None:
    task = Fit()
    result = _build(task, tmp_path)
    assert result.ok
    record = RunRecord.read(open_store(str(tmp_path / "ws")), task.unique_id)
    by_key = [(m["key"], m["value"], m["step"]) for m in record.metrics]
    assert by_key == [
        ("train/loss", 1.0, 0),
        ("train/loss", 0.5, 1),
        ("train/loss", pytest.approx(1 / 3), 2),
        ("auc", 0.75, None),
        ("n", 10.0, None),
        ("nan", "NaN", None),
        ("inf", "-Infinity", None),
    ]
    assert all(isinstance(m["timestamp"], int) for m in record.metrics)

    def no_constants(name: str) -> None:
        raise AssertionError(f"the record holds the non-JSON constant {name}")

    json.loads(record.to_bytes(), parse_constant=no_constants)  # strict JSON


def test_numpy_scalars_are_numbers(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")

    class NumpyMetric(tasuki.Task):
        def run(self) -> None:
            self.log_metric("acc", np.float32(0.5), step=np.int64(3))
            self.dump(1)

    task = NumpyMetric()
    assert _build(task, tmp_path).ok
    record = RunRecord.read(open_store(str(tmp_path / "ws")), task.unique_id)
    assert [(m["value"], m["step"]) for m in record.metrics] == [(0.5, 3)]
    assert type(record.metrics[0]["step"]) is int


@pytest.mark.parametrize(
    ("kind", "key", "value", "says"),
    [
        ("value", "loss", "1.0", "must be a real number"),
        ("bool", "converged", "", "not bool"),
        ("key", "", "", "a metric key is 1 to 250 characters"),
        ("key", "", "loss=0.3", "a metric key is 1 to 250 characters"),
        ("key", "", "a/../b", "no '..' part"),
        ("key", "", "x" * 251, "a metric key is 1 to 250 characters"),
        ("step", "loss", "", "step must be an int"),
        ("mapping", "", "", "pass a mapping"),
    ],
)
def test_bad_log_metric_input_fails_the_task_naming_task_and_key(
    kind: str, key: str, value: str, says: str, tmp_path: Path
) -> None:
    task = LogsBadly(key=key, value=value, kind=kind)
    result = _build(task, tmp_path)
    assert not result.ok
    error = result.results[task.unique_id].error
    assert error is not None and error.type == "TaskError"
    assert says in error.message
    assert "LogsBadly" in error.message
    if kind in ("value", "bool", "step"):
        assert repr(key) in error.message
    # What was logged before the bad call stays in the failed record.
    record = RunRecord.read(open_store(str(tmp_path / "ws")), task.unique_id)
    assert record.status == "failed"
    assert [m["key"] for m in record.metrics] == ["kept"]


def test_log_metric_outside_a_run_says_where_it_may_be_called() -> None:
    with pytest.raises(TaskError, match=r"log_metric\(\) was called outside a run"):
        Fit().log_metric("loss", 1.0)


def test_a_parameter_cannot_shadow_log_metric() -> None:
    with pytest.raises(TaskError, match="log_metric cannot be a parameter name"):

        class Shadow(tasuki.Task):
            log_metric: int = 1


def test_tasuki_show_prints_the_metrics(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tasuki.cli import app

    task = Fit()
    assert _build(task, tmp_path).ok
    out = CliRunner().invoke(
        app, ["show", task.unique_id[:12], "--workspace", str(tmp_path / "ws")]
    )
    assert out.exit_code == 0, out.output
    assert "metrics:\n" in out.output
    assert "  train/loss = 0.3333333333333333 (step 2; 3 values)" in out.output
    assert "  nan = NaN\n" in out.output
