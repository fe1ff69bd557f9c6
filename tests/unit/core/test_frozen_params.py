"""List and dict parameters cannot change once the task exists.

A task's unique id is made from its parameter values once and kept on the value. A list the
caller passed and changed afterwards (``feats.append("c")`` in the next notebook cell), or
one changed inside ``run()``, left the id describing other values than the task held: the
build handed back the output cached for the old values (``Sum(xs=[1, 2, 10])`` returned 3).
The values are now frozen copies that read like lists and dicts.
"""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core.params import FrozenDict, FrozenList
from tasuki.errors import TaskFailedError


class Sum(tasuki.Task):
    xs: list[int]
    extra: dict[str, int] = {}

    def run(self) -> None:
        self.dump(sum(self.xs) + sum(self.extra.values()))


class Nested(tasuki.Task):
    groups: dict[str, list[int]]
    pairs: tuple[list[int], ...] = ()
    anything: Any = None

    def run(self) -> None:
        self.dump(sorted(self.groups))


class SortsInPlace(tasuki.Task):
    xs: list[int]

    def run(self) -> None:
        self.xs.sort()
        self.dump(self.xs)


def test_a_list_changed_after_the_build_does_not_change_the_task(tmp_path: Path) -> None:
    xs = [1, 2]
    extra = {"a": 0}
    task = Sum(xs=xs, extra=extra)
    assert tasuki.build(task, workspace=tmp_path, progress="off") == 3
    xs.append(10)
    extra["b"] = 100
    assert task.xs == [1, 2] and task.extra == {"a": 0}
    assert tasuki.build(task, workspace=tmp_path, progress="off") == 3
    again = Sum(xs=xs, extra=extra)
    assert again.unique_id != task.unique_id
    assert tasuki.build(again, workspace=tmp_path, progress="off") == 113


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.xs.append(3),
        lambda t: t.xs.extend([3]),
        lambda t: t.xs.insert(0, 3),
        lambda t: t.xs.sort(),
        lambda t: t.xs.reverse(),
        lambda t: t.xs.pop(),
        lambda t: t.xs.remove(1),
        lambda t: t.xs.clear(),
        lambda t: t.xs.__setitem__(0, 5),
        lambda t: t.xs.__delitem__(0),
        lambda t: t.xs.__iadd__([3]),
        lambda t: t.xs.__imul__(2),
        lambda t: t.extra.__setitem__("a", 1),
        lambda t: t.extra.update(a=1),
        lambda t: t.extra.setdefault("b", 1),
        lambda t: t.extra.pop("a"),
        lambda t: t.extra.popitem(),
        lambda t: t.extra.clear(),
        lambda t: t.extra.__delitem__("a"),
        lambda t: t.extra.__ior__({"b": 1}),
    ],
)
def test_every_change_is_refused_and_names_the_parameter(change: Any) -> None:
    task = Sum(xs=[1, 2], extra={"a": 0})
    uid = task.unique_id
    with pytest.raises(TypeError, match=r"Sum\.(xs|extra) cannot change"):
        change(task)
    assert task.xs == [1, 2] and task.extra == {"a": 0}
    assert Sum(xs=[1, 2], extra={"a": 0}).unique_id == uid


def test_nested_lists_and_dicts_are_frozen_too() -> None:
    task = Nested(groups={"a": [1]}, pairs=([1], [2]), anything={"k": [1]})
    assert isinstance(task.groups, FrozenDict) and isinstance(task.groups["a"], FrozenList)
    assert all(isinstance(p, FrozenList) for p in task.pairs)
    assert isinstance(task.anything["k"], FrozenList)
    with pytest.raises(TypeError, match=r"Nested\.groups cannot change"):
        task.groups["a"].append(2)


def test_frozen_values_read_copy_pickle_and_dump_like_lists_and_dicts() -> None:
    task = Sum(xs=[3, 1], extra={"a": 1})
    assert task.xs == [3, 1] and sorted(task.xs) == [1, 3] and task.xs + [5] == [3, 1, 5]  # noqa: RUF005
    assert json.loads(json.dumps({"xs": task.xs, "extra": task.extra})) == {
        "xs": [3, 1],
        "extra": {"a": 1},
    }
    copied = list(task.xs)
    copied.append(4)  # a copy is an ordinary list
    assert copy.deepcopy(task.xs) == [3, 1] and {**task.extra, "b": 2} == {"a": 1, "b": 2}
    back = pickle.loads(pickle.dumps(task))
    assert back == task and back.unique_id == task.unique_id
    assert isinstance(back.xs, FrozenList) and repr(task) == "Sum(xs=[3, 1], extra={'a': 1})"


def test_a_run_that_changes_its_parameter_fails_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(TaskFailedError, match=r"SortsInPlace\.xs cannot change"):
        tasuki.build(SortsInPlace(xs=[2, 1]), workspace=tmp_path, progress="off")
