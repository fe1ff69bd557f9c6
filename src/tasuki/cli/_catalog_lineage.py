"""``tasuki catalog lineage|lineage-refresh|openlineage export|openlineage import``.

Every command takes ``--catalog URL`` (default: the ``catalog`` setting). Errors print one
line and exit with code 2, like every tasuki command.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasuki.cli._app import ConfigFile, _errors_exit_2, _settings
from tasuki.cli._catalog import catalog_app

if TYPE_CHECKING:
    from tasuki.catalog import Catalog
    from tasuki.config import Settings

__all__ = ["openlineage_app"]

CatalogUrl = Annotated[
    str | None,
    typer.Option("--catalog", help="Catalog URL (sqlite:///..., postgresql+psycopg://...)."),
]

openlineage_app = typer.Typer(
    help="Lineage as OpenLineage events (spec 2-0-2): export, import.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
catalog_app.add_typer(openlineage_app, name="openlineage")


def _open(config: str | None, catalog: str | None) -> tuple[Catalog, Settings]:
    from tasuki.catalog import Catalog

    settings = _settings(config, catalog=catalog)
    return Catalog.open(settings=settings), settings


@catalog_app.command(name="lineage")
@_errors_exit_2
def lineage_cmd(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TABLE_OR_KEY",
            help="warehouse/schema/table, schema.table or table (when one matches), or a "
            "lineage key: table:..., task:<id>, dataset:..., model:..., client:<name>.",
        ),
    ],
    up: Annotated[bool, typer.Option("--upstream", help="Only what made it.")] = False,
    down: Annotated[bool, typer.Option("--downstream", help="Only what used it.")] = False,
    depth: Annotated[
        int | None,
        typer.Option(help="Steps to follow (default: all one way, 2 both ways).", min=0),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, mermaid or json.")] = "text",
    catalog: CatalogUrl = None,
    config: ConfigFile = None,
) -> None:
    """Print the lineage the catalog holds for a table (or any node): the tasks that wrote
    it with their parameters, the queries, tables and datasets upstream, the readers
    downstream. Run `tasuki catalog lineage-refresh` first to merge tasuki's records in."""
    from tasuki.catalog._lineage import around, downstream, resolve_key, upstream
    from tasuki.lineage import to_json, to_mermaid, to_text

    if fmt not in ("text", "mermaid", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text, mermaid or json", param_hint="--format")
    if up and down:
        raise typer.BadParameter(
            "give --upstream or --downstream, or neither for both ways", param_hint="--upstream"
        )
    store, _ = _open(config, catalog)
    with store:
        key = resolve_key(store, target)
        if up:
            found = upstream(store, key, depth=depth)
        elif down:
            found = downstream(store, key, depth=depth)
        else:
            found = around(store, key, depth=2 if depth is None else depth)
    if fmt == "json":
        typer.echo(json.dumps(to_json(found), indent=2, default=str, ensure_ascii=False))
    elif fmt == "mermaid":
        typer.echo(to_mermaid(found))
    else:
        typer.echo(to_text(found))


@catalog_app.command(name="lineage-refresh")
@_errors_exit_2
def lineage_refresh_cmd(
    catalog: CatalogUrl = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    config: ConfigFile = None,
) -> None:
    """Merge lineage from tasuki's own records into the catalog: write-back rows of every
    configured warehouse, the workspace's run records, the registry's datasets and zoo.
    A source that cannot be read (a warehouse that is down) is skipped with a warning."""
    import dataclasses

    from tasuki.catalog._lineage_sources import refresh_lineage

    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")
    store, settings = _open(config, catalog)
    with store:
        report = refresh_lineage(store, settings=settings)
    if fmt == "json":
        typer.echo(json.dumps(dataclasses.asdict(report), indent=2, sort_keys=True))
        return
    lines = str(report).splitlines()
    typer.echo(lines[0])
    for line in lines[1:]:
        typer.echo(line, err=True)


@openlineage_app.command(name="export")
@_errors_exit_2
def export_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only lineage updated at or after this ISO 8601 time (UTC if bare)."),
    ] = None,
    catalog: CatalogUrl = None,
    config: ConfigFile = None,
) -> None:
    """Write the catalog's lineage as OpenLineage events, one JSON object per line."""
    from tasuki.catalog._openlineage import export_openlineage

    moment = None
    if since is not None:
        try:
            moment = dt.datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(
                f"{since!r} is not an ISO 8601 time; write e.g. 2024-05-01 or "
                "2024-05-01T09:00:00+09:00",
                param_hint="--since",
            ) from None
    store, _ = _open(config, catalog)
    with store:
        events = export_openlineage(store, since=moment)
    text = "".join(json.dumps(ev, ensure_ascii=False, sort_keys=True) + "\n" for ev in events)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{len(events)} events written to {out}", err=True)


def _read_events(path: Path) -> list[Any]:
    """Events from a JSON array, or one JSON object per line (what ``export`` writes)."""
    from tasuki.errors import CatalogError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(
            f"cannot read OpenLineage events from {path}: {exc.strerror or exc}", path=str(path)
        ) from exc
    if text.lstrip().startswith("["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogError(
                f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); give a JSON array "
                "of events or one event per line",
                path=str(path),
            ) from None
        return list(doc)
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CatalogError(
                f"{path} line {number} is not a JSON event ({exc.msg}); give one event per "
                "line or a JSON array of events",
                path=str(path),
                line=number,
            ) from None
    return events


@openlineage_app.command(name="import")
@_errors_exit_2
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Events: a JSON array or one per line.")],
    catalog: CatalogUrl = None,
    config: ConfigFile = None,
) -> None:
    """Merge OpenLineage events (from tasuki or any other producer) into the catalog's
    lineage. All or nothing: a malformed event is named and nothing is imported."""
    from tasuki.catalog._openlineage import import_openlineage

    events = _read_events(file)
    store, settings = _open(config, catalog)
    with store:
        count = import_openlineage(store, events, settings=settings)
    typer.echo(f"{count} events imported")
