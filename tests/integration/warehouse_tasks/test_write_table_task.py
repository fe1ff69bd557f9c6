"""WriteTableTask: results written back to the warehouse, complete by table + lineage row.

The rows and the lineage row share one transaction, on DuckDB and PostgreSQL for real:
an append is done once however often the task is built, and a failure at any step (a key
violation after the staging load, a failing lineage insert, a killed backend) leaves neither
rows nor lineage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pyarrow as pa
import pytest

import tasuki
from tasuki.errors import TaskError, TaskFailedError, WarehouseConnectionError, WarehouseError
from tasuki.warehouse import (
    DuckDBWarehouse,
    PostgresWarehouse,
    WriteTableTask,
    _check_takes_lineage,
    connect,
    read_lineage,
)
from tasuki.warehouse.base import Lineage


class Predictions(tasuki.Task):
    day: str = "2024-01-01"

    def output(self):
        return self.make_target("predictions.parquet")

    def run(self):
        self.dump(pd.DataFrame({"recipe_id": [1, 2, 3], "score": [0.1, 0.5, 0.9]}))


class DayScores(tasuki.Task):
    """Rows that differ from day to day, so a rolled-back replace is visible."""

    day: int = 1

    def output(self):
        return self.make_target("scores.parquet")

    def run(self):
        self.dump(pd.DataFrame({"recipe_id": [1, 2], "score": [self.day * 1.0, self.day * 2.0]}))


def test_write_back_to_postgres_with_lineage(postgres_url, tmp_path):
    ws = str(tmp_path / "ws")
    task = WriteTableTask(
        data=Predictions(),
        table="public.scores",
        warehouse=postgres_url,
        mode="merge",
        key=("recipe_id",),
    )
    tasuki.build(task, workspace=ws)
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT recipe_id, score FROM public.scores ORDER BY 1").fetchall()
    assert rows == [(1, 0.1), (2, 0.5), (3, 0.9)]
    lineage = read_lineage(postgres_url, "public.scores")
    assert len(lineage) == 1
    assert lineage[0]["unique_id"] == task.unique_id
    assert lineage[0]["task"].endswith(":WriteTableTask")
    assert lineage[0]["params"]["data"] == {"$task": Predictions().unique_id}
    assert lineage[0]["row_count"] == 3
    # complete now: nothing runs again
    again = tasuki.build(task, workspace=ws, return_value=False)
    assert again.counts()["ran"] == 0
    # dropping the table makes the task incomplete even though its record exists
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE public.scores")
    third = tasuki.build(task, workspace=ws, return_value=False)
    assert third.counts()["ran"] == 1


def test_write_back_to_duckdb(tmp_path):
    url = f"duckdb:///{tmp_path / 'dwh.duckdb'}"
    task = WriteTableTask(data=Predictions(day="x"), table="scores", warehouse=url)
    tasuki.build(task, workspace=str(tmp_path / "ws"))
    with duckdb.connect(str(tmp_path / "dwh.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone() == (3,)
    assert read_lineage(url)[0]["unique_id"] == task.unique_id


def test_merge_needs_a_key(postgres_url):
    with pytest.raises(TaskError, match="needs key"):
        WriteTableTask(data=Predictions(), table="t", warehouse=postgres_url, mode="merge")


def test_an_unknown_mode_is_refused(postgres_url):
    with pytest.raises(tasuki.errors.ParameterError, match="'mode'"):
        WriteTableTask(data=Predictions(), table="t", warehouse=postgres_url, mode="upsert")


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'dwh.duckdb'}"
    return str(request.getfixturevalue("postgres_url"))


def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement on the warehouse behind ``url`` (autocommit) and fetch its rows."""
    if url.startswith("duckdb://"):
        with duckdb.connect(url[len("duckdb://") :]) as con:
            cur = con.execute(statement)
            return cur.fetchall() if cur.description else []
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def _lineage_ids(url: str, table: str) -> set[str]:
    return {r["unique_id"] for r in read_lineage(url, table)}


def test_append_runs_once_per_task_id(warehouse_url: str, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    first = WriteTableTask(
        data=Predictions(day="d1"), table="scores", warehouse=warehouse_url, mode="append"
    )
    tasuki.build(first, workspace=ws)
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(3,)]
    # Complete by its lineage row: a rebuild (or a rerun after a crash past the commit)
    # appends nothing.
    again = tasuki.build(first, workspace=ws, return_value=False)
    assert again.counts()["ran"] == 0
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(3,)]
    # Another day is another task id: its rows are appended once more.
    second = WriteTableTask(
        data=Predictions(day="d2"), table="scores", warehouse=warehouse_url, mode="append"
    )
    tasuki.build(second, workspace=ws)
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(6,)]
    assert _lineage_ids(warehouse_url, "scores") == {first.unique_id, second.unique_id}
    rows = {r["unique_id"]: r["row_count"] for r in read_lineage(warehouse_url, "scores")}
    assert rows == {first.unique_id: 3, second.unique_id: 3}
    # Forgetting the lineage row is how an append is deliberately repeated.
    first.output().remove(None)
    tasuki.build(first, workspace=ws, rerun=True)
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(9,)]


