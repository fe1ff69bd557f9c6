"""Values Python calls equal but the id encoding tells apart never share a unique id.

``0.0 == -0.0``, and two aware datetimes of one instant in other time zones are equal. The
walk that computes ids spots tasks met twice by their parameter values; keyed by equality,
the second task of such a pair took the first one's id, and with it the first one's cached
output, in any build that met both (its id alone was right, so the id depended on what else
the build held).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

import tasuki
from tasuki.compat._gokart_id import GokartIds

JST = dt.timezone(dt.timedelta(hours=9))
UTC = dt.UTC


class Sign(tasuki.Task):
    x: float

    def run(self) -> None:
        self.dump(math.copysign(1.0, self.x))


class SignAbove(tasuki.Task):  # not a leaf: the walk keys it by its parameter values
    x: float

    def requires(self) -> Sign:
        return Sign(x=self.x)

    def run(self) -> None:
        self.dump(self.load())


class SignsAbove(tasuki.Task):
    xs: list[float]

    def requires(self) -> list[Sign]:
        return [Sign(x=x) for x in self.xs]

    def run(self) -> None:
        self.dump([self.load(t) for t in self.requires()])


class Stamp(tasuki.Task):
    when: dt.datetime

    def run(self) -> None:
        self.dump(self.when.isoformat())


class StampAbove(tasuki.Task):
    when: dt.datetime

    def requires(self) -> Stamp:
        return Stamp(when=self.when)

    def run(self) -> None:
        self.dump(self.load())


class Pair(tasuki.Task):
    first: tasuki.Task
    second: tasuki.Task

    def requires(self) -> list[tasuki.Task]:
        return [self.first, self.second]

    def run(self) -> None:
        self.dump([self.load(self.first), self.load(self.second)])


PAIRS = {
    "zero signs": (SignAbove(x=0.0), SignAbove(x=-0.0), [1.0, -1.0]),
    "zero signs in a list": (
        SignsAbove(xs=[1.0, 0.0]),
        SignsAbove(xs=[1.0, -0.0]),
        [[1.0, 1.0], [1.0, -1.0]],
    ),
    "one instant, two time zones": (
        StampAbove(when=dt.datetime(2020, 1, 1, 9, tzinfo=JST)),
        StampAbove(when=dt.datetime(2020, 1, 1, 0, tzinfo=UTC)),
        ["2020-01-01T09:00:00+09:00", "2020-01-01T00:00:00+00:00"],
    ),
}


def _fresh(task: tasuki.Task) -> tasuki.Task:
    return type(task)(**task.param_values)


@pytest.mark.parametrize("case", sorted(PAIRS))
def test_a_build_that_meets_both_makes_both(case: str, tmp_path: Path) -> None:
    first, second, expected = PAIRS[case]
    got = tasuki.build(Pair(first=_fresh(first), second=_fresh(second)), workspace=tmp_path)
    assert got == expected


@pytest.mark.parametrize("case", sorted(PAIRS))
def test_an_id_does_not_depend_on_what_else_the_walk_met(case: str) -> None:
    first, second, _ = PAIRS[case]
    alone = _fresh(second).unique_id
    together = Pair(first=_fresh(first), second=_fresh(second))
    together.unique_id
    assert together.second.unique_id == alone != together.first.unique_id


def test_gokart_ids_keep_zero_signs_apart() -> None:
    ids = GokartIds()
    assert ids.params(SignAbove(x=0.0)) == {"x": "0.0"}
    assert ids.params(SignAbove(x=-0.0)) == {"x": "-0.0"}


def test_equal_tasks_still_share_one_walk(tmp_path: Path) -> None:
    # The key stays an equality key for values that encode alike: one Sign, built once.
    got = tasuki.build(Pair(first=SignAbove(x=2.0), second=SignAbove(x=2.0)), workspace=tmp_path)
    assert got == [1.0, 1.0]
