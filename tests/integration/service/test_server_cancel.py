"""A stopped service query stops on the PostgreSQL server too (issue 10, item 2).

Killing a worker does not stop its statement on the server: without
``client_connection_check_interval`` (deliberately not set here) a ``pg_sleep`` keeps its
backend busy to the end. Every session of a query carries ``application_name =
tasuki-q-<id>``; the service cancels those on cancel, at its deadline, at shutdown and when a
worker dies, and an orphaned worker does it itself. Each test looks for the backend in
``pg_stat_activity`` by that name.

The service connects as a plain login role, as a reader role would: a role may cancel and
terminate its own sessions without being a superuser.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasuki.service import ServiceConfig, _pool
from tasuki.service._cancel import session_tag, stop_leftovers
from tests.integration.service.conftest import ServiceProcess, running_service, wait_until

pytestmark = pytest.mark.services

SLEEP = "SELECT pg_sleep(60) AS slept"
GONE_WITHIN = 5.0  # seconds; the server would otherwise keep the backend for ~60 s


def backends(pg_url: str, job_id: str, *, sleeping: bool = False) -> int:
    """Sessions of query ``job_id`` on the server (by its application_name); with
    ``sleeping``, only those running its ``pg_sleep`` (not still connecting or checking)."""
    import psycopg

    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    if sleeping:
        sql += " AND state = 'active' AND query ILIKE '%%pg_sleep%%'"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(sql, (session_tag(job_id),)).fetchone()
    return int(row[0]) if row else 0


def config(pg_url: str, tokens: tuple[Path, dict[str, str]], tmp: Path, **extra: Any) -> Any:
    settings: dict[str, Any] = {
        "warehouse": pg_url,
        "results_dir": str(tmp / "results"),
        "tokens_file": str(tokens[0]),
        "workers": 2,
        "statement_timeout": 120,
        "warehouse_options": {"parallel": False},
    }
    settings.update(extra)
    return ServiceConfig(**settings)


@pytest.fixture
def reader_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` as a fresh unprivileged login role (dropped afterwards)."""
    import psycopg

    role = f"tasuki_rd_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    parts = urllib.parse.urlsplit(postgres_url)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    try:
        yield urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            for _ in range(50):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,)
                ).fetchone()
                if not row or not row[0]:
                    break
                time.sleep(0.1)
            conn.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def headers(tokens: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[1]['alice']}"}


