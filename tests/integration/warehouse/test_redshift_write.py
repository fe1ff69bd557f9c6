"""Redshift write_table: the statements emitted, the parts staged on S3, one transaction.

The stand-in cluster is a real PostgreSQL database (Redshift speaks its protocol and, for
every statement write_table sends, its grammar), so transactions, rollbacks, NOT NULL and
renames are real. ``COPY ... FROM 's3://...' FORMAT AS PARQUET`` is carried out the way
Redshift does it: every object under the prefix is read with pyarrow from the moto S3
server and loaded by column position. The only rewriting is of types PostgreSQL lacks
(``VARBYTE(n)`` -> ``bytea``, ``SUPER`` -> ``text``) and a ``getdate()`` function.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasuki.errors import QueryTimeoutError, WarehouseError
from tasuki.warehouse import RedshiftWarehouse, connect
from tasuki.warehouse.base import Lineage
from tasuki.warehouse.redshift._write import redshift_type, write_statements

from .conftest import DatabaseError, _fs

ROLE = "arn:aws:iam::123456789012:role/load"
_COPY = re.compile(
    r"^COPY (?P<table>\S+) FROM '(?P<url>[^']*)' IAM_ROLE (?P<role>default|'[^']*') "
    r"FORMAT AS PARQUET(?P<json> SERIALIZETOJSON)?$"
)

pytestmark = pytest.mark.services


class RedshiftOnPostgres:
    """A connection factory whose connections run Redshift's write statements on PostgreSQL."""

    def __init__(
        self, url: str, storage_options: dict[str, Any], *, fail_on: str | None = None
    ) -> None:
        import psycopg

        self.url = url
        self.storage_options = storage_options
        self.fail_on = fail_on
        self.statements: list[str] = []
        self.copied: list[list[str]] = []  # the S3 objects each COPY loaded
        self.loaded: dict[str, pa.Table] = {}  # ... and what pyarrow read from them
        self.compressions: set[str] = set()
        self.open = 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE OR REPLACE FUNCTION getdate() RETURNS timestamp LANGUAGE sql "
                "AS $$ SELECT (now() AT TIME ZONE 'UTC') $$"
            )

    def __call__(self) -> _Connection:
        import psycopg

        self.open += 1
        return _Connection(self, psycopg.connect(self.url))


class _Connection:
    def __init__(self, owner: RedshiftOnPostgres, conn: Any) -> None:
        self.owner, self.conn = owner, conn

    def cursor(self) -> _Cursor:
        return _Cursor(self.owner, self.conn)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.owner.open -= 1
        self.conn.close()


class _Cursor:
    def __init__(self, owner: RedshiftOnPostgres, conn: Any) -> None:
        self.owner, self.conn = owner, conn
        self.cur = conn.cursor()

    @property
    def description(self) -> Any:
        return self.cur.description

    def fetchall(self) -> list[Any]:
        return list(self.cur.fetchall())

    def execute(self, sql: str, params: Any = None) -> None:
        self.owner.statements.append(sql)
        if self.owner.fail_on and sql.startswith(self.owner.fail_on):
            raise DatabaseError("S3ServiceException: Access Denied, Status 403", "XX000")
        match = _COPY.match(sql)
        if match:
            self._copy(match)
            return
        if sql.startswith("COPY "):
            raise DatabaseError(f"malformed COPY: {sql}", "42601")
        sql = re.sub(r"VARBYTE\(\d+\)", "BYTEA", sql).replace(" SUPER", " TEXT")
        self.cur.execute(sql, params)

    def _copy(self, match: re.Match[str]) -> None:
        assert match["role"] == f"'{ROLE}'"
        fs = _fs(self.owner.storage_options)
        prefix = match["url"].removeprefix("s3://")
        keys = sorted(k for k in fs.find(prefix.rsplit("/", 1)[0]) if k.startswith(prefix))
        if not keys:
            raise DatabaseError(f"The specified S3 prefix '{prefix}' does not exist", "XX000")
        self.owner.copied.append(keys)
        nested = bool(match["json"])
        with self.cur.copy(f"COPY {match['table']} FROM STDIN") as copy:
            for key in keys:
                with fs.open(key, "rb") as f:
                    parquet = pq.ParquetFile(f)
                    table = parquet.read()
                    meta = parquet.metadata
                    self.owner.compressions.update(
                        meta.row_group(g).column(c).compression
                        for g in range(meta.num_row_groups)
                        for c in range(meta.num_columns)
                    )
                self.owner.loaded[key] = table
                for row in table.to_pylist():
                    values = [
                        json.dumps(v) if nested and isinstance(v, list | dict) else v
                        for v in row.values()
                    ]
                    copy.write_row(values)


