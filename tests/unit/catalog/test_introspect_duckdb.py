"""Reading a real DuckDB database's metadata; bad URLs and missing warehouses."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tasuki.catalog._introspect import read_metadata, warehouse_url
from tasuki.config import Settings
from tasuki.errors import ConfigError, WarehouseConnectionError


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            CREATE SCHEMA ml;
            CREATE TABLE ml.scores (user_id BIGINT NOT NULL, score DOUBLE, label VARCHAR);
            COMMENT ON TABLE ml.scores IS 'model scores, one row per user';
            COMMENT ON COLUMN ml.scores.label IS 'it''s the "label"';
            INSERT INTO ml.scores SELECT range, 0.5, 'a' FROM range(42);
            CREATE VIEW ml.top AS SELECT user_id FROM ml.scores WHERE score > 0.9;
            CREATE TABLE main.plain (x INTEGER);
            """
        )
    return path


def test_tables_views_columns_and_comments(db):
    tables = read_metadata(f"duckdb://{db}")
    assert [(t.schema, t.name, t.table_type) for t in tables] == [
        ("main", "plain", "table"),
        ("ml", "scores", "table"),
        ("ml", "top", "view"),
    ]
    scores = tables[1]
    assert scores.comment == "model scores, one row per user"
    assert scores.row_estimate == 42
    assert [(c.name, c.position, c.data_type, c.nullable) for c in scores.columns] == [
        ("user_id", 1, "BIGINT", False),
        ("score", 2, "DOUBLE", True),
        ("label", 3, "VARCHAR", True),
    ]
    assert scores.columns[2].comment == 'it\'s the "label"'
    assert [c.name for c in tables[2].columns] == ["user_id"]


def test_only_the_schemas_asked_for(db):
    assert [t.name for t in read_metadata(f"duckdb://{db}", schemas=["ml"])] == ["scores", "top"]


def test_a_missing_database_file_is_a_connection_error_naming_the_warehouse(tmp_path):
    with pytest.raises(WarehouseConnectionError, match=r"'dwh'.*no DuckDB database file"):
        read_metadata(f"duckdb://{tmp_path / 'nope.duckdb'}", name="dwh")


def test_a_file_that_is_not_duckdb_is_a_connection_error(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    with pytest.raises(WarehouseConnectionError, match="cannot open warehouse"):
        read_metadata(f"duckdb://{bad}")


def test_unknown_scheme_names_the_ones_it_reads():
    with pytest.raises(ConfigError, match=r"'mysql' is not one of duckdb, postgresql"):
        read_metadata("mysql://root:pw@db/app")
    with pytest.raises(ConfigError, match=r"'\(none\)'"):
        read_metadata("just-a-name")


def test_warehouse_names_resolve_through_settings():
    settings = Settings(warehouses={"dwh": "duckdb:///x.db"})
    assert warehouse_url("dwh", settings) == "duckdb:///x.db"
    with pytest.raises(ConfigError, match=r"no warehouse named 'lake'.*configured: dwh"):
        warehouse_url("lake", settings)
    with pytest.raises(ConfigError, match="configured: none"):
        warehouse_url("lake", Settings())