def test_a_replace_makes_every_earlier_write_of_the_table_out_of_date(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Day 1 replaced the table, then day 2 did. Day 1's lineage row stayed, so day 1 passed
    for complete over day 2's rows: building it again ran nothing, and loading it gave day
    2's scores."""
    ws = str(tmp_path / "ws")

    def publish(day: int) -> WriteTableTask:
        return WriteTableTask(data=DayScores(day=day), table="scores", warehouse=warehouse_url)

    tasuki.build(publish(1), workspace=ws)
    tasuki.build(publish(2), workspace=ws)
    assert _lineage_ids(warehouse_url, "scores") == {publish(2).unique_id}
    again = tasuki.build(publish(1), workspace=ws, return_value=False)
    assert again.results[publish(1).unique_id].status == "ran"
    assert _sql(warehouse_url, "SELECT score FROM scores ORDER BY 1") == [(1.0,), (2.0,)]
    assert tasuki.load(publish(1), workspace=ws).column("score").to_pylist() == [1.0, 2.0]
    assert tasuki.build(publish(2), workspace=ws, return_value=False).counts()["ran"] == 1


class BothDays(tasuki.Task):
    url: str
    mode: str = "replace"

    def requires(self):
        return [
            WriteTableTask(data=DayScores(day=d), table="scores", warehouse=self.url, mode=m)
            for d, m in ((1, self.mode), (2, self.mode))
        ]

    def run(self):
        self.dump(len(self.requires()))


def test_two_replaces_of_one_table_in_one_build_are_refused(tmp_path: Path) -> None:
    """Each undid the other (rows and lineage row), so every build ran one of them again."""
    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    ws = str(tmp_path / "ws")
    with pytest.raises(TaskError, match=r"both replace main.scores in duckdb:/.*: the second"):
        tasuki.build(BothDays(url=url), workspace=ws, progress="off")
    # Refused before anything ran; checking for the table left no empty database behind.
    assert not (tmp_path / "dwh.duckdb").exists()
    assert tasuki.build(BothDays(url=url, mode="append"), workspace=ws, progress="off") == 2
    assert _sql(url, "SELECT count(*) FROM scores") == [(4,)]


def test_a_key_violation_after_the_staging_load_leaves_neither_rows_nor_lineage(
    warehouse_url: str, tmp_path: Path
) -> None:
    _sql(warehouse_url, "CREATE TABLE scores (recipe_id BIGINT PRIMARY KEY, score FLOAT8)")
    _sql(warehouse_url, "INSERT INTO scores VALUES (2, 0.0)")
    task = WriteTableTask(
        data=Predictions(), table="scores", warehouse=warehouse_url, mode="append"
    )
    with pytest.raises(TaskFailedError, match=r"(?i)constraint|duplicate"):
        tasuki.build(task, workspace=str(tmp_path / "ws"))
    # The staging load succeeded, the INSERT into the target did not: all rolled back.
    assert _sql(warehouse_url, "SELECT recipe_id, score FROM scores") == [(2, 0.0)]
    assert task.unique_id not in _lineage_ids(warehouse_url, "scores")
    assert not task.output().exists(None)
    # Once the conflict is gone the same task writes rows and lineage together.
    _sql(warehouse_url, "DELETE FROM scores")
    tasuki.build(task, workspace=str(tmp_path / "ws"))
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(3,)]
    assert _lineage_ids(warehouse_url, "scores") == {task.unique_id}


