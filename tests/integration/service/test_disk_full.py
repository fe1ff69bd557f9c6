"""A full results folder in the service: 503 with the documented shape, the path in the log."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import httpx
import pytest

from tasuki.errors import StorageError
from tasuki.service import ServiceConfig, add_client
from tasuki.service._storage import ResultStore
from tests.integration.service.conftest import make_duckdb, running_service


def test_full_results_folder_answers_503_and_names_the_path_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = tmp_path / "clients.json"
    alice = add_client(tokens, "alice")
    results = tmp_path / "results"
    store = ResultStore(str(results))
    real_fsync = os.fsync

    def full_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_fsync)
    with pytest.raises(StorageError, match="disk is full") as caught:
        store.write_record("q1", {"id": "q1"})
    assert str(results / "q1" / "job.json") in str(caught.value)
    assert f"results folder {str(results)!r}" in str(caught.value)
    assert not list((results / "q1").iterdir())  # no temporary left behind
    monkeypatch.setattr(os, "fsync", real_fsync)

    config = ServiceConfig(
        warehouse=f"duckdb://{make_duckdb(tmp_path / 'dwh.duckdb', rows=10)}",
        results_dir=str(results),
        tokens_file=str(tokens),
        workers=1,
    )
    with running_service(config) as (url, _app):
        monkeypatch.setattr(os, "fsync", full_fsync)
        caplog.set_level(logging.ERROR, logger="tasuki.service")
        response = httpx.post(
            f"{url}/v1/queries",
            json={"sql": "SELECT 1"},
            headers={"Authorization": f"Bearer {alice}"},
        )
        monkeypatch.setattr(os, "fsync", real_fsync)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["type"] == "StorageError" and error["retryable"] is True
    assert str(tmp_path) not in response.text
    assert any(str(results) in r.getMessage() for r in caplog.records)


def test_result_record_on_a_full_disk_fails_the_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record saying "succeeded" is the commit point: if it cannot be written, it failed."""
    tokens = tmp_path / "clients.json"
    alice = add_client(tokens, "alice")
    results = tmp_path / "results"
    config = ServiceConfig(
        warehouse=f"duckdb://{make_duckdb(tmp_path / 'dwh.duckdb', rows=10)}",
        results_dir=str(results),
        tokens_file=str(tokens),
        workers=1,
    )
    with running_service(config) as (url, app):
        store = app.state.service.store
        real = store.write_record

        def full_when_done(job_id: str, record: dict[str, object]) -> None:
            if record.get("status") == "succeeded":
                raise StorageError(
                    f"cannot write {results}/{job_id}/job.json in results folder "
                    f"{str(results)!r}: the disk is full (ENOSPC).",
                    path=f"{results}/{job_id}/job.json",
                )
            real(job_id, record)

        monkeypatch.setattr(store, "write_record", full_when_done)
        headers = {"Authorization": f"Bearer {alice}"}
        accepted = httpx.post(f"{url}/v1/queries", json={"sql": "SELECT 1"}, headers=headers)
        assert accepted.status_code == 202, accepted.text
        query = f"{url}/v1/queries/{accepted.json()['id']}"
        status = httpx.get(query, params={"wait": 30}, headers=headers, timeout=60).json()
    assert status["status"] == "failed", status
    assert status["error"]["type"] == "StorageError"
    assert status["error"]["retryable"] is True
    assert str(tmp_path) not in str(status)
    assert not list((results / accepted.json()["id"]).rglob("*.parquet"))
