"""``tasuki new PATH``, ``tasuki update [PATH]``, ``tasuki doctor [PATH]``: projects from
tasuki's template (copier), kept up to date, and checked.

Errors print one line and exit with code 2, like every tasuki command; ``doctor`` exits 1
when a check finds a problem.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from tasuki.cli._app import _errors_exit_2, app
from tasuki.errors import ConfigError

__all__ = ["doctor_cmd", "new_cmd", "update_cmd"]

_QUESTIONS = ("package", "warehouse", "workspace", "executor")


@app.command(name="new")
@_errors_exit_2
def new_cmd(
    path: Annotated[str, typer.Argument(help="Folder of the new project (new or empty).")],
    package: Annotated[
        str | None, typer.Option(help="Python package name (default: from the folder name).")
    ] = None,
    warehouse: Annotated[
        str | None,
        typer.Option(help="Warehouse URL (duckdb:///data/dwh.duckdb, postgresql://...)."),
    ] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Workspace folder or URL (default ./data/workspace).")
    ] = None,
    executor: Annotated[
        str | None, typer.Option(help="local (worker processes), inline or dask.")
    ] = None,
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Ask nothing: defaults for what is not given.")
    ] = False,
    git: Annotated[bool, typer.Option("--git/--no-git", help="git init and commit.")] = True,
) -> None:
    """Make a project: pipeline, tests, sample data, notebook, Dockerfile, Makefile, CI."""
    from pathlib import Path

    from tasuki.project import new_project
    from tasuki.project._names import (
        check_executor,
        check_package,
        check_warehouse,
        package_from_folder,
    )
    from tasuki.project._new import DEFAULT_WORKSPACE, require_copier

    require_copier()  # before any question: without copier nothing can be made

    answers = {
        "package": package,
        "warehouse": warehouse,
        "workspace": workspace,
        "executor": executor,
    }
    suggested = {
        "package": package_from_folder(Path(path).expanduser().absolute().name),
        "warehouse": "",
        "workspace": DEFAULT_WORKSPACE,
        "executor": "local",
    }
    checks = {
        "package": check_package,
        "warehouse": check_warehouse,
        "workspace": lambda v: v,
        "executor": check_executor,
    }
    helps = {
        "package": "Python package name",
        "warehouse": "Warehouse URL (empty: none)",
        "workspace": "Workspace folder or URL",
        "executor": "Executor (local, inline, dask)",
    }
    for key in _QUESTIONS:  # what was given is checked before anything is asked
        if answers[key] is not None:
            checks[key](answers[key])
    for key in _QUESTIONS:
        if answers[key] is not None:
            continue
        if defaults:
            answers[key] = suggested[key]
            continue
        while True:  # ask again until the answer passes its check
            value = _ask(key, helps[key], suggested[key])
            try:
                answers[key] = checks[key](value)
                break
            except ConfigError as exc:
                typer.echo(f"  {exc.message}", err=True)
    made = new_project(
        path,
        package=answers["package"],
        warehouse=answers["warehouse"] or "",
        workspace=answers["workspace"] or DEFAULT_WORKSPACE,
        executor=answers["executor"] or "local",
        git=git,
    )
    typer.echo(f"made {made.path} (package {made.package}, template {made.template_version})")
    if git and not made.committed:
        typer.echo(
            "git: files not committed (no git identity?); commit them before `tasuki update`",
            err=True,
        )
    typer.echo(f"next: cd {path} && make init && make test && make run")


def _ask(key: str, question: str, default: str) -> str:
    """One answer, read from the terminal or from what is piped in; a pipe that ends before
    every question is answered is named, with the options that answer without asking (a
    script or CI job would otherwise see a bare "Aborted!")."""
    import click

    try:
        return str(typer.prompt(question, default=default, show_default=True))
    except (click.exceptions.Abort, typer.Abort):  # typer's own Abort, in newer typers
        if sys.stdin is not None and sys.stdin.isatty():
            raise  # Ctrl-C or Ctrl-D at the terminal: the user stopped it
        typer.echo()  # end the question's line
        option = "--" + key
        raise ConfigError(
            f"no answer for {question!r} ({option}): standard input ended before every "
            f"question was answered (not a terminal). Pass {option} VALUE, or --defaults "
            "to take the default for what is not given",
            key=key,
        ) from None


@app.command(name="update")
@_errors_exit_2
def update_cmd(
    path: Annotated[str, typer.Argument(help="The project's root folder.")] = ".",
) -> None:
    """Bring a project made by `tasuki new` to this tasuki's template (copier update)."""
    from tasuki.project import update_project

    result = update_project(path)
    if result.from_version == result.to_version and not result.changed:
        typer.echo(f"{result.path}: already on the template of tasuki {result.to_version}")
        return
    typer.echo(
        f"{result.path}: template {result.from_version} -> {result.to_version}, "
        f"{len(result.changed)} file(s) changed"
    )
    for rel in result.changed:
        typer.echo(f"  {rel}{'  CONFLICT' if rel in result.conflicts else ''}")
    if result.conflicts:
        typer.echo(
            "resolve the lines between <<<<<<< and >>>>>>> in the files marked CONFLICT, "
            "then commit",
            err=True,
        )
    else:
        typer.echo("review with `git diff`, then commit")


@app.command(name="doctor")
@_errors_exit_2
def doctor_cmd(
    path: Annotated[str, typer.Argument(help="The project's root folder.")] = ".",
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Check the project and this machine: settings, workspace, warehouses, versions."""
    from tasuki.project import doctor

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    checks = doctor(path)
    if fmt == "json":
        doc = {
            "ok": all(c.status != "problem" for c in checks),
            "checks": [c.to_json() for c in checks],
        }
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            typer.echo(f"{c.name:<{width}}  {c.status:<7}  {c.detail}")
            if c.fix:
                typer.echo(f"{'':<{width}}  {'fix:':<7}  {c.fix}")
        problems = sum(c.status == "problem" for c in checks)
        typer.echo(f"{problems} problem(s)" if problems else "no problems", err=bool(problems))
    if any(c.status == "problem" for c in checks):
        sys.stdout.flush()
        raise typer.Exit(1)
