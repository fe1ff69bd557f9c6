"""The query service over the real PostgreSQL: same result as the library, cancel, timeout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasuki.errors import QueryTimeoutError
from tasuki.service import QueryClient, ServiceConfig
from tasuki.warehouse import connect
from tests._services import PG_DSN, reader_role, service_unavailable
from tests.integration.service.conftest import running_service, wait_until

pytestmark = pytest.mark.services

# The server checks for a vanished client twice a second, so a cancelled pg_sleep stops.
# (Written -cname=value: libpq does not read '+' as a space in URL options.)
CHECK_CLIENT = "options=-cclient_connection_check_interval%3D500"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh database with an ``orders`` table, for the whole module."""
    import psycopg

    name = f"tasuki_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        service_unavailable("PostgreSQL", exc)
    url = f"{PG_DSN}/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                """
                CREATE TABLE orders AS
                SELECT i AS id,
                       (i % 100)::int AS shop,
                       round((i * 1.25)::numeric, 2)::numeric(12, 2) AS amount,
                       CASE WHEN i % 5 = 0 THEN NULL WHEN i % 7 = 0 THEN '' ELSE 'o' || i END
                           AS note,
                       timestamptz '2024-01-01 00:00:00+09' + i * interval '1 minute' AS at,
                       jsonb_build_object('i', i) AS doc,
                       ARRAY[i, i + 1] AS pair
                FROM generate_series(1, 50000) AS i
                """
            )
        yield url
    finally:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def reader_url(pg_url: str) -> Iterator[str]:
    """The service and the library read as a reader role, as the query path expects."""
    with reader_role(pg_url) as url:
        yield url


@pytest.fixture(scope="module")
def service(
    reader_url: str, tokens: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    config = ServiceConfig(
        warehouse=f"{reader_url}?{CHECK_CLIENT}",
        results_dir=str(tmp_path_factory.mktemp("results")),
        tokens_file=str(tokens[0]),
        workers=2,
        statement_timeout=30,
        warehouse_options={"part_rows": 20_000, "parallel": False},
    )
    with running_service(config) as running:
        yield running


@pytest.fixture
def client(service: tuple[str, Any], tokens: tuple[Path, dict[str, str]]) -> Iterator[QueryClient]:
    with QueryClient(service[0], tokens[1]["alice"]) as c:
        yield c


def test_same_result_as_the_library(client: QueryClient, reader_url: str, tmp_path: Path) -> None:
    sql = "SELECT * FROM orders WHERE shop < :shops ORDER BY id"
    remote = client.query(sql, {"shops": 60})
    with connect(reader_url, parts_dir=tmp_path, parallel=False) as wh:
        local = wh.query(sql, {"shops": 60}).to_arrow()
    table = remote.to_arrow()
    assert table.num_rows == 30_000
    assert remote.manifest.backend == "postgresql"
    assert [p.rows for p in remote.parts] == [20_000, 10_000]
    assert table.schema == local.schema
    assert table.equals(local)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["pair"] == [1, 2] and row["at"].utcoffset() is not None


def test_cancel_stops_the_statement_on_the_server(
    service: tuple[str, Any], tokens: tuple[Path, dict[str, str]], pg_url: str
) -> None:
    import psycopg

    url = service[0]
    headers = {"Authorization": f"Bearer {tokens[1]['alice']}"}
    marker = f"cancel_me_{uuid.uuid4().hex[:8]}"
    sql = f"SELECT pg_sleep(60) AS {marker}"
    query_id = httpx.post(f"{url}/v1/queries", json={"sql": sql}, headers=headers).json()["id"]

    def sleeping() -> int:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                (f"%{marker}%",),
            ).fetchone()
        return int(row[0]) if row else 0

    wait_until(lambda: sleeping() == 1, what="pg_sleep to run on the server")
    response = httpx.delete(f"{url}/v1/queries/{query_id}", headers=headers)
    assert response.json()["status"] == "cancelled"
    wait_until(lambda: sleeping() == 0, timeout=30, what="the server to stop the statement")
    status = httpx.get(f"{url}/v1/queries/{query_id}", headers=headers).json()
    assert status["status"] == "cancelled"


def test_statement_timeout(client: QueryClient) -> None:
    with pytest.raises(QueryTimeoutError, match="timeout"):
        client.query("SELECT pg_sleep(20)", timeout=0.5)


def test_server_side_error_keeps_its_class_and_position(client: QueryClient) -> None:
    from tasuki.errors import QuerySyntaxError, TableNotFoundError, WarehouseError

    with pytest.raises(TableNotFoundError, match="no_such_table"):
        client.query("SELECT * FROM no_such_table")
    with pytest.raises(WarehouseError) as info:
        client.query("SELECT id / 0 AS boom FROM orders")
    assert "division by zero" in str(info.value)
    with pytest.raises(QuerySyntaxError):
        client.query("SELECT * FROM orders WHERE")
