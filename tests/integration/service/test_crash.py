"""kill -9 of the service mid-unload: after a restart the query is failed, never served."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

from tasuki.service import ServiceConfig
from tests.integration.service.conftest import ServiceProcess, wait_until

# Writes a 50,000-row part every few milliseconds for far longer than the test lives.
SLOW_UNLOAD = "SELECT i, repeat('x', 100) AS pad FROM range(500000000) t(i)"


def test_kill_9_mid_unload_is_failed_after_restart(
    duck_file: Path, tokens: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    results = tmp_path / "results"
    config = ServiceConfig(
        warehouse=f"duckdb://{duck_file}",
        results_dir=str(results),
        tokens_file=str(tokens[0]),
        workers=1,
        warehouse_options={"part_rows": 50_000},
    )
    headers = {"Authorization": f"Bearer {tokens[1]['alice']}"}
    service = ServiceProcess(config, tmp_path).start()
    try:
        # A complete result from before the crash ...
        done_id = httpx.post(
            f"{service.url}/v1/queries", json={"sql": "SELECT * FROM tiny"}, headers=headers
        ).json()["id"]
        done = httpx.get(
            f"{service.url}/v1/queries/{done_id}", params={"wait": 60}, headers=headers, timeout=90
        ).json()
        assert done["status"] == "succeeded"
        before = httpx.get(done["manifest"]["parts"][0]["url"], headers=headers).content

        # ... and one killed while its parts are being written.
        slow_id = httpx.post(
            f"{service.url}/v1/queries", json={"sql": SLOW_UNLOAD}, headers=headers
        ).json()["id"]
        result_dir = results / slow_id / "result"
        wait_until(lambda: len(list(result_dir.rglob("part-*.parquet"))) >= 3, what="parts")
        status = httpx.get(f"{service.url}/v1/queries/{slow_id}", headers=headers).json()
        assert status["status"] == "running"
        assert service.process is not None
        workers = psutil.Process(service.process.pid).children(recursive=True)
        assert len(workers) == 1
        service.kill()
    finally:
        service.stop()

    # The workers notice their service is gone and stop writing.
    wait_until(
        lambda: not any(w.is_running() and w.status() != "zombie" for w in workers),
        timeout=30,
        what="orphaned workers to exit",
    )
    assert not list(result_dir.rglob("_manifest.json"))

    restarted = ServiceProcess(config, tmp_path).start()
    try:
        status = httpx.get(f"{restarted.url}/v1/queries/{slow_id}", headers=headers).json()
        assert status["status"] == "failed"
        assert status["error"]["type"] == "ServiceInterrupted"
        assert "stopped while this query was running" in status["error"]["message"]
        assert status["manifest"] is None
        for index in (0, 1):
            part = httpx.get(f"{restarted.url}/v1/queries/{slow_id}/parts/{index}", headers=headers)
            assert part.status_code == 409
        assert not result_dir.exists()
        # the complete result survived the crash
        again = httpx.get(f"{restarted.url}/v1/queries/{done_id}", headers=headers).json()
        assert again["status"] == "succeeded"
        part_url = f"{restarted.url}/v1/queries/{done_id}/parts/0"
        assert httpx.get(part_url, headers=headers).content == before
    finally:
        restarted.stop()


def test_second_service_on_the_same_results_dir_is_refused(tmp_path: Path) -> None:
    from tasuki.errors import ConfigError
    from tasuki.service._storage import ResultStore

    first = ResultStore(str(tmp_path / "results"))
    first.acquire()
    try:
        with pytest.raises(ConfigError, match="another query service"):
            ResultStore(str(tmp_path / "results")).acquire()
    finally:
        first.release()
    second = ResultStore(f"file://{tmp_path}/results")
    second.acquire()  # free again once the first let go
    second.release()
