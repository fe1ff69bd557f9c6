"""Each failure gets its own error: syntax with position, missing table, permission,
timeout, connection refused and connection dropped."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import (
    PermissionDeniedError,
    QuerySyntaxError,
    QueryTimeoutError,
    TableNotFoundError,
    WarehouseConnectionError,
)
from tasuki.warehouse import PostgresWarehouse

pytestmark = pytest.mark.services


def test_server_syntax_errors_carry_the_position(wh: PostgresWarehouse, admin: Any) -> None:
    admin.execute("CREATE TABLE t (a int)")
    with pytest.raises(QuerySyntaxError) as info:
        wh.query("SELECT a,\n       nosuchcolumn\nFROM t")
    err = info.value
    assert "nosuchcolumn" in str(err) and err.sqlstate == "42703"
    # The position points into the SQL the server ran (sqlglot prints it on one line).
    assert err.line == 1 and err.column == len("SELECT a, ") + 1
    assert "^" in str(err)


def test_parser_syntax_errors_never_reach_the_server(wh: PostgresWarehouse) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        wh.query("SELECT 1\nFROM (SELECT 2")
    assert info.value.line == 2


def test_a_missing_table_is_named(wh: PostgresWarehouse) -> None:
    with pytest.raises(TableNotFoundError, match="no_such_table") as info:
        wh.query("SELECT * FROM public.no_such_table")
    assert info.value.table == "public.no_such_table"
    with pytest.raises(TableNotFoundError, match=r"'nope\.t'"):
        wh.query("SELECT * FROM nope.t")


@pytest.fixture
def stranger(postgres_url: str, admin: Any) -> Iterator[str]:
    """A login role with no privileges on the test database's tables; dropped after."""
    role = f"tasuki_stranger_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield postgres_url.replace("postgres@", f"{role}@", 1)
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
        )
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')


def test_permission_denied_names_the_table(stranger: str, admin: Any, tmp_path: Path) -> None:
    admin.execute("CREATE TABLE secret (a int)")
    with PostgresWarehouse(stranger, parts_dir=tmp_path) as w:
        with pytest.raises(PermissionDeniedError, match="secret") as info:
            w.query("SELECT a FROM secret")
        assert info.value.table == "secret"
        assert "GRANT SELECT" in str(info.value)
        assert w.query("SELECT 1 AS one").num_rows == 1  # the role itself works


def test_a_statement_past_its_timeout_is_cancelled(wh: PostgresWarehouse, tmp_path: Path) -> None:
    with pytest.raises(QueryTimeoutError, match=r"statement timeout of 0\.3 s") as info:
        wh.query("SELECT pg_sleep(30)", timeout=0.3)
    assert info.value.retryable and info.value.timeout == 0.3


def test_a_timeout_while_streaming_is_still_a_timeout(
    wh: PostgresWarehouse, tmp_path: Path
) -> None:
    # Rows start flowing at once; the statement is cancelled part way through the stream.
    slow = "SELECT g, pg_sleep(0.002) FROM generate_series(1, 100000) g"
    with pytest.raises(QueryTimeoutError):
        wh.query(slow, timeout=0.5)
    parts = tmp_path / "parts"
    assert not parts.exists() or not any(parts.iterdir())


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with PostgresWarehouse(f"postgresql://u:secret@127.0.0.1:{port}/db", parts_dir=tmp_path) as w:
        with pytest.raises(WarehouseConnectionError) as info:
            w.query("SELECT 1")
    assert info.value.retryable
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_a_connection_dropped_mid_query(wh: PostgresWarehouse, admin: Any) -> None:
    marker = f"tasuki-{uuid.uuid4().hex}"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            wh.query(f"SELECT pg_sleep(30), '{marker}' AS m")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    killed = 0
    for _ in range(200):  # wait (up to ~10 s) until the query is visible, then kill it
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE %s AND pid <> pg_backend_pid()",
            [f"%{marker}%"],
        ).fetchone()[0]
        if killed:
            break
        time.sleep(0.05)
    thread.join(30)
    assert killed == 1
    assert len(errors) == 1 and isinstance(errors[0], WarehouseConnectionError), errors
    assert wh.query("SELECT 1 AS ok").num_rows == 1  # a fresh connection replaces it
