"""Each service client can run as its own database role (Queuery's per-client users).

All clients sharing one role let one client end another's session through any route past the
guard (the probe did it with ``pg_terminate_backend`` hidden in ``ts_stat``'s text). With
``client_warehouses`` each client's sessions belong to its own role, and the server itself
refuses a role ending another role's session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasuki.errors import ConfigError
from tasuki.service import QueryClient, ServiceConfig
from tasuki.service._cancel import session_tag
from tests._services import reader_role
from tests.integration.service.conftest import running_service, wait_until

pytestmark = pytest.mark.services


@pytest.fixture
def roles(postgres_url: str) -> Iterator[dict[str, str]]:
    """Reader roles for the service's default, alice and bob (URLs by name)."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(reader_role(postgres_url))
            for name in ("default", "alice", "bob")
        }


@pytest.fixture
def service(
    roles: dict[str, str], tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> Iterator[str]:
    config = ServiceConfig(
        warehouse="shared",
        warehouses={"shared": roles["default"], "alice_role": roles["alice"]},
        # A configured name and a plain URL both work.
        client_warehouses={"alice": "alice_role", "bob": roles["bob"]},
        results_dir=str(tmp_path / "results"),
        tokens_file=str(tokens[0]),
        workers=2,
        warehouse_options={"parallel": False},
    )
    with running_service(config) as (url, _app):
        yield url


def role_of(url: str) -> str:
    import urllib.parse

    return urllib.parse.urlsplit(url).username or ""


def test_each_client_queries_as_its_own_role(
    service: str, roles: dict[str, str], tokens: tuple[Path, dict[str, str]]
) -> None:
    for client in ("alice", "bob"):
        with QueryClient(service, tokens[1][client]) as qc:
            table = qc.query("SELECT current_user::text AS who").to_arrow()
        assert table.column("who").to_pylist() == [role_of(roles[client])]


def test_one_client_cannot_end_anothers_session(
    service: str, roles: dict[str, str], postgres_url: str, tokens: tuple[Path, dict[str, str]]
) -> None:
    import psycopg

    alice = {"Authorization": f"Bearer {tokens[1]['alice']}"}
    response = httpx.post(
        f"{service}/v1/queries", json={"sql": "SELECT pg_sleep(60)"}, headers=alice
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def alice_pid() -> Any:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT pid, usename FROM pg_stat_activity WHERE application_name = %s "
                "AND query ILIKE '%%pg_sleep%%'",
                (session_tag(job_id),),
            ).fetchone()
        return row

    pid, user = wait_until(alice_pid, what="alice's query to run on the server")
    assert user == role_of(roles["alice"])

    # Bob's role, whatever route a statement found past the guard, cannot end it: the server
    # refuses a role signalling another role's backend.
    with (
        psycopg.connect(roles["bob"], autocommit=True) as bob,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        bob.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert alice_pid() is not None

    # The service stops it as alice's own role.
    assert httpx.delete(f"{service}/v1/queries/{job_id}", headers=alice).status_code == 200
    wait_until(lambda: alice_pid() is None, timeout=10, what="alice's backend to end")


def test_client_warehouses_are_checked_at_start(tmp_path: Path) -> None:
    base: dict[str, Any] = {
        "warehouse": "postgresql://reader@db/x",
        "results_dir": str(tmp_path),
        "clients": {"alice": "0" * 64},
        "warehouses": {},
    }
    with pytest.raises(ConfigError, match=r"client_warehouses\['alice'\].*'duckdb'"):
        ServiceConfig(**base, client_warehouses={"alice": "duckdb:///x.db"}).client_warehouse_urls()
    with pytest.raises(ConfigError, match="neither a URL nor a configured name"):
        ServiceConfig(**base, client_warehouses={"alice": "nosuch"}).client_warehouse_urls()
    # postgres:// and postgresql:// are the same backend.
    urls = ServiceConfig(
        **base, client_warehouses={"alice": "postgres://alice:secret@db/x"}
    ).client_warehouse_urls()
    assert urls == {"alice": "postgres://alice:secret@db/x"}
    shown = repr(ServiceConfig(**base, client_warehouses={"alice": "postgres://a:secret@db/x"}))
    assert "secret" not in shown
