"""Timeouts the engine enforces: no value a caller gives turns into "no timeout".

A tiny timeout is rounded up to the smallest limit the server knows (1 ms), never down to
0 (which PostgreSQL and Redshift read as "no limit"), and a DuckDB interrupt that arrives
before the query has started is repeated until the query has ended.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from tasuki.errors import QueryTimeoutError, WarehouseError
from tasuki.warehouse import DuckDBWarehouse
from tasuki.warehouse._common import MAX_TIMEOUT, check_timeout, timeout_ms

LONG = "SELECT count(*) FROM range(100000000000) a"


@pytest.mark.parametrize("seconds", [1e-9, 1e-6, 1e-4, 0.0004])
def test_a_tiny_duckdb_timeout_still_interrupts_the_query(tmp_path: Path, seconds: float) -> None:
    with DuckDBWarehouse(parts_dir=tmp_path / "parts") as w:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError, match="timeout of"):
            w.query(LONG, timeout=seconds)
        # Without the fix the interrupt is lost and the query runs for 12-25 s (or longer).
        assert time.monotonic() - started < 5
        # The connection is fine afterwards: the next query is not interrupted.
        assert w.query("SELECT 42 AS x", timeout=30).to_arrow().column("x").to_pylist() == [42]


def test_repeated_tiny_duckdb_timeouts_never_lose_the_interrupt(tmp_path: Path) -> None:
    with DuckDBWarehouse(parts_dir=tmp_path / "parts") as w:
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(QueryTimeoutError):
                w.query(LONG, timeout=1e-6)
        assert time.monotonic() - started < 20


def test_a_quick_duckdb_query_is_not_disturbed_by_its_timer(tmp_path: Path) -> None:
    with DuckDBWarehouse(parts_dir=tmp_path / "parts") as w:
        for _ in range(50):
            assert w.query("SELECT 1 AS x", timeout=60).num_rows == 1


def test_timeouts_become_at_least_one_millisecond() -> None:
    assert timeout_ms(1e-9) == 1
    assert timeout_ms(0.0004) == 1
    assert timeout_ms(0.0015) == 2  # rounded up, never down
    assert timeout_ms(0.57) == 570  # 0.57 * 1000 is 570.0000000000001: not 571
    assert timeout_ms(12.5) == 12_500
    assert timeout_ms(3600) == 3_600_000
    assert timeout_ms(MAX_TIMEOUT) == 2_147_483_647  # PostgreSQL's largest statement_timeout


@pytest.mark.parametrize(
    "value", [0, 0.0, -1, -1e-9, math.nan, math.inf, -math.inf, True, False, "5", None]
)
def test_timeouts_that_cannot_be_enforced_are_refused(value: Any) -> None:
    with pytest.raises(WarehouseError, match=r"timeout must be .* seconds") as info:
        check_timeout(value, value)
    assert info.value.fields["parameter"] == "timeout"
    assert "got" in str(info.value)


def test_a_timeout_past_the_largest_server_limit_is_refused() -> None:
    with pytest.raises(WarehouseError, match=r"at most 2147483\.647") as info:
        check_timeout(MAX_TIMEOUT * 2, 3600)
    assert info.value.fields["timeout"] == MAX_TIMEOUT * 2
    assert check_timeout(MAX_TIMEOUT, 3600) == MAX_TIMEOUT
    assert check_timeout(None, 12) == 12.0
    assert check_timeout(1e-9, 12) == 1e-9


@pytest.mark.parametrize("value", [0, -5, math.nan, math.inf, MAX_TIMEOUT + 1])
def test_every_backend_refuses_a_bad_timeout(tmp_path: Path, value: float) -> None:
    from tasuki.warehouse import BigQueryWarehouse, PostgresWarehouse, RedshiftWarehouse

    with pytest.raises(WarehouseError, match="timeout must be"):
        DuckDBWarehouse(timeout=value)
    with pytest.raises(WarehouseError, match="timeout must be"):
        PostgresWarehouse("postgresql://nobody@127.0.0.1:1/x", timeout=value)
    with pytest.raises(WarehouseError, match="timeout must be"):
        RedshiftWarehouse("redshift://h/db", s3_staging="s3://b/p", iam_role="r", timeout=value)
    with pytest.raises(WarehouseError, match="timeout must be"):
        BigQueryWarehouse("p", "d", gcs_staging="gs://b/p", client=object(), timeout=value)
    with DuckDBWarehouse(parts_dir=tmp_path) as w, pytest.raises(WarehouseError, match="timeout"):
        w.query("SELECT 1", timeout=value)


class _Redshift:
    """A connection factory that records what is sent and fails the UNLOAD."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self) -> _Redshift:
        return self

    def cursor(self) -> _Redshift:
        return self

    def execute(self, sql: str, params: Any = None) -> None:
        self.sent.append(sql)
        if sql.lstrip().upper().startswith("UNLOAD"):
            raise RuntimeError("stop here")

    def fetchall(self) -> list[Any]:
        return [(1,)]

    description = None

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


def test_redshift_never_sends_a_zero_statement_timeout() -> None:
    from tasuki.warehouse import RedshiftWarehouse

    fake = _Redshift()
    wh = RedshiftWarehouse(
        "redshift://h/db", s3_staging="s3://b/p", iam_role="r", connection_factory=fake
    )
    with pytest.raises(WarehouseError):
        wh.query("SELECT 1", timeout=0.0004)
    assert fake.sent[0] == "SET statement_timeout TO 1"
    fake.sent.clear()
    with pytest.raises(WarehouseError):
        wh.query("SELECT 1", timeout=0.0015)
    assert fake.sent[0] == "SET statement_timeout TO 2"


def test_bigquery_jobs_never_get_a_zero_job_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki.warehouse.bigquery import warehouse as bq

    seen: list[Any] = []

    class FakeBigQuery:
        @staticmethod
        def QueryJobConfig(**kwargs: Any) -> Any:
            seen.append(kwargs)
            return kwargs

    import sys
    import types

    google = types.ModuleType("google")
    cloud = types.ModuleType("google.cloud")
    cloud.bigquery = FakeBigQuery  # type: ignore[attr-defined]
    google.cloud = cloud  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.cloud", cloud)
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", FakeBigQuery)
    assert bq._job_config(0.0004) == {"job_timeout_ms": 1}
    assert bq._job_config(2.5) == {"job_timeout_ms": 2500}


def test_a_duckdb_timeout_while_parts_are_written_stops_the_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasuki.warehouse._parts import PartWriter

    write = PartWriter.write

    def slow_write(self: PartWriter, batch: Any) -> None:
        time.sleep(0.05)
        write(self, batch)

    monkeypatch.setattr(PartWriter, "write", slow_write)
    with DuckDBWarehouse(parts_dir=tmp_path / "parts", batch_size=1000) as w:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError, match=r"timeout of 0\.3 s"):
            w.query("SELECT * FROM range(10000000) a", timeout=0.3)
        assert time.monotonic() - started < 5
        assert not any((tmp_path / "parts").rglob("*.parquet"))
