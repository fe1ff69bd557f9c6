"""luigi / gokart constructs with no tasuki equivalent fail naming the construct and the way."""

from __future__ import annotations

import importlib

import pytest

import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi
from tasuki.errors import UnsupportedError


@pytest.mark.parametrize(
    ("name", "way"),
    [
        ("Task", "TaskOnKart"),
        ("WrapperTask", "requires"),
        ("LocalTarget", "make_target"),
        ("scheduler", "leases"),
        ("notifications", "Slack"),
        ("TaskParameter", "TaskInstance"),
    ],
)
def test_luigi_names_without_equivalent(name: str, way: str) -> None:
    with pytest.raises(UnsupportedError) as err:
        getattr(luigi, name)
    assert f"luigi.{name}" in str(err.value) and way in str(err.value)
    assert err.value.construct == f"luigi.{name}"


def test_luigi_contrib_import_says_what_to_use() -> None:
    with pytest.raises(UnsupportedError, match=r"luigi\.contrib .*tasuki\.warehouse"):
        importlib.import_module("tasuki.compat.luigi.contrib")


def test_central_scheduler_is_refused() -> None:
    class Tiny(gokart.TaskOnKart):
        def run(self) -> None:
            self.dump(1)

    with pytest.raises(UnsupportedError, match="central scheduler"):
        luigi.build([Tiny()], local_scheduler=False)
    with pytest.raises(UnsupportedError, match="Did you mean 'workers'"):
        gokart.build(Tiny(), worker=2)


def test_gokart_names_without_equivalent() -> None:
    with pytest.raises(UnsupportedError, match=r"gokart\.test_run .*pytest"):
        gokart.test_run
    with pytest.raises(AttributeError):
        gokart.no_such_thing