@pytest.fixture
def cluster(postgres_url: str, storage_options: dict[str, Any]) -> RedshiftOnPostgres:
    return RedshiftOnPostgres(postgres_url, storage_options)


@pytest.fixture
def admin(postgres_url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def _wh(factory: Any, staging: str, storage_options: dict[str, Any], **options: Any) -> Any:
    wh = connect(
        "redshift://loader:pw@example-cluster:5439/dev",
        s3_staging=staging,
        iam_role=ROLE,
        storage_options=storage_options,
        connection_factory=factory,
        **options,
    )
    assert isinstance(wh, RedshiftWarehouse)
    return wh


def _staged(staging: str, storage_options: dict[str, Any]) -> list[str]:
    fs = _fs(storage_options)
    root = staging.removeprefix("s3://")
    return [k for k in fs.find(root) if "/write-" in k]


def test_replace_stages_zstd_parts_and_copies_them_in_one_transaction(
    cluster: RedshiftOnPostgres, admin: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    data = pa.table(
        {
            "id": pa.array(range(1, 2501), pa.int64()),
            "name": [None if i % 5 == 0 else "" if i % 7 == 0 else f"n{i}" for i in range(2500)],
            "price": pa.array([decimal.Decimal(i) / 100 for i in range(2500)], pa.decimal128(9, 2)),
            "at": pa.array(
                [start + dt.timedelta(seconds=i) for i in range(2500)],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    wh = _wh(cluster, staging, storage_options, part_rows=1000)
    assert wh.write_table("public.items", data) == 2500
    # Three zstd parts under one fresh prefix, read back with pyarrow: the data, in order.
    (keys,) = cluster.copied
    assert len(keys) == 3 and len({k.rsplit("/", 1)[0] for k in keys}) == 1
    assert cluster.compressions == {"ZSTD"}
    assert pa.concat_tables([cluster.loaded[k] for k in keys]).equals(data)
    lookup, create, copy_sql, drop, rename = cluster.statements[1:]
    assert cluster.statements[0] == "SET statement_timeout TO 3600000"
    # The schema exists: looked up, not created.
    assert lookup == "SELECT count(*) FROM pg_namespace WHERE nspname = %s"
    stage = re.match(r'CREATE TABLE "public"\."(_tasuki_stage_items_[0-9a-f]{8})" \(', create)
    assert stage, create
    assert create.endswith(
        '("id" BIGINT, "name" VARCHAR(65535), "price" DECIMAL(9, 2), "at" TIMESTAMPTZ)'
    )
    prefix = f"{staging}/write-"
    assert copy_sql.startswith(f'COPY "public"."{stage[1]}" FROM \'{prefix}')
    assert copy_sql.endswith(f"/' IAM_ROLE '{ROLE}' FORMAT AS PARQUET")
    assert drop == 'DROP TABLE IF EXISTS "public"."items"'
    assert rename == f'ALTER TABLE "public"."{stage[1]}" RENAME TO "items"'
    rows = admin.execute("SELECT id, name, price, at FROM items ORDER BY id").fetchall()
    assert len(rows) == 2500 and rows[0] == (1, None, decimal.Decimal("0.00"), start)
    assert rows[7][1] == "" and rows[6][1] == "n6"  # NULL and '' stay distinct
    # The staged parts are gone once the load committed; no connection is left open.
    assert _staged(staging, storage_options) == [] and cluster.open == 0


def test_append_and_merge_go_through_a_temporary_table(
    cluster: RedshiftOnPostgres, admin: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    wh = _wh(cluster, staging, storage_options)
    wh.write_table("items", pa.table({"id": [1, 2, None], "v": ["a", "b", "null key"]}))
    cluster.statements.clear()
    wh.write_table("items", pa.table({"id": [3], "v": ["c"]}), mode="append")
    create, _copy, ensure, insert, drop = cluster.statements[1:]
    assert re.fullmatch(r'CREATE TEMP TABLE "_tasuki_stage_items_[0-9a-f]{8}" \(.*\)', create)
    assert ensure == 'CREATE TABLE IF NOT EXISTS "items" ("id" BIGINT, "v" VARCHAR(65535))'
    assert insert.startswith('INSERT INTO "items" ("id", "v") SELECT "id", "v" FROM "_tasuki_')
    assert drop.startswith('DROP TABLE "_tasuki_stage_items_')
    cluster.statements.clear()
    wh.write_table(
        "items",
        pa.table({"id": [2, None, 4], "v": ["B", "NULL KEY", "d"]}),
        mode="merge",
        key=["id"],
    )
    delete = cluster.statements[4]
    assert delete.startswith('DELETE FROM "items" USING "_tasuki_stage_items_')
    assert '("items"."id" = "_tasuki_stage_items_' in delete and "IS NULL)" in delete
    rows = admin.execute("SELECT id, v FROM items ORDER BY id NULLS FIRST").fetchall()
    assert rows == [(None, "NULL KEY"), (1, "a"), (2, "B"), (3, "c"), (4, "d")]
    # Appending to a table that does not exist creates it; an empty write copies nothing.
    assert wh.write_table("fresh", pa.table({"x": pa.array([], pa.int32())}), mode="append") == 0
    assert not any(s.startswith("COPY") for s in cluster.statements[-5:])
    assert admin.execute("SELECT count(*) FROM fresh").fetchall() == [(0,)]
    assert _staged(staging, storage_options) == []


def test_a_failure_after_the_copy_rolls_everything_back(
    cluster: RedshiftOnPostgres, admin: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    admin.execute("CREATE TABLE items (id BIGINT NOT NULL, v VARCHAR(10))")
    admin.execute("INSERT INTO items VALUES (1, 'a')")
    wh = _wh(cluster, staging, storage_options)
    lineage = Lineage("items", "uid-1", "tests:Load", {"day": "2024-01-01"})
    # The COPY into staging succeeds; the INSERT hits NOT NULL (Redshift enforces it).
    with pytest.raises(WarehouseError, match="null value"):
        wh.write_table(
            "items", pa.table({"id": [2, None], "v": ["b", "c"]}), mode="append", lineage=lineage
        )
    assert any(s.startswith("COPY") for s in cluster.statements)
    assert admin.execute("SELECT id, v FROM items").fetchall() == [(1, "a")]
    lineage_tables = admin.execute("SELECT to_regclass('tasuki_lineage') IS NULL").fetchall()
    assert lineage_tables == [(True,)]  # created in the transaction, so rolled back too
    assert _staged(staging, storage_options) == [] and cluster.open == 0
    # A replace whose COPY is refused leaves the table as it was and no staging table.
    denied = RedshiftOnPostgres(cluster.url, storage_options, fail_on="COPY")
    with pytest.raises(WarehouseError, match="Access Denied"):
        _wh(denied, staging, storage_options).write_table("items", pa.table({"id": [9]}))
    assert admin.execute("SELECT id, v FROM items").fetchall() == [(1, "a")]
    leftovers = admin.execute(
        "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_tasuki_stage%'"
    ).fetchall()
    assert leftovers == [(0,)] and _staged(staging, storage_options) == []


def test_the_lineage_row_commits_with_the_rows(
    cluster: RedshiftOnPostgres, admin: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    wh = _wh(cluster, staging, storage_options)
    lineage = Lineage("items", "uid-1", "tests:Load", {"note": 'o\'brien \\ "q"'})
    assert wh.write_table("items", pa.table({"id": [1, 2]}), mode="append", lineage=lineage) == 2
    ddl, find, insert = cluster.statements[-3:]
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS tasuki_lineage (table_name VARCHAR(65535)")
    assert find == "SELECT count(*) FROM tasuki_lineage WHERE table_name = %s AND unique_id = %s"
    assert insert.endswith("VALUES (%s, %s, %s, %s, %s, GETDATE(), %s)")
    row = admin.execute("SELECT table_name, unique_id, task, params, row_count FROM tasuki_lineage")
    assert row.fetchall() == [
        ("items", "uid-1", "tests:Load", json.dumps({"note": 'o\'brien \\ "q"'}), 2)
    ]
    # The same append again is refused inside the transaction: nothing is added.
    with pytest.raises(WarehouseError, match="append was not repeated"):
        wh.write_table("items", pa.table({"id": [3]}), mode="append", lineage=lineage)
    assert admin.execute("SELECT count(*) FROM items").fetchall() == [(2,)]
    # A replace replaces the lineage row for the same id.
    wh.write_table("items", pa.table({"id": [7]}), lineage=lineage)
    assert admin.execute("SELECT row_count FROM tasuki_lineage").fetchall() == [(1,)]


def test_types_and_refusals(staging: str, storage_options: dict[str, Any]) -> None:
    schema = pa.schema(
        [
            ("small", pa.int16()),
            ("u32", pa.uint32()),
            ("f", pa.float32()),
            ("b", pa.binary()),
            ("d", pa.date32()),
            ("t", pa.timestamp("ns")),
            ("tags", pa.list_(pa.string())),
            ("ok", pa.bool_()),
        ]
    )
    from tasuki.warehouse._write import for_loading, table_name

    loadable = for_loading(schema.empty_table().to_reader()).schema
    assert [redshift_type(f) for f in loadable] == [
        "SMALLINT",
        "BIGINT",  # unsigned widened
        "REAL",
        "VARBYTE(1024000)",
        "DATE",
        "TIMESTAMP",  # nanoseconds become microseconds
        "SUPER",
        "BOOLEAN",
    ]
    statements = write_statements(
        target=table_name("s.t", "redshift"),
        stage=table_name("s.stage", "redshift"),
        schema=loadable,
        mode="replace",
        keys=[],
        prefix="s3://b/p/write-1/",
        iam_role="default",
    )
    assert statements[1] == (
        'COPY "s"."stage" FROM \'s3://b/p/write-1/\' IAM_ROLE default FORMAT AS PARQUET '
        "SERIALIZETOJSON"
    )

    def unreachable() -> Any:
        raise AssertionError("a refused write must not reach the cluster")

    wh = _wh(unreachable, staging, storage_options)
    with pytest.raises(WarehouseError, match=r"column 'big'.*decimal256"):
        wh.write_table("t", pa.table({"big": pa.array([1], pa.decimal256(50, 0))}))
    with pytest.raises(WarehouseError, match="needs key"):
        wh.write_table("t", pa.table({"a": [1]}), mode="merge")
    with pytest.raises(WarehouseError, match="not a table name"):
        wh.write_table("a.b.c.d", pa.table({"a": [1]}))
    assert _staged(staging, storage_options) == []  # refused before anything was staged


def test_uuids_and_dictionaries_are_loaded_as_text(
    cluster: RedshiftOnPostgres, admin: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    ids = [uuid.uuid4(), None]
    data = pa.table(
        {
            "u": pa.ExtensionArray.from_storage(
                pa.uuid(), pa.array([i.bytes if i else None for i in ids], pa.binary(16))
            ),
            "kind": pa.array(["x", "y"]).dictionary_encode(),
        }
    )
    _wh(cluster, staging, storage_options).write_table("things", data)
    rows = admin.execute("SELECT u, kind FROM things").fetchall()
    assert rows == [(str(ids[0]), "x"), (None, "y")]


def test_a_staging_location_that_cannot_be_written_is_named(staging: str) -> None:
    def unreachable() -> Any:
        raise AssertionError("nothing may reach the cluster when staging failed")

    # Nothing listens on port 9: the first part cannot be written.
    dead = {"endpoint_url": "http://127.0.0.1:9", "key": "k", "secret": "s"}
    dead["config_kwargs"] = {"retries": {"max_attempts": 1}}  # type: ignore[assignment]
    wh = _wh(unreachable, staging, dead)
    with pytest.raises(WarehouseError, match=r"staging the rows of 'items' as Parquet parts at"):
        wh.write_table("items", pa.table({"id": [1]}))


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_a_missing_schema_is_created_in_the_transaction(
    mode: str,
    cluster: RedshiftOnPostgres,
    admin: Any,
    staging: str,
    storage_options: dict[str, Any],
) -> None:
    """Issue 9: write_table into schema.table created no schema (migrate does)."""
    wh = _wh(cluster, staging, storage_options)
    assert wh.write_table("ml.items", pa.table({"id": [1, 2]}), mode=mode) == 2
    creates = [s for s in cluster.statements if s.startswith("CREATE SCHEMA")]
    assert creates == ['CREATE SCHEMA IF NOT EXISTS "ml"']
    assert cluster.statements.index(creates[0]) < min(
        i for i, s in enumerate(cluster.statements) if s.startswith("CREATE TABLE")
    )
    assert admin.execute("SELECT count(*) FROM ml.items").fetchall() == [(2,)]
    # An existing schema is looked up, not created again (that needs CREATE on the database).
    cluster.statements.clear()
    wh.write_table("ml.items", pa.table({"id": [3]}), mode="append")
    assert not [s for s in cluster.statements if s.startswith("CREATE SCHEMA")]
    assert admin.execute("SELECT count(*) FROM ml.items").fetchall() == [(3,)]


def test_a_write_blocked_by_a_lock_ends_at_the_timeout_naming_the_table(
    cluster: RedshiftOnPostgres,
    admin: Any,
    postgres_url: str,
    staging: str,
    storage_options: dict[str, Any],
) -> None:
    import threading
    import time

    import psycopg

    admin.execute("CREATE TABLE items (id BIGINT)")
    admin.execute("INSERT INTO items VALUES (1)")
    caught: list[BaseException] = []
    wh = _wh(cluster, staging, storage_options, timeout=0.5)

    def write() -> None:
        try:
            wh.write_table("items", pa.table({"id": pa.array([2], pa.int64())}), mode="append")
        except BaseException as exc:
            caught.append(exc)

    with psycopg.connect(postgres_url) as locker:
        locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=write)
        started = time.monotonic()
        worker.start()
        worker.join(15)
        elapsed = time.monotonic() - started
        locker.rollback()
        worker.join()
    assert elapsed < 5, f"the write waited {elapsed:.1f} s for the lock"
    assert len(caught) == 1 and isinstance(caught[0], QueryTimeoutError), caught
    assert caught[0].table == "items" and caught[0].timeout == 0.5
    assert "writing table 'items'" in str(caught[0]) and "pw" not in str(caught[0])
    assert admin.execute("SELECT id FROM items").fetchall() == [(1,)]
    assert cluster.statements[0] == "SET statement_timeout TO 500"
    assert _staged(staging, storage_options) == [] and cluster.open == 0


def test_a_replace_under_a_view_names_the_view_and_the_fix(
    cluster: RedshiftOnPostgres, admin: Any, staging: str, storage_options: dict[str, Any]
) -> None:
    """A replace drops the table and renames the staged one in; a (schema-bound) view on
    the table makes Redshift refuse the drop. The error used to be the server's ("cannot
    drop table items because other objects depend on it"); it now says what to do."""
    admin.execute("CREATE TABLE items (id BIGINT)")
    admin.execute("INSERT INTO items VALUES (1)")
    admin.execute("CREATE VIEW v_items AS SELECT id FROM items")
    wh = _wh(cluster, staging, storage_options)
    with pytest.raises(WarehouseError) as caught:
        wh.write_table("items", pa.table({"id": pa.array([2], pa.int64())}))
    said = str(caught.value)
    assert "cannot replace 'items'" in said and "v_items" in said, said
    assert "WITH NO SCHEMA BINDING" in said, said
    assert caught.value.fields["table"] == "items"
    assert admin.execute("SELECT id FROM items").fetchall() == [(1,)]
