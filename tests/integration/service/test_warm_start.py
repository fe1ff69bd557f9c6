"""The service is warm when its health check answers (issue 9, bug 10).

The first QueryClient query right after /healthz answered took 5.6 s, the second 0.2 s:
/healthz answered as soon as uvicorn was up, while the worker processes were still starting
(a fresh interpreter each, importing tasuki, pyarrow, the backend and its driver: seconds).
Measured here (PostgreSQL, one worker): preload 3-5 s, then a query 0.1 s. Now the service
starts its workers before it accepts requests, so when /healthz first answers every worker
has started and imported its backend. No timing is asserted: the test checks that the
warm-up happened.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tasuki.service import ServiceConfig
from tasuki.warehouse import QueryClient

from .conftest import running_service


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request: pytest.FixtureRequest, duck_file: Path) -> tuple[str, str]:
    if request.param == "duckdb":
        return f"duckdb://{duck_file}", "duckdb"
    # A reader role: the query path refuses the superuser that made the database.
    return str(request.getfixturevalue("postgres_reader_url")), "adbc_driver_postgresql.dbapi"


def test_workers_are_started_and_warm_when_health_first_answers(
    warehouse: tuple[str, str], tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    url, driver = warehouse
    config = ServiceConfig(
        warehouse=url, results_dir=str(tmp_path / "results"), tokens_file=str(tokens[0]), workers=2
    )
    with running_service(config) as (base, app):
        # The first request the service answers at all.
        health = httpx.get(f"{base}/healthz", timeout=10).json()
        assert health["status"] == "ok"
        assert health["workers"] == {"ready": 2, "total": 2}
        scheduler = app.state.service.scheduler
        warm = scheduler.warm_workers()
        assert len(warm) == 2
        for preloaded in warm.values():
            # Each worker process imported the backend and its driver before reporting ready.
            assert driver in preloaded
            assert "pyarrow.parquet" in preloaded
        with QueryClient(base, tokens[1]["alice"]) as client:
            assert client.query("SELECT 1 AS n").to_arrow().num_rows == 1
        # The query ran on one of the warm processes: none was (re)spawned for it.
        assert set(scheduler.warm_workers()) == set(warm)
