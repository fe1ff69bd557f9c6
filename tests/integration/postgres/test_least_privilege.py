"""Least privilege on the query path: privileged roles refused, pooled sessions reset, write
timeouts.

The query path refuses a superuser, a role that owns tables (or may SET ROLE to one) and
the other roles ``READ ONLY`` does not hold back, unless ``allow_privileged`` is set; a
connection goes back to the pool only after ``DISCARD ALL``; and ``write_table`` runs under
the warehouse's statement timeout.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tasuki.errors import ConfigError, QueryTimeoutError, WarehouseError
from tasuki.warehouse import PostgresWarehouse, connect

pytestmark = pytest.mark.services

PLANTED = "pw-PLANTED-7f3a"


def _with_user(url: str, user: str, password: str = PLANTED) -> str:
    """``url`` with another user (the local server trusts loopback; the password is a plant)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest.split('@', 1)[1]}"


@pytest.fixture
def roles(admin: Any) -> Iterator[list[str]]:
    """Login roles a test makes (append the name); ended and dropped afterwards."""
    made: list[str] = []
    yield made
    for role in reversed(made):
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
        )
        admin.execute(f'DROP OWNED BY "{role}"'.encode())
        admin.execute(f'DROP ROLE "{role}"'.encode())


def _role(admin: Any, roles: list[str], options: str = "") -> str:
    name = f"tasuki_lp_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE ROLE "{name}" LOGIN {options}'.encode())
    roles.append(name)
    return name


def test_a_superuser_is_refused_with_who_what_why_and_the_fix(
    postgres_url: str, tmp_path: Path
) -> None:
    url = _with_user(postgres_url, "postgres")
    with PostgresWarehouse(url, parts_dir=tmp_path / "parts", parallel=False) as wh:
        with pytest.raises(WarehouseError) as info:
            wh.query("SELECT 1 AS one")
    error = info.value
    message = str(error)
    assert error.role == "postgres" and error.privileges == ["is a superuser"]
    assert error.option == "allow_privileged"
    assert "role 'postgres': it is a superuser" in message
    assert "READ ONLY" in message and "pg_read_file()" in message  # why
    assert "tasuki warehouse reader-role" in message  # the fix
    assert "allow_privileged=True" in message and "?allow_privileged=true" in message
    assert PLANTED not in message and PLANTED not in repr(error.fields)
    # Nothing was written for the refused query.
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_parallel_read_is_refused_too(postgres_url: str, admin: Any, tmp_path: Path) -> None:
    admin.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g")
    with PostgresWarehouse(postgres_url, parts_dir=tmp_path, parallel=2) as wh:
        with pytest.raises(WarehouseError, match="is a superuser"):
            wh.query("SELECT id FROM t")


def test_an_owner_and_a_member_of_an_owner_are_refused(
    postgres_url: str, admin: Any, roles: list[str], tmp_path: Path
) -> None:
    owner = _role(admin, roles)
    admin.execute("CREATE SCHEMA s")
    admin.execute("CREATE TABLE s.owned (a int)")
    admin.execute("CREATE VIEW s.v AS SELECT 1 AS a")
    admin.execute(f'ALTER TABLE s.owned OWNER TO "{owner}"'.encode())
    admin.execute(f'ALTER VIEW s.v OWNER TO "{owner}"'.encode())
    admin.execute(f'GRANT USAGE ON SCHEMA s TO "{owner}"'.encode())
    with PostgresWarehouse(_with_user(postgres_url, owner), parts_dir=tmp_path) as wh:
        with pytest.raises(WarehouseError) as info:
            wh.query("SELECT a FROM s.owned")
    assert info.value.privileges == ["owns table s.owned", "owns view s.v"]
    assert f"role {owner!r}: it owns table s.owned; it owns view s.v" in str(info.value)
    # A member that does not inherit may still SET ROLE to the owner: refused as well.
    member = _role(admin, roles, "NOINHERIT")
    admin.execute(f'GRANT "{owner}" TO "{member}"'.encode())
    with PostgresWarehouse(_with_user(postgres_url, member), parts_dir=tmp_path) as wh:
        with pytest.raises(WarehouseError) as info:
            wh.query("SELECT 1 AS one")
    assert info.value.privileges == [
        f"may SET ROLE {owner!r}, which owns table s.owned",
        f"may SET ROLE {owner!r}, which owns view s.v",
    ]


