"""Every command's ``--help`` shows its help texts whole, brackets included."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tasuki.cli import app

_COMMANDS: dict[str, Any] = typer.main.get_command(app).commands  # type: ignore[attr-defined]
_NAMES = sorted(_COMMANDS)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _bracketed(command: Any) -> list[str]:
    texts = [command.help or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return [m for t in texts for m in re.findall(r"\[[^\]]*\]", t)]


@pytest.mark.parametrize("name", _NAMES)
def test_help_keeps_bracketed_text(name):
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    shown = _squash(result.output)
    for text in _bracketed(_COMMANDS[name]):
        assert _squash(text) in shown, f"{name} --help lost {text!r}:\n{result.output}"


@pytest.mark.parametrize("name", ["serve", "query"])
def test_warehouse_help_names_the_settings_table(name):
    result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
    assert "a name from [warehouses]" in _squash(result.output)


def test_some_command_has_bracketed_help():
    # Guards the parametrised test above from passing on nothing.
    assert any(_bracketed(_COMMANDS[n]) for n in _NAMES)
