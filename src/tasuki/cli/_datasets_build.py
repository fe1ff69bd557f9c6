"""``tasuki datasets new`` and ``tasuki datasets build``: scaffold and publish datasets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tasuki._redact import redact
from tasuki.cli._app import ConfigFile, LogLevel, Workspace, _errors_exit_2, _hooks, _settings
from tasuki.cli._app import _setup_logging as setup_logging
from tasuki.cli._datasets import datasets_app
from tasuki.errors import TaskFailedError

__all__: list[str] = []


@datasets_app.command("new")
@_errors_exit_2
def new(
    name: Annotated[str, typer.Argument(help="Dataset name, such as product_a/clicks.")],
    path: Annotated[str, typer.Option("--path", help="Folder to write into.")] = ".",
) -> None:
    """Scaffold a dataset builder module, a test for it and small sample data."""
    from tasuki.datasets._scaffold import class_name, dotted_module, module_name, scaffold

    for file in scaffold(name, path):
        typer.echo(f"wrote {file}")
    module, cls, dotted = module_name(name), class_name(name), dotted_module(name, path)
    entry = f'  "{name.replace("/", ".")}" = "{{}}:{cls}"\n'
    if dotted == module:  # not inside a package: an entry point needs one
        where = (
            f"Make it findable by name: move {module}.py (and {module}_data/) into your "
            "package, or scaffold it there with --path src/<package>, then add to the "
            "package's pyproject.toml\n"
            '  [project.entry-points."tasuki.datasets"]\n' + entry.format(f"<package>.{module}")
        )
    else:
        where = (
            "Make it findable by name: in the package's pyproject.toml add\n"
            '  [project.entry-points."tasuki.datasets"]\n' + entry.format(dotted)
        )
    typer.echo(
        f"\nRun its test: pytest {path.rstrip('/')}/tests/test_{module}.py\n"
        + where
        + f"Or build it by class now: tasuki datasets build {dotted}:{cls}"
    )


def _builder_class(name: str) -> Any:
    """The builder class ``name`` names as ``module:Class``, or None (a dataset name)."""
    module, _, attr = name.partition(":")
    if not attr or "/" in module or "#" in name or not attr[:1].isupper():
        return None  # NAME:config (config names are lower case)
    from tasuki._registry import import_path
    from tasuki.datasets import DatasetBuilder

    try:
        found = import_path(name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) and issubclass(found, DatasetBuilder) else None


@datasets_app.command("build")
@_errors_exit_2
def build(
    name: Annotated[
        str,
        typer.Argument(
            help="NAME or NAME:CONFIG (also NAME#CONFIG), such as product_a/clicks:jp, or the "
            "builder class as module:Class (before its entry point exists)."
        ),
    ],
    registry: Annotated[
        str | None, typer.Option("--registry", help="Folder or URL of the registry.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    executor: Annotated[
        str | None, typer.Option(help="local, inline, dask, or a registered executor.")
    ] = None,
    workspace: Workspace = None,
    progress: Annotated[str | None, typer.Option(help="auto, rich, plain or off.")] = None,
    config: ConfigFile = None,
    log_level: LogLevel = "WARNING",
) -> None:
    """Build a dataset's splits and publish its VERSION to the registry (immutable)."""
    from tasuki.datasets._build import build_dataset

    setup_logging(log_level)
    # NAME:CONFIG, or NAME#CONFIG as in the references `datasets load` reads (a build has
    # no version to name: it publishes the builder's VERSION).
    dataset, _, dataset_config = name.replace("#", ":", 1).partition(":")
    target: Any = _builder_class(name) or dataset
    settings = _settings(
        config,
        registry=registry,
        workers=workers,
        executor=executor,
        workspace=workspace,
        progress=progress,
    )
    try:
        done = build_dataset(
            target,
            None if not isinstance(target, str) else dataset_config or None,
            settings=settings,
            hooks=_hooks(settings),
        )
    except TaskFailedError as exc:  # exit 1 like `tasuki run`: a task failed, not the usage
        typer.echo(f"error: {redact(exc)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(done.summary())
