"""BigQuery write_table: parts staged on object storage, LOAD DATA, one transaction.

The stand-in client runs the jobs on DuckDB, which has real transactions: ``LOAD DATA``
reads the staged parts with pyarrow from the moto S3 server (standing in for GCS, as in
test_bigquery.py), scripts are split and each statement is carried out by DuckDB after
sqlglot's BigQuery-to-DuckDB translation, ``BEGIN TRANSACTION`` / ``COMMIT TRANSACTION``
map to DuckDB's, and a failing statement rolls the transaction back and fails the job, as
BigQuery does. Two things DuckDB lacks are done by hand: ``CREATE TABLE ... COPY src``
(a copy of the table) and ``ALTER TABLE ... SET OPTIONS`` (metadata, recorded).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from tasuki.errors import QueryTimeoutError, WarehouseError
from tasuki.warehouse import BigQueryWarehouse, connect
from tasuki.warehouse.base import Lineage
from tasuki.warehouse.bigquery._write import write_script

from .conftest import _fs


class BadRequest(Exception):  # google.api_core.exceptions.BadRequest is matched by name
    pass


class NotFound(Exception):  # google.api_core.exceptions.NotFound
    pass


class BigQueryOnDuckDB:
    """A BigQuery client stand-in that carries out write jobs on DuckDB."""

    def __init__(self, storage_options: dict[str, Any]) -> None:
        self.storage_options = storage_options
        self.con = duckdb.connect()
        self.jobs: list[str] = []
        self.options: dict[str, str] = {}  # table -> the options ALTER TABLE set
        self.loaded: dict[str, pa.Table] = {}  # table -> what LOAD DATA read
        self.compressions: set[str] = set()

    def query(self, sql: str, job_config: Any = None) -> _Job:
        self.jobs.append(sql)
        return _Job(self, sql)

    def get_table(self, ref: str) -> Any:
        project, dataset, table = ref.split(".")
        assert project == "proj"
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [dataset, table],
        ).fetchall()
        if not rows:
            raise NotFound(f"Not found: Table {ref}")
        return SimpleNamespace(
            schema=[SimpleNamespace(name=n, field_type=t, mode="NULLABLE") for n, t in rows]
        )

    def get_dataset(self, ref: str) -> Any:
        project, dataset = ref.split(".")
        assert project == "proj"
        found = self.con.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?", [dataset]
        ).fetchone()
        if not (found and found[0]):
            raise NotFound(f"Not found: Dataset {ref}")
        return SimpleNamespace(dataset_id=dataset)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()


class _Job:
    def __init__(self, client: BigQueryOnDuckDB, sql: str) -> None:
        self.client, self.sql = client, sql

    def result(self, timeout: float | None = None) -> None:
        con = self.client.con
        in_transaction = False
        try:
            for statement in sqlglot.parse(self.sql, read="bigquery"):
                if statement is None:
                    continue
                for table in statement.find_all(exp.Table):
                    if table.args.get("catalog"):
                        assert table.catalog == "proj"
                        table.set("catalog", None)
                        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.db}"')
                if isinstance(statement, exp.Create) and statement.kind == "SCHEMA":
                    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{statement.this.db}"')
                elif isinstance(statement, exp.LoadData):
                    self._load(statement)
                elif isinstance(statement, exp.Transaction):
                    con.begin()
                    in_transaction = True
                elif isinstance(statement, exp.Commit):
                    con.commit()
                    in_transaction = False
                elif isinstance(statement, exp.Alter) and not any(
                    isinstance(a, exp.ColumnDef) for a in statement.args.get("actions") or []
                ):  # SET OPTIONS is metadata; ADD COLUMN runs below
                    self.client.options[statement.this.sql("duckdb")] = statement.sql("bigquery")
                elif isinstance(statement, exp.Create) and statement.args.get("clone"):
                    source = statement.args["clone"].this.sql("duckdb")
                    con.execute(
                        f"CREATE OR REPLACE TABLE {statement.this.sql('duckdb')} AS "
                        f"SELECT * FROM {source}"
                    )
                else:
                    # DuckDB enforces every key, so BigQuery's NOT ENFORCED has no counterpart.
                    con.execute(statement.sql("duckdb").replace(" NOT ENFORCED", ""))
        except (duckdb.Error, sqlglot.errors.SqlglotError) as exc:
            if in_transaction:
                con.rollback()
            raise BadRequest(f"Query error: {exc} at [1:1]") from exc

    def _load(self, statement: exp.LoadData) -> None:
        props = {p.name: p for p in statement.args["files"].expressions}
        fmt = next(
            p for p in statement.args["files"].expressions if isinstance(p, exp.FileFormatProperty)
        )
        assert fmt.this.name == "PARQUET" and statement.args["overwrite"]
        assert props["enable_list_inference"].args["value"].this is True
        (uri,) = [u.name for u in props["uris"].args["value"].expressions]
        fs = _fs(self.client.storage_options)
        tables = []
        for key in sorted(fs.glob(uri.removeprefix("s3://"))):
            with fs.open(key, "rb") as f:
                parquet = pq.ParquetFile(f)
                tables.append(parquet.read())
                meta = parquet.metadata
                self.client.compressions.update(
                    meta.row_group(g).column(c).compression
                    for g in range(meta.num_row_groups)
                    for c in range(meta.num_columns)
                )
        if not tables:
            raise duckdb.InvalidInputException(f"Not found: Files {uri}")
        data = pa.concat_tables(tables)
        name = statement.this.sql("duckdb")
        self.client.loaded[name] = data
        self.client.con.register("_loaded", data)
        try:
            self.client.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _loaded")
        finally:
            self.client.con.unregister("_loaded")


def _wh(client: Any, staging: str, storage_options: dict[str, Any], **options: Any) -> Any:
    wh = connect(
        "bigquery://proj/ds",
        gcs_staging=staging,
        storage_options=storage_options,
        client=client,
        **options,
    )
    assert isinstance(wh, BigQueryWarehouse)
    return wh


def _staged(staging: str, storage_options: dict[str, Any]) -> list[str]:
    return [k for k in _fs(storage_options).find(staging.removeprefix("s3://")) if "/write-" in k]


def _stages(client: BigQueryOnDuckDB) -> list[tuple[Any, ...]]:
    return client.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_tasuki_stage%'"
    )


@pytest.fixture
def client(storage_options: dict[str, Any]) -> BigQueryOnDuckDB:
    return BigQueryOnDuckDB(storage_options)


def test_replace_loads_staged_parts_then_swaps_in_a_transaction(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    data = pa.table(
        {
            "id": pa.array(range(2500), pa.int64()),
            "name": [None if i % 3 == 0 else "" if i % 3 == 1 else "o'brien" for i in range(2500)],
            "tags": [["a", "b"] if i % 2 else [] for i in range(2500)],
        }
    )
    wh = _wh(client, staging, storage_options, part_rows=1000)
    assert wh.write_table("items", data) == 2500
    load, script, drop = client.jobs
    stage = load.split("`")[5]
    assert stage.startswith("_tasuki_stage_items_")
    assert load.startswith(f"LOAD DATA OVERWRITE `proj`.`ds`.`{stage}` FROM FILES(")
    assert f"uris = ['{staging}/write-" in load
    assert load.endswith("/part-*.parquet'], enable_list_inference = true)")
    # The parts BigQuery read: three zstd files holding the data in order.
    assert client.compressions == {"ZSTD"}
    assert client.loaded[f'"ds"."{stage}"'].equals(data)
    lines = script.split(";\n")
    assert lines[0].startswith(
        f"ALTER TABLE `proj`.`ds`.`{stage}` SET OPTIONS (expiration_timestamp = TIMESTAMP '"
    )
    assert lines[1] == (
        f"CREATE TABLE IF NOT EXISTS `proj`.`ds`.`items` AS SELECT * FROM `proj`.`ds`.`{stage}` "
        "LIMIT 0"
    )
    assert lines[2:] == [
        "BEGIN TRANSACTION",
        "TRUNCATE TABLE `proj`.`ds`.`items`",
        f"INSERT INTO `proj`.`ds`.`items` (`id`, `name`, `tags`) SELECT `id`, `name`, `tags` "
        f"FROM `proj`.`ds`.`{stage}`",
        "COMMIT TRANSACTION;",
    ]
    assert drop == f"DROP TABLE IF EXISTS `proj`.`ds`.`{stage}`"
    assert client.rows(
        "SELECT count(*), count(name), count(*) FILTER (name = '') FROM ds.items"
    ) == [(2500, 1666, 833)]
    assert client.rows("SELECT tags FROM ds.items WHERE id = 1") == [(["a", "b"],)]
    # A second replace with the same columns truncates and refills in its transaction.
    wh.write_table("items", data.slice(0, 10))
    assert client.rows("SELECT count(*) FROM ds.items") == [(10,)]
    assert _stages(client) == [] and _staged(staging, storage_options) == []


def test_append_and_merge_with_null_keys(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    wh = _wh(client, staging, storage_options)
    wh.write_table("ds.items", pa.table({"id": [1, 2, None], "v": ["a", "b", "null key"]}))
    wh.write_table("items", pa.table({"id": [3], "v": ["c"]}), mode="append")
    client.jobs.clear()
    wh.write_table(
        "proj.ds.items",
        pa.table({"id": [2, None, 4], "v": ["B", "NULL KEY", "d"]}),
        mode="merge",
        key=["id"],
    )
    body = client.jobs[1].split(";\n")
    assert body[1] == "BEGIN TRANSACTION"  # the target exists: nothing created
    assert body[2].startswith("DELETE FROM `proj`.`ds`.`items` AS target WHERE EXISTS (SELECT 1")
    assert body[2].endswith("AS stage WHERE stage.`id` IS NOT DISTINCT FROM target.`id`)")
    assert client.rows("SELECT id, v FROM ds.items ORDER BY id NULLS FIRST") == [
        (None, "NULL KEY"),
        (1, "a"),
        (2, "B"),
        (3, "c"),
        (4, "d"),
    ]
    # An empty append stages one empty part, so the new table still gets its columns.
    assert wh.write_table("fresh", pa.table({"x": pa.array([], pa.int32())}), mode="append") == 0
    assert client.rows("SELECT count(*) FROM ds.fresh") == [(0,)]
    assert _stages(client) == [] and _staged(staging, storage_options) == []


def test_a_failure_inside_the_transaction_leaves_the_table_and_lineage_as_they_were(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    client.con.execute("CREATE SCHEMA ds")
    client.con.execute("CREATE TABLE ds.items (id BIGINT NOT NULL, v TEXT)")
    client.con.execute("INSERT INTO ds.items VALUES (1, 'a')")
    wh = _wh(client, staging, storage_options)
    lineage = Lineage("items", "uid-1", "tests:Load", {"day": "2024-01-01"})
    with pytest.raises(WarehouseError, match=r"refused the write to 'items'.*NOT NULL"):
        wh.write_table(
            "items", pa.table({"id": [2, None], "v": ["b", "c"]}), mode="append", lineage=lineage
        )
    assert client.rows("SELECT id, v FROM ds.items") == [(1, "a")]
    assert client.rows("SELECT count(*) FROM ds.tasuki_lineage") == [(0,)]
    assert _stages(client) == [] and _staged(staging, storage_options) == []
    # The last statement failing (the lineage INSERT: here a CHECK refuses every row) undoes
    # a replace's TRUNCATE and INSERT too.
    client.con.execute("DROP TABLE ds.tasuki_lineage")
    client.con.execute(
        "CREATE TABLE ds.tasuki_lineage (table_name TEXT, unique_id TEXT, task TEXT, "
        "params TEXT, row_count BIGINT CHECK (row_count < 0), written_at TIMESTAMPTZ)"
    )
    with pytest.raises(WarehouseError, match="CHECK constraint"):
        wh.write_table("items", pa.table({"id": [7], "v": ["z"]}), lineage=lineage)
    assert client.rows("SELECT id, v FROM ds.items") == [(1, "a")]
    assert _stages(client) == [] and _staged(staging, storage_options) == []


def test_the_lineage_row_commits_with_the_rows(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    wh = _wh(client, staging, storage_options)
    params = {"note": 'o\'brien \\ "q"', "n": 3}
    lineage = Lineage("items", "uid-1", "tests:Load", params)
    assert wh.write_table("items", pa.table({"id": [1, 2]}), mode="append", lineage=lineage) == 2
    script = client.jobs[-2].split(";\n")
    assert script[2].startswith("CREATE TABLE IF NOT EXISTS `proj`.`ds`.`tasuki_lineage` (")
    assert script[3] == (
        "ALTER TABLE `proj`.`ds`.`tasuki_lineage` ADD COLUMN IF NOT EXISTS code_key STRING"
    )
    assert script[5] == (
        "SELECT IF(EXISTS(SELECT 1 FROM `proj`.`ds`.`tasuki_lineage` WHERE table_name = 'items' "
        "AND unique_id = 'uid-1'), ERROR('tasuki: lineage row exists'), NULL)"
    )
    (row,) = client.rows(
        "SELECT table_name, unique_id, task, params, row_count FROM ds.tasuki_lineage"
    )
    assert row[:3] == ("items", "uid-1", "tests:Load") and row[4] == 2
    assert json.loads(row[3]) == params
    # The same append again is stopped inside the transaction: no rows are added.
    with pytest.raises(WarehouseError, match="append was not repeated"):
        wh.write_table("items", pa.table({"id": [3]}), mode="append", lineage=lineage)
    assert client.rows("SELECT count(*) FROM ds.items") == [(2,)]
    # A merge replaces the row for the same id, with its own count.
    wh.write_table("items", pa.table({"id": [2, 5]}), mode="merge", key=["id"], lineage=lineage)
    assert client.rows("SELECT id FROM ds.items ORDER BY id") == [(1,), (2,), (5,)]
    assert client.rows("SELECT row_count FROM ds.tasuki_lineage") == [(2,)]
    assert _stages(client) == []


def test_a_replace_with_new_columns_copies_the_staging_table_over_the_target(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    wh = _wh(client, staging, storage_options)
    wh.write_table("items", pa.table({"id": [1, 2], "old": ["a", "b"]}))
    lineage = Lineage("items", "uid-2", "tests:Load")
    wh.write_table("items", pa.table({"id": [9], "new": [1.5]}), lineage=lineage)
    script = client.jobs[-2].split(";\n")
    assert script[1].startswith("CREATE OR REPLACE TABLE `proj`.`ds`.`items` COPY `proj`.`ds`.")
    # Only the lineage row is left for the transaction.
    assert [s for s in script if "`items`" in s and "INSERT" in s] == []
    assert client.rows("SELECT * FROM ds.items") == [(9, 1.5)]
    assert client.rows("SELECT unique_id FROM ds.tasuki_lineage") == [("uid-2",)]


def test_a_replace_leaves_only_its_own_lineage_row_for_the_table(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    """An earlier writer's row, kept, made it complete over the replacing write's rows."""
    wh = _wh(client, staging, storage_options)
    wh.write_table("items", pa.table({"id": [1]}), lineage=Lineage("items", "uid-1", "t:A"))
    wh.write_table("other", pa.table({"id": [5]}), lineage=Lineage("other", "uid-9", "t:A"))
    wh.write_table("items", pa.table({"id": [2]}), lineage=Lineage("items", "uid-2", "t:A"))
    assert client.rows("SELECT table_name, unique_id FROM ds.tasuki_lineage ORDER BY 1") == [
        ("items", "uid-2"),
        ("other", "uid-9"),
    ]


def test_names_timeouts_and_refusals(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    nodataset = connect(
        "bigquery://proj", gcs_staging=staging, storage_options=storage_options, client=client
    )
    with pytest.raises(WarehouseError, match="names no dataset"):
        nodataset.write_table("items", pa.table({"a": [1]}))
    wh = _wh(client, staging, storage_options)
    with pytest.raises(WarehouseError, match="not a table name"):
        wh.write_table("a.b.c.d", pa.table({"a": [1]}))
    with pytest.raises(WarehouseError, match="unknown write mode"):
        wh.write_table("t", pa.table({"a": [1]}), mode="upsert")
    assert client.jobs == [] and _staged(staging, storage_options) == []

    class Slow(BigQueryOnDuckDB):
        def query(self, sql: str, job_config: Any = None) -> Any:
            job = super().query(sql, job_config)
            if "BEGIN TRANSACTION" in sql:

                def result(timeout: float | None = None) -> None:
                    import concurrent.futures

                    raise concurrent.futures.TimeoutError

                job.result = result  # type: ignore[method-assign]
                job.cancel = lambda: None  # type: ignore[attr-defined]
            return job

    slow = Slow(storage_options)
    with pytest.raises(QueryTimeoutError, match="writing 'items'"):
        _wh(slow, staging, storage_options).write_table("items", pa.table({"a": [1]}))
    assert _stages(slow) == [] and _staged(staging, storage_options) == []


def test_the_script_for_each_mode() -> None:
    from tasuki.warehouse.bigquery._write import bigquery_table

    target = bigquery_table("items", "proj", "ds")
    stage = bigquery_table("stage", "proj", "ds")
    common = {"target": target, "stage": stage, "columns": ["id"], "lineage": None, "rows": 1}
    append = write_script(**common, mode="append", keys=[], target_exists=True, same_columns=False)
    assert "TRUNCATE" not in append and "INSERT INTO `proj`.`ds`.`items` (`id`)" in append
    swap = write_script(**common, mode="replace", keys=[], target_exists=True, same_columns=False)
    assert "BEGIN TRANSACTION" not in swap and "COPY `proj`.`ds`.`stage`" in swap


def test_a_missing_dataset_is_created_before_the_load(
    client: BigQueryOnDuckDB, staging: str, storage_options: dict[str, Any]
) -> None:
    """Issue 9: write_table into dataset.table created no dataset (migrate does)."""
    wh = _wh(client, staging, storage_options, location="EU")
    assert wh.write_table("reco.scores", pa.table({"a": [1, 2]}), mode="append") == 2
    assert client.jobs[0] == "CREATE SCHEMA IF NOT EXISTS `proj`.`reco` OPTIONS (location='EU')"
    assert client.jobs[1].startswith("LOAD DATA OVERWRITE `proj`.`reco`.`_tasuki_stage_scores_")
    assert client.rows("SELECT a FROM reco.scores ORDER BY a") == [(1,), (2,)]
    # There now: looked up, not created again (creating needs rights on the project).
    client.jobs.clear()
    wh.write_table("reco.scores", pa.table({"a": [3]}), mode="append")
    assert not [j for j in client.jobs if j.startswith("CREATE SCHEMA")]
    # The URL's own dataset is taken to exist, as the database of a PostgreSQL URL is.
    client.jobs.clear()
    wh.write_table("items", pa.table({"a": [1]}))
    assert client.jobs[0].startswith("LOAD DATA")
