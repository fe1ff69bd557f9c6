"""``tasuki lineage REF``: what made a model, a dataset version or a task, and what used it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tasuki.cli._app import ConfigFile, Workspace, _errors_exit_2, _settings, app, open_workspace

__all__: list[str] = []


@app.command(name="lineage")
@_errors_exit_2
def lineage_cmd(
    ref: Annotated[
        str,
        typer.Argument(
            help="A task id (or 6+ characters of one), dataset:NAME[:VERSION], or "
            "model:NAME@ALIAS / model:NAME/N."
        ),
    ],
    workspace: Workspace = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="Dataset registry and zoo (default: the setting)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, mermaid or json.")] = "text",
    depth: Annotated[int, typer.Option(help="Steps to follow each way.", min=1)] = 50,
    downstream: Annotated[
        bool, typer.Option("--downstream/--no-downstream", help="Also show what used it.")
    ] = True,
    config: ConfigFile = None,
) -> None:
    """Print the lineage of REF: the tasks, dataset versions, models and warehouse queries
    upstream of it, and the tasks and models that used it."""
    from tasuki.lineage import lineage, to_json, to_mermaid, to_text

    if fmt not in ("text", "mermaid", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text, mermaid or json", param_hint="--format")
    settings = _settings(config, workspace=workspace, registry=registry)
    store = open_workspace(
        settings, absent="empty", writes=False
    )  # a registry alone has lineage too
    found = lineage(
        ref, store=store, registry=settings.registry, depth=depth, downstream=downstream
    )
    if fmt == "json":
        typer.echo(json.dumps(to_json(found), indent=2, default=str))
    elif fmt == "mermaid":
        typer.echo(to_mermaid(found))
    else:
        typer.echo(to_text(found))
