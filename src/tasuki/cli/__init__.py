"""The ``tasuki`` command: a thin layer that parses words, builds Settings, calls the API.

Exit codes: 0 success, 1 a task failed, 2 a usage or configuration error.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from pathlib import Path

import typer
import typer.main

from tasuki.cli import (
    _adopt_gokart,  # noqa: F401  (registers `tasuki adopt-gokart`)
    _catalog,  # noqa: F401  (registers `tasuki catalog ...`)
    _catalog_lineage,  # noqa: F401  (registers `tasuki catalog lineage ...`)
    _catalog_sync,  # noqa: F401  (registers `tasuki catalog sync|search|show|describe`)
    _datasets,  # noqa: F401  (registers `tasuki datasets ...`)
    _lineage,  # noqa: F401  (registers `tasuki lineage`)
    _new,  # noqa: F401  (registers `tasuki new|update|doctor`)
    _run_one,  # noqa: F401  (registers `tasuki run-one`)
    _upgrade_gokart,  # noqa: F401  (registers `tasuki upgrade-gokart`)
    _web,  # noqa: F401  (registers `tasuki web`)
    _zoo,  # noqa: F401  (registers `tasuki zoo ...`)
)
from tasuki.cli._app import app

__all__ = ["app", "app_for", "main"]


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app that parses ``args``: for ``tasuki COMMAND ...`` a copy of :data:`app` that
    holds only that command (or command group), else the whole app (``--help``, no command,
    an unknown command, which it answers with suggestions).

    typer builds the parameters of every command before it parses anything: for the 26
    commands, ~100 ms of a cached ``tasuki run``'s 346 ms (measured on 2 shared cores). The
    command asked for is all a call needs, and it is the same command object, so it parses,
    helps and fails alike.
    """
    if not args or args[0].startswith("-"):
        return app
    name = args[0]
    commands = [
        c
        for c in app.registered_commands
        if (c.name or typer.main.get_command_name(c.callback.__name__ if c.callback else ""))
        == name
    ]
    groups = [g for g in app.registered_groups if g.name == name]
    if len(commands) + len(groups) != 1:
        return app
    narrowed = copy.copy(app)
    narrowed.registered_commands = commands
    narrowed.registered_groups = groups
    if not app.registered_callback:
        # typer runs a lone command as the program itself (``tasuki ARGS``, no command word)
        # unless the app has a callback: this one keeps ``tasuki COMMAND ARGS`` a group.
        narrowed.callback()(_no_options)
    return narrowed


def _no_options() -> None:
    """tasuki: cached, reproducible ML pipelines."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tasuki`` console script."""
    if str(Path.cwd()) not in sys.path:
        # `tasuki run mypkg.tasks:Task` from a project folder should import its modules,
        # as `python -m` would.
        sys.path.insert(0, str(Path.cwd()))
    args = sys.argv[1:] if argv is None else argv
    app_for(args)(args=argv, prog_name="tasuki")
