"""``tasuki COMMAND ...`` parses with an app holding only that command (``app_for``): the
same help, errors and results as the whole app, for a fifth of a cached run's time."""

from __future__ import annotations

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from tasuki.cli import app, app_for, main
from tests.unit.core.tasks_for_tests import TaskB

_WHOLE = typer.main.get_command(app)
_NAMES = sorted(_WHOLE.commands)  # type: ignore[attr-defined]


def _output(which: typer.Typer, args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(which, args, terminal_width=120)
    return result.exit_code, result.output


@pytest.mark.parametrize("name", _NAMES)
def test_each_command_helps_as_in_the_whole_app(name):
    narrowed = app_for([name, "--help"])
    assert narrowed is not app
    assert sorted(typer.main.get_command(narrowed).commands) == [name]  # type: ignore[attr-defined]
    assert _output(narrowed, [name, "--help"]) == _output(app, [name, "--help"])


@pytest.mark.parametrize("args", [["catalog", "sync", "--help"], ["zoo", "ls", "--help"]])
def test_a_group_s_commands_help_as_in_the_whole_app(args):
    assert _output(app_for(args), args) == _output(app, args)


@pytest.mark.parametrize("args", [["run"], ["show", "--format", "nope", "x"]])
def test_a_usage_error_reads_the_same(args):
    code, text = _output(app_for(args), args)
    assert code == 2
    assert (code, text) == _output(app, args)


@pytest.mark.parametrize("args", [[], ["--help"], ["rnu"], ["-x", "run"]])
def test_no_command_or_an_unknown_one_goes_to_the_whole_app(args):
    assert app_for(args) is app
    code, text = _output(app_for(args), args)
    if args == ["rnu"]:
        assert code == 2 and "Did you mean 'run'?" in text


def test_main_runs_a_task_through_the_narrowed_app(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    ws = str(tmp_path / "ws")
    args = ["run", "tests.unit.core.tasks_for_tests:TaskB", "--param", "x", "-w", ws]
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 0
    assert TaskB(param="x").unique_id in capsys.readouterr().out
    with pytest.raises(SystemExit) as again:
        main([*args, "--tree"])
    assert again.value.code == 0
    assert "(CACHED) TaskB" in capsys.readouterr().out
