"""Faults: a load that dies half-way leaves the previous table and cursor; errors are clear."""

from __future__ import annotations

import adbc_driver_manager
import pytest

from tasuki.errors import MigrationError
from tasuki.migrate import Progress, TableSpec, migrate_table

from .conftest import MySQL, Postgres, seed_users

pytestmark = pytest.mark.services

INCREMENTAL = TableSpec(name="users", mode="incremental", cursor="updated_at")


def _terminate_copy_after(pg: Postgres, batches: int) -> tuple[list[int], object]:
    """A progress callback that kills the target backend running COPY at the n-th batch."""
    killed: list[int] = []

    def progress(event: Progress) -> None:
        if event.phase != "rows" or killed or event.rows < batches * 10:
            return
        pids = [
            r[0]
            for r in pg.rows(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'COPY %%' AND pid <> pg_backend_pid()"
            )
        ]
        for pid in pids:
            pg.one("SELECT pg_terminate_backend(%s)", (pid,))
        killed.extend(pids)

    return killed, progress


def _target_state(pg: Postgres) -> tuple[object, ...]:
    return (pg.checksum("app.users"), pg.state("users"), pg.tables("app"))


def test_backend_killed_during_full_copy_keeps_the_previous_table(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    before = _target_state(pg)
    users.run("UPDATE users SET name = 'new name'")
    killed, progress = _terminate_copy_after(pg, batches=3)

    with pytest.raises(MigrationError, match="failed and was rolled back") as caught:
        migrate_table(
            mariadb_url,
            pg.url,
            TableSpec(name="users"),
            schema="app",
            batch_rows=10,
            progress=progress,
        )

    assert len(killed) == 1
    assert isinstance(caught.value.__cause__, adbc_driver_manager.OperationalError)
    assert _target_state(pg) == before  # old rows, old state row, no users_wk left behind
    assert pg.one("SELECT count(*) FROM app.users WHERE name = 'new name'") == 0
    # And the next run succeeds.
    assert (
        migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app").rows_written
        == 500
    )


def test_backend_killed_during_incremental_merge_keeps_rows_and_cursor(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, INCREMENTAL, schema="app")
    before = _target_state(pg)
    users.run("UPDATE users SET name = 'moved', updated_at = '2024-05-01 00:00:00' WHERE id <= 200")
    killed, progress = _terminate_copy_after(pg, batches=3)

    with pytest.raises(MigrationError, match="previous table and cursor are unchanged"):
        migrate_table(
            mariadb_url, pg.url, INCREMENTAL, schema="app", batch_rows=10, progress=progress
        )

    assert killed
    assert _target_state(pg) == before
    assert pg.state("users")[1] == "2024-01-01 00:08:20.000000"
    result = migrate_table(mariadb_url, pg.url, INCREMENTAL, schema="app")
    assert (result.rows_written, result.cursor_after) == (200, "2024-05-01 00:00:00.000000")


def test_source_failing_mid_read_keeps_the_previous_table(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    before = _target_state(pg)
    seed_users(users, 100, start=1000)
    other = MySQL(mariadb_url)
    renamed: list[bool] = []

    def progress(event: Progress) -> None:
        if event.phase == "rows" and event.rows >= 50 and not renamed:
            other.run("RENAME TABLE users TO users_gone")  # the next keyset chunk fails
            renamed.append(True)

    try:
        with pytest.raises(MigrationError, match=r"reading source table 'users' .* failed"):
            migrate_table(
                mariadb_url,
                pg.url,
                TableSpec(name="users"),
                schema="app",
                chunk_rows=50,
                batch_rows=50,
                progress=progress,
            )
    finally:
        other.close()
    assert _target_state(pg) == before


def test_a_value_the_target_rejects_rolls_back_with_the_reason(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    before = _target_state(pg)
    users.run("UPDATE users SET name = CONCAT('nul', CHAR(0), 'byte') WHERE id = 250")

    with pytest.raises(MigrationError, match=r"(?s)users.*rolled back.*0x00"):
        migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    assert _target_state(pg) == before


def test_missing_source_table_lists_what_exists(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    with pytest.raises(
        MigrationError,
        match=r"source table 'userz' does not exist in database "
        r"'tasuki_test_\w+' \(tables there: users\)",
    ):
        migrate_table(mariadb_url, pg.url, TableSpec(name="userz"), schema="app")


def test_unreachable_and_malformed_urls(users: MySQL, mariadb_url: str, pg: Postgres) -> None:
    spec = TableSpec(name="users")
    with pytest.raises(MigrationError, match=r"unsupported scheme; use postgresql://"):
        migrate_table(mariadb_url, "oracle://x@h/db", spec)
    with pytest.raises(
        MigrationError,
        match=r"cannot connect to the target 'postgresql://postgres:\*\*\*@127\.0\.0\.1:1/x'",
    ):
        migrate_table(mariadb_url, "postgresql://postgres:secret@127.0.0.1:1/x", spec)
    with pytest.raises(MigrationError, match=r"database \"no_such_db_tasuki\" does not exist"):
        migrate_table(mariadb_url, pg.url.rsplit("/", 1)[0] + "/no_such_db_tasuki", spec)
    with pytest.raises(MigrationError, match=r"is not a MySQL URL with a database"):
        migrate_table("mysql://root@127.0.0.1:3306", pg.url, spec)
    with pytest.raises(
        MigrationError, match=r"cannot connect to the source 'mysql://root@127\.0\.0\.1:1/"
    ):
        migrate_table("mysql://root@127.0.0.1:1/app", pg.url, spec)
    with pytest.raises(MigrationError, match=r"Access denied"):
        migrate_table(mariadb_url.replace("root@", "nobody_tasuki:pw@"), pg.url, spec)


def test_a_concurrent_run_on_the_same_table_is_refused(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    pg.one("SELECT pg_advisory_lock(hashtext('tasuki_migrate:app.users'))")
    try:
        with pytest.raises(MigrationError, match=r"another migration of app\.users is running"):
            migrate_table(mariadb_url, pg.url, TableSpec(name="users"), schema="app")
    finally:
        pg.one("SELECT pg_advisory_unlock(hashtext('tasuki_migrate:app.users'))")


def test_permission_errors_on_the_source_name_the_user_and_the_fix(
    users: MySQL, mariadb_url: str, pg: Postgres
) -> None:
    users.run("CREATE TABLE secrets (id INT PRIMARY KEY)")
    user = f"tasuki_ro_{users.database[-10:]}"
    users.run(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'",
        f"GRANT SELECT ON `{users.database}`.`users` TO '{user}'@'%'",
    )
    try:
        limited = mariadb_url.replace("root@", f"{user}:pw@")
        # The granted table copies; the other one is invisible to this user.
        assert migrate_table(limited, pg.url, TableSpec(name="users")).rows_written == 500
        with pytest.raises(
            MigrationError,
            match=rf"source table 'secrets' does not exist .*\(tables there: users\).* grant "
            rf"SELECT on it to '{user}'",
        ):
            migrate_table(limited, pg.url, TableSpec(name="secrets"))
        other_db = limited.rsplit("/", 1)[0] + "/mysql"
        with pytest.raises(MigrationError, match=r"cannot connect to the source .*Access denied"):
            migrate_table(other_db, pg.url, TableSpec(name="user"))
    finally:
        users.run(f"DROP USER '{user}'@'%'")
