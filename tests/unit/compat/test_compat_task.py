"""TaskOnKart subclasses are real tasuki tasks: typed parameters, ids, outputs, load/dump."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tasuki
import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi
from tasuki.compat import gokart_unique_id
from tasuki.errors import ParameterError, TaskError, UnsupportedError
from tasuki.storage import open_store


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class KindsTask(gokart.TaskOnKart):
    text = luigi.Parameter()
    n = luigi.IntParameter(default=3, description="how many")
    rate = luigi.FloatParameter(default=0.5)
    flag = luigi.BoolParameter()
    day = luigi.DateParameter(default=dt.date(2024, 1, 2))
    hour = luigi.DateHourParameter(default=dt.datetime(2024, 1, 2, 3))
    span = luigi.TimeDeltaParameter(default=dt.timedelta(hours=2))
    items = luigi.ListParameter(default=[1, [2, 3]])
    conf = luigi.DictParameter(default={"a": [1, 2]})
    color = luigi.EnumParameter(enum=Color, default=Color.RED)
    maybe = luigi.OptionalIntParameter()
    size = luigi.ChoiceParameter(choices=["s", "m"], default="s")
    jobs = luigi.IntParameter(default=1, significant=False)

    def run(self) -> None:
        self.dump(self.param_values)


def test_parameters_become_typed_tasuki_fields() -> None:
    specs = KindsTask.param_specs()
    assert specs["n"].annotation is int and specs["n"].description == "how many"
    assert specs["day"].annotation is dt.date
    assert specs["hour"].annotation is dt.datetime
    assert specs["items"].annotation == tuple[Any, ...]
    assert specs["color"].annotation is Color
    assert specs["maybe"].annotation == int | None
    assert specs["jobs"].significant is False
    assert specs["text"].has_default is False
    # gokart's own parameters are attributes (never in ids), not tasuki parameters.
    assert "workspace_directory" not in specs and KindsTask.workspace_directory == "./resources/"
    task = KindsTask(text="x")
    assert task.items == (1, (2, 3))  # luigi freezes lists
    assert task.flag is False  # a BoolParameter defaults to False
    assert task.maybe is None
    assert isinstance(task, tasuki.Task)


def test_ids_follow_significant_parameters_only() -> None:
    base = KindsTask(text="x")
    assert KindsTask(text="x", jobs=8).unique_id == base.unique_id
    assert KindsTask(text="x", workspace_directory="/elsewhere").unique_id == base.unique_id
    assert KindsTask(text="y").unique_id != base.unique_id
    assert KindsTask(text="x", n=4).unique_id != base.unique_id
    # A list and the tuple luigi makes of it are the same value.
    assert KindsTask(text="x", items=(1, (2, 3))).unique_id == base.unique_id
    assert KindsTask(text="x", items=[1, [2, 3]]).unique_id == base.unique_id


def test_text_for_a_typed_parameter_is_parsed_as_luigi_would() -> None:
    task = KindsTask(text="x", n="7", day="2024-05-06", flag="true", color="BLUE")
    assert (task.n, task.day, task.flag, task.color) == (7, dt.date(2024, 5, 6), True, Color.BLUE)
    assert (
        task.unique_id
        == KindsTask(text="x", n=7, day=dt.date(2024, 5, 6), flag=True, color=Color.BLUE).unique_id
    )


def test_bad_values_name_the_task_parameter_and_value() -> None:
    with pytest.raises(ParameterError) as err:
        KindsTask(text="x", n="seven")
    assert "KindsTask" in str(err.value) and "'n'" in str(err.value) and "seven" in str(err.value)
    with pytest.raises(ParameterError, match="choices"):
        KindsTask(text="x", size="xl")
    with pytest.raises(ParameterError, match="missing required parameter text"):
        KindsTask()
    with pytest.raises(ParameterError, match="by name"):
        KindsTask("x")  # type: ignore[misc]
    with pytest.raises(ParameterError, match="must be float"):
        KindsTask(text="x", rate=[1])


def test_parameters_are_frozen_but_scratch_attributes_are_not() -> None:
    task = KindsTask(text="x")
    task.scratch = 1  # gokart code keeps helpers on self
    assert task.scratch == 1
    with pytest.raises(dataclasses.FrozenInstanceError, match="parameter 'n'"):
        task.n = 4


def test_repr_hides_gokart_parameters_at_their_defaults() -> None:
    assert repr(KindsTask(text="x", jobs=2)).startswith("KindsTask(text='x', n=3,")
    assert "workspace_directory" not in repr(KindsTask(text="x"))
    assert "rerun=True" in repr(KindsTask(text="x", rerun=True))


class Upstream(gokart.TaskOnKart):
    value = luigi.IntParameter()

    def run(self) -> None:
        self.dump(pd.DataFrame({"a": [self.value], "b": [self.value * 2], "c": [0]}))


class Downstream(gokart.TaskOnKart):
    first = gokart.TaskInstanceParameter()
    rest = gokart.ListTaskInstanceParameter(default=[])

    def output(self) -> Any:
        return self.make_target("out/down.csv")

    def run(self) -> None:
        frame = self.load_data_frame("first", required_columns={"b", "a"}, drop_columns=True)
        more = [self.load(t) for t in self.rest]
        self.dump(pd.concat([frame, *[m[["a", "b"]] for m in more]], ignore_index=True))


def test_default_requires_are_the_task_parameters_and_output_the_class_name() -> None:
    up = Upstream(value=1)
    assert up.requires() is None  # not [] : the id document would differ from native code
    down = Downstream(first=up, rest=[Upstream(value=2)])
    assert down.requires() == {"first": up, "rest": (Upstream(value=2),)}
    assert Downstream(first=up).requires() == {"first": up}
    key = up.output().key
    assert key == f"tests/unit/compat/test_compat_task/Upstream_{up.unique_id}.pkl"
    assert up.output().gokart_path == "tests/unit/compat/test_compat_task/Upstream.pkl"
    assert down.output().gokart_path == "out/down.csv"


def test_build_loads_dumps_and_caches(tmp_path: Path) -> None:
    task = Downstream(first=Upstream(value=1), rest=[Upstream(value=2)])
    got = gokart.build(task)
    assert got.to_dict("list") == {"a": [1, 2], "b": [2, 4]}
    assert list((tmp_path / "resources").rglob("down_*.csv"))  # gokart's default workspace
    result = tasuki.run_build(task, workspace=str(tmp_path / "resources"))
    assert {r.status for r in result.results.values()} <= {"cached", "not_needed"}
    assert not result.by_status("ran")


def test_workspace_directory_is_the_build_workspace(tmp_path: Path) -> None:
    where = tmp_path / "ws"
    assert gokart.build(Upstream(value=5, workspace_directory=str(where)))["a"][0] == 5
    assert list(where.rglob("Upstream_*.pkl"))
    assert not (tmp_path / "resources").exists()


def _save(model: Any, path: str) -> None:
    assert path.endswith("model.pkl")  # gokart hands a file path, not a folder
    Path(path).write_bytes(pickle.dumps(model))


def _load(path: str) -> Any:
    return pickle.loads(Path(path).read_bytes())


class ModelTask(gokart.TaskOnKart):
    def output(self) -> Any:
        return self.make_model_target("model/m.zip", save_function=_save, load_function=_load)

    def run(self) -> None:
        self.dump({"weights": [1, 2]})


def test_model_target_with_gokart_save_and_load_functions() -> None:
    assert gokart.build(ModelTask()) == {"weights": [1, 2]}


class EmptyTask(gokart.TaskOnKart):
    def run(self) -> None:
        self.dump(pd.DataFrame())


def test_fail_on_empty_dump_is_a_parameter() -> None:
    assert gokart.build(EmptyTask()).empty
    with pytest.raises(gokart.GokartBuildError) as err:
        gokart.build(EmptyTask(fail_on_empty_dump=True, rerun=True))
    assert "EmptyOutputError" in str(err.value)
    (errors,) = err.value.raised_exceptions.values()
    assert errors[0].args[0].startswith("EmptyOutputError")


class Counter(gokart.TaskOnKart):
    def run(self) -> None:
        self.task_log["note"] = "ran"
        self.dump(len(list(Path(".").rglob("Counter_*.pkl"))))


def test_rerun_parameter_runs_the_task_again(tmp_path: Path) -> None:
    gokart.build(Counter())
    first = tasuki.run_build(Counter(rerun=True), workspace=str(tmp_path / "resources"))
    assert [r.status for r in first.results.values()] == ["ran"]
    plain = tasuki.run_build(Counter(), workspace=str(tmp_path / "resources"))
    assert [r.status for r in plain.results.values()] == ["cached"]


def test_task_log_is_kept_in_the_record(tmp_path: Path) -> None:
    task = Counter()
    gokart.build(task)
    record = tasuki.RunRecord.read(open_store(str(tmp_path / "resources")), task.unique_id)
    # gokart's id is kept beside it (what gokart names the output; it seeds the run).
    assert record.task_log == {"note": "ran", "gokart_unique_id": gokart_unique_id(task)}


class GenTask(gokart.TaskOnKart):
    def requires(self) -> Any:
        return [Upstream(value=1), Upstream(value=2)]

    def run(self) -> None:
        self.dump([int(frame["a"][0]) for frame in self.load_generator()])


def test_load_generator_and_list_requires() -> None:
    assert gokart.build(GenTask()) == [1, 2]


def test_make_target_options_tasuki_cannot_honour_say_why() -> None:
    with pytest.raises(UnsupportedError, match="use_unique_id=False"):
        Upstream(value=1).make_target("x.pkl", use_unique_id=False)
    with pytest.raises(UnsupportedError, match="processor"):
        Upstream(value=1).make_target("x.pkl", processor=object())
    with pytest.raises(UnsupportedError, match=r"self\.load\(\)"):
        Upstream(value=1).input()


def test_a_plain_value_for_a_parameter_becomes_its_default() -> None:
    # gokart's tutorial writes `rerun=True` in a subclass; luigi then reads the value.
    class Hiding(Upstream):
        value = 3  # type: ignore[assignment]

    assert Hiding().value == 3 and Hiding(value=4).value == 4
    assert Hiding.__luigi_params__["value"].default == 3


def test_a_method_hiding_a_parameter_is_refused() -> None:
    with pytest.raises(TaskError, match="hides the parameter value"):

        class Hiding(Upstream):
            def value(self) -> int:  # type: ignore[override]
                return 3


def test_compat_tasks_pickle_and_run_on_worker_processes(tmp_path: Path) -> None:
    task = Downstream(first=Upstream(value=3), rest=[Upstream(value=4)])
    again = pickle.loads(pickle.dumps(task))
    assert again == task and again.unique_id == task.unique_id and again.rest == task.rest
    got = gokart.build(task, workers=2)
    assert got.to_dict("list") == {"a": [3, 4], "b": [6, 8]}
