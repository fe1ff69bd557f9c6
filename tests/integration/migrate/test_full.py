"""Full mode: build <table>_wk, add keys and indexes, ANALYZE, swap in one transaction."""

from __future__ import annotations

import pytest

from tasuki.errors import MigrationError
from tasuki.migrate import Progress, TableSpec, migrate_table

from .conftest import MySQL, Postgres, seed_users

pytestmark = pytest.mark.services


def test_full_load_creates_table_keys_indexes_and_state(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    seen: list[Progress] = []
    result = migrate_table(
        mariadb_url, pg.url, TableSpec(name="users"), schema="app", progress=seen.append
    )

    assert (result.table, result.target, result.mode) == ("users", "app.users", "full")
    assert (result.rows_read, result.rows_written) == (500, 500)
    assert result.cursor_before is None and result.cursor_after is None
    assert result.seconds > 0
    assert seen[0] == Progress("users", "start", 0) and seen[-1] == Progress("users", "done", 500)
    assert pg.one("SELECT count(*) FROM app.users") == 500
    assert pg.rows("SELECT name, email, score::text FROM app.users WHERE id = 7") == [
        ("user 7", "u7@example.com", "1.75")
    ]
    indexes = dict(
        pg.rows(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'app' "
            "AND tablename = 'users'"
        )
    )
    assert set(indexes) == {"users_pkey", "users_users_email", "users_users_updated"}
    assert "UNIQUE" in indexes["users_users_email"] and "(email)" in indexes["users_users_email"]
    assert "UNIQUE" not in indexes["users_users_updated"]
    assert (
        pg.one("SELECT count(*) FROM pg_stats WHERE schemaname = 'app' AND tablename = 'users'") > 0
    )  # ANALYZEd
    assert pg.tables("app") == ["tasuki_migrate_state", "users"]  # no _wk / _old left
    assert pg.state("users") == (None, None, "full", 500)


def test_second_full_load_replaces_the_table(users: MySQL, mariadb_url: str, pg: Postgres) -> None:
    spec = TableSpec(name="users", target="people")
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    old_oid = pg.one("SELECT 'app.people'::regclass::oid")

    users.run(
        "DELETE FROM users WHERE id <= 100", "UPDATE users SET name = 'renamed' WHERE id = 200"
    )
    seed_users(users, 50, start=1000)
    result = migrate_table(mariadb_url, pg.url, spec, schema="app")

    assert result.rows_written == 450
    assert pg.one("SELECT count(*) FROM app.people") == 450
    assert pg.one("SELECT name FROM app.people WHERE id = 200") == "renamed"
    assert pg.one("SELECT count(*) FROM app.people WHERE id <= 100") == 0
    assert pg.one("SELECT 'app.people'::regclass::oid") != old_oid  # a new table, swapped in
    assert pg.tables("app") == ["people", "tasuki_migrate_state"]
    # Index names stay stable across swaps, so a third load does not collide.
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    assert pg.one("SELECT count(*) FROM pg_indexes WHERE tablename = 'people'") == 3


def test_keyset_chunks_read_every_row_once(users: MySQL, mariadb_url: str, pg: Postgres) -> None:
    users.run("DELETE FROM users WHERE id % 7 = 0")  # gaps in the key
    expected = users.run("SELECT COUNT(*), SUM(id) FROM users")[0]

    result = migrate_table(
        mariadb_url, pg.url, TableSpec(name="users"), schema="app", chunk_rows=64, batch_rows=10
    )

    assert result.rows_read == expected[0]
    assert pg.rows("SELECT count(*), sum(id) FROM app.users")[0] == (expected[0], expected[1])
    assert pg.one("SELECT count(DISTINCT id) FROM app.users") == expected[0]


def test_table_without_primary_key_is_copied_in_one_stream(
    mysql: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    mysql.run(
        "CREATE TABLE events (kind VARCHAR(10), n INT)",
        "INSERT INTO events VALUES ('a', 1), ('a', 1), ('b', NULL)",
    )

    result = migrate_table(mariadb_url, pg.url, TableSpec(name="events"), schema="app")

    assert result.rows_written == 3
    assert pg.rows("SELECT kind, n FROM app.events ORDER BY kind") == [
        ("a", 1),
        ("a", 1),
        ("b", None),
    ]


def test_empty_source_table_gives_an_empty_target(
    mysql: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    mysql.run("CREATE TABLE nothing (id INT PRIMARY KEY, v TEXT)")

    result = migrate_table(mariadb_url, pg.url, TableSpec(name="nothing"), schema="app")

    assert (result.rows_read, result.rows_written) == (0, 0)
    assert pg.one("SELECT count(*) FROM app.nothing") == 0


def test_default_schema_is_public(users: MySQL, mariadb_url: str, pg: Postgres) -> None:
    result = migrate_table(mariadb_url, pg.url, TableSpec(name="users"))
    assert result.target == "public.users"
    assert pg.one("SELECT count(*) FROM public.users") == 500


def test_a_full_load_under_a_view_replaces_the_rows_and_keeps_the_view(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    """A view on the target used to stop every full load ("views depend on app.users"),
    so a team had to drop and recreate its views around each daily copy."""
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    pg.conn.execute("CREATE VIEW app.active_users AS SELECT id FROM app.users")
    pg.conn.execute("COMMENT ON TABLE app.users IS 'copied from the app'")
    seed_users(users, 10, start=5000)

    result = migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")

    assert result.rows_written == 510
    assert pg.one("SELECT count(*) FROM app.active_users") == 510
    assert pg.one("SELECT obj_description('app.users'::regclass)") == "copied from the app"
    indexes = pg.rows("SELECT indexname FROM pg_indexes WHERE tablename = 'users' ORDER BY 1")
    assert indexes == [("users_pkey",), ("users_users_email",), ("users_users_updated",)]
    assert pg.tables("app") == ["tasuki_migrate_state", "users"]  # no _wk / _old left


def test_views_on_a_target_whose_columns_change_block_the_load_with_a_clear_error(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    spec = TableSpec(name="users", on_schema_drift="add_columns")
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    pg.conn.execute("CREATE VIEW app.active_users AS SELECT id FROM app.users")
    users.run("ALTER TABLE users ADD COLUMN nickname VARCHAR(20)")

    with pytest.raises(MigrationError, match=r"views depend on app\.users \(active_users\)"):
        migrate_table(mariadb_url, pg.url, spec, schema="app")

    assert pg.one("SELECT count(*) FROM app.users") == 500  # untouched
    assert pg.tables("app") == ["tasuki_migrate_state", "users"]
