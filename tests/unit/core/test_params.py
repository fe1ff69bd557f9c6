"""Parameters: runtime checks, coercion from text and JSON, clear errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import pytest

import tasuki
from tasuki.cli._params import make_task, parse_param_args
from tasuki.config import load_settings
from tasuki.core.params import coerce
from tasuki.errors import ParameterError, TaskError

from .tasks_for_tests import AllTypes, Colour, TaskA, TaskB


def test_wrong_type_names_task_parameter_value_and_type():
    with pytest.raises(ParameterError) as info:
        TaskB(param=1)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "TaskB" in msg and "'param'" in msg and "str" in msg and "int 1" in msg
    assert info.value.parameter == "param"


def test_unknown_parameter_suggests():
    with pytest.raises(ParameterError, match=r"unknown parameter 'parm'.*Did you mean 'param'"):
        TaskA(parm="x")  # type: ignore[call-arg]


def test_missing_parameter():
    with pytest.raises(ParameterError, match="missing required parameter param: str"):
        TaskA()  # type: ignore[call-arg]


def test_positional_arguments_refused():
    with pytest.raises(ParameterError, match="keyword-only"):
        TaskA("x")  # type: ignore[misc]


def test_frozen():
    task = TaskA(param="x")
    with pytest.raises(AttributeError):
        task.param = "y"  # type: ignore[misc]


def test_all_types_accepted_and_checked():
    AllTypes()
    with pytest.raises(ParameterError, match="'lit' must be Literal"):
        AllTypes(lit="c")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'li'"):
        AllTypes(li=["1"])  # type: ignore[list-item]
    with pytest.raises(ParameterError, match="'b'"):
        AllTypes(b=1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'d'"):
        AllTypes(d=dt.datetime(2024, 1, 1))
    assert AllTypes(f=1).f == 1.0  # an int is a fine float, kept as the float it stands for
    assert AllTypes(tasks=[TaskA(param="x")]).tasks == [TaskA(param="x")]


def test_an_int_for_a_float_is_the_same_task_as_the_float():
    from tasuki.config import load_settings

    assert AllTypes(f=1).unique_id == AllTypes(f=1.0).unique_id
    assert type(AllTypes(f=1).f) is float
    assert AllTypes(di={"k": 2}).unique_id == AllTypes(di={"k": 2.0}).unique_id
    cli = make_task("tests.unit.core.tasks_for_tests:AllTypes", {"f": "1"}, load_settings())
    assert cli.unique_id == AllTypes(f=1).unique_id


class Grid(tasuki.Task):
    lr: float
    n: int = 1
    on: bool = False
    xs: list[float] = []
    by: dict[str, int] = {}


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ({"lr": "np.float64(0.5)"}, {"lr": 0.5}),
        ({"lr": "np.float32(0.5)"}, {"lr": 0.5}),
        ({"lr": "np.int64(1)"}, {"lr": 1.0}),
        ({"lr": "0.5", "n": "np.int64(3)"}, {"lr": 0.5, "n": 3}),
        ({"lr": "0.5", "on": "np.bool_(True)"}, {"lr": 0.5, "on": True}),
        ({"lr": "0.5", "xs": "np.array([1.0, 2.5])"}, {"lr": 0.5, "xs": [1.0, 2.5]}),
        ({"lr": "0.5", "xs": "list(np.linspace(0, 1, 3))"}, {"lr": 0.5, "xs": [0.0, 0.5, 1.0]}),
        ({"lr": "0.5", "by": "{'a': np.int64(2)}"}, {"lr": 0.5, "by": {"a": 2}}),
    ],
)
def test_numpy_values_are_the_python_values_they_hold(given, plain):
    """A value from a NumPy grid or a data frame row (``np.float64(0.5)``) was refused."""
    np = pytest.importorskip("numpy")
    task = Grid(**{k: eval(v, {"np": np}) for k, v in given.items()})
    assert task.unique_id == Grid(**plain).unique_id

    def leaves(value):
        if isinstance(value, list | tuple):
            return [x for v in value for x in leaves(v)]
        if isinstance(value, dict):
            return [x for kv in value.items() for v in kv for x in leaves(v)]
        return [value]

    assert {type(v).__module__ for k in given for v in leaves(task.param_values[k])} == {"builtins"}


def test_a_numpy_value_that_does_not_fit_is_still_refused():
    np = pytest.importorskip("numpy")
    with pytest.raises(ParameterError, match=r"'n' must be int, got float64 .* Pass an int"):
        Grid(lr=0.5, n=np.float64(3.0))
    with pytest.raises(ParameterError, match=r"'lr' must be float, got ndarray"):
        Grid(lr=np.array([0.5]))


def test_mutable_defaults_are_not_shared():
    a, b = AllTypes(), AllTypes()
    assert a.li == [1, 2] and a.li is not b.li


def test_reserved_names_refused():
    with pytest.raises(TaskError, match="output cannot be a parameter name"):

        class Bad(tasuki.Task):
            output: str  # type: ignore[assignment]


def test_unsupported_annotation_named():
    class Odd(tasuki.Task):
        x: set[int]

    with pytest.raises(TaskError, match="'x' is annotated set"):
        Odd(x={1})


@pytest.mark.parametrize(
    ("raw", "tp", "expected"),
    [
        ("3", int, 3),
        ("0.5", float, 0.5),
        ("yes", bool, True),
        ("off", bool, False),
        ("2024-01-31", dt.date, dt.date(2024, 1, 31)),
        (
            "2024-01-31T10:00:00+09:00",
            dt.datetime,
            dt.datetime(2024, 1, 31, 10, tzinfo=dt.timezone(dt.timedelta(hours=9))),
        ),
        ("1d 2h", dt.timedelta, dt.timedelta(days=1, hours=2)),
        ("30 minutes", dt.timedelta, dt.timedelta(minutes=30)),
        ("90", dt.timedelta, dt.timedelta(seconds=90)),
        ("a/b", Path, Path("a/b")),
        ("RED", Colour, Colour.RED),
        ("blue", Colour, Colour.BLUE),
        ("b", Literal["a", "b"], "b"),
        ("none", int | None, None),
        ("4", int | None, 4),
        ("[1, 2]", list[int], [1, 2]),
        ('["a", "b"]', tuple[str, ...], ("a", "b")),
        ('{"x": 1}', dict[str, float], {"x": 1.0}),
        ([1, "2"], list[int], [1, 2]),
    ],
)
def test_coerce(raw, tp, expected):
    assert coerce(raw, tp, task="T", name="p") == expected


@pytest.mark.parametrize(
    ("raw", "tp"),
    [
        ("x", int),
        ("1.5", int),
        ("maybe", bool),
        ("2024-13-01", dt.date),
        ("GREEN", Colour),
        ("c", Literal["a", "b"]),
        ("[1", list[int]),
        ("soon", dt.timedelta),
    ],
)
def test_coerce_errors_are_clear(raw, tp):
    with pytest.raises(ParameterError) as info:
        coerce(raw, tp, task="mypkg:T", name="p")
    msg = str(info.value)
    assert "mypkg:T" in msg and "'p'" in msg and repr(raw) in msg and "Pass a" in msg


def test_cli_words():
    raw = parse_param_args(AllTypes, ["--s", "hi", "--i=4", "--b", "--lit", "b", "--no-b"])
    assert raw == {"s": "hi", "i": "4", "b": False, "lit": "b"}
    with pytest.raises(ParameterError, match=r"unknown parameter --ss.*Did you mean --s"):
        parse_param_args(AllTypes, ["--ss", "x"])
    with pytest.raises(ParameterError, match="needs a value"):
        parse_param_args(AllTypes, ["--s"])


def test_make_task_with_settings_defaults_and_task_parameters():
    settings = load_settings({"tasks": {"tests.unit.core.tasks_for_tests:TaskB": {"param": "cfg"}}})
    task = make_task("tests.unit.core.tasks_for_tests:TaskB", {}, settings)
    assert task == TaskB(param="cfg")
    task = make_task(
        "tests.unit.core.tasks_for_tests:TaskB",
        {"upstream": '{"task": "tests.unit.core.tasks_for_tests:TaskA", "params": {"param": "u"}}'},
        settings,
    )
    assert task.upstream == TaskA(param="u")


def test_task_s_own_annotations_are_kept_evaluated():
    # Every task class's first value asks typing.get_type_hints for the whole MRO: strings
    # there would be compiled and evaluated again for each class.
    import inspect
    import typing
    from typing import ClassVar

    from tasuki.core._base import TaskBase

    for klass in (TaskBase, tasuki.Task):
        assert not [v for v in inspect.get_annotations(klass).values() if isinstance(v, str)]

    class Sized(tasuki.Task):
        n: int
        label: str = "x"

    hints = typing.get_type_hints(Sized)
    assert (hints["n"], hints["label"], hints["rerun"]) == (int, str, ClassVar[bool])
    assert Sized(n=1).param_values == {"n": 1, "label": "x"}


class HoldsItems(tasuki.Task):
    items: list

    def run(self) -> None:
        self.dump(self.items)


class HoldsTask(tasuki.Task):
    inner: tasuki.Task

    def requires(self) -> tasuki.Task:
        return self.inner

    def run(self) -> None:
        self.dump(self.load())


def test_a_value_deep_in_a_container_names_the_task_and_parameter(tmp_path):
    # A list passes the type check; the set inside it only fails when the id is made.
    with pytest.raises(ParameterError) as err:
        tasuki.build(HoldsItems(items=[1, [2, {3}]]), workspace=tmp_path, progress="off")
    message = str(err.value)
    assert "HoldsItems: parameter 'items'" in message
    assert "sorted({3})" in message
    assert err.value.parameter == "items" and err.value.task.endswith(":HoldsItems")


def test_a_bad_value_in_a_task_given_as_a_parameter_names_that_task(tmp_path):
    outer = HoldsTask(inner=HoldsItems(items=[{"a": {1}}]))
    with pytest.raises(ParameterError) as err:
        tasuki.build(outer, workspace=tmp_path, progress="off")
    assert err.value.task.endswith(":HoldsItems") and err.value.parameter == "items"
    assert "HoldsItems: parameter 'items'" in str(err.value)
