"""Task classes made by a function, one per call, with one name.

``def make_task(k): class Scale(Task): ... self.x * k`` makes a class named
``make_task.<locals>.Scale`` on every call. ``make_task(2)(x=1)`` and ``make_task(3)(x=1)``
had one unique id: whichever was built first was handed back for the other (``3 * 1`` came
back as 2), and a build that held both made one of them only. The values a class's methods
read from the function that made it now enter its id (encoded as parameters are).
"""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.errors import TaskError


def make_scale(k: Any) -> type[tasuki.Task]:
    class Scale(tasuki.Task):
        x: int

        def run(self) -> None:
            self.dump(self.x * k)

    return Scale


def make_guarded(lock: Any) -> type[tasuki.Task]:
    class Guarded(tasuki.Task):
        x: int

        def run(self) -> None:
            with lock:
                self.dump(self.x)

    return Guarded


class Pair(tasuki.Task):
    first: tasuki.Task
    second: tasuki.Task

    def requires(self) -> list[tasuki.Task]:
        return [self.first, self.second]

    def run(self) -> None:
        self.dump([self.load(self.first), self.load(self.second)])


@pytest.mark.parametrize("order", [(2, 3), (3, 2)])
def test_classes_made_from_other_values_keep_their_own_outputs(tmp_path: Path, order) -> None:
    for k in order:
        assert tasuki.build(make_scale(k)(x=5), workspace=tmp_path, progress="off") == 5 * k
    for k in order:  # and the cache hands each its own
        assert tasuki.build(make_scale(k)(x=5), workspace=tmp_path, progress="off") == 5 * k


def test_one_build_holding_both_makes_both(tmp_path: Path) -> None:
    pair = Pair(first=make_scale(2)(x=1), second=make_scale(3)(x=1))
    assert tasuki.build(pair, workspace=tmp_path, progress="off") == [2, 3]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (2, 2, True),
        (2, 2.0, False),
        ("clicks", "views", False),
        ([1, 2], [1, 2], True),
        (Path("a"), Path("b"), False),
        (len, len, True),
        (len, sorted, False),
        (lambda v: v * 2, lambda v: v * 3, False),
    ],
)
def test_the_id_follows_the_captured_values(a: Any, b: Any, same: bool) -> None:
    assert (make_scale(a)(x=1).unique_id == make_scale(b)(x=1).unique_id) is same


def test_a_class_at_module_level_keeps_its_id() -> None:
    assert Pair.task_name() == Pair._info().id_name


def test_values_with_no_encoding_share_an_id_and_one_node_when_the_code_is_the_same(
    tmp_path: Path,
) -> None:
    first, second = make_guarded(threading.Lock()), make_guarded(threading.Lock())
    assert first(x=1).unique_id == second(x=1).unique_id
    assert tasuki.build(Pair(first=first(x=1), second=second(x=1)), workspace=tmp_path) == [1, 1]


def test_two_classes_of_one_name_with_other_code_in_one_build_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook cell defined the class again (other code) while a task of the old class
    is still held: one id, one node, would stand for both."""
    cells = types.ModuleType("cells")
    monkeypatch.setitem(sys.modules, "cells", cells)

    def define(offset: int) -> type[tasuki.Task]:
        exec(  # a notebook cell, run twice with other code
            "import tasuki\n"
            "class Cell(tasuki.Task):\n"
            "    x: int\n"
            "    def run(self):\n"
            f"        self.dump(self.x + {offset})\n",
            cells.__dict__,
        )
        return cells.__dict__["Cell"]  # type: ignore[no-any-return]

    old, new = define(1), define(2)
    assert old(x=1).unique_id == new(x=1).unique_id
    with pytest.raises(TaskError, match=r"two task classes named cells:Cell, with other code"):
        tasuki.build(Pair(first=old(x=1), second=new(x=1)), workspace=tmp_path, progress="off")
    assert tasuki.build(Pair(first=new(x=1), second=new(x=2)), workspace=tmp_path) == [3, 4]
