"""Pure pieces of the migrator: type plans, drift diffs, cursors, the COPY encoder, prefetch."""

from __future__ import annotations

import struct
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from tasuki.errors import MigrationError, SchemaDriftError
from tasuki.migrate._common import cursor_condition, cursor_to_text, cursor_value, newer_cursor
from tasuki.migrate._drift import diff_columns
from tasuki.migrate._pgcopy import encode_batch
from tasuki.migrate._prefetch import prefetch
from tasuki.migrate._source import mysql_literal, parse_mysql_url
from tasuki.migrate._types import ColumnPlan, Kind, SourceColumn, plan_column


def _col(data_type: str, column_type: str | None = None, **kw: object) -> ColumnPlan:
    return plan_column(
        SourceColumn("c", data_type, column_type or data_type, nullable=True, **kw),  # type: ignore[arg-type]
        table="t",
    )


@pytest.mark.parametrize(
    ("data_type", "column_type", "extra", "target", "kind"),
    [
        ("tinyint", "tinyint(1)", {}, "boolean", Kind.BOOL),
        ("tinyint", "tinyint(1) unsigned", {}, "smallint", Kind.INT2),
        ("tinyint", "tinyint(4)", {}, "smallint", Kind.INT2),
        ("smallint", "smallint(5) unsigned", {}, "integer", Kind.INT4),
        ("mediumint", "mediumint(8) unsigned", {}, "integer", Kind.INT4),
        ("int", "int(10) unsigned", {}, "bigint", Kind.INT8),
        ("bigint", "bigint(20)", {}, "bigint", Kind.INT8),
        ("bigint", "bigint(20) unsigned", {}, "numeric(20,0)", Kind.NUMERIC),
        (
            "decimal",
            "decimal(10,2)",
            {"numeric_precision": 10, "numeric_scale": 2},
            "numeric(10,2)",
            Kind.NUMERIC,
        ),
        ("bit", "bit(1)", {"numeric_precision": 1}, "boolean", Kind.BOOL),
        ("bit", "bit(64)", {"numeric_precision": 64}, "numeric(20,0)", Kind.NUMERIC),
        ("datetime", "datetime(3)", {}, "timestamp without time zone", Kind.TIMESTAMP),
        ("timestamp", "timestamp", {}, "timestamp with time zone", Kind.TIMESTAMPTZ),
        ("time", "time", {}, "interval", Kind.INTERVAL_US),
        ("varchar", "varchar(20)", {"char_length": 20}, "character varying(20)", Kind.TEXT),
        ("longtext", "longtext", {"is_json": True}, "jsonb", Kind.JSON),
        ("json", "json", {}, "jsonb", Kind.JSON),
        ("set", "set('a','b')", {}, "text", Kind.TEXT),
        ("mediumblob", "mediumblob", {}, "bytea", Kind.BYTEA),
    ],
)
def test_plans(
    data_type: str, column_type: str, extra: dict[str, object], target: str, kind: Kind
) -> None:
    plan = _col(data_type, column_type, **extra)
    assert (plan.target_type, plan.kind) == (target, kind)


def test_plan_source_expressions() -> None:
    # Narrow decimals travel natively, wide ones as exact text; zero dates become NULL.
    assert _col("decimal", numeric_precision=18, numeric_scale=6).select_sql == "`c` AS `c`"
    assert _col("decimal", numeric_precision=30, numeric_scale=2).select_sql == (
        "CAST(`c` AS CHAR) AS `c`"
    )
    assert "MONTH(`c`) = 0 OR DAYOFMONTH(`c`) = 0, NULL" in _col("date").select_sql
    assert _col("date").nullable  # a zero date reads as NULL even from a NOT NULL column


def test_unmapped_type_is_a_clear_error() -> None:
    with pytest.raises(
        MigrationError,
        match=r"column 'c' of source table 't' has type "
        r"'geometry', which tasuki migrate cannot map\. Supported source types: ",
    ):
        _col("geometry")


def _plan(name: str, target: str) -> ColumnPlan:
    return ColumnPlan(name, "x", f"`{name}`", target, Kind.TEXT, True)


