"""``tasuki catalog sync|search|show|describe|push-comments``.

Every command takes ``--catalog URL`` (default: the ``catalog`` setting) and the reading ones
``--format json`` (types kept, timestamps as ISO 8601). Errors print one line and exit with
code 2, like every tasuki command.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasuki.cli._app import ConfigFile, _errors_exit_2, _settings
from tasuki.cli._catalog import catalog_app

if TYPE_CHECKING:
    from tasuki.catalog import Catalog, CatalogObject

__all__: list[str] = []

CatalogUrl = Annotated[
    str | None,
    typer.Option("--catalog", help="Catalog URL (sqlite:///..., postgresql+psycopg://...)."),
]
Format = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _check_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(_plain(doc), indent=2, ensure_ascii=False, sort_keys=True))


def _open(config: str | None, catalog: str | None) -> tuple[Catalog, Any]:
    from tasuki.catalog import Catalog

    settings = _settings(config, catalog=catalog)
    return Catalog.open(settings=settings), settings


@catalog_app.command(name="sync")
@_errors_exit_2
def sync_cmd(
    warehouse: Annotated[
        list[str] | None,
        typer.Option("--warehouse", "-w", help="A name under [warehouses] (repeatable)."),
    ] = None,
    schema: Annotated[
        list[str] | None, typer.Option("--schema", help="Only this schema (repeatable).")
    ] = None,
    catalog: CatalogUrl = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Import warehouse metadata into the catalog: every configured warehouse, or those
    named. Incremental; descriptions are never lost (dropped tables are marked gone)."""
    from tasuki.catalog._sync import sync
    from tasuki.errors import ConfigError, TasukiError

    _check_format(fmt)
    store, settings = _open(config, catalog)
    names = list(warehouse or settings.warehouses)
    if not names:
        raise ConfigError(
            "no warehouses to sync: none under [warehouses] in the settings; add one "
            '(dwh = "postgresql://user@host/db") or pass --warehouse',
            key="warehouses",
        )
    reports, failed = [], []
    with store:
        for name in names:
            try:
                report = sync(store, name, settings=settings, schemas=schema)
            except TasukiError as exc:
                failed.append((name, exc))
                typer.echo(f"error: {name}: {exc}", err=True)
                continue
            reports.append(report)
            if fmt == "text":
                typer.echo(_report_line(report))
    if fmt == "json":
        _echo_json([r.to_dict() for r in reports])
    if failed:
        raise typer.Exit(2)


def _report_line(report: Any) -> str:
    counts = report.counts()
    changes = ", ".join(
        f"{counts[k]} {k.replace('_', ' ')}"
        for k in (
            "inserted",
            "updated",
            "gone",
            "returned",
            "renamed",
            "type_changed",
            "comment_changed",
        )
        if counts[k]
    )
    seconds = (report.finished_at - report.started_at).total_seconds()
    return (
        f"{report.warehouse}: {report.tables} tables, {report.columns} columns"
        + (" (first sync)" if report.first else "")
        + f"; {changes or 'nothing changed'} in {seconds:.1f} s"
    )


