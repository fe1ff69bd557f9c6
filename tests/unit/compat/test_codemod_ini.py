"""luigi ``.ini`` defaults -> ``tasuki.toml`` tables, through ``tasuki upgrade-gokart --ini``."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("libcst", reason="the codemod needs libcst (pip install tasuki[gokart])")

from tasuki.compat._codemod import upgrade_source
from tasuki.compat._codemod_ini import IniConversion, convert_ini, merge_toml

TASKS = textwrap.dedent(
    """\
    import gokart
    import luigi


    class Load(gokart.TaskOnKart):
        task_namespace = "etl"
        name = luigi.Parameter(default="x")
        size = luigi.IntParameter(default=1)
        rate = luigi.FloatParameter(default=0.5)
        flag = luigi.BoolParameter()
        day = luigi.DateParameter()
        month = luigi.MonthParameter()
        stamp = luigi.DateSecondParameter()
        hour = luigi.DateHourParameter()
        wait = luigi.TimeDeltaParameter()
        cols = luigi.ListParameter(default=[])
        opts = luigi.DictParameter(default={})
        maybe = luigi.OptionalIntParameter()


    class Child(Load):
        extra = luigi.Parameter(default="e")


    class Kept(gokart.TaskOnKart):
        def __init__(self):
            pass
    """
)


def families(code: str, module: str):
    result = upgrade_source(code, f"{module}.py")
    out: dict = {}
    for facts in result.classes:
        out.setdefault(facts.family, []).append((module, facts))
    return out


def test_sections_become_typed_tables_and_the_workspace_a_setting(tmp_path: Path) -> None:
    ini = tmp_path / "base.ini"
    ini.write_text(
        textwrap.dedent(
            """\
            [TaskOnKart]
            workspace_directory = ./resource

            [etl.Load]
            name = hello
            size = 5
            rate = 1e-3
            flag = True
            day = 2021-02-03
            month = 2021-02
            stamp = 2021-02-03T040506
            hour = 2021-02-03T04
            wait = 1 d 2 h
            cols = ["a", 1]
            opts = {"k": {"n": [1, 2]}}
            maybe = 3

            [etl.Child]
            extra = more
            size = 7
            """
        )
    )
    later = tmp_path / "later.ini"
    later.write_text("[etl.Load]\nsize = 6\nwait = P1DT30S\n")
    conversion = convert_ini([ini, later], families(TASKS, "pkg.tasks"))
    assert conversion.problems == []
    assert conversion.workspace == "./resource"
    text = merge_toml("", conversion, "tasuki.toml")
    parsed = tomllib.loads(text)
    assert parsed["workspace"] == "./resource"
    assert parsed["tasks"]["pkg.tasks:Load"] == {
        "name": "hello",
        "size": 6,
        "rate": 0.001,
        "flag": True,
        "day": "2021-02-03",
        "month": "2021-02-01",
        "stamp": "2021-02-03T04:05:06",
        "hour": "2021-02-03T04:00:00",
        "wait": 86430,
        "cols": ["a", 1],
        "opts": {"k": {"n": [1, 2]}},
        "maybe": 3,
    }
    assert parsed["tasks"]["pkg.tasks:Child"] == {"extra": "more", "size": 7}


def test_what_cannot_be_mapped_is_reported_with_file_section_and_key(tmp_path: Path) -> None:
    ini = tmp_path / "params.ini"
    ini.write_text(
        textwrap.dedent(
            """\
            [TaskOnKart]
            local_temporary_directory = ./tmp

            [Unknown]
            x = 1

            [core]
            local_scheduler = True

            [etl.Load]
            size = many
            nope = 1
            flag = maybe
            maybe =
            name = %(here)s
            day = 03/02/2021

            [Kept]
            a = 1
            """
        )
    )
    conversion = convert_ini([ini], families(TASKS, "pkg.tasks"))
    problems = "\n".join(conversion.problems)
    assert f"{ini} [Unknown]: no gokart class named Unknown" in problems
    assert f"{ini} [TaskOnKart] local_temporary_directory: no tasuki setting" in problems
    assert f"{ini} [etl.Load] size: 'many' is not a valid IntParameter value" in problems
    assert f"{ini} [etl.Load] nope: Load has no parameter nope" in problems
    assert f"{ini} [etl.Load] flag: 'maybe' is not a valid BoolParameter value" in problems
    assert f"{ini} [etl.Load] maybe: '' is not a valid OptionalIntParameter value" in problems
    assert f"{ini} [etl.Load] name: '%(here)s' uses interpolation" in problems
    assert f"{ini} [etl.Load] day: '03/02/2021' is not a valid DateParameter value" in problems
    assert f"{ini} [Kept]: Kept was not converted; keep this section in the .ini" in problems
    assert f"{ini} [core]: luigi's own settings, not task parameters" in problems
    assert len(conversion.problems) == 10
    assert conversion.tables == {}


def test_an_existing_tasuki_toml_keeps_what_it_sets() -> None:
    existing = 'workspace = "s3://b/ws"\n\n[tasks."m:A"]\nx = 1\n'
    conversion = IniConversion(
        tables={"m:A": {"x": 2}, "m:B": {"y": "z"}}, workspace="./resource", problems=[]
    )
    text = merge_toml(existing, conversion, "tasuki.toml")
    assert text.startswith(existing)
    assert tomllib.loads(text) == {
        "workspace": "s3://b/ws",
        "tasks": {"m:A": {"x": 1}, "m:B": {"y": "z"}},
    }
    assert any('[tasks."m:A"] exists already' in p for p in conversion.problems)
    assert any("workspace is set already" in p for p in conversion.problems)


def test_a_new_workspace_goes_above_the_tables() -> None:
    conversion = IniConversion(tables={}, workspace="ws", problems=[])
    text = merge_toml('[tasks."m:A"]\nx = 1\n', conversion, "tasuki.toml")
    assert tomllib.loads(text) == {"workspace": "ws", "tasks": {"m:A": {"x": 1}}}