def test_drift_diff_and_policies() -> None:
    existing = {"id": "integer", "name": "text", "gone": "text", "score": "numeric(8,2)"}
    plans = [
        _plan("id", "integer"),
        _plan("name", "TEXT"),
        _plan("score", "numeric(12,4)"),
        _plan("new", "jsonb"),
    ]
    diff = diff_columns(existing, plans)
    assert diff.added == (("new", "jsonb"),)
    assert diff.removed == (("gone", "text"),)
    assert diff.changed == (("score", "numeric(8,2)", "numeric(12,4)"),)
    with pytest.raises(SchemaDriftError, match=r"(?s)on_schema_drift = 'fail'.*\+ new jsonb"):
        diff.enforce("app.t", "fail")
    with pytest.raises(SchemaDriftError, match="cannot apply"):
        diff.enforce("app.t", "add_columns")
    only_added = diff_columns({"id": "integer"}, [_plan("id", "integer"), _plan("new", "text")])
    only_added.enforce("app.t", "add_columns")  # allowed: no exception
    assert not diff_columns({"id": "integer"}, [_plan("id", "integer")])


def test_cursor_helpers() -> None:
    assert cursor_to_text(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05.000000"
    assert cursor_to_text(date(2024, 1, 2)) == "2024-01-02 00:00:00.000000"
    assert cursor_to_text(42) == "42" and cursor_to_text(None) is None
    assert cursor_value("42") == 42
    assert cursor_value("2024-01-02 03:04:05.000000") == datetime(2024, 1, 2, 3, 4, 5)
    assert newer_cursor("10", 12) == "12"
    assert newer_cursor("10", 8) == "10"
    assert newer_cursor("10", None) == "10"
    assert newer_cursor(None, 3) == "3"
    assert newer_cursor("2024-01-02 00:00:00.000000", datetime(2024, 1, 1)) == (
        "2024-01-02 00:00:00.000000"
    )
    assert cursor_condition("updated_at", timedelta(minutes=10), "2024-01-02 00:00:00.000000") == (
        "`updated_at` >= '2024-01-01 23:50:00.000000'"
    )
    assert cursor_condition("id", 5, "100") == "`id` >= 95"


def test_literals_only_for_values_tasuki_made() -> None:
    assert mysql_literal(5) == "5"
    assert mysql_literal(datetime(2024, 1, 1, 0, 0, 0, 5)) == "'2024-01-01 00:00:00.000005'"
    with pytest.raises(MigrationError, match="only integers and datetimes"):
        mysql_literal("1' OR '1'='1")
    with pytest.raises(MigrationError, match="only integers and datetimes"):
        mysql_literal(True)


def test_mysql_url_parts() -> None:
    assert parse_mysql_url("mariadb://u:p%40ss@db.example:3307/app") == {
        "host": "db.example",
        "port": 3307,
        "user": "u",
        "password": "p@ss",
        "database": "app",
    }
    with pytest.raises(MigrationError, match=r"'mysql://u:\*\*\*@h/' is not a MySQL URL"):
        parse_mysql_url("mysql://u:secret@h/")


def _fields(buf: pa.Buffer) -> list[bytes | None]:
    """Decode one binary-COPY row into its raw fields."""
    data = buf.to_pybytes()
    (count,) = struct.unpack(">h", data[:2])
    out: list[bytes | None] = []
    pos = 2
    for _ in range(count):
        (length,) = struct.unpack(">i", data[pos : pos + 4])
        pos += 4
        if length < 0:
            out.append(None)
        else:
            out.append(data[pos : pos + length])
            pos += length
    assert pos == len(data)
    return out


def test_encoder_wire_format() -> None:
    plans = [
        ColumnPlan("n", "decimal(7,2)", "", "numeric(7,2)", Kind.NUMERIC, True, 5, 2),
        ColumnPlan("u", "bigint unsigned", "", "numeric(20,0)", Kind.NUMERIC, True, 20, 0),
        ColumnPlan("t", "text", "", "text", Kind.TEXT, True),
        ColumnPlan("j", "json", "", "jsonb", Kind.JSON, True),
        ColumnPlan("b", "tinyint(1)", "", "boolean", Kind.BOOL, True),
        ColumnPlan("d", "date", "", "date", Kind.DATE, True),
        ColumnPlan("i", "time", "", "interval", Kind.INTERVAL_US, True),
    ]
    batch = pa.record_batch(
        [
            pa.array([Decimal("-123.45")], pa.decimal128(38, 10)),
            pa.array([2**64 - 1], pa.uint64()),
            pa.array(["ü"]),
            pa.array(['{"a":1}']),
            pa.array([3], pa.int8()),
            pa.array([date(2000, 1, 2)]),
            pa.array([-1], pa.int64()),
        ],
        names=[p.name for p in plans],
    )
    n, u, t, j, b, d, i = _fields(encode_batch(batch, plans, table="t"))
    # numeric: 2 int groups (0000, 0123) and 1 frac group (4500); weight 1; negative; dscale 2.
    assert n == struct.pack(">hhHh", 3, 1, 0x4000, 2) + struct.pack(">hhh", 0, 123, 4500)
    assert u == struct.pack(">hhHh", 5, 4, 0, 0) + struct.pack(">5h", 1844, 6744, 737, 955, 1615)
    assert t == "ü".encode()
    assert j == b'\x01{"a":1}'
    assert b == b"\x01"
    assert d == struct.pack(">i", 1)
    assert i == struct.pack(">qii", -1, 0, 0)


def test_encoder_nulls_offsets_and_bad_values() -> None:
    plans = [
        ColumnPlan("v", "varchar", "", "text", Kind.TEXT, True),
        ColumnPlan("n", "decimal(4,1)", "", "numeric(4,1)", Kind.NUMERIC, True, 3, 1),
    ]
    batch = pa.record_batch(
        [pa.array(["skip", None, ""]), pa.array([None, "1.5", "-0.0"])], names=["v", "n"]
    ).slice(1)  # a sliced batch has non-zero offsets
    first, second = (_fields(encode_batch(batch.slice(k, 1), plans, table="t")) for k in (0, 1))
    assert first[0] is None and first[1] == struct.pack(">hhHh", 2, 0, 0, 1) + struct.pack(
        ">hh", 1, 5000
    )
    assert second[0] == b"" and second[1] == struct.pack(">hhHh", 2, 0, 0x4000, 1) + bytes(4)

    too_wide = pa.record_batch([pa.array(["x"]), pa.array(["12345.5"])], names=["v", "n"])
    with pytest.raises(
        MigrationError, match=r"cannot encode column 'n' of 't' .* more than 3 digits"
    ):
        encode_batch(too_wide, plans, table="t")
    not_a_number = pa.record_batch([pa.array(["x"]), pa.array(["1e5"])], names=["v", "n"])
    with pytest.raises(MigrationError, match="'1e5' is not a plain decimal number"):
        encode_batch(not_a_number, plans, table="t")
    int_plan = [ColumnPlan("i", "int", "", "smallint", Kind.INT2, True)]
    with pytest.raises(MigrationError, match="cannot encode column 'i'"):
        encode_batch(pa.record_batch([pa.array([70000])], names=["i"]), int_plan, table="t")


def test_prefetch_orders_results_and_propagates_errors() -> None:
    assert list(prefetch(range(10), lambda x: x * x)) == [x * x for x in range(10)]

    def boom(x: int) -> int:
        if x == 3:
            raise ValueError("bad item 3")
        return x

    got: list[int] = []
    with pytest.raises(ValueError, match="bad item 3"):
        got.extend(prefetch(range(10), boom))
    assert got == [0, 1, 2]


def test_prefetch_stops_the_producer_when_the_consumer_leaves() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def items() -> object:
        try:
            for k in range(1000):
                produced.append(k)
                yield k
        finally:
            closed.set()

    stream = prefetch(items(), lambda x: x, depth=1)  # type: ignore[arg-type]
    assert next(stream) == 0
    stream.close()
    assert closed.wait(5)
    time.sleep(0.05)
    assert len(produced) < 10  # bounded read-ahead: it did not run through the input


def test_batches_shrink_for_wide_rows() -> None:
    from tasuki.migrate._source import SourceTable

    def table(avg: int | None) -> SourceTable:
        return SourceTable("db", "t", (), ("id",), integer_pk=True, avg_row_bytes=avg)

    assert table(None).batch_sizes(32768, 131072) == (32768, 131072)
    assert table(100).batch_sizes(32768, 131072) == (32768, 131072)  # narrow rows: the caps
    assert table(2048).batch_sizes(32768, 131072) == (4096, 16384)  # ~8 MB batches
    assert table(10**7).batch_sizes(32768, 131072) == (64, 256)  # never below 64 rows
    assert table(2048).batch_sizes(10, None) == (10, None)  # explicit small values stand
