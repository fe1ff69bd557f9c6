"""Incremental mode: cursor >= stored - lag, merge on the primary key, cursor in the same commit."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from tasuki.errors import MigrationError
from tasuki.migrate import TableSpec, migrate_table

from .conftest import MySQL, Postgres, seed_users

pytestmark = pytest.mark.services

SPEC = TableSpec(name="users", mode="incremental", cursor="updated_at", lag="10 minutes")


def _snapshot(pg: Postgres) -> tuple[object, ...]:
    """Row count, content checksum and the physical row versions (xmin) of the target."""
    return (
        pg.one("SELECT count(*) FROM app.users"),
        pg.checksum("app.users"),
        pg.one("SELECT sum(xmin::text::bigint) FROM app.users"),
        pg.state("users"),
    )


def test_first_run_loads_everything_and_stores_the_cursor(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    result = migrate_table(mariadb_url, pg.url, SPEC, schema="app")

    assert result.initial_load is True
    assert (result.rows_read, result.rows_written) == (500, 500)
    assert result.cursor_before is None
    assert result.cursor_after == "2024-01-01 00:08:20.000000"  # row 500: 500 s after midnight
    assert pg.state("users") == ("updated_at", "2024-01-01 00:08:20.000000", "incremental", 500)
    assert pg.one("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'") == 3


def test_the_log_calls_a_first_incremental_run_an_initial_full_load(
    users: MySQL, mariadb_url: str, pg: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9: the log said "(incremental): 500 rows read" for what was a full load."""
    with caplog.at_level(logging.INFO, logger="tasuki.migrate"):
        migrate_table(mariadb_url, pg.url, SPEC, schema="app")
        migrate_table(mariadb_url, pg.url, SPEC, schema="app")
    first, second = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("migrated")
    ]
    assert "(incremental, initial full load: no high-water mark yet): 500 rows read" in first
    assert "(incremental since updated_at 2024-01-01 00:08:20.000000): 500 rows read" in second


def test_changes_are_merged_and_the_cursor_advances(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, SPEC, schema="app")
    users.run(
        "UPDATE users SET name = 'changed', updated_at = '2024-01-02 00:00:00' WHERE id = 3",
        "INSERT INTO users (id, name, email, score, updated_at) "
        "VALUES (9001, 'new', 'new@example.com', 1.5, '2024-01-02 00:00:01')",
    )
    result = migrate_table(mariadb_url, pg.url, SPEC, schema="app")

    assert result.initial_load is False
    assert result.cursor_before == "2024-01-01 00:08:20.000000"
    assert result.cursor_after == "2024-01-02 00:00:01.000000"
    # Read: the lag window (rows within 10 minutes below the cursor: all 500 here) + 2 changes;
    # written: only the two rows that differ.
    assert result.rows_read == 501
    assert result.rows_written == 2
    assert pg.one("SELECT name FROM app.users WHERE id = 3") == "changed"
    assert pg.rows("SELECT name, score::text FROM app.users WHERE id = 9001") == [("new", "1.50")]
    assert pg.one("SELECT count(*) FROM app.users") == 501
    assert pg.state("users")[1] == "2024-01-02 00:00:01.000000"


def test_rerun_with_nothing_new_changes_nothing(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, SPEC, schema="app")
    users.run("UPDATE users SET name = 'x', updated_at = '2024-01-03 00:00:00' WHERE id = 1")
    migrate_table(mariadb_url, pg.url, SPEC, schema="app")
    before = _snapshot(pg)
    loaded_at = pg.one("SELECT loaded_at FROM app.tasuki_migrate_state")

    again = migrate_table(mariadb_url, pg.url, SPEC, schema="app")

    assert again.rows_read == 1  # the lag window still re-reads row 1 ...
    assert again.rows_written == 0  # ... but an identical row is not rewritten
    assert again.cursor_after == again.cursor_before == "2024-01-03 00:00:00.000000"
    assert _snapshot(pg) == before  # same count, checksum, row versions and cursor
    assert pg.one("SELECT loaded_at FROM app.tasuki_migrate_state") == loaded_at


