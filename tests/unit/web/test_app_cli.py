"""``tasuki web``: what it refuses before anything listens."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tasuki.cli import app
from tasuki.cli._web import check_web_settings
from tasuki.config import load_settings
from tasuki.errors import ConfigError


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["web", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_refuses_to_start_without_oidc() -> None:
    code, out = _run("--port", "1")
    assert code == 2
    assert "tasuki web needs an OpenID Connect provider" in out
    assert "oidc_issuer" in out and "--insecure-local" in out


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "localhost", "::"])
def test_insecure_local_refuses_any_host_but_loopback(host: str) -> None:
    code, out = _run("--insecure-local", "--host", host, "--port", "1")
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
