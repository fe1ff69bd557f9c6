"""Settings are read once, at the edge (``tasuki.build`` / ``run_build``), and passed down.

``load_settings`` resolves files and the environment on every call (a directory walk, a TOML
parse, a pydantic validation), and a second read during a build may disagree with the first
(the environment or the working folder changed, or the build was given explicit settings that
no file holds). These tests count the reads of a build of several roots, and check that a
task resolving a named warehouse uses the build's settings, not a fresh read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest

import tasuki
import tasuki.config
from tasuki.core.loading import load_output
from tasuki.errors import ConfigError
from tasuki.warehouse._task import QueryTask, _resolve
from tests.unit.core.tasks_for_tests import TaskA, TaskB


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every ``load_settings`` call, however the caller imported it.

    Modules bind ``load_settings`` at import (``from tasuki.config import load_settings``), so
    replacing the module attribute alone would miss them; every call goes through
    ``_from_env`` (looked up at call time), so that is where the counter sits.
    """
    seen: list[str] = []  # who called load_settings, for the assertion's message
    real = tasuki.config._from_env

    def counting(environ: Mapping[str, str]) -> dict[str, Any]:
        seen.append(sys._getframe(2).f_code.co_qualname)
        return real(environ)

    monkeypatch.setattr(tasuki.config, "_from_env", counting)
    yield seen


@pytest.fixture
def dwh(tmp_path: Path) -> str:
    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(3)")
    return f"duckdb:///{path}"


def _roots() -> list[tasuki.Task]:
    return [
        TaskA(param="one"),
        TaskB(param="two"),
        TaskB(param="three"),
        # a warehouse *name*: resolved through [warehouses] while the task runs
        QueryTask(sql="SELECT x FROM t", warehouse="dwh"),
    ]


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_build_of_several_roots_reads_settings_once(
    reads: list[str], dwh: str, tmp_path: Path, executor: str
) -> None:
    Path("tasuki.toml").write_text(f'[warehouses]\ndwh = "{dwh}"\n', encoding="utf-8")
    values = tasuki.build(
        _roots(), workspace=str(tmp_path / "ws"), executor=executor, progress="off"
    )
    assert values[:3] == ["hello one", "hello two!!", "hello three!!"]
    assert values[3].column("x").to_pylist() == [0, 1, 2]
    # Forked workers count in their own memory: only the inline run sees theirs, and the
    # next test shows that the workers did not read settings either.
    assert len(reads) == 1


def test_tasks_resolve_names_from_the_builds_settings_not_from_files(
    reads: list[str], dwh: str, tmp_path: Path
) -> None:
    # No settings file names 'dwh': only the settings handed to the build do. A task that
    # read settings again (in a forked worker too) would not find it.
    settings = tasuki.load_settings({"workspace": str(tmp_path / "ws"), "progress": "off"})
    settings = settings.model_copy(update={"warehouses": {"dwh": dwh}})
    for executor in ("inline", "local"):
        result = tasuki.run_build(_roots(), settings=settings, executor=executor, rerun=True)
        assert result.ok, result.summary()
    assert len(reads) == 1  # the one made above, by this test


def test_outside_a_build_a_name_is_resolved_from_a_fresh_read(reads: list[str], dwh: str) -> None:
    # tasuki.load(QueryTask(...)) or task.output() in a notebook: that call is the edge.
    Path("tasuki.toml").write_text(f'[warehouses]\ndwh = "{dwh}"\n', encoding="utf-8")
    assert _resolve("dwh") == dwh
    assert len(reads) == 1
    assert _resolve("duckdb://") == "duckdb://"  # a URL needs no settings
    assert len(reads) == 1
    given = tasuki.load_settings({"warehouses": {"dwh": "duckdb:///given.db"}})
    assert _resolve("dwh", given) == "duckdb:///given.db"
    with pytest.raises(ConfigError, match=r"no warehouse named 'nope'.*known: dwh"):
        _resolve("nope", given)


def test_load_output_takes_settings_and_reads_none_itself(reads: list[str], tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    tasuki.build(TaskB(param="x"), workspace=ws, executor="inline", progress="off")
    settings = tasuki.load_settings({"workspace": ws})
    del reads[:]
    uid = TaskB(param="x").unique_id
    assert load_output(uid, settings=settings) == "hello x!!"
    assert tasuki.load(TaskA(param="x"), settings=settings) == "hello x"
    assert reads == []
    # without settings, the call is the edge: one read per call
    assert load_output(uid, workspace=ws) == "hello x!!"
    assert len(reads) == 1


class _Rows(tasuki.Task):
    n: int

    def output(self) -> Any:
        return self.make_target("rows.pkl")

    def run(self) -> None:
        import pyarrow as pa

        self.dump(pa.table({"x": list(range(self.n))}))


def test_remote_workspace_checks_read_no_settings_either(reads: list[str], dwh: str) -> None:
    from tasuki.warehouse import WriteTableTask

    Path("tasuki.toml").write_text(f'[warehouses]\ndwh = "{dwh}"\n', encoding="utf-8")
    roots = [WriteTableTask(data=_Rows(n=n), table=f"t{n}", warehouse="dwh") for n in (1, 2)]
    result = tasuki.run_build(
        roots, workspace="memory://edge-remote", executor="inline", progress="off"
    )
    assert result.ok, result.summary()
    assert len(reads) == 1, reads
