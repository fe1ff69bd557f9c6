"""Pure pieces of the migrator: type plans, drift diffs, cursors, the COPY types, prefetch."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from tasuki.errors import MigrationError, SchemaDriftError
from tasuki.migrate._common import cursor_condition, cursor_to_text, cursor_value, newer_cursor
from tasuki.migrate._drift import diff_columns
from tasuki.migrate._prefetch import prefetch
from tasuki.migrate._source import mysql_literal, parse_mysql_url
from tasuki.migrate._types import ColumnPlan, Kind, SourceColumn, plan_column
from tasuki.migrate._wire import to_target, wire_type


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


def test_wire_types_follow_the_plan() -> None:
    plans = [
        ColumnPlan("n", "decimal(7,2)", "", "numeric(7,2)", Kind.NUMERIC, True, 5, 2),
        ColumnPlan("u", "bigint unsigned", "", "numeric(20,0)", Kind.NUMERIC, True, 20, 0),
        ColumnPlan("w", "decimal(65,30)", "", "numeric(65,30)", Kind.NUMERIC, True, 35, 30),
        ColumnPlan("t", "text", "", "text", Kind.TEXT, True),
        ColumnPlan("j", "json", "", "jsonb", Kind.JSON, True),
        ColumnPlan("b", "tinyint(1)", "", "boolean", Kind.BOOL, True),
        ColumnPlan("d", "date", "", "date", Kind.DATE, True),
        ColumnPlan("i", "time", "", "interval", Kind.INTERVAL_US, True),
        ColumnPlan("s", "tinyint", "", "smallint", Kind.INT2, True),
    ]
    wide = "-12345678901234567890123456789012345.123456789012345678901234567891"
    batch = pa.record_batch(
        [
            pa.array([Decimal("-123.45"), None], pa.decimal128(38, 10)),
            pa.array([2**64 - 1, None], pa.uint64()),
            pa.array([wide, None]),
            pa.array(["ü", None]),
            pa.array(['{"a":1}', None]),
            pa.array([3, None], pa.int8()),
            pa.array([date(2000, 1, 2), None]),
            pa.array([-1, None], pa.int64()),
            pa.array([-5, None], pa.int8()),
        ],
        names=[p.name for p in plans],
    ).slice(0)
    out = to_target(batch, plans, table="t")
    assert out.schema.names == [p.name for p in plans]
    assert [str(t) for t in out.schema.types] == [
        "decimal128(7, 2)",
        "decimal128(20, 0)",
        "decimal256(65, 30)",
        "string",
        "large_binary",
        "bool",
        "date32[day]",
        "duration[us]",
        "int16",
    ]
    assert out.to_pylist() == [
        {
            "n": Decimal("-123.45"),
            "u": Decimal(2**64 - 1),
            "w": Decimal(wide),
            "t": "ü",
            "j": b'\x01{"a":1}',  # jsonb's binary format: version byte 1, then the text
            "b": True,
            "d": date(2000, 1, 2),
            "i": timedelta(microseconds=-1),
            "s": -5,
        },
        dict.fromkeys((p.name for p in plans), None),
    ]
    assert wire_type(plans[3], pa.large_binary()) == pa.large_binary()  # text read as bytes


def test_wire_values_the_target_cannot_take_are_clear_errors() -> None:
    plan = [ColumnPlan("n", "decimal(4,1)", "", "numeric(4,1)", Kind.NUMERIC, True, 3, 1)]
    for bad in ("12345.5", "1.25", "abc"):
        with pytest.raises(MigrationError, match=r"cannot convert column 'n' of 't' .*numeric"):
            to_target(pa.record_batch([pa.array([bad])], names=["n"]), plan, table="t")
    assert to_target(pa.record_batch([pa.array(["-0.0"])], names=["n"]), plan, table="t")[
        0
    ].to_pylist() == [Decimal("0.0")]
    int_plan = [ColumnPlan("i", "int", "", "smallint", Kind.INT2, True)]
    with pytest.raises(MigrationError, match="cannot convert column 'i'"):
        to_target(pa.record_batch([pa.array([70000])], names=["i"]), int_plan, table="t")


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