def test_lag_window_catches_rows_committed_late(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, SPEC, schema="app")  # cursor at 00:08:20
    # A transaction that started earlier commits now with an older updated_at.
    users.run(
        "INSERT INTO users (id, name, updated_at) VALUES (700, 'late', '2024-01-01 00:05:00'), "
        "(701, 'too late', '2023-12-31 23:50:00')"
    )
    result = migrate_table(mariadb_url, pg.url, SPEC, schema="app")

    assert result.rows_written == 1
    assert pg.one("SELECT name FROM app.users WHERE id = 700") == "late"  # inside 10 minutes
    assert pg.one("SELECT count(*) FROM app.users WHERE id = 701") == 0  # older than the lag
    assert result.cursor_after == result.cursor_before  # the late row is below the cursor


def test_integer_cursor_with_integer_lag(users: MySQL, mariadb_url: str, pg: Postgres) -> None:
    spec = TableSpec(name="users", mode="incremental", cursor="id", lag=5)
    first = migrate_table(mariadb_url, pg.url, spec, schema="app")
    assert first.cursor_after == "500"
    seed_users(users, 20, start=501)

    result = migrate_table(mariadb_url, pg.url, spec, schema="app")

    assert result.rows_read == 26  # ids 495..520
    assert result.rows_written == 20
    assert (result.cursor_before, result.cursor_after) == ("500", "520")
    assert pg.one("SELECT max(id) FROM app.users") == 520


