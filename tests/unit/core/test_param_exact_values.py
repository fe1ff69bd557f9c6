"""A parameter holds the value its run record gives back, so a rerun is the same task.

A value of a subclass of the annotated type passed the type check as it was: a ``StrEnum``
member given for ``str`` (an ``IntEnum`` for ``int``) had another unique id than the text
the record gives back, and ``tasuki rerun ID`` refused the task it rebuilt ("got id ...");
``np.str_``, ``pd.Timestamp``, ``pd.Timedelta`` and ``PurePosixPath`` kept their id, but
``run()`` saw another type on a rerun, and its output had other bytes.
"""

from __future__ import annotations

import datetime as dt
import enum
import pickle
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.core.loading import task_from_record
from tasuki.core.records import RunRecord
from tasuki.storage import open_store


class Colour(enum.StrEnum):
    RED = "red"


class OldColour(str, enum.Enum):  # noqa: UP042 (the old form, on purpose): str() of a member is "OldColour.RED" before 3.12's change
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 2


class Typed(tasuki.Task):
    s: str = ""
    i: int = 0
    when: dt.datetime = dt.datetime(2020, 1, 1)
    day: dt.date = dt.date(2020, 1, 1)
    span: dt.timedelta = dt.timedelta(0)
    path: Path = Path("x")
    maybe: str | None = None
    names: list[str] = []
    weights: dict[str, int] = {}
    colour: Colour = Colour.RED  # an Enum parameter keeps its member

    def output(self):
        return self.make_target("typed.pkl")

    def run(self):
        # What run() sees, types included, is the output: a rerun must make the same bytes.
        self.dump({name: (type(v).__name__, v) for name, v in self.param_values.items()})


CASES: list[tuple[str, Any, Any]] = [
    ("s", Colour.RED, "red"),
    ("s", OldColour.RED, "red"),
    ("s", np.str_("red"), "red"),
    ("i", Level.HIGH, 2),
    ("when", pd.Timestamp("2024-05-05 10:30:01.5"), dt.datetime(2024, 5, 5, 10, 30, 1, 500000)),
    ("span", pd.Timedelta(seconds=5), dt.timedelta(seconds=5)),
    ("path", PurePosixPath("a/b"), Path("a/b")),
    ("maybe", Colour.RED, "red"),
    ("names", [np.str_("a"), Colour.RED], ["a", "red"]),
    ("weights", {Colour.RED: Level.HIGH}, {"red": 2}),
]


@pytest.mark.parametrize(
    ("name", "given", "plain"), CASES, ids=[f"{c[0]}-{type(c[1]).__name__}" for c in CASES]
)
def test_a_subclass_value_is_held_as_the_plain_value_the_record_gives_back(name, given, plain):
    task = Typed(**{name: given})
    held = getattr(task, name)
    assert held == plain, (type(held), held)
    if isinstance(plain, list | dict):  # a frozen copy, of plain values
        assert isinstance(held, type(plain))
        assert all(type(v) is str for v in held), [type(v) for v in held]
        assert all(type(v) is int for v in (held.values() if isinstance(held, dict) else ()))
    else:
        assert type(held) is type(plain), (type(held), held)
    assert task.unique_id == Typed(**{name: plain}).unique_id


def test_an_enum_parameter_keeps_its_member():
    task = Typed(colour=Colour.RED)
    assert task.colour is Colour.RED


@pytest.mark.parametrize(
    ("name", "given", "plain"), CASES, ids=[f"{c[0]}-{type(c[1]).__name__}" for c in CASES]
)
def test_the_task_rebuilt_from_its_record_is_the_same_task(tmp_path, name, given, plain):
    ws = str(tmp_path / "ws")
    task = Typed(**{name: given})
    first = tasuki.build(task, workspace=ws)
    store = open_store(ws)
    again = task_from_record(RunRecord.read(store, task.unique_id), store)
    assert again.unique_id == task.unique_id
    assert again.param_values == task.param_values
    assert pickle.dumps(again.param_values) == pickle.dumps(task.param_values)
    assert first[name][1] == plain