def test_a_failing_lineage_insert_rolls_back_the_table_write(
    warehouse_url: str, tmp_path: Path
) -> None:
    ws = str(tmp_path / "ws")
    old = WriteTableTask(data=DayScores(day=1), table="scores", warehouse=warehouse_url)
    tasuki.build(old, workspace=ws)
    before = _sql(warehouse_url, "SELECT recipe_id, score FROM scores ORDER BY 1")
    assert before == [(1, 1.0), (2, 2.0)]
    # Make the very last statement of the transaction, the lineage INSERT, fail.
    if warehouse_url.startswith("duckdb://"):
        # DuckDB cannot add a constraint to an existing table: rebuild the lineage table
        # with a CHECK that refuses every new row.
        _sql(warehouse_url, "DROP TABLE tasuki_lineage")
        _sql(
            warehouse_url,
            "CREATE TABLE tasuki_lineage (table_name TEXT NOT NULL, unique_id TEXT NOT NULL, "
            "task TEXT NOT NULL, params TEXT NOT NULL, row_count BIGINT CHECK (row_count < 0), "
            "written_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
            "PRIMARY KEY (table_name, unique_id))",
        )
    else:
        _sql(
            warehouse_url,
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'lineage refused'; END $$",
        )
        _sql(
            warehouse_url,
            "CREATE TRIGGER refuse BEFORE INSERT ON tasuki_lineage "
            "FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
    new = WriteTableTask(data=DayScores(day=7), table="scores", warehouse=warehouse_url)
    with pytest.raises(TaskFailedError, match=r"(?i)lineage refused|constraint"):
        tasuki.build(new, workspace=ws)
    # The replace (drop + rename) was rolled back with the lineage row.
    assert _sql(warehouse_url, "SELECT recipe_id, score FROM scores ORDER BY 1") == before
    assert new.unique_id not in _lineage_ids(warehouse_url, "scores")
    tables = _sql(
        warehouse_url,
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '_tasuki_stage%'",
    )
    assert tables == [(0,)]


def test_a_backend_killed_mid_copy_leaves_neither_rows_nor_lineage(postgres_url: str) -> None:
    admin = psycopg.connect(postgres_url, autocommit=True)
    batch = pa.record_batch({"id": pa.array(range(10_000), pa.int64())})

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(20):
            if i == 5:  # the COPY is under way: kill the backend running it
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid() "
                    "AND datname = current_database()"
                )
            yield batch

    lineage = Lineage("items", "uid-1", "tests:Writer", {"day": "2024-01-01"})
    with admin, PostgresWarehouse(postgres_url, parallel=False) as wh:
        wh.write_table("items", pa.table({"id": [1]}), lineage=Lineage("items", "uid-0", "t:T"))
        reader = pa.RecordBatchReader.from_batches(batch.schema, batches())
        with pytest.raises(WarehouseConnectionError):
            wh.write_table("items", reader, mode="append", lineage=lineage)
        assert admin.execute("SELECT id FROM items").fetchall() == [(1,)]
        assert _lineage_ids(postgres_url, "items") == {"uid-0"}
        # The warehouse recovers, and the same append then lands once.
        assert wh.write_table("items", pa.table({"id": [2, 3]}), mode="append", lineage=lineage)
        assert admin.execute("SELECT count(*) FROM items").fetchall() == [(3,)]
        assert _lineage_ids(postgres_url, "items") == {"uid-0", "uid-1"}


def test_write_table_refuses_to_repeat_an_append_and_checks_its_lineage(
    warehouse_url: str,
) -> None:
    lineage = Lineage("t", "uid-1", "tests:Writer", {"n": 1})
    with connect(warehouse_url) as wh:
        assert wh.write_table("t", pa.table({"a": [1, 2]}), mode="append", lineage=lineage) == 2
        with pytest.raises(WarehouseError, match="append was not repeated") as info:
            wh.write_table("t", pa.table({"a": [3]}), mode="append", lineage=lineage)
        assert info.value.unique_id == "uid-1"  # type: ignore[attr-defined]
        # replace and merge overwrite the row for the same id instead.
        wh.write_table("t", pa.table({"a": [5]}), mode="merge", key=["a"], lineage=lineage)
        with pytest.raises(WarehouseError, match="names table 'other'"):
            wh.write_table("t", pa.table({"a": [1]}), lineage=Lineage("other", "u", "t:T"))
        with pytest.raises(WarehouseError, match=r"takes a tasuki\.warehouse\.base\.Lineage"):
            wh.write_table("t", pa.table({"a": [1]}), lineage={"unique_id": "u"})  # type: ignore[arg-type]
    assert sorted(_sql(warehouse_url, "SELECT a FROM t")) == [(1,), (2,), (5,)]
    (row,) = read_lineage(warehouse_url, "t")
    assert row["row_count"] == 1 and row["params"] == {"n": 1} and row["task"] == "tests:Writer"


def test_a_backend_whose_write_table_takes_no_lineage_is_refused(tmp_path: Path) -> None:
    class OldWarehouse(DuckDBWarehouse):
        def write_table(  # type: ignore[override]
            self, name: str, data: Any, *, mode: str = "replace", key: Any = None
        ) -> int:
            return super().write_table(name, data, mode=mode, key=key)  # type: ignore[arg-type]

    with (
        OldWarehouse(tmp_path / "old.duckdb") as wh,
        pytest.raises(WarehouseError, match="takes no lineage= argument"),
    ):
        _check_takes_lineage(wh, "scores")
    with DuckDBWarehouse(tmp_path / "new.duckdb") as wh:
        _check_takes_lineage(wh, "scores")  # the built-in backends take it