def submit(url: str, headers: dict[str, str], sql: str, **body: Any) -> str:
    response = httpx.post(f"{url}/v1/queries", json={"sql": sql, **body}, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def status(url: str, headers: dict[str, str], job_id: str, wait: float = 0) -> dict[str, Any]:
    response = httpx.get(
        f"{url}/v1/queries/{job_id}", params={"wait": wait}, headers=headers, timeout=wait + 30
    )
    return dict(response.json())


def running_on_server(pg_url: str, job_id: str) -> None:
    wait_until(
        lambda: backends(pg_url, job_id, sleeping=True) >= 1,
        what="the query's pg_sleep to run on the server",
    )


def gone_from_server(pg_url: str, job_id: str, within: float = GONE_WITHIN) -> None:
    wait_until(
        lambda: backends(pg_url, job_id) == 0,
        timeout=within,
        what="the query's backend to leave the server",
    )


@pytest.fixture
def service(reader_url: str, tokens: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[str]:
    with running_service(config(reader_url, tokens, tmp_path)) as (url, _app):
        yield url


def test_delete_stops_the_backend(service: str, postgres_url: str, headers: dict[str, str]) -> None:
    job_id = submit(service, headers, SLEEP)
    running_on_server(postgres_url, job_id)
    response = httpx.delete(f"{service}/v1/queries/{job_id}", headers=headers)
    assert response.json()["status"] == "cancelled"
    gone_from_server(postgres_url, job_id)
    assert status(service, headers, job_id)["status"] == "cancelled"


def test_service_deadline_stops_the_backend(
    postgres_url: str,
    reader_url: str,
    tokens: tuple[Path, dict[str, str]],
    tmp_path: Path,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server's own statement timeout (30 s) stays far off; a negative grace makes the
    # service's deadline come first, as with a server that ignores statement_timeout.
    monkeypatch.setattr(_pool, "TIMEOUT_GRACE", -28.0)
    with running_service(config(reader_url, tokens, tmp_path)) as (url, _app):
        job_id = submit(url, headers, SLEEP, timeout=30)
        running_on_server(postgres_url, job_id)
        done = status(url, headers, job_id, wait=20)
        assert done["status"] == "failed"
        assert done["error"]["type"] == "QueryTimeoutError"
        # Reported only once the server stopped it.
        assert backends(postgres_url, job_id) == 0


def test_killed_worker_stops_the_backend(
    postgres_url: str,
    reader_url: str,
    tokens: tuple[Path, dict[str, str]],
    tmp_path: Path,
    headers: dict[str, str],
) -> None:
    with running_service(config(reader_url, tokens, tmp_path, workers=1)) as (url, app):
        job_id = submit(url, headers, SLEEP)
        running_on_server(postgres_url, job_id)
        (pid,) = app.state.service.scheduler.warm_workers()
        os.kill(pid, signal.SIGKILL)
        done = status(url, headers, job_id, wait=20)
        assert done["status"] == "failed"
        assert "worker process" in done["error"]["message"]
        assert backends(postgres_url, job_id) == 0


def test_the_clients_slot_waits_for_the_server(
    postgres_url: str,
    reader_url: str,
    tokens: tuple[Path, dict[str, str]],
    tmp_path: Path,
    headers: dict[str, str],
) -> None:
    settings = config(reader_url, tokens, tmp_path, max_concurrent_per_client=1)
    with running_service(settings) as (url, _app):
        first = submit(url, headers, SLEEP)
        running_on_server(postgres_url, first)
        # The next query of the same client counts the first one's backends when it runs.
        second = submit(
            url,
            headers,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = :tag",
            params={"tag": session_tag(first)},
        )
        assert status(url, headers, second)["status"] == "queued"
        httpx.delete(f"{url}/v1/queries/{first}", headers=headers)
        done = status(url, headers, second, wait=30)
        assert done["status"] == "succeeded", done
        part = httpx.get(done["manifest"]["parts"][0]["url"], headers=headers).content
        import io

        import pyarrow.parquet as pq

        assert pq.read_table(io.BytesIO(part)).to_pylist() == [{"n": 0}]


def test_shutdown_stops_the_backend(
    postgres_url: str,
    reader_url: str,
    tokens: tuple[Path, dict[str, str]],
    tmp_path: Path,
    headers: dict[str, str],
) -> None:
    with running_service(config(reader_url, tokens, tmp_path)) as (url, _app):
        job_id = submit(url, headers, SLEEP)
        running_on_server(postgres_url, job_id)
    gone_from_server(postgres_url, job_id)


def test_orphaned_worker_stops_its_backend(
    postgres_url: str,
    reader_url: str,
    tokens: tuple[Path, dict[str, str]],
    tmp_path: Path,
    headers: dict[str, str],
) -> None:
    service = ServiceProcess(config(reader_url, tokens, tmp_path, workers=1), tmp_path)
    service.start()
    try:
        job_id = submit(service.url, headers, SLEEP)
        running_on_server(postgres_url, job_id)
        service.kill()  # kill -9: nobody is left to cancel but the worker itself
        gone_from_server(postgres_url, job_id)
    finally:
        service.stop()


def test_recovery_stops_sessions_left_by_a_previous_run(postgres_url: str, reader_url: str) -> None:
    import psycopg

    job_id = "20261204T202000-0123456789abcdef01234567"
    tagged = f"{reader_url}?application_name={session_tag(job_id)}"
    errors: list[BaseException] = []

    def sleep() -> None:
        try:
            with psycopg.connect(tagged, autocommit=True) as conn:
                conn.execute("SELECT pg_sleep(60)")
        except BaseException as exc:  # the cancel ends it
            errors.append(exc)

    thread = threading.Thread(target=sleep, daemon=True)
    thread.start()
    running_on_server(postgres_url, job_id)
    started = time.monotonic()
    assert stop_leftovers(reader_url, [job_id, "20261204T202001-" + "0" * 24]) == 1
    assert backends(postgres_url, job_id) == 0
    assert time.monotonic() - started < GONE_WITHIN
    thread.join(10)
    assert errors and isinstance(errors[0], psycopg.errors.QueryCanceled)
