"""Fixtures for the real services on this machine: PostgreSQL, MariaDB, Redis.

Each fixture makes its own database (or Redis key prefix) and removes it afterwards. When a
service is down the test is skipped with the reason, unless TASUKI_REQUIRE_SERVICES=1 (CI),
where it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest

PG_DSN = os.environ.get("TASUKI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REDIS_URL = os.environ.get("TASUKI_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_unavailable(name: str, exc: BaseException) -> None:
    """Skip the test, or fail it when services are required (CI)."""
    reason = f"{name} is not reachable: {type(exc).__name__}: {exc}"
    if os.environ.get("TASUKI_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (TASUKI_REQUIRE_SERVICES=1, so this fails instead of skipping)")
    pytest.skip(reason)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it started:
    SIGTERM to the group, then SIGKILL when it has not ended within ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    import psycopg

    name = f"tasuki_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        service_unavailable("PostgreSQL", exc)
    try:
        yield f"{PG_DSN}/{name}"
    finally:
        with psycopg.connect(f"{PG_DSN}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def reader_role(admin_url: str) -> Iterator[str]:
    """A least-privilege reader role on ``admin_url``'s database; yields its URL.

    The role is made by tasuki's own reader-role SQL (``tasuki warehouse reader-role``):
    it reads every table (``pg_read_all_data``), owns nothing, and its transactions are
    read-only, so the query path accepts it without ``allow_privileged``. Roles are
    cluster-wide and tests run in parallel (pytest-xdist), so the name is unique, and the
    role is dropped afterwards (its sessions ended first).
    """
    import psycopg

    from tasuki.warehouse.postgres._roles import ReaderRole, apply_reader_role

    name = f"tasuki_reader_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    database = admin_url.rsplit("/", 1)[1]
    # connection_limit: parallel reads open up to one connection per CPU.
    role = ReaderRole(name, database, connection_limit=max(16, 2 * (os.cpu_count() or 1)))
    apply_reader_role(admin_url, role, password=password)
    parts = urllib.parse.urlsplit(admin_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{name}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    try:
        yield urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            # Revokes what was granted to it here and on the database, then drops it.
            conn.execute(f'DROP OWNED BY "{name}"'.encode())
            conn.execute(f'DROP ROLE "{name}"'.encode())


@pytest.fixture
def postgres_reader_url(postgres_url: str) -> Iterator[str]:
    """URL of a reader role (see :func:`reader_role`) on the ``postgres_url`` database."""
    with reader_role(postgres_url) as url:
        yield url


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """URL of a fresh, empty MariaDB database, dropped after the test."""
    import pymysql

    name = f"tasuki_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = pymysql.connect(**MARIADB, connect_timeout=3, autocommit=True)  # type: ignore[arg-type]
    except pymysql.err.OperationalError as exc:
        service_unavailable("MariaDB", exc)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """URL of the local Redis; keys the test makes should use a unique prefix."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        service_unavailable("Redis", exc)
    finally:
        client.close()
    yield REDIS_URL
