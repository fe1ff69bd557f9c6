"""Reading PostgreSQL for real: types, parameters, read-only transactions, streaming."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tasuki.errors import UnsafeQueryError, WarehouseError
from tasuki.warehouse import PostgresWarehouse, QueryResult, connect

pytestmark = pytest.mark.services


@pytest.fixture
def typed(admin: Any) -> None:
    admin.execute(
        """
        CREATE TABLE typed (
            id bigint PRIMARY KEY,
            small smallint,
            n int,
            f float8,
            money numeric(12, 2),
            free numeric,
            huge numeric(50, 4),
            name text,
            code varchar(8),
            at timestamptz,
            local_at timestamp,
            day date,
            flag boolean,
            doc jsonb,
            raw json,
            tags text[],
            nums int[],
            uid uuid,
            blob bytea,
            span interval
        )
        """
    )
    admin.execute(
        """
        INSERT INTO typed VALUES
        (1, 1, 10, 1.5, 1234567890.12, 1.000001, 12345678901234567890123456789012345.1234,
         'alpha', 'a', '2024-03-01 12:00:00+09', '2024-03-01 12:00:00', '2024-03-01', true,
         '{"k": [1, 2]}', '{"raw": true}', ARRAY['x', NULL, ''], ARRAY[1, 2],
         '00000000-0000-0000-0000-000000000001', '\\x0102', '1 day 2 hours'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         ARRAY[]::text[], NULL, NULL, NULL, NULL),
        (3, NULL, NULL, 'NaN', -0.01, 'NaN', NULL, NULL, '', NULL, NULL, NULL, false, 'null',
         NULL, NULL, NULL, NULL, '', NULL)
        """
    )


def test_types_map_as_documented(wh: PostgresWarehouse, typed: None) -> None:
    result = wh.query("SELECT * FROM typed ORDER BY id")
    types = dict(zip(result.schema.names, result.schema.types, strict=True))
    assert types["small"] == pa.int16() and types["n"] == pa.int32() and types["id"] == pa.int64()
    assert types["money"] == pa.decimal128(12, 2)
    assert types["free"] == pa.string() and types["huge"] == pa.string()
    assert types["at"] == pa.timestamp("us", tz="UTC")
    assert types["local_at"] == pa.timestamp("us")
    assert types["doc"] == pa.string() and types["raw"] == pa.string()
    assert pa.types.is_list(types["tags"]) and types["tags"].value_type == pa.string()
    assert types["uid"].extension_name == "arrow.uuid"
    assert types["span"] == pa.struct(
        [("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64())]
    )
    rows = list(result.iter_rows())
    first, second, third = rows
    assert first["money"] == decimal.Decimal("1234567890.12")
    assert first["free"] == "1.000001"
    assert first["huge"] == "12345678901234567890123456789012345.1234"
    assert first["at"] == dt.datetime(2024, 3, 1, 3, 0, tzinfo=dt.UTC)
    assert first["local_at"] == dt.datetime(2024, 3, 1, 12, 0)
    assert first["day"] == dt.date(2024, 3, 1)
    assert first["doc"] == '{"k": [1, 2]}' and first["raw"] == '{"raw": true}'
    assert first["tags"] == ["x", None, ""] and first["nums"] == [1, 2]
    assert first["uid"] == uuid.UUID(int=1)
    assert first["blob"] == b"\x01\x02"
    assert first["span"] == {"months": 0, "days": 1, "nanoseconds": 2 * 3600 * 10**9}
    # NULL and '' stay distinct, in scalars, arrays and bytea alike.
    assert first["name"] == "alpha" and second["name"] == "" and third["name"] is None
    assert second["code"] is None and third["code"] == ""
    assert second["tags"] == [] and third["tags"] is None
    assert second["blob"] is None and third["blob"] == b""
    assert third["doc"] == "null" and second["doc"] is None  # JSON null is not SQL NULL
    assert third["free"].lower() == "nan" and third["money"] == decimal.Decimal("-0.01")


def test_results_are_the_same_through_every_reader(wh: PostgresWarehouse, typed: None) -> None:
    result = wh.query("SELECT id, name, money, at FROM typed ORDER BY id")
    table = result.to_arrow()
    assert pa.Table.from_batches(list(result.iter_batches(batch_size=1))).equals(table)
    frame = result.to_pandas()
    assert frame["name"].tolist()[:2] == ["alpha", ""] and frame["name"].isna().tolist()[2]
    assert str(frame["at"].dt.tz) == "UTC"
    polars = result.to_polars()
    assert polars["name"].to_list() == ["alpha", "", None]
    reopened = QueryResult.from_manifest(f"{result.manifest.location}/_manifest.json")
    assert reopened.to_arrow().equals(table)
    assert reopened.manifest.backend == "postgresql"
    assert reopened.manifest.snapshot_at.tzinfo is not None


PARAMS = [
    (1, "bigint"),
    (2**70, "numeric"),
    (1.25, "double precision"),
    (decimal.Decimal("1234.5600"), "numeric"),
    ('it\'s a "test" \\ with ; -- and $1', "text"),
    ("", "text"),
    (True, "boolean"),
    (dt.date(2024, 2, 29), "date"),
    (dt.datetime(2024, 2, 29, 23, 59, 59, 123456), "timestamp without time zone"),
    (
        dt.datetime(2024, 2, 29, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "timestamp with time zone",
    ),
    (dt.time(12, 30, 1), "time without time zone"),
    (dt.timedelta(days=2, seconds=5, microseconds=7), "interval"),
    (uuid.UUID(int=99), "uuid"),
    (b"\x00\xff'", "bytea"),
    ([1, 2, None], "bigint[]"),
    (["a", 'b"c', "d\\e", None, ""], "text[]"),
    ([], "text[]"),
]


@pytest.mark.parametrize(("value", "pg_type"), PARAMS)
def test_parameters_arrive_typed_and_intact(
    wh: PostgresWarehouse, value: Any, pg_type: str
) -> None:
    row = next(wh.query("SELECT :v AS v, pg_typeof(:v)::text AS t", {"v": value}).iter_rows())
    assert row["t"] == pg_type
    got = row["v"]
    if isinstance(value, decimal.Decimal) or (isinstance(value, int) and value > 2**63):
        got = decimal.Decimal(got)  # numeric without typmod reads back as exact text
    if isinstance(value, dt.timedelta):
        value = {"months": 0, "days": 2, "nanoseconds": 5_000_007_000}
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    assert got == value


def test_parameters_never_enter_the_sql_text(wh: PostgresWarehouse, typed: None) -> None:
    hostile = "x' OR '1'='1"
    result = wh.query("SELECT id FROM typed WHERE name = :n", {"n": hostile})
    assert result.num_rows == 0
    assert hostile not in result.manifest.sql
    assert result.manifest.params == {"n": hostile}
    none = wh.query(
        "SELECT id FROM typed WHERE name IS NOT DISTINCT FROM :n ORDER BY id", {"n": None}
    )
    assert none.to_arrow().column("id").to_pylist() == [3]
    positional = wh.query("SELECT id FROM typed WHERE id > ? AND id < ?", [1, 3])
    assert positional.to_arrow().column("id").to_pylist() == [2]
    with pytest.raises(WarehouseError, match="cannot pass a dict"):
        wh.query("SELECT :v", {"v": {"a": 1}})
    with pytest.raises(WarehouseError, match="one scalar type"):
        wh.query("SELECT :v", {"v": [1, "a"]})


def test_queries_run_read_only_with_a_statement_timeout(
    wh: PostgresWarehouse, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = next(
        wh.query(
            "SELECT current_setting('transaction_read_only') AS ro, "
            "current_setting('statement_timeout') AS st",
            timeout=12.5,
        ).iter_rows()
    )
    assert row == {"ro": "on", "st": "12500ms"}
    # A function of the warehouse's own is not on the guard's allow list; one that writes,
    # even if an admin allowed it (allow_functions), is refused by the READ ONLY transaction.
    admin.execute("CREATE TABLE sink (a int)")
    admin.execute(
        "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS "
        "'INSERT INTO sink VALUES (1) RETURNING a'"
    )
    with pytest.raises(UnsafeQueryError, match="not on the allow list"):
        wh.query("SELECT sneaky()")
    monkeypatch.setattr(wh, "allow_functions", frozenset({"sneaky"}))
    with pytest.raises(UnsafeQueryError, match="read-only transaction"):
        wh.query("SELECT sneaky()")
    monkeypatch.undo()
    assert admin.execute("SELECT count(*) FROM sink").fetchone()[0] == 0
    # Settings made for one query do not leak into the next on a pooled connection.
    after = next(wh.query("SELECT current_setting('statement_timeout') AS st").iter_rows())
    assert after["st"] == "1h"  # the default, not the 12.5 s of the query before


def test_large_results_roll_into_parts_with_flat_buffers(
    postgres_reader_url: str, admin: Any, tmp_path: Path
) -> None:
    admin.execute(
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 120000) g"
    )
    with connect(postgres_reader_url, parts_dir=tmp_path, part_rows=50_000, parallel=False) as w:
        result = w.query("SELECT id, h FROM big WHERE id > :lo", {"lo": 0})
        assert [p.rows for p in result.parts] == [50_000, 50_000, 20_000]
        # With a parameter the driver still streams through COPY: many batches, not one.
        ids = [b.column("id") for b in result.iter_batches(batch_size=10_000)]
        assert sum(len(c) for c in ids) == 120_000


def test_a_failed_query_leaves_no_parts(wh: PostgresWarehouse, tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="division by zero"):
        wh.query("SELECT 1 / (g - 50000) FROM generate_series(1, 100000) g")
    parts = tmp_path / "parts"
    assert not parts.exists() or not any(parts.iterdir())


def test_the_connection_pool_is_reused_and_closed(postgres_reader_url: str, tmp_path: Path) -> None:
    w = PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path, max_idle=1)
    w.query("SELECT 1")
    w.query("SELECT 2")
    assert len(w._idle) == 1
    w.close()
    assert w._idle == []
