"""``tasuki run-one UNIQUE_ID``: run exactly one planned task, by its id, in this process.

What an Argo step or any remote worker runs: the task's definition (written to the workspace
when a build planned it) says which class and parameters to rebuild; see
:mod:`tasuki.core.definitions`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tasuki._redact import redact
from tasuki.cli._app import (
    ConfigFile,
    LogLevel,
    Workspace,
    _errors_exit_2,
    _settings,
    _setup_logging,
    app,
    open_workspace,
)
from tasuki.errors import TasukiError

__all__: list[str] = []

#: Exit code of a task that failed with a retryable error (``EX_TEMPFAIL``): what an Argo
#: step's retry strategy retries.
RETRYABLE_EXIT_CODE = 75


@app.command(name="run-one")
@_errors_exit_2
def run_one_cmd(
    unique_id: Annotated[str, typer.Argument(help="The full unique id of a planned task.")],
    workspace: Workspace = None,
    rerun: Annotated[
        bool, typer.Option("--rerun", help="Run it even when its output is complete.")
    ] = False,
    build_id: Annotated[
        str | None,
        typer.Option("--build-id", help="The build this run belongs to, kept in its run record."),
    ] = None,
    bundle: Annotated[
        str | None,
        typer.Option(
            "--bundle",
            help="A definitions bundle to look in first (an exported workflow names its own).",
        ),
    ] = None,
    config: ConfigFile = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run one planned task by its unique id (its upstream must be complete).

    The task is rebuilt from the definition its build wrote to the workspace, refused when
    that definition was written by other code, and run under its lease like in a build.
    Exit codes: 0 ran or cached, 1 the task failed, 75 it failed with a retryable error
    (a lost connection, a lease timeout), 2 no definition, other code, upstream incomplete,
    or a configuration error.
    """
    from tasuki.core.definitions import run_one

    _setup_logging(log_level)
    settings = _settings(config, workspace=workspace)
    store = open_workspace(settings)
    try:
        result = run_one(
            unique_id,
            store=store,
            settings=settings,
            forced=rerun,
            build_id=build_id,
            bundle=bundle,
        )
    except TasukiError as exc:
        if not exc.retryable:
            raise
        typer.echo(f"error: {redact(exc)}", err=True)
        raise typer.Exit(RETRYABLE_EXIT_CODE) from None
    typer.echo(f"{result.name} {result.uid} {result.status}")
    if result.status == "failed":
        if result.error is not None:
            typer.echo(f"error: {result.error.type}: {result.error.message}", err=True)
            typer.echo(result.error.task_traceback(), err=True)
        retryable = result.error is not None and result.error.retryable
        raise typer.Exit(RETRYABLE_EXIT_CODE if retryable else 1)
