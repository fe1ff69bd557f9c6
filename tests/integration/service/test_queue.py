"""Per-client concurrency limits, FIFO queues, cancellation, timeouts and result expiry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasuki.service import ServiceConfig
from tests.integration.service.conftest import running_service, wait_until

# A cross join DuckDB cannot finish in any test's lifetime; it runs until cancelled.
FOREVER = "SELECT sum(a.range * b.range) AS s FROM range(1000000) a, range(1000000) b"
QUICK = "SELECT count(*) AS n FROM tiny"


@pytest.fixture(scope="module")
def service(
    duck_file: Path, tokens: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Any]]:
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=str(tmp_path_factory.mktemp("results")),
        tokens_file=str(tokens[0]),
        workers=2,
        max_concurrent_per_client=1,
        max_queued_per_client=2,
        statement_timeout=600,
    )
    with running_service(config) as running:
        yield running


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    def submit(self, sql: str, **extra: Any) -> str:
        response = httpx.post(
            f"{self.url}/v1/queries", json={"sql": sql, **extra}, headers=self.headers
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def status(self, query_id: str, wait: float = 0) -> dict[str, Any]:
        response = httpx.get(
            f"{self.url}/v1/queries/{query_id}",
            params={"wait": wait},
            headers=self.headers,
            timeout=wait + 30,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def finished(self, query_id: str) -> dict[str, Any]:
        while True:
            status = self.status(query_id, wait=30)
            if status["status"] not in ("queued", "running"):
                return status

    def in_state(self, query_id: str, state: str) -> dict[str, Any]:
        return dict(
            wait_until(
                lambda: (s := self.status(query_id))["status"] == state and s,
                what=f"{query_id} to be {state}",
            )
        )

    def delete(self, query_id: str) -> httpx.Response:
        return httpx.delete(f"{self.url}/v1/queries/{query_id}", headers=self.headers)


@pytest.fixture
def alice(service: tuple[str, Any], tokens: tuple[Path, dict[str, str]]) -> Api:
    return Api(service[0], tokens[1]["alice"])


@pytest.fixture
def bob(service: tuple[str, Any], tokens: tuple[Path, dict[str, str]]) -> Api:
    return Api(service[0], tokens[1]["bob"])


def test_limits_queue_fifo_and_cancel(alice: Api, bob: Api, service: tuple[str, Any]) -> None:
    store_root = Path(service[1].state.service.store.root)
    first = alice.submit(FOREVER)
    alice.in_state(first, "running")
    second = alice.submit(FOREVER)
    third = alice.submit(QUICK)
    # alice may run one query at a time: the others wait, in order
    assert alice.status(second)["status"] == "queued"
    assert alice.status(second)["queue_position"] == 0
    assert alice.status(third)["queue_position"] == 1
    # ... and her queue holds at most two
    refused = httpx.post(f"{alice.url}/v1/queries", json={"sql": QUICK}, headers=alice.headers)
    assert refused.status_code == 429
    assert refused.json()["error"] == {
        "type": "QueueFull",
        "message": refused.json()["error"]["message"],
        "retryable": True,
    }
    assert "max_queued_per_client" in refused.json()["error"]["message"]
    # bob is not held back by alice's queue
    assert bob.finished(bob.submit(QUICK))["status"] == "succeeded"
    assert alice.status(first)["status"] == "running"

    # cancelling the running query kills its worker; the next of alice's queries starts
    cancelled = alice.delete(first)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["error"]["type"] == "Cancelled"
    alice.in_state(second, "running")
    assert alice.status(third)["queue_position"] == 0
    assert not (store_root / first / "result").exists()

    # cancelling a queued query takes it out of the queue
    assert alice.delete(third).json()["status"] == "cancelled"
    assert alice.delete(second).json()["status"] == "cancelled"
    assert alice.status(third)["started_at"] is None

    # the pool recovered: a new query runs on a fresh worker
    after = alice.finished(alice.submit(QUICK))
    assert after["status"] == "succeeded"
    assert after["manifest"]["total_rows"] == 1

    # deleting a cancelled query removes its record
    assert alice.delete(first).status_code == 204
    assert httpx.get(f"{alice.url}/v1/queries/{first}", headers=alice.headers).status_code == 404
    assert not (store_root / first).exists()


def test_fifo_order_per_client(alice: Api) -> None:
    blocker = alice.submit(FOREVER)
    alice.in_state(blocker, "running")
    later = [alice.submit(QUICK), alice.submit(QUICK)]
    alice.delete(blocker)
    done = [alice.finished(q) for q in later]
    assert [d["status"] for d in done] == ["succeeded", "succeeded"]
    started = [dt.datetime.fromisoformat(d["started_at"]) for d in done]
    assert started[0] <= started[1]
    assert dt.datetime.fromisoformat(done[0]["finished_at"]) <= started[1]  # one at a time


def test_statement_timeout_fails_the_query(alice: Api) -> None:
    status = alice.finished(alice.submit(FOREVER, timeout=1))
    assert status["status"] == "failed"
    assert status["error"]["type"] == "QueryTimeoutError"
    assert status["error"]["retryable"] is True
    assert "timeout" in status["error"]["message"]


def test_requested_timeout_is_capped(alice: Api, service: tuple[str, Any]) -> None:
    query_id = alice.submit(QUICK, timeout=10**6)
    alice.finished(query_id)
    job = service[1].state.service.get("alice", query_id)
    assert job.timeout == 600


def test_results_expire(
    duck_file: Path, tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=str(tmp_path / "results"),
        tokens_file=str(tokens[0]),
        workers=1,
        result_ttl=1.0,
        cleanup_interval=0.1,
    )
    with running_service(config) as (url, app):
        api = Api(url, tokens[1]["alice"])
        done = api.finished(api.submit(QUICK))
        assert done["status"] == "succeeded"
        assert dt.datetime.fromisoformat(done["expires_at"]) == dt.datetime.fromisoformat(
            done["finished_at"]
        ) + dt.timedelta(seconds=1)
        part_url = done["manifest"]["parts"][0]["url"]
        expired = api.in_state(done["id"], "expired")
        assert expired["manifest"] is None and expired["expires_at"] is None
        gone = httpx.get(part_url, headers=api.headers)
        assert gone.status_code == 410
        assert "expired" in gone.json()["error"]["message"]
        folder = tmp_path / "results" / done["id"]
        assert (folder / "job.json").exists() and not (folder / "result").exists()
        # the record itself goes after twice the TTL
        service = app.state.service
        later = dt.datetime.fromisoformat(done["finished_at"]) + dt.timedelta(seconds=2.5)
        service.expire(now=later)
        assert not folder.exists()
        assert httpx.get(f"{url}/v1/queries/{done['id']}", headers=api.headers).status_code == 404
