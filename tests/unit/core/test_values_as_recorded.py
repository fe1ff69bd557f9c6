"""A task holds its parameter values as a task made again from its record would.

A unique id and a run record keep a tuple as a list (JSON has no tuples); a task made again
from them (``tasuki rerun``, a Dask or Argo worker, ``load_output``) gets a tuple back only
where the annotation says ``tuple``. ``xs: Any = (1, 2)`` was a tuple where the task was made
and a list on a worker, under one id: ``run()`` saw two values, and the output cached from
one was handed out for the other (``T(xs=(1, 2))`` after ``T(xs=[1, 2])`` got ``"list"``
where its own run said ``"tuple"``). A tuple is now a list from the start wherever the
annotation would not make it a tuple again.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core.loading import task_from_record
from tasuki.core.params import FrozenList
from tasuki.core.records import find_record
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import Colour


class Kind(tasuki.Task):
    xs: Any = None

    def run(self) -> None:
        self.dump(type(self.xs).__name__)


class Typed(tasuki.Task):
    pair: tuple[int, int] = (0, 0)
    rows: list[tuple[int, int]] = []
    either: list[int] | tuple[int, ...] = ()
    opts: dict[str, Any] = {}

    def run(self) -> None:
        self.dump([type(v).__name__ for v in (self.pair, self.rows[0], self.either)])


def test_a_tuple_where_the_annotation_says_tuple_stays_a_tuple() -> None:
    task = Typed(pair=(1, 2), rows=[(3, 4)], either=[5])
    assert task.pair == (1, 2) and type(task.pair) is tuple
    assert type(task.rows[0]) is tuple


@pytest.mark.parametrize(
    "make",
    [
        lambda: Kind(xs=(1, 2)),
        lambda: Kind(xs={"layers": (64, 32)}),
        lambda: Kind(xs=[(1, 2), (3, 4)]),
        lambda: Typed(rows=[(1, 2)], either=(1, 2), opts={"shape": (3, 4)}),
    ],
    ids=["Any", "dict in Any", "tuples in a list in Any", "union and dict[str, Any]"],
)
def test_a_task_made_again_from_its_record_holds_the_same_values(tmp_path, make) -> None:
    task = make()
    ws = str(tmp_path / "ws")
    tasuki.build(task, workspace=ws, progress="off")
    store = open_store(ws)
    again = task_from_record(find_record(store, task.unique_id), store)
    assert again.unique_id == task.unique_id
    for name, value in task.param_values.items():
        held = again.param_values[name]
        assert held == value and repr(held) == repr(value), name


def test_a_tuple_and_a_list_are_one_task_and_one_value(tmp_path) -> None:
    ws = str(tmp_path / "ws")
    as_list, as_tuple = Kind(xs=[1, 2]), Kind(xs=(1, 2))
    assert as_list.unique_id == as_tuple.unique_id
    assert type(as_tuple.xs) is FrozenList
    assert tasuki.build(as_list, workspace=ws, progress="off") == "FrozenList"
    assert tasuki.build(as_tuple, workspace=str(tmp_path / "fresh"), progress="off") == (
        "FrozenList"
    )


@pytest.mark.parametrize(
    "value",
    [
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, tzinfo=dt.UTC),
        dt.timedelta(hours=1),
        Path("a/b.csv"),
        Colour.RED,
        {"day": dt.date(2024, 1, 2), "shape": [3, 4]},
        [Path("x"), 1.5],
        {1: "a"},
        0.1 + 0.2,
    ],
    ids=repr,
)
def test_a_value_of_any_type_is_made_again_from_the_record(tmp_path, value) -> None:
    """A date given for ``Any`` was written into the record as text and read back as text:
    ``tasuki rerun`` and ``load_output`` made another task (another id) and refused."""
    task = Kind(xs=value)
    ws = str(tmp_path / "ws")
    tasuki.build(task, workspace=ws, progress="off")
    store = open_store(ws)
    again = task_from_record(find_record(store, task.unique_id), store)
    assert again.unique_id == task.unique_id
    assert again.xs == task.xs and type(again.xs) is type(task.xs)
    assert tasuki.load_output(task.unique_id[:12], workspace=ws) == type(task.xs).__name__
