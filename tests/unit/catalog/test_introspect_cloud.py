"""Redshift and BigQuery metadata readers: the SQL they emit (parsed in their dialect) and
what they make of fixtures shaped like their system views' answers."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import socket
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from tasuki.catalog._introspect import read_metadata
from tasuki.catalog._introspect_sql import (
    bigquery_columns_sql,
    bigquery_option_text,
    bigquery_tables_sql,
    redshift_columns_sql,
    redshift_comments_sql,
    redshift_info_sql,
    redshift_tables_sql,
)
from tasuki.errors import ConfigError, WarehouseConnectionError

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def tables_read(sql: str, dialect: str) -> set[str]:
    tree = sqlglot.parse_one(sql, read=dialect)
    # sqlglot keeps BigQuery's INFORMATION_SCHEMA.VIEW as one name.
    return {t.name.lower().rsplit(".", 1)[-1] for t in tree.find_all(exp.Table)}


def string_literals(sql: str, dialect: str) -> set[str]:
    tree = sqlglot.parse_one(sql, read=dialect)
    return {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}


class Answers:
    """Answers each metadata query with the fixture for the system view it reads."""

    def __init__(self, dialect: str, by_view: dict[str, str]) -> None:
        self.dialect = dialect
        self.by_view = by_view
        self.sql: list[str] = []

    def __call__(self, sql: str) -> list[dict]:
        self.sql.append(sql)
        read = tables_read(sql, self.dialect)
        for view, name in self.by_view.items():
            if view in read:
                return fixture(name)
        raise AssertionError(f"unexpected query: {sql}")


REDSHIFT = {
    "svv_all_tables": "redshift_svv_all_tables",
    "svv_table_info": "redshift_svv_table_info",
    "svv_columns": "redshift_svv_columns",
    "pg_description": "redshift_pg_description",
}


def test_redshift_sql_reads_the_system_views_in_its_dialect():
    schemas = ["analytics", "o'brien"]
    expected = {
        redshift_tables_sql: {"svv_all_tables"},
        redshift_info_sql: {"svv_table_info"},
        redshift_columns_sql: {"svv_columns"},
        redshift_comments_sql: {"pg_description", "pg_class", "pg_namespace"},
    }
    for build, views in expected.items():
        sql = build(schemas)
        assert tables_read(sql, "redshift") == views
        literals = string_literals(sql, "redshift")
        # The schema names arrive as written, quote included; system schemas are left out.
        assert {"analytics", "o'brien", "pg_catalog", "information_schema"} <= literals
        assert "o'brien" not in string_literals(build(None), "redshift")
    assert "current_database()" in redshift_tables_sql(None).lower()


def test_redshift_answers_become_tables():
    answers = Answers("redshift", REDSHIFT)
    tables = read_metadata("redshift://me:secret@cluster:5439/dev", runner=answers)
    assert len(answers.sql) == 4
    by_name = {t.name: t for t in tables}
    assert [t.name for t in tables] == ["empty_table", "orders", "orders_daily", "clicks"]
    orders = by_name["orders"]
    # PG_DESCRIPTION wins over the view's remarks; visible rows over tbl_rows; 1 MB blocks.
    assert orders.comment == "One row per order line"
    assert (orders.row_estimate, orders.size_bytes) == (1_200_000, 42 * 1024 * 1024)
    assert orders.table_type == "table"
    types = [(c.name, c.data_type, c.nullable, c.comment) for c in orders.columns]
    assert types == [
        ("order_id", "bigint", False, None),
        ("amount", "numeric(18,2)", True, "In yen, tax included"),
        ("status", "character varying(256)", True, "remarks on status"),
    ]
    assert by_name["orders_daily"].table_type == "view"
    assert by_name["orders_daily"].row_estimate is None
    assert by_name["clicks"].table_type == "external"
    assert by_name["empty_table"].comment is None  # '' is no comment


def test_bigquery_sql_reads_the_region_information_schema():
    sql = bigquery_tables_sql("my-project", "EU", ["shop", "it's"])
    tree = sqlglot.parse_one(sql, read="bigquery")
    names = {(t.catalog, t.db, t.name) for t in tree.find_all(exp.Table)}
    assert names == {
        ("my-project", "region-eu", "INFORMATION_SCHEMA.TABLES"),
        ("my-project", "region-eu", "INFORMATION_SCHEMA.TABLE_OPTIONS"),
        ("my-project", "region-eu", "INFORMATION_SCHEMA.TABLE_STORAGE"),
    }
    assert {"description", "shop", "it's"} <= string_literals(sql, "bigquery")
    columns = bigquery_columns_sql("my-project", "us", None)
    assert tables_read(columns, "bigquery") == {"columns", "column_field_paths"}
    assert "WHERE" not in columns  # no dataset: the whole region


def test_bigquery_answers_become_tables():
    answers = Answers(
        "bigquery", {"table_options": "bigquery_tables", "column_field_paths": "bigquery_columns"}
    )
    tables = read_metadata("bigquery://my-project/shop?location=EU", runner=answers)
    assert len(answers.sql) == 2
    assert all("`region-eu`" in sql for sql in answers.sql)
    assert all("'shop'" in sql for sql in answers.sql)  # the URL's dataset
    by_name = {t.name: t for t in tables}
    orders = by_name["orders"]
    assert orders.comment == 'One row per order; "refunds" are negative'
    assert (orders.row_estimate, orders.size_bytes) == (5_000_000, 734_003_200)
    assert orders.last_modified == dt.datetime(2024, 6, 1, 3, 4, 5, 123000, tzinfo=dt.UTC)
    assert [(c.name, c.data_type, c.nullable) for c in orders.columns] == [
        ("order_id", "INT64", False),
        ("amount", "NUMERIC(18, 2)", True),
        ("items", "ARRAY<STRUCT<sku STRING, qty INT64>>", False),
    ]
    assert orders.columns[0].comment == "Primary key"
    assert by_name["daily_mv"].table_type == "materialized view"
    assert by_name["daily_mv"].comment == "売上の日次集計"
    assert by_name["daily_mv"].columns[0].comment is None
    assert by_name["orders_by_day"].table_type == "view"
    assert by_name["gcs_raw"].table_type == "external"


def test_bigquery_option_values_are_string_literals():
    assert bigquery_option_text('"plain"') == "plain"
    assert bigquery_option_text(r'"say \"hi\"\nbye"') == 'say "hi"\nbye'
    assert bigquery_option_text(None) is None


@pytest.mark.skipif(
    importlib.util.find_spec("google.cloud.bigquery") is not None,
    reason="google-cloud-bigquery is installed",
)
def test_bigquery_without_its_client_says_what_to_install():
    with pytest.raises(ConfigError, match=r"google-cloud-bigquery.*runner="):
        read_metadata("bigquery://my-project/shop")


def test_bigquery_url_without_project_is_refused():
    with pytest.raises(ConfigError, match="names no project"):
        read_metadata("bigquery:///shop", runner=lambda sql: [])


def test_an_unreachable_redshift_is_a_connection_error_naming_it():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WarehouseConnectionError) as info:
        read_metadata(f"redshift://me:s3cret@127.0.0.1:{port}/dev", name="rs")
    assert "'rs'" in str(info.value) and f":{port}" in str(info.value)
    assert "s3cret" not in str(info.value)