@catalog_app.command()
@_errors_exit_2
def search(
    query: Annotated[str, typer.Argument(help="Words to find in names and descriptions.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many hits.")] = 20,
    kind: Annotated[
        str | None, typer.Option("--kind", help="database, schema, table or column.")
    ] = None,
    warehouse: Annotated[str | None, typer.Option("--warehouse", "-w")] = None,
    include_gone: Annotated[bool, typer.Option("--include-gone")] = False,
    catalog: CatalogUrl = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Search the catalog, best matches first."""
    _check_format(fmt)
    store, _ = _open(config, catalog)
    with store:
        hits = store.search(
            query, limit=limit, kind=kind, warehouse=warehouse, include_gone=include_gone
        )
    if fmt == "json":
        _echo_json(
            [
                {
                    "path": h.object.path,
                    "kind": h.object.kind,
                    "score": h.score,
                    "snippet": h.snippet,
                }
                for h in hits
            ]
        )
        return
    if not hits:
        typer.echo("no matches")
    for hit in hits:
        typer.echo(f"{hit.object.path}  ({hit.object.kind})  {hit.snippet}")


def _describe_line(obj: CatalogObject) -> str:
    text = obj.description or (f"[comment] {obj.comment}" if obj.comment else "")
    kind = obj.data_type or obj.table_type or obj.kind
    gone = "  GONE" if obj.gone else ""
    return f"{obj.name}  {kind}{gone}  {text.splitlines()[0] if text else ''}".rstrip()


@catalog_app.command()
@_errors_exit_2
def show(
    path: Annotated[str, typer.Argument(help="warehouse[/schema[/table[/column]]].")],
    include_gone: Annotated[bool, typer.Option("--include-gone")] = False,
    catalog: CatalogUrl = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Show one object: its metadata, description, what it holds, recent events."""
    _check_format(fmt)
    store, _ = _open(config, catalog)
    with store:
        obj = store.get(path)
        children = store.children(path, include_gone=include_gone)
        events = store.events(path)[:10]
    if fmt == "json":
        _echo_json({"object": obj, "children": children, "events": events})
        return
    typer.echo(f"{obj.path}  ({obj.kind}{', gone' if obj.gone else ''})  version {obj.version}")
    for key in ("table_type", "data_type", "nullable", "row_estimate", "size_bytes", "owner"):
        value = getattr(obj, key)
        if value is not None:
            typer.echo(f"  {key}: {value}")
    if obj.tags:
        typer.echo(f"  tags: {', '.join(obj.tags)}")
    if obj.comment:
        typer.echo(f"  comment: {obj.comment}")
    if obj.description:
        typer.echo("  description:")
        for line in obj.description.splitlines():
            typer.echo(f"    {line}")
    for child in children:
        typer.echo(f"  - {_describe_line(child)}")
    for event in events:
        typer.echo(f"  {event.at:%Y-%m-%d %H:%M} {event.kind} {json.dumps(event.detail)}")


@catalog_app.command()
@_errors_exit_2
def describe(
    path: Annotated[str, typer.Argument(help="warehouse/schema/table[/column].")],
    author: Annotated[str, typer.Option("--author", help="Who writes (kept in history).")],
    text: Annotated[
        str | None, typer.Option("--text", help="Markdown description; '-' reads stdin.")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    catalog: CatalogUrl = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """Write an object's description, owner or tags (the edit is kept in its history)."""
    _check_format(fmt)
    if text is None and owner is None and tag is None:
        raise typer.BadParameter("give --text, --owner or --tag", param_hint="--text")
    if text == "-":
        text = sys.stdin.read()
    store, _ = _open(config, catalog)
    with store:
        current = store.get(path)
        obj = store.edit(
            path,
            author=author,
            expected_version=current.version,
            description=text,
            owner=owner,
            tags=tag,
        )
    if fmt == "json":
        _echo_json(obj)
        return
    typer.echo(f"{obj.path}: version {obj.version}")


@catalog_app.command(name="push-comments")
@_errors_exit_2
def push_comments_cmd(
    warehouse: Annotated[str, typer.Option("--warehouse", "-w", help="A name under [warehouses].")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, do not run.")] = False,
    catalog: CatalogUrl = None,
    config: ConfigFile = None,
) -> None:
    """Write descriptions back to the warehouse as its COMMENTs (PostgreSQL, Redshift,
    DuckDB) or description options (BigQuery)."""
    from tasuki.catalog._comments import push_comments

    store, settings = _open(config, catalog)
    with store:
        statements = push_comments(store, warehouse, settings=settings, dry_run=dry_run)
    for statement in statements:
        typer.echo(f"{statement};")
    typer.echo(f"{len(statements)} comments {'to write' if dry_run else 'written'}", err=True)
