"""MariaDB -> DuckDB file: the same modes, mapping and guarantees as PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tasuki.errors import MigrationError, SchemaDriftError
from tasuki.migrate import Progress, TableSpec, migrate_table

from .conftest import MySQL

pytestmark = pytest.mark.services


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_types_full_swap_and_incremental_merge(
    mysql: MySQL, mariadb_url: str, tmp_path: Path
) -> None:
    mysql.run(
        "SET SESSION sql_mode = ''",
        "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, flag TINYINT(1), amount DECIMAL(30,10), "
        "at DATETIME(6) NOT NULL, ts TIMESTAMP NULL, born DATE, dur TIME, doc JSON, "
        "kind ENUM('a','b'), note VARCHAR(10), raw BLOB)",
        "INSERT INTO t VALUES (18446744073709551615, 1, '-12345678901234567890.0123456789', "
        "'2024-01-01 10:00:00.5', '2024-01-01 00:00:00', '0000-00-00', '-100:00:00', "
        "'{\"a\": 1}', 'b', '', x'00ff'), (1, 0, NULL, '2024-01-01 09:00:00', NULL, '2024-02-29', "
        "'01:02:03', NULL, NULL, NULL, NULL)",
    )
    db = tmp_path / "dwh" / "warehouse.duckdb"
    url = f"duckdb://{db}"
    spec = TableSpec(name="t", target="things", mode="incremental", cursor="at", lag="1 hour")

    first = migrate_table(mariadb_url, url, spec, schema="app")

    assert (first.initial_load, first.rows_written) == (True, 2)
    assert first.cursor_after == "2024-01-01 10:00:00.500000"
    types = dict(
        _rows(
            db,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'things'",
        )
    )
    assert types == {
        "id": "DECIMAL(20,0)",
        "flag": "BOOLEAN",
        "amount": "DECIMAL(30,10)",
        "at": "TIMESTAMP",
        "ts": "TIMESTAMP WITH TIME ZONE",
        "born": "DATE",
        "dur": "INTERVAL",
        "doc": "JSON",
        "kind": "VARCHAR",
        "note": "VARCHAR",
        "raw": "BLOB",
    }
    big = _rows(
        db,
        'SELECT id, flag, amount, "at", ts::VARCHAR, born, dur, doc, kind, note, raw '
        "FROM app.things ORDER BY id DESC",
    )[0]
    assert big == (
        Decimal(18446744073709551615),
        True,
        Decimal("-12345678901234567890.0123456789"),
        datetime(2024, 1, 1, 10, 0, 0, 500000),
        "2024-01-01 00:00:00+00",
        None,
        -timedelta(hours=100),
        '{"a": 1}',
        "b",
        "",
        b"\x00\xff",
    )
    assert _rows(db, "SELECT born, dur, note FROM app.things WHERE id = 1") == [
        (date(2024, 2, 29), timedelta(hours=1, minutes=2, seconds=3), None)
    ]

    mysql.run("UPDATE t SET note = 'changed', at = '2024-01-02 00:00:00' WHERE id = 1")
    second = migrate_table(mariadb_url, url, spec, schema="app")
    assert (second.rows_read, second.rows_written) == (2, 1)  # the lag window re-reads id 2**64-1
    assert second.cursor_after == "2024-01-02 00:00:00.000000"

    third = migrate_table(mariadb_url, url, spec, schema="app")  # nothing new
    assert (third.rows_written, third.cursor_after) == (0, second.cursor_after)
    assert _rows(db, "SELECT cursor_value, rows_written FROM app.tasuki_migrate_state") == [
        ("2024-01-02 00:00:00.000000", 1)
    ]

    full = migrate_table(mariadb_url, url, TableSpec(name="t", target="things"), schema="app")
    assert full.rows_written == 2
    assert _rows(db, "SELECT table_name FROM information_schema.tables ORDER BY 1") == [
        ("tasuki_migrate_state",),
        ("things",),
    ]


def test_failure_mid_load_keeps_the_previous_table(
    users: MySQL, mariadb_url: str, tmp_path: Path
) -> None:
    url = f"duckdb://{tmp_path / 'w.duckdb'}"
    migrate_table(mariadb_url, url, TableSpec(name="users"))
    users.run("UPDATE users SET name = 'new'")

    def explode(event: Progress) -> None:
        if event.phase == "rows" and event.rows >= 100:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        migrate_table(mariadb_url, url, TableSpec(name="users"), batch_rows=50, progress=explode)
    assert _rows(
        tmp_path / "w.duckdb", "SELECT count(*), count(*) FILTER (name = 'new') FROM main.users"
    ) == [(500, 0)]

    users.run("ALTER TABLE users ADD COLUMN extra INT")
    with pytest.raises(SchemaDriftError, match=r"\+ extra INTEGER"):
        migrate_table(mariadb_url, url, TableSpec(name="users"))


def test_duckdb_rejects_decimals_wider_than_38_digits(
    mysql: MySQL, mariadb_url: str, tmp_path: Path
) -> None:
    mysql.run("CREATE TABLE wide (id INT PRIMARY KEY, v DECIMAL(50,2))")
    with pytest.raises(MigrationError, match=r"decimal\(50,2\), wider than DuckDB's DECIMAL limit"):
        migrate_table(mariadb_url, f"duckdb://{tmp_path / 'w.duckdb'}", TableSpec(name="wide"))
    with pytest.raises(MigrationError, match="names no database file"):
        migrate_table(mariadb_url, "duckdb://", TableSpec(name="wide"))
