"""A write-back made by other code is out of date from any workspace (replace and merge), and
an append is never repeated whatever changed upstream.

The lineage row keeps the code key the table was written with; a workspace without the
task's run record (a teammate, CI, after gc) compares it with the code of today.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tasuki
from tasuki.core import code
from tasuki.warehouse import WriteTableTask, connect, read_lineage
from tests._services import postgres_url  # noqa: F401  (a fixture)

FACTOR = {"value": 1}


class Scores(tasuki.Task):
    def output(self):
        return self.make_target("scores.parquet")

    def run(self):
        self.dump(
            pd.DataFrame({"id": [1, 2, 3], "score": [x * FACTOR["value"] for x in (1, 2, 3)]})
        )


@pytest.fixture(params=["duckdb", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'dwh.duckdb'}"
    return str(request.getfixturevalue("postgres_url"))


def _change_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scores' code changes: another fingerprint, other scores."""
    monkeypatch.setitem(FACTOR, "value", 10)
    changed = code.CodeFingerprint("e" * 16, "new", ())
    walk = code._Collector.fingerprint  # each build walks the code again: change what it finds
    monkeypatch.setattr(
        code._Collector, "fingerprint", lambda self: changed if self.cls is Scores else walk(self)
    )


def _total(url: str, table: str) -> int:
    # The test reads back, through the query path, as the superuser that wrote the table.
    allowed = {"allow_privileged": True} if url.startswith("postgresql://") else {}
    with connect(url, **allowed) as wh:
        return int(wh.query(f"SELECT sum(score) AS s FROM {table}").to_arrow()["s"][0].as_py())


def _ran(result: tasuki.BuildResult) -> set[str]:
    return {r.name.rpartition(":")[2] for r in result.by_status("ran")}


@pytest.mark.parametrize("mode", ["replace", "merge"])
def test_a_table_made_by_other_code_is_rewritten_from_another_workspace(
    tmp_path, url, monkeypatch, mode
):
    key = ("id",) if mode == "merge" else ()
    task = WriteTableTask(data=Scores(), table="scores", warehouse=url, mode=mode, key=key)
    tasuki.build(task, workspace=str(tmp_path / "a"))
    assert _total(url, "scores") == 6
    (row,) = read_lineage(url, "scores")
    assert row["code_key"] and len(row["code_key"]) == 32
    # The same code from a fresh workspace: complete by the lineage row alone.
    same = tasuki.build(task, workspace=str(tmp_path / "b"), return_value=False)
    assert _ran(same) == set()
    _change_the_code(monkeypatch)
    fresh = tasuki.build(task, workspace=str(tmp_path / "c"), return_value=False)
    assert _ran(fresh) == {"Scores", "WriteTableTask"}
    assert _total(url, "scores") == 60
    assert (
        tasuki.build(task, workspace=str(tmp_path / "d"), return_value=False).counts()["ran"] == 0
    )


def test_an_append_is_not_repeated_after_a_code_change(tmp_path, url, monkeypatch):
    task = WriteTableTask(data=Scores(), table="log", warehouse=url, mode="append")
    tasuki.build(task, workspace=str(tmp_path / "a"))
    _change_the_code(monkeypatch)
    fresh = tasuki.build(task, workspace=str(tmp_path / "b"), return_value=False)
    assert _ran(fresh) == set()  # nothing upstream is built for an append that is done
    assert _total(url, "log") == 6


def test_rows_written_before_the_code_key_existed_still_count(tmp_path, url):
    task = WriteTableTask(data=Scores(), table="old", warehouse=url, mode="replace")
    tasuki.build(task, workspace=str(tmp_path / "a"))
    from tasuki.warehouse._lineage import _Conn

    conn = _Conn(url)  # as tasuki 0.1.0 left the row: no code key

    conn.execute("UPDATE tasuki_lineage SET code_key = NULL WHERE table_name = 'old'")
    conn.commit()
    conn.close()
    again = tasuki.build(task, workspace=str(tmp_path / "b"), return_value=False)
    assert _ran(again) == set()
