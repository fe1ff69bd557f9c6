"""Schema drift between the source table and an existing target table."""

from __future__ import annotations

import pickle

import pytest

from tasuki.errors import MigrationError, SchemaDriftError
from tasuki.migrate import TableSpec, migrate_table

from .conftest import MySQL, Postgres

pytestmark = pytest.mark.services

INCREMENTAL = {"mode": "incremental", "cursor": "updated_at"}


def test_fail_policy_reports_added_removed_and_changed_columns(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    spec = TableSpec(name="users", **INCREMENTAL)
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    users.run(
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(20), DROP COLUMN email, "
        "MODIFY score DECIMAL(12,4)"
    )
    before = pg.checksum("app.users")

    with pytest.raises(SchemaDriftError) as caught:
        migrate_table(mariadb_url, pg.url, spec, schema="app")

    err = caught.value
    assert (err.added, err.removed, err.changed) == (["nickname"], ["email"], ["score"])
    text = str(err)
    assert "schema drift on app.users" in text
    assert "+ nickname character varying(20)" in text
    assert "- email character varying(100)" in text
    assert "~ score numeric(8,2) -> numeric(12,4)" in text
    assert "on_schema_drift = 'add_columns'" in text  # says how to fix it
    assert pickle.loads(pickle.dumps(err)).added == ["nickname"]  # crosses process boundaries
    assert pg.checksum("app.users") == before


def test_add_columns_policy_alters_the_target_and_merges(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    spec = TableSpec(name="users", on_schema_drift="add_columns", **INCREMENTAL)
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    users.run(
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(20), ADD COLUMN payload JSON",
        "UPDATE users SET nickname = 'nick', payload = '{\"k\": 1}', "
        "updated_at = '2024-02-01 00:00:00' WHERE id = 10",
    )

    result = migrate_table(mariadb_url, pg.url, spec, schema="app")

    assert result.added_columns == ("nickname", "payload")
    assert result.rows_written == 1
    assert pg.rows("SELECT nickname, payload FROM app.users WHERE id = 10") == [("nick", {"k": 1})]
    assert pg.one("SELECT count(*) FROM app.users WHERE nickname IS NULL") == 499  # not backfilled
    assert (
        pg.one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'app.users'::regclass AND attname = 'payload'"
        )
        == "jsonb"
    )
    # The next run sees no drift.
    assert migrate_table(mariadb_url, pg.url, spec, schema="app").added_columns == ()


def test_add_columns_policy_still_fails_on_removed_columns_and_says_so(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    spec = TableSpec(name="users", on_schema_drift="add_columns", **INCREMENTAL)
    migrate_table(mariadb_url, pg.url, spec, schema="app")
    users.run("ALTER TABLE users ADD COLUMN extra INT, DROP COLUMN score")

    with pytest.raises(
        SchemaDriftError,
        match="can add the new columns, but columns were also removed or changed type",
    ) as caught:
        migrate_table(mariadb_url, pg.url, spec, schema="app")
    assert caught.value.removed == ["score"]
    columns = [
        r[0]
        for r in pg.rows(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'app.users'::regclass "
            "AND attnum > 0 AND NOT attisdropped"
        )
    ]
    assert "extra" not in columns  # nothing was altered


def test_full_mode_applies_the_policy_too(users: MySQL, mariadb_url: str, pg: Postgres) -> None:
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    users.run("ALTER TABLE users ADD COLUMN extra INT")

    with pytest.raises(SchemaDriftError, match=r"\+ extra integer"):
        migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")

    result = migrate_table(
        mariadb_url, pg.url, TableSpec(name="users", on_schema_drift="add_columns"), schema="app"
    )
    assert result.added_columns == ("extra",)
    assert pg.one("SELECT count(extra) FROM app.users") == 0
    assert isinstance(SchemaDriftError("x"), MigrationError)
