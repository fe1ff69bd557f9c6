"""``tasuki web``: what it refuses before anything listens."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.cli._web import check_web_settings
from tasuki.config import load_settings
from tasuki.errors import ConfigError


@pytest.fixture
def busy_port() -> Iterator[str]:
    """A loopback port already taken: should a refusal be missed, the server fails to bind
    at once (exit 1) instead of serving until the test times out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield str(s.getsockname()[1])


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["web", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_refuses_to_start_without_oidc(busy_port: str) -> None:
    code, out = _run("--port", busy_port)
    assert code == 2
    assert "tasuki web needs an OpenID Connect provider" in out
    assert "oidc_issuer" in out and "--insecure-local" in out


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "localhost", "::"])
def test_insecure_local_refuses_any_host_but_loopback(host: str, busy_port: str) -> None:
    code, out = _run("--insecure-local", "--host", host, "--port", busy_port)
    assert code == 2
    assert f"listens on 127.0.0.1 only; --host {host} is refused" in out


def test_insecure_local_listens_on_loopback(tmp_path: Path) -> None:
    settings = load_settings({"workspace": str(tmp_path)})
    assert check_web_settings(settings, host=None, insecure_local=True) == "127.0.0.1"
    assert check_web_settings(settings, host="127.0.0.1", insecure_local=True) == "127.0.0.1"
    with pytest.raises(ConfigError):
        check_web_settings(settings, host="0.0.0.0", insecure_local=True)


def test_with_oidc_any_host_is_allowed(tmp_path: Path) -> None:
    settings = load_settings({"web": {"oidc_issuer": "https://accounts.google.com"}})
    assert check_web_settings(settings, host="0.0.0.0", insecure_local=False) == "0.0.0.0"
    assert check_web_settings(settings, host=None, insecure_local=False) == "127.0.0.1"