def test_a_table_first_loaded_in_full_gets_an_initial_incremental_load(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    result = migrate_table(mariadb_url, pg.url, SPEC, schema="app")
    assert result.initial_load is True
    assert pg.state("users")[:3] == ("updated_at", "2024-01-01 00:08:20.000000", "incremental")


def test_timedelta_lag_and_date_cursor(mysql: MySQL, mariadb_url: str, pg: Postgres) -> None:
    mysql.run(
        "CREATE TABLE days (id INT PRIMARY KEY, d DATE NOT NULL, v INT)",
        "INSERT INTO days VALUES (1, '2024-01-01', 1), (2, '2024-01-05', 2)",
    )
    spec = TableSpec(name="days", mode="incremental", cursor="d", lag=timedelta(days=1))
    assert migrate_table(mariadb_url, pg.url, spec, schema="app").cursor_after == (
        "2024-01-05 00:00:00.000000"
    )
    mysql.run("UPDATE days SET v = 20 WHERE id = 2", "INSERT INTO days VALUES (3, '2024-01-04', 3)")

    result = migrate_table(mariadb_url, pg.url, spec, schema="app")

    assert (result.rows_read, result.rows_written) == (2, 2)  # d >= 2024-01-04
    assert pg.rows("SELECT id, v FROM app.days ORDER BY id") == [(1, 1), (2, 20), (3, 3)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            TableSpec(name="users", mode="incremental", cursor="nope"),
            r"cursor column 'nope' does not exist in source table 'users' \(columns: id, name",
        ),
        (
            TableSpec(name="users", mode="incremental", cursor="name"),
            r"cursor column 'name' of 'users' has type 'varchar\(50\)'; a cursor must be",
        ),
        (
            TableSpec(name="users", mode="incremental", cursor="updated_at", lag=5),
            r"lag 5 of table 'users' is an integer, but cursor 'updated_at' is a time column",
        ),
        (
            TableSpec(name="users", mode="incremental", cursor="id", lag="1 hour"),
            r"lag of table 'users' is a duration, but cursor 'id' is an integer column",
        ),
    ],
)
def test_bad_cursor_settings_fail_before_touching_the_target(
    users: MySQL, mariadb_url: str, pg: Postgres, spec: TableSpec, message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        migrate_table(mariadb_url, pg.url, spec, schema="app")
    assert pg.tables("app") == []


def test_incremental_needs_a_primary_key(mysql: MySQL, mariadb_url: str, pg: Postgres) -> None:
    mysql.run("CREATE TABLE logs (at DATETIME, msg TEXT)")
    spec = TableSpec(name="logs", mode="incremental", cursor="at")
    with pytest.raises(MigrationError, match="has no primary key, which mode 'incremental' needs"):
        migrate_table(mariadb_url, pg.url, spec, schema="app")


def test_a_delta_larger_than_a_chunk_is_read_in_key_order_chunks(
    users: MySQL, mariadb_url: str, pg: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    migrate_table(mariadb_url, pg.url, SPEC, schema="app")
    users.run(
        "UPDATE users SET name = CONCAT('bulk ', id), updated_at = '2024-03-01 00:00:00' "
        "WHERE id % 4 = 0"
    )  # 125 rows change: more than a 50-row chunk

    with caplog.at_level(logging.DEBUG, logger="tasuki.migrate._source"):
        result = migrate_table(
            mariadb_url, pg.url, SPEC, schema="app", chunk_rows=50, batch_rows=20
        )
    queries = [r.getMessage() for r in caplog.records if "source query" in r.getMessage()]
    assert len(queries) == 11  # 500 rows in chunks of 50, and the empty 11th
    assert all("ORDER BY `id` LIMIT 50" in q and "`updated_at` >=" in q for q in queries)

    # All 500 rows are inside the lag window of the first cursor (00:08:20 - 10 minutes).
    assert (result.rows_read, result.rows_written) == (500, 125)
    assert pg.one("SELECT count(*) FROM app.users WHERE name LIKE 'bulk %%'") == 125
    assert pg.one("SELECT count(*) FROM app.users") == 500
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="tasuki.migrate._source"):
        small = migrate_table(mariadb_url, pg.url, SPEC, schema="app", chunk_rows=200)
    assert (small.rows_read, small.rows_written) == (125, 0)  # the lag re-reads, nothing changes
    queries = [r.getMessage() for r in caplog.records if "source query" in r.getMessage()]
    assert len(queries) == 1 and "ORDER BY" not in queries[0]  # fits a chunk: one query
    counts = [r.getMessage() for r in caplog.records if "source count" in r.getMessage()]
    assert len(counts) == 1  # counted first: updated_at has an index, the count is cheap


def test_a_cursor_without_an_index_is_read_in_one_pass_not_counted_first(
    mysql: MySQL, mariadb_url: str, pg: Postgres, caplog: pytest.LogCaptureFixture
) -> None:
    # Without an index on the cursor, counting the new rows reads the whole table, and so
    # does reading them: the count would be a second pass for nothing.
    mysql.run("CREATE TABLE events (id INT NOT NULL PRIMARY KEY, at DATETIME NOT NULL)")
    mysql.run(
        "INSERT INTO events SELECT seq, TIMESTAMP('2024-01-01') + INTERVAL seq SECOND "
        "FROM seq_1_to_300"
    )
    spec = TableSpec(name="events", mode="incremental", cursor="at", lag="1 minute")
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    mysql.run(
        "INSERT INTO events SELECT seq, TIMESTAMP('2024-02-01') + INTERVAL seq SECOND "
        "FROM seq_301_to_310"
    )

    with caplog.at_level(logging.DEBUG, logger="tasuki.migrate._source"):
        result = migrate_table(mariadb_url, pg.url, spec, schema="app", chunk_rows=200)

    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "source count" in m]
    queries = [m for m in messages if "source query" in m]
    assert len(queries) == 1 and "ORDER BY `id` LIMIT 200" in queries[0]
    # The lag window re-reads the last minute of the old rows (61); only the 10 new are written.
    assert (result.rows_read, result.rows_written) == (71, 10)
    assert pg.one("SELECT count(*) FROM app.events") == 310
