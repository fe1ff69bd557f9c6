"""Class attributes annotated ``ClassVar`` are never parameters, whatever their value.

A ``ClassVar[dict]`` such as ``resources = {"gpu": 1}`` (read by the Dask executor and the
Argo export) was turned into a parameter with a default factory and the class failed to
define; a string annotation (``from __future__ import annotations``) must behave the same.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import ClassVar

import tasuki


class WithResources(tasuki.Task):
    resources: ClassVar[dict[str, int]] = {"gpu": 1}
    tags: typing.ClassVar[list[str]] = ["a"]
    names: ClassVar[set[str]] = {"x"}
    n: int = 1

    def run(self) -> None:
        self.dump(self.n)


def test_classvars_stay_class_attributes_and_out_of_the_id() -> None:
    task = WithResources(n=2)
    assert WithResources.resources == {"gpu": 1} and task.resources == {"gpu": 1}
    assert WithResources.tags == ["a"] and WithResources.names == {"x"}
    assert [f.name for f in dataclasses.fields(WithResources)] == ["n"]
    assert "resources" not in repr(task) and "tags" not in repr(task)


def test_a_list_default_on_a_parameter_still_works() -> None:
    class Listy(tasuki.Task):
        xs: list[int] = [1, 2]

        def run(self) -> None:
            self.dump(self.xs)

    assert Listy().xs == [1, 2] and Listy(xs=[3]).xs == [3]
