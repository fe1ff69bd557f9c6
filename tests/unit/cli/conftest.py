"""The CLI in-process, with its own workspace and no progress display."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tasuki.cli import app


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke ``tasuki ARGS...`` in this process; the workspace is ``tmp_path / "ws"``."""
    monkeypatch.setenv("TASUKI_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke
