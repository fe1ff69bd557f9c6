"""``tasuki adopt-gokart --workspace DIR TASK [--param value ...]``: reuse a gokart workspace.

Computes the gokart unique id of the task and of everything it requires, finds the outputs
gokart wrote for them in ``DIR`` (only read) and adopts those whose parameters match exactly
into the tasuki workspace, with run records marked ``adopted``; a later ``tasuki run`` of the
same task finds them cached. Exit code 0, 1 when an output gokart completed could not be
imported, 2 for a usage error or a workspace where nothing belongs to the task.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tasuki.cli._app import (
    TASK_CONTEXT,
    ConfigFile,
    LogLevel,
    _errors_exit_2,
    _settings,
    _setup_logging,
    app,
)
from tasuki.cli._params import make_task, parse_param_args
from tasuki.core.task import import_task

__all__ = ["adopt_gokart_cmd"]


@app.command(name="adopt-gokart", context_settings=TASK_CONTEXT)
@_errors_exit_2
def adopt_gokart_cmd(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="module.path:TaskClass, then --param value ...")],
    gokart_workspace: Annotated[
        str,
        typer.Option(
            "--workspace",
            "-w",
            help="gokart's workspace_directory (folder or URL) to adopt from; only read.",
        ),
    ],
    into: Annotated[
        str | None,
        typer.Option("--into", help="The tasuki workspace to adopt into (default: settings)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be adopted; write nothing.")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    config: ConfigFile = None,
    log_level: LogLevel = "WARNING",
) -> None:
    """Adopt the outputs a gokart workspace holds for a task and its requirements."""
    from tasuki.compat._adopt import adopt_gokart
    from tasuki.core.runner import open_workspace

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    _setup_logging(log_level)
    settings = _settings(config, workspace=into)
    task_cls = import_task(task)
    value = make_task(
        task_cls,
        parse_param_args(task_cls, ctx.args),
        settings,
        store=open_workspace(settings),
    )
    report = adopt_gokart(value, gokart_workspace, settings=settings, dry_run=dry_run)
    if fmt == "json":
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        for line in report.lines():
            typer.echo(line)
    if report.with_status("unreadable"):
        raise typer.Exit(1)
