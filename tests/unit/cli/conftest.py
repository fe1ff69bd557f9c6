"""The CLI in-process, with its own workspace and no progress display."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tasuki.cli import app_for


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke ``tasuki ARGS...`` in this process; the workspace is ``tmp_path / "ws"``."""
    monkeypatch.setenv("TASUKI_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    runner = CliRunner()

    def invoke(*args):
        # Through app_for, as the console script parses: the app narrowed to the command.
        return runner.invoke(app_for(list(args)), list(args), catch_exceptions=False)

    return invoke
