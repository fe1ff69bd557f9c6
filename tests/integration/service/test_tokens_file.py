"""The tokens file fails closed: missing at start stops the service, damaged later answers 503."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tasuki.errors import ConfigError
from tasuki.service import ServiceConfig, add_client, create_app
from tests.integration.service.conftest import make_duckdb, running_service


def test_missing_tokens_file_stops_create_app(tmp_path: Path) -> None:
    missing = tmp_path / "typo.json"
    config = ServiceConfig(
        warehouse=f"duckdb://{tmp_path / 'dwh.duckdb'}",
        results_dir=str(tmp_path / "results"),
        tokens_file=str(missing),
    )
    with pytest.raises(ConfigError, match=r"typo\.json") as caught:
        create_app(config)
    assert caught.value.file == str(missing)  # type: ignore[attr-defined]
    assert "add_client" in str(caught.value)


def test_unreadable_tokens_file_stops_create_app(tmp_path: Path) -> None:
    folder = tmp_path / "clients.json"  # a folder where the file should be: cannot be read
    folder.mkdir()
    config = ServiceConfig(
        warehouse=f"duckdb://{tmp_path / 'dwh.duckdb'}",
        results_dir=str(tmp_path / "results"),
        tokens_file=str(folder),
    )
    with pytest.raises(ConfigError, match=r"clients\.json"):
        create_app(config)


def test_cli_serve_with_a_missing_tokens_file_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from tasuki.cli import app

    def no_server(*args: object, **kwargs: object) -> None:
        raise AssertionError("the service started without its tokens file")

    monkeypatch.setattr(uvicorn, "run", no_server)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "serve",
            "--warehouse",
            f"duckdb://{tmp_path / 'dwh.duckdb'}",
            "--results-dir",
            str(tmp_path / "results"),
            "--tokens-file",
            "typo.json",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "typo.json" in result.output


def test_damaged_tokens_file_answers_503_without_the_path_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = tmp_path / "secret-dir" / "clients.json"
    alice = add_client(tokens, "alice")
    good = tokens.read_text()
    config = ServiceConfig(
        warehouse=f"duckdb://{make_duckdb(tmp_path / 'dwh.duckdb', rows=10)}",
        results_dir=str(tmp_path / "results"),
        tokens_file=str(tokens),
        workers=1,
    )
    with running_service(config) as (url, _app):
        ok = httpx.get(f"{url}/v1/queries", headers={"Authorization": f"Bearer {alice}"})
        assert ok.status_code == 200

        tokens.write_text('{"format": "tasuki.service-clients", "clients": {')  # half written
        caplog.set_level(logging.ERROR, logger="tasuki.service")
        for token in ("tsk_unknown", alice):
            response = httpx.get(f"{url}/v1/queries", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["type"] == "ServiceUnavailable"
            assert error["retryable"] is True
            assert "try again" in error["message"]
            assert str(tmp_path) not in response.text
            assert "secret-dir" not in response.text and "clients.json" not in response.text
        assert "retry-after" in response.headers
        # No token at all is still refused as 401: nothing to check in the file.
        assert httpx.get(f"{url}/v1/queries").status_code == 401
        logged = [r for r in caplog.records if str(tokens) in r.getMessage()]
        assert logged, "the server log must name the damaged file"
        assert len(logged) == 1, "one line per damaged version of the file, not per request"

        tokens.write_text(good + "\n")  # the operator repairs it
        again = httpx.get(f"{url}/v1/queries", headers={"Authorization": f"Bearer {alice}"})
        assert again.status_code == 200, again.text
        wrong = httpx.get(f"{url}/v1/queries", headers={"Authorization": "Bearer tsk_unknown"})
        assert wrong.status_code == 401
