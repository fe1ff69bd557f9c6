"""PostgreSQL enforces every timeout on the server: a tiny one is 1 ms, never "no limit"."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tasuki.errors import QueryTimeoutError
from tasuki.warehouse import PostgresWarehouse

pytestmark = pytest.mark.services


def _active(admin: Any, marker: str) -> list[Any]:
    rows: list[Any] = admin.execute(
        "SELECT pid, state FROM pg_stat_activity "
        "WHERE query LIKE %s AND pid <> pg_backend_pid() AND state <> 'idle'",
        (f"%{marker}%",),
    ).fetchall()
    return rows


@pytest.mark.parametrize("seconds", [1e-9, 0.0004, 0.0014])
def test_a_tiny_timeout_is_enforced_by_the_server(
    wh: PostgresWarehouse, admin: Any, seconds: float
) -> None:
    marker = f"tiny_timeout_{str(seconds).replace('.', '_').replace('-', '_')}"
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match="statement timeout"):
        # Without the fix statement_timeout is 0 ("no limit") and this sleeps for 20 s.
        wh.query(f"SELECT pg_sleep(20) AS {marker}", timeout=seconds)
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while _active(admin, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _active(admin, marker) == []


def test_the_setting_is_rounded_up_to_whole_milliseconds(wh: PostgresWarehouse) -> None:
    # 1 ms is too short even for reading a setting on a busy machine; read what was set
    # with a timeout that passes, then check the conversion of tiny ones in the unit tests.
    row = next(
        wh.query("SELECT current_setting('statement_timeout') AS st", timeout=2.0005).iter_rows()
    )
    assert row == {"st": "2001ms"}


def test_parallel_reads_enforce_a_tiny_timeout_too(
    postgres_reader_url: str, admin: Any, tmp_path: Any
) -> None:
    admin.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 200000) g")
    with PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path / "parts", parallel=2) as w:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError):
            w.query(
                "SELECT id, pg_sleep(0.01) AS tiny_parallel FROM t WHERE id <= 1000", timeout=0.0004
            )
        assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while _active(admin, "tiny_parallel") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _active(admin, "tiny_parallel") == []
