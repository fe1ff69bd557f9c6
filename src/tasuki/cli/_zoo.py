"""``tasuki zoo ...``: the model zoo's commands (ls, show, push, pull, alias, history, mirror).

Every command takes ``--registry URL`` (default: the ``registry`` setting) and the reading
ones ``--format json``, which keeps types (numbers stay numbers) and full hashes for scripts.
Errors print one line and exit with code 2, like every tasuki command.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from tasuki.cli._app import ConfigFile, _errors_exit_2, _settings, app

__all__ = ["zoo_app"]

zoo_app = typer.Typer(
    help="The team's model zoo: push, list, inspect, pull and alias model versions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(zoo_app, name="zoo")

Registry = Annotated[
    str | None, typer.Option("--registry", "-r", help="Folder or URL of the registry.")
]
TrackingUri = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking server to mirror into ('' for none)."),
]
Format = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _zoo(config: str | None, registry: str | None, tracking_uri: str | None = "") -> Any:
    from tasuki.zoo import Zoo

    settings = _settings(config, registry=registry)
    return Zoo(settings=settings, tracking_uri=tracking_uri)


def _check_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True))


@zoo_app.command(name="ls")
@_errors_exit_2
def ls_cmd(
    name: Annotated[str | None, typer.Argument(help="A model: list its versions.")] = None,
    registry: Registry = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """List the models, or the versions of one model."""
    _check_format(fmt)
    rows = _zoo(config, registry).ls(name)
    if fmt == "json":
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no models")
    for row in rows:
        if name is None:
            aliases = " ".join(f"{a}->{v}" for a, v in row["aliases"].items())
            typer.echo(
                f"{row['name']}  {row['versions']} versions, latest {row['latest']}"
                + (f"  {aliases}" if aliases else "")
            )
        else:
            tags = f"  [{', '.join(row['aliases'])}]" if row["aliases"] else ""
            typer.echo(
                f"{row['name']}/{row['version']}  {row['content_hash'][:12]}  {row['size']} bytes"
                f"  {row['created_at']}  {row['owner']}{tags}  {row['description']}"
            )


@zoo_app.command()
@_errors_exit_2
def show(
    ref: Annotated[str, typer.Argument(help="bert-ja, bert-ja/3 or bert-ja@champion.")],
    registry: Registry = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Show one model version: files, loader, task, datasets, metrics, aliases, mirror."""
    _check_format(fmt)
    doc = _zoo(config, registry).show(ref)
    if fmt == "json":
        _echo_json(doc)
        return
    typer.echo(
        f"{doc['name']}/{doc['version']}"
        + (f"  [{', '.join(doc['aliases'])}]" if doc["aliases"] else "")
    )
    for key in (
        "content_hash",
        "size",
        "description",
        "owner",
        "created_at",
        "tasuki_version",
        "location",
    ):
        typer.echo(f"  {key}: {doc[key]}")
    typer.echo(f"  loader: {json.dumps(doc['loader'])}")
    task = doc.get("task")
    if task:
        typer.echo(f"  task: {task['name']} [{task['unique_id']}]")
        for key, value in task.get("params", {}).items():
            typer.echo(f"    {key} = {json.dumps(value, ensure_ascii=False)}")
    for dataset in doc["datasets"]:
        typer.echo(f"  dataset: {dataset}")
    for key, value in sorted(doc["metrics"].items()):
        typer.echo(f"  metric {key}: {value}")
    for entry in doc["files"]:
        typer.echo(f"  file {entry['path']}  {entry['size']} bytes  xxh3-128 {entry['xxh3_128']}")
    mirror = doc.get("mirror")
    typer.echo(
        f"  mlflow: {mirror['registered_model']} version {mirror['model_version']} "
        f"({mirror['tracking_uri']})"
        if mirror
        else "  mlflow: not mirrored"
    )


def _metric(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    try:
        if not sep or not key:
            raise ValueError(text)
        return key, float(value)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}; write NAME=NUMBER, e.g. ndcg=0.41", param_hint="--metric"
        ) from None


@zoo_app.command()
@_errors_exit_2
def push(
    name: Annotated[str, typer.Argument(help="The model (bert-ja).")],
    path: Annotated[str | None, typer.Argument(help="A model file or folder.")] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", help="Push the output of this finished task (unique id or prefix)."),
    ] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", help="Move this alias to the version.")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="NAME=NUMBER (repeat).")
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", help="Trained on (repeat).")
    ] = None,
    load_function: Annotated[
        str | None, typer.Option("--load-function", help="module:function that loads the folder.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why the alias moves.")] = "",
    registry: Registry = None,
    tracking_uri: TrackingUri = None,
    workspace: Annotated[str | None, typer.Option("--workspace", "-w", help="For --task.")] = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Push a file, a folder or a finished task's output as a new model version."""
    from tasuki.zoo import Zoo

    _check_format(fmt)
    if (path is None) == (task is None):
        raise typer.BadParameter("give a PATH or --task ID (one of them)", param_hint="PATH")
    settings = _settings(config, registry=registry, workspace=workspace)
    zoo = Zoo(settings=settings, tracking_uri=tracking_uri)
    source: Any = path
    if task is not None:
        from tasuki.core.loading import task_from_record
        from tasuki.core.records import find_record
        from tasuki.storage import open_store

        store = open_store(settings.workspace)
        source = task_from_record(find_record(store, task), store)
    version = zoo.push(
        name,
        source,
        alias=alias,
        description=description,
        owner=owner,
        metrics=dict(_metric(m) for m in metric or []),
        datasets=[_dataset_version(ref, zoo.registry.url) for ref in dataset or []],
        load_function=load_function,
        reason=reason,
    )
    if fmt == "json":
        _echo_json(version.to_json())
    else:
        typer.echo(f"{version.ref}  {version.content_hash}  {version.size} bytes")