def test_tasuki_rerun_of_a_task_given_a_str_enum_makes_the_same_bytes(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    task = Typed(s=Colour.RED, when=pd.Timestamp("2024-05-05"))
    tasuki.build(task, workspace=str(ws))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["rerun", task.unique_id, "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "the same bytes as the run it replaces" in result.output


class Loose(tasuki.Task):
    x: Any = None
    y: dict[str, Any] = {}

    def output(self):
        return self.make_target("loose.pkl")

    def run(self):
        self.dump(repr((self.x, self.y)))


LOOSE: list[tuple[Any, Any]] = [
    (np.float64(0.5), 0.5),
    (np.str_("s"), "s"),
    (pd.Timestamp("2024-01-01 05:00"), dt.datetime(2024, 1, 1, 5)),
    ([np.float64(1.5), (np.str_("a"), 2)], [1.5, ["a", 2]]),  # a tuple in Any: a list
]


@pytest.mark.parametrize(("given", "plain"), LOOSE, ids=[type(g).__name__ for g, _ in LOOSE])
def test_an_any_parameter_holds_what_the_record_gives_back(tmp_path, given, plain):
    """``Any`` comes back through the id's encoding (enum members and tasks kept): a
    NumPy scalar or a Timestamp came back a float or a datetime, and run() saw the other."""
    ws = str(tmp_path / "ws")
    for task in (Loose(x=given), Loose(y={"k": given})):
        held = task.x if task.x is not None else task.y["k"]
        assert repr(held) == repr(plain)
        tasuki.build(task, workspace=ws)
        store = open_store(ws)
        again = task_from_record(RunRecord.read(store, task.unique_id), store)
        assert again.unique_id == task.unique_id
        assert repr(again.param_values) == repr(task.param_values)


def test_an_any_parameter_keeps_enum_members():
    task = Loose(x=[Colour.RED, Level.HIGH], y={"k": Colour.RED})
    assert task.x[0] is Colour.RED and task.x[1] is Level.HIGH and task.y["k"] is Colour.RED


def test_a_task_whose_parameter_held_a_secret_says_why_it_cannot_be_rebuilt(tmp_path):
    from tasuki.errors import RecordNotFoundError

    ws = str(tmp_path / "ws")
    task = Loose(x="postgresql://etl:hunter2@db/warehouse")
    tasuki.build(task, workspace=ws)
    store = open_store(ws)
    record = RunRecord.read(store, task.unique_id)
    assert "hunter2" not in record.to_bytes().decode()
    with pytest.raises(RecordNotFoundError, match="held a secret") as info:
        task_from_record(record, store)
    assert "'x'" in str(info.value) and info.value.parameters == ["x"]


class Mode(tasuki.Task):
    mode: Literal["a", 1, True] = "a"

    def output(self):
        return self.make_target("mode.pkl")

    def run(self):
        self.dump(repr(self.mode))


@pytest.mark.parametrize("mode", ["a", 1, True])
def test_a_literal_parameter_comes_back_as_the_member_it_was(tmp_path, mode):
    """``True == 1``: a record's ``true`` came back as ``1``, the first member equal to it."""
    ws = str(tmp_path / "ws")
    task = Mode(mode=mode)
    tasuki.build(task, workspace=ws)
    store = open_store(ws)
    again = task_from_record(RunRecord.read(store, task.unique_id), store)
    assert again.mode is mode or (again.mode == mode and type(again.mode) is type(mode))
    assert again.unique_id == task.unique_id


@pytest.mark.parametrize(("text", "want"), [("a", "a"), ("1", 1), ("True", True), ("true", None)])
def test_a_literal_from_the_command_line_is_the_member_its_text_names(text, want):
    from tasuki.core.params import coerce
    from tasuki.errors import ParameterError

    if want is None:
        with pytest.raises(ParameterError):
            coerce(text, Literal["a", 1, True])
        return
    got = coerce(text, Literal["a", 1, True])
    assert got == want and type(got) is type(want)


def test_a_datetime_in_a_zone_is_held_with_the_offset_its_record_keeps(tmp_path):
    """The id and the record keep the offset, not the zone: New York and a fixed -05:00 were
    one task, and a day added in run() across the daylight-saving change gave two answers."""
    from zoneinfo import ZoneInfo

    zoned = dt.datetime(2024, 3, 9, 12, tzinfo=ZoneInfo("America/New_York"))
    fixed = dt.datetime(2024, 3, 9, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    for task, held in ((Typed(when=zoned), lambda t: t.when), (Loose(x=[zoned]), lambda t: t.x[0])):
        assert type(held(task).tzinfo) is dt.timezone
        assert held(task) + dt.timedelta(days=1) == fixed + dt.timedelta(days=1)
        ws = str(tmp_path / "ws")
        tasuki.build(task, workspace=ws)
        store = open_store(ws)
        again = task_from_record(RunRecord.read(store, task.unique_id), store)
        assert repr(again.param_values) == repr(task.param_values)
    assert Typed(when=zoned).unique_id == Typed(when=fixed).unique_id


def test_an_any_value_with_no_encoding_is_refused_naming_the_parameter():
    from tasuki.errors import ParameterError

    with pytest.raises(ParameterError, match="parameter 'x'") as info:
        Loose(x=[np.int64(3)]).unique_id
    assert "int64" in str(info.value)