def _append_from_two_workspaces(url: str, tmp_path: Path) -> tuple[Any, Any, Any]:
    task = WriteTableTask(
        data=Predictions(day="shared"), table="scores", warehouse=url, mode="append"
    )
    first = tasuki.build(task, workspace=str(tmp_path / "ws_a"), return_value=False)
    assert first.results[task.unique_id].status == "ran"
    assert _sql(url, "SELECT count(*) FROM scores") == [(3,)]
    other = tasuki.build(task, workspace=str(tmp_path / "ws_b"), return_value=False)
    return task, first, other


def test_an_append_done_from_another_workspace_is_not_repeated(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Issue 9, bug 1: a teammate, CI, or the same user after ``gc`` builds the append task
    from a workspace with no run record for it. It must succeed and append nothing, instead
    of failing with "the append was not repeated" (whose resume hint failed every time)."""
    task, _, other = _append_from_two_workspaces(warehouse_url, tmp_path)
    assert other.ok
    assert other.results[task.unique_id].status in ("cached", "ran")
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(3,)]
    assert _lineage_ids(warehouse_url, "scores") == {task.unique_id}
    # The target says so on its own, with no workspace at all.
    assert task.output().exists(None)
    # And a third build from that workspace is a plain cache hit.
    third = tasuki.build(task, workspace=str(tmp_path / "ws_b"), return_value=False)
    assert third.counts()["ran"] == 0


def test_an_append_done_from_another_workspace_is_cached(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Issue 9, bug 1: the lineage row alone makes the task complete, as Luigi's marker
    row does: from a fresh workspace it is cached and its upstream is not even run."""
    task, _, other = _append_from_two_workspaces(warehouse_url, tmp_path)
    assert other.results[task.unique_id].status == "cached"
    assert other.counts()["ran"] == 0
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(3,)]


def test_a_lineage_row_under_the_old_private_task_name_still_counts(
    warehouse_url: str, tmp_path: Path
) -> None:
    """Rows written before the task moved to tasuki.warehouse carry the old name and an id
    made from it: they still mark the task complete, so an upgrade never repeats an append."""
    import json as _json

    task = WriteTableTask(
        data=Predictions(day="old"), table="scores", warehouse=warehouse_url, mode="append"
    )
    params = task.lineage().params
    legacy = Lineage("scores", "0" * 64, "tasuki.warehouse._lineage:WriteTableTask", params)
    with connect(warehouse_url) as wh:
        wh.write_table("scores", pa.table({"recipe_id": [1], "score": [0.5]}), lineage=legacy)
    assert task.output().exists(None)
    assert (
        not WriteTableTask(
            data=Predictions(day="other"), table="scores", warehouse=warehouse_url, mode="append"
        )
        .output()
        .exists(None)
    )
    tasuki.build(task, workspace=str(tmp_path / "ws"))
    assert _sql(warehouse_url, "SELECT count(*) FROM scores") == [(1,)]
    # remove() forgets the old row too, so a deliberate repeat is possible.
    task.output().remove(None)
    assert not task.output().exists(None)
    assert _json.loads(_json.dumps(params)) == params


def test_the_task_is_named_by_its_public_module(tmp_path: Path) -> None:
    """Issue 9, bug 9: lineage rows, records and the CLI name the public class path."""
    from tasuki.core.task import import_task
    from tasuki.warehouse import WriteTableTask as Public

    assert Public.task_name() == "tasuki.warehouse:WriteTableTask"
    assert import_task("tasuki.warehouse:WriteTableTask") is Public
    # Old records name the private path: it still imports, to the same class.
    assert import_task("tasuki.warehouse._lineage:WriteTableTask") is Public
    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    task = Public(data=Predictions(day="pub"), table="scores", warehouse=url)
    assert task.lineage().task == "tasuki.warehouse:WriteTableTask"
    tasuki.build(task, workspace=str(tmp_path / "ws"))
    assert read_lineage(url, "scores")[0]["task"] == "tasuki.warehouse:WriteTableTask"


class TwoOutputs(tasuki.Task):
    """A task with named outputs: write-back picks one with output_name."""

    def output(self):
        return {
            "scores": self.make_target("scores.parquet"),
            "items": self.make_target("items.parquet"),
        }

    def run(self):
        self.dump(pd.DataFrame({"recipe_id": [1, 2], "score": [0.5, 0.7]}), "scores")
        self.dump(pd.DataFrame({"item": ["a", "b", "c"]}), "items")


def test_output_name_picks_one_of_several_outputs(tmp_path):
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    task = WriteTableTask(data=TwoOutputs(), table="items", warehouse=url, output_name="items")
    result = tasuki.build(task, workspace=str(tmp_path / "ws"), return_value=False)
    assert result.ok, result.summary()
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        assert con.execute("SELECT item FROM items ORDER BY 1").fetchall() == [
            ("a",),
            ("b",),
            ("c",),
        ]
    finally:
        con.close()