def _dataset_version(ref: str, registry: str) -> str:
    """``--dataset REF`` as the zoo records a dataset a task read: the exact version and its
    content hash (``product_a/clicks:1.2.0@<hash>``), so that lineage and ``zoo.find`` name
    the data the model was trained on, not whatever ``1.*`` means later.

    Raises:
        ConfigError: the registry has the dataset but no version ``ref`` matches (its
            versions are listed), or ``ref`` is malformed.
    """
    from tasuki.datasets import info, resolve
    from tasuki.errors import ConfigError

    try:
        resolved = resolve(ref, registry=registry)
    except ConfigError as exc:
        if getattr(exc, "missing", None) != "dataset":  # there, but not that version (or config)
            raise ConfigError(
                f"--dataset {ref}: {exc.message}", dataset=ref, version=getattr(exc, "version", "")
            ) from None
        # A dataset kept elsewhere (another registry, public data): recorded as given.
        typer.echo(
            f"warning: --dataset {ref}: not in the registry {registry}; recorded as given "
            "(lineage and zoo.find(dataset=...) match it by this text only)",
            err=True,
        )
        return ref
    exact = f"{resolved.ref}@{info(resolved.ref, registry=registry).content_hash}"
    if resolved.ref != ref.replace("#default:", ":"):
        typer.echo(f"--dataset {ref}: the version is {resolved.ref}", err=True)
    return exact


@zoo_app.command()
@_errors_exit_2
def pull(
    ref: Annotated[str, typer.Argument(help="bert-ja, bert-ja/3 or bert-ja@champion.")],
    dest: Annotated[str, typer.Argument(help="Folder to copy the model's files into.")],
    registry: Registry = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Copy a model version's files into a folder (each file verified)."""
    _check_format(fmt)
    version = _zoo(config, registry).pull(ref, dest)
    if fmt == "json":
        _echo_json({"ref": version.ref, "content_hash": version.content_hash, "dest": dest})
    else:
        typer.echo(f"{version.ref} -> {dest}  ({len(version.files)} files, {version.size} bytes)")


@zoo_app.command(name="alias")
@_errors_exit_2
def alias_cmd(
    name: Annotated[str, typer.Argument(help="The model.")],
    alias: Annotated[str, typer.Argument(help="The alias (champion, staging).")],
    version: Annotated[str, typer.Argument(help="Version number, or 'none' to remove it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    registry: Registry = None,
    tracking_uri: TrackingUri = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Move an alias to a version (every move is kept in the alias's audit log)."""
    _check_format(fmt)
    if version.lower() != "none" and not version.isdigit():
        raise typer.BadParameter(
            f"{version!r}; give a version number or 'none'", param_hint="VERSION"
        )
    number = None if version.lower() == "none" else int(version)
    move = _zoo(config, registry, tracking_uri).alias(name, alias, number, reason=reason)
    if fmt == "json":
        _echo_json(move.to_json())
    else:
        typer.echo(f"{name}@{alias}: {move.from_version} -> {move.to_version}  (move {move.seq})")


@zoo_app.command()
@_errors_exit_2
def history(
    name: Annotated[str, typer.Argument(help="The model.")],
    alias: Annotated[str, typer.Argument(help="The alias.")],
    registry: Registry = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Every move of an alias, oldest first: when, who, from, to, why."""
    _check_format(fmt)
    moves = _zoo(config, registry).history(name, alias)
    if fmt == "json":
        _echo_json([m.to_json() for m in moves])
        return
    for m in moves:
        typer.echo(f"{m.seq:>4}  {m.at}  {m.by}  {m.from_version} -> {m.to_version}  {m.reason}")


@zoo_app.command()
@_errors_exit_2
def mirror(
    name: Annotated[str, typer.Argument(help="The model.")],
    version: Annotated[int | None, typer.Option("--version", help="Only this version.")] = None,
    registry: Registry = None,
    tracking_uri: TrackingUri = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Mirror a model's versions (those MLflow lacks) and its aliases into MLflow."""
    _check_format(fmt)
    done = _zoo(config, registry, tracking_uri).mirror(name, version)
    if fmt == "json":
        _echo_json(done)
        return
    for row in done:
        mlflow = f"{row['registered_model']} version {row['model_version']}"
        typer.echo(f"{name}/{row['version']} -> MLflow {mlflow}")
