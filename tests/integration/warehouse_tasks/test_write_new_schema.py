"""write_table into ``schema.table`` creates a missing schema, as migrate does (issue 9, 9).

PostgreSQL and DuckDB for real, in the same transaction as the rows (a failed write leaves
no schema behind on PostgreSQL, whose DDL is transactional); the task form too.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import tasuki
from tasuki.warehouse import WriteTableTask, connect, read_lineage
from tasuki.warehouse.base import Lineage
from tests.integration.warehouse_tasks.test_write_table_task import Predictions, _sql


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb://{tmp_path / 'dwh.duckdb'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("mode", ["replace", "append", "merge"])
def test_write_table_creates_a_missing_schema(warehouse_url: str, mode: str) -> None:
    with connect(warehouse_url) as wh:
        rows = wh.write_table("ml.scores", pa.table({"a": [1, 2]}), mode=mode, key=["a"])
    assert rows == 2
    assert sorted(_sql(warehouse_url, "SELECT a FROM ml.scores")) == [(1,), (2,)]


def test_write_table_task_into_a_new_schema(warehouse_url: str, tmp_path: Path) -> None:
    task = WriteTableTask(data=Predictions(day="s"), table="reco.scores", warehouse=warehouse_url)
    tasuki.build(task, workspace=str(tmp_path / "ws"))
    assert _sql(warehouse_url, "SELECT count(*) FROM reco.scores") == [(3,)]
    assert read_lineage(warehouse_url, "reco.scores")[0]["unique_id"] == task.unique_id
    assert task.output().exists(None)


def test_a_failed_write_leaves_no_new_schema_on_postgres(postgres_url: str) -> None:
    with connect(postgres_url) as wh:
        wh.write_table("t", pa.table({"a": [1]}), lineage=Lineage("t", "u0", "tests:W"))
    # The lineage INSERT, the last statement of the transaction, fails.
    _sql(
        postgres_url,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'lineage refused'; END $$",
    )
    _sql(
        postgres_url,
        "CREATE TRIGGER refuse BEFORE INSERT ON tasuki_lineage "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    with (
        connect(postgres_url) as wh,
        pytest.raises(tasuki.errors.WarehouseError, match="lineage refused"),
    ):
        wh.write_table("fresh.t", pa.table({"a": [1]}), lineage=Lineage("fresh.t", "u", "t:T"))
    assert _sql(postgres_url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'fresh'") == [(0,)]
