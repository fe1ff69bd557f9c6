"""luigi.Config, @inherits_config_params, PandasTypeConfig, SerializableParameter and gokart's
random seeds, on tasuki.compat."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tasuki
import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi
from tasuki.compat._gokart_id import gokart_unique_id
from tasuki.compat.gokart.config_params import inherits_config_params
from tasuki.errors import ParameterError


class MasterConfig(luigi.Config):
    param = luigi.Parameter(default="master")
    param2 = luigi.IntParameter(default=2)


@inherits_config_params(MasterConfig, parameter_alias={"param2": "other"})
class Inheriting(gokart.TaskOnKart):
    param = luigi.Parameter()
    other = luigi.IntParameter()

    def run(self) -> None:
        self.dump(f"{self.param}{self.other}")


def test_inherits_config_params_reads_the_config_class(tmp_path: Path) -> None:
    assert (Inheriting().param, Inheriting().other) == ("master", 2)
    (tmp_path / "p.ini").write_text("[MasterConfig]\nparam = fromfile\n")
    gokart.add_config(tmp_path / "p.ini")
    assert Inheriting().param == "fromfile"
    assert Inheriting(param="code").param == "code"
    assert gokart.build(Inheriting()) == "fromfile2"


class IntColumns(gokart.PandasTypeConfig):
    task_namespace = "typed_ns"

    @classmethod
    def type_dict(cls) -> dict[str, Any]:
        return {"n": int}


class TypedDump(gokart.TaskOnKart):
    task_namespace = "typed_ns"
    bad = luigi.BoolParameter()

    def run(self) -> None:
        self.dump(pd.DataFrame({"n": ["1"] if self.bad else [1]}, dtype=object))


def test_pandas_type_config_checks_dumps_of_its_namespace() -> None:
    assert TypedDump.get_task_family() == "typed_ns.TypedDump"
    assert list(gokart.build(TypedDump())["n"]) == [1]
    with pytest.raises(gokart.GokartBuildError, match="PandasTypeError"):
        gokart.build(TypedDump(bad=True))


class Window:
    def __init__(self, days: int) -> None:
        self.days = days

    def gokart_serialize(self) -> str:
        return str(self.days)

    @classmethod
    def gokart_deserialize(cls, text: str) -> Window:
        return cls(int(text))


class UsesWindow(gokart.TaskOnKart):
    window = gokart.SerializableParameter(object_type=Window)

    def run(self) -> None:
        self.dump(self.window.days)


def test_serializable_parameter_enters_the_id_by_its_text() -> None:
    assert UsesWindow(window=Window(3)).unique_id == UsesWindow(window=Window(3)).unique_id
    assert UsesWindow(window=Window(3)).unique_id != UsesWindow(window=Window(4)).unique_id
    assert UsesWindow(window="5").window.days == 5  # text is parsed, as from a config file
    assert gokart.build(UsesWindow(window=Window(7))) == 7
    with pytest.raises(ParameterError, match="window"):
        UsesWindow(window=3)
    with pytest.raises(ParameterError, match="gokart_serialize"):
        gokart.SerializableParameter(object_type=int)


class Draw(gokart.TaskOnKart):
    tag = luigi.Parameter(default="a")

    def run(self) -> None:
        self.dump(random.random())


def test_runs_are_seeded_like_gokart() -> None:
    # gokart seeds random with its own unique id (or fix_random_seed_value) before run().
    task = Draw()
    random.seed(int(gokart_unique_id(task), 16) % (2**32 - 1))
    expected = random.random()
    assert gokart.build(task) == expected
    random.seed(11)
    fixed = random.random()
    assert gokart.build(Draw(tag="b", fix_random_seed_value=11)) == fixed


class DrawChain(gokart.TaskOnKart):
    i = luigi.IntParameter()

    def requires(self) -> Any:
        return DrawChain(i=self.i - 1) if self.i else None

    def run(self) -> None:
        self.dump(random.random())


def test_a_root_rebuilt_over_a_cached_upstream_is_seeded_with_gokarts_id(tmp_path: Path) -> None:
    from tasuki.compat import _gokart_id
    from tasuki.storage import open_store

    root = DrawChain(i=3)
    first = gokart.build(root)
    _gokart_id._SHARED[:] = []  # a new process: no ids known but those in the records
    again = tasuki.run_build(DrawChain(i=3, rerun=True), workspace=str(tmp_path / "resources"))
    assert [r.status for r in again.results.values()].count("ran") == 1
    assert gokart.build(DrawChain(i=3)) == first  # the same seed: the same draw
    record = tasuki.RunRecord.read(open_store(str(tmp_path / "resources")), root.unique_id)
    assert record.task_log["gokart_unique_id"] == gokart_unique_id(DrawChain(i=3))


class DrawTwice(Draw):
    def run(self) -> None:
        self.first = random.random()  # a scratch attribute, as gokart code keeps them
        super().run()  # Draw.run() draws again: the same run, so no second seeding


def test_a_run_calling_super_run_is_seeded_once() -> None:
    task = DrawTwice()
    random.seed(int(gokart_unique_id(task), 16) % (2**32 - 1))
    draws = [random.random() for _ in range(2)]
    assert gokart.build(task) == draws[1]  # seeded twice, it would be draws[0]


def test_reload_never_reuses_stale_defaults(tmp_path: Path) -> None:
    for value in ("x", "y", "z"):
        (tmp_path / "p.ini").write_text(f"[Draw]\ntag = {value}\n")
        luigi.configuration.LuigiConfigParser.reload()
        gokart.add_config(tmp_path / "p.ini")
        assert Draw().tag == value