def test_server_file_roles_replication_and_bypassrls_are_refused(
    postgres_url: str, admin: Any, roles: list[str], tmp_path: Path
) -> None:
    reader = _role(admin, roles, "REPLICATION BYPASSRLS")
    admin.execute(f'GRANT pg_read_server_files TO "{reader}"'.encode())
    with PostgresWarehouse(_with_user(postgres_url, reader), parts_dir=tmp_path) as wh:
        with pytest.raises(WarehouseError) as info:
            wh.query("SELECT 1 AS one")
    found = info.value.privileges
    assert found[0].startswith("has REPLICATION") and found[1].startswith("has BYPASSRLS")
    assert found[2] == "is a member of pg_read_server_files (it reads the server's files)"
    # CREATEDB and CREATEROLE are not counted (what they allow is DDL, which READ ONLY and
    # the query checker refuse), nor is a plain login role.
    plain = _role(admin, roles, "CREATEDB CREATEROLE")
    with PostgresWarehouse(_with_user(postgres_url, plain), parts_dir=tmp_path) as wh:
        assert wh.query("SELECT 1 AS one").num_rows == 1


def test_allow_privileged_as_an_option_or_in_the_url(
    postgres_url: str, admin: Any, tmp_path: Path
) -> None:
    admin.execute("CREATE TABLE t AS SELECT 1 AS id")
    with PostgresWarehouse(postgres_url, parts_dir=tmp_path, allow_privileged=True) as wh:
        assert wh.query("SELECT id FROM t").num_rows == 1
    url = _with_user(postgres_url, "postgres") + "?sslmode=disable&allow_privileged=true"
    with connect(url, parts_dir=tmp_path) as wh:
        assert isinstance(wh, PostgresWarehouse) and wh.allow_privileged
        # Taken out before libpq sees it (libpq refuses parameters it does not know).
        assert "allow_privileged" not in wh.uri and "sslmode=disable" in wh.uri
        assert PLANTED not in wh.url and PLANTED not in repr(wh)
        assert wh.query("SELECT id FROM t").num_rows == 1
    # Settings files give text: "false" means false, a typo is refused, never read as true.
    with PostgresWarehouse(postgres_url, parts_dir=tmp_path, allow_privileged="false") as wh:  # type: ignore[arg-type]
        with pytest.raises(WarehouseError, match="superuser"):
            wh.query("SELECT id FROM t")
    with pytest.raises(ConfigError, match="allow_privileged must be true or false") as info:
        connect(_with_user(postgres_url, "postgres") + "?allow_privileged=sure")
    assert PLANTED not in str(info.value)


def test_the_answer_is_kept_per_warehouse_object(
    postgres_reader_url: str, admin: Any, tmp_path: Path
) -> None:
    admin.execute("CREATE TABLE t AS SELECT 1 AS id")
    with PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path, parallel=False) as wh:
        assert not wh._role_checked
        assert wh.query("SELECT id FROM t").num_rows == 1
        assert wh._role_checked
        # The reader comes to own a table: this object checked already and goes on; a new
        # one is refused.
        reader = postgres_reader_url.split("://", 1)[1].split(":", 1)[0]
        admin.execute(f'ALTER TABLE t OWNER TO "{reader}"'.encode())
        assert wh.query("SELECT id FROM t").num_rows == 1
    with PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path) as wh:
        with pytest.raises(WarehouseError, match=r"owns table public\.t"):
            wh.query("SELECT id FROM t")


def _session(cursor: Any) -> dict[str, Any]:
    cursor.execute(
        "SELECT pg_backend_pid(), current_setting('application_name'), "
        "current_setting('work_mem'), to_regclass('pg_temp.leftover') IS NOT NULL, "
        "(SELECT count(*) FROM pg_prepared_statements WHERE name = 'leftover_plan')"
    )
    pid, app, work_mem, temp, prepared = cursor.fetchone()
    return {"pid": pid, "app": app, "work_mem": work_mem, "temp": temp, "prepared": prepared}


