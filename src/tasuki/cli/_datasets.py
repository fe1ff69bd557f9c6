"""``tasuki datasets ...``: the dataset registry's commands.

The sub-command group lives here; the commands that build and publish
(``new``, ``build``) and those that read (``list``, ``info``, ``load``) are registered on it
from their own modules, imported at the end.
"""

from __future__ import annotations

import typer

from tasuki.cli._app import app

__all__ = ["datasets_app"]

datasets_app = typer.Typer(
    help="The team's dataset registry: build, publish, list, inspect and load versions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(datasets_app, name="datasets")

from tasuki.cli import (  # noqa: E402
    _datasets_build,  # noqa: F401  (registers `new` and `build`)
    _datasets_read,  # noqa: F401  (registers `list`, `info`, `load`)
)