def test_a_pooled_connection_keeps_nothing_from_the_query_before(
    postgres_url: str, admin: Any, tmp_path: Path
) -> None:
    # The query checker refuses advisory locks, SET and temporary tables, so this test does
    # on a pooled connection, through the internals, what a query that slipped past it
    # would do, and then hands the connection back as a query does.
    admin.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g")
    with PostgresWarehouse(
        postgres_url, parts_dir=tmp_path, parallel=False, max_idle=1, allow_privileged=True
    ) as wh:
        connection = wh._acquire()
        cursor = connection.cursor()
        before = _session(cursor)
        cursor.execute("SELECT pg_advisory_lock(90210)")  # the lock space migrate uses too
        cursor.fetchall()
        cursor.execute("SET application_name = 'leaked'")
        cursor.execute("SET work_mem = '77MB'")
        cursor.execute("CREATE TEMP TABLE leftover (a int)")
        cursor.execute("PREPARE leftover_plan AS SELECT 1")
        connection.commit()
        cursor.execute("SELECT pg_advisory_lock(90211)")  # a session lock outlives a rollback
        cursor.fetchall()
        dirty = _session(cursor)
        assert dirty == {**before, "app": "leaked", "work_mem": "77MB", "temp": True, "prepared": 1}
        cursor.close()
        wh._release(connection, True)
        assert wh._idle == [connection]  # pooled, not closed
        held = admin.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", [before["pid"]]
        ).fetchall()
        assert held == []
        again = wh._acquire()
        assert again is connection
        cursor = again.cursor()
        assert _session(cursor) == before
        cursor.close()
        wh._release(again, True)
        # The driver works on the reset connection: parameters, prepared by the driver.
        for low in (2, 5):
            result = wh.query("SELECT id FROM t WHERE id > :low", {"low": low})
            assert result.num_rows == 10 - low
        assert wh._idle == [connection]
        # A write hands its connection back the same way; its timeout was its own.
        wh.write_table("items", pa.table({"id": [1, 2]}))
        wh.write_table("items", pa.table({"id": [3]}), mode="append")
        assert wh._idle == [connection]
        cursor = connection.cursor()
        assert _session(cursor) == before
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] == "0"
        cursor.close()
        connection.rollback()
    assert admin.execute("SELECT count(*) FROM items").fetchone() == (3,)


class _FailingReset:
    """A connection whose DISCARD ALL fails (the server went away, say)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.adbc_connection = real.adbc_connection
        self.closed = False

    def rollback(self) -> None:
        self.real.rollback()

    def cursor(self) -> Any:
        class Cursor:
            def execute(self, sql: str) -> None:
                raise RuntimeError(f"{sql} failed")

            def close(self) -> None:
                pass

        return Cursor()

    def close(self) -> None:
        self.closed = True
        self.real.close()


def test_a_connection_that_cannot_be_reset_is_closed_not_pooled(
    postgres_reader_url: str, tmp_path: Path
) -> None:
    with PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path, max_idle=2) as wh:
        failing = _FailingReset(wh._acquire())
        wh._release(failing, True)
        assert failing.closed and wh._idle == []
        assert wh.query("SELECT 1 AS one").num_rows == 1  # a new connection replaces it


def test_a_write_blocked_by_a_lock_ends_at_the_timeout_and_changes_nothing(
    postgres_url: str, admin: Any, tmp_path: Path
) -> None:
    import psycopg

    admin.execute("CREATE TABLE items AS SELECT 1 AS id")
    caught: list[BaseException] = []

    def write(wh: PostgresWarehouse, mode: str) -> None:
        try:
            wh.write_table("items", pa.table({"id": pa.array([2], pa.int32())}), mode=mode)  # type: ignore[arg-type]
        except BaseException as exc:
            caught.append(exc)

    for mode in ("append", "replace"):
        caught.clear()
        with (
            psycopg.connect(postgres_url) as locker,
            PostgresWarehouse(postgres_url, parts_dir=tmp_path, timeout=0.5) as wh,
        ):
            locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            worker = threading.Thread(target=write, args=(wh, mode))
            started = time.monotonic()
            worker.start()
            worker.join(15)  # a write without a timeout would still be waiting
            elapsed = time.monotonic() - started
            locker.rollback()  # let a write that is still waiting go on
            worker.join()
        assert elapsed < 5, f"{mode}: the write waited {elapsed:.1f} s for the lock"
        assert len(caught) == 1 and isinstance(caught[0], QueryTimeoutError), caught
        error = caught[0]
        assert error.table == "items" and error.timeout == 0.5
        assert "writing table 'items'" in str(error) and "unchanged" in str(error)
        assert admin.execute("SELECT id FROM items").fetchall() == [(1,)]
        staged = "SELECT count(*) FROM pg_tables WHERE tablename LIKE '_tasuki_stage%'"
        assert admin.execute(staged).fetchone() == (0,)
