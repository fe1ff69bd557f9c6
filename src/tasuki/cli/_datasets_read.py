"""``tasuki datasets list|info|load``: read the registry from the command line.

Text output is for people (aligned columns, short hashes); ``--format json`` keeps types and
full hashes for scripts. Errors (unknown names, bad splits) exit 2 with the message, as every
tasuki usage error does.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasuki.cli._app import ConfigFile, _errors_exit_2, _settings
from tasuki.cli._datasets import datasets_app

if TYPE_CHECKING:
    from tasuki.datasets._info import DatasetInfo

__all__: list[str] = []

Registry = Annotated[
    str | None,
    typer.Option("--registry", help="Folder or URL of the registry (default: the setting)."),
]
Format = Annotated[str, typer.Option("--format", "-f", help="text or json.")]


def _check_format(fmt: str) -> None:
    if fmt not in ("text", "json"):
        raise typer.BadParameter(f"{fmt!r}; choose text or json", param_hint="--format")


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns, two spaces apart (plain text: pipes and greps well)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def _info_json(info: DatasetInfo) -> dict[str, Any]:
    doc = asdict(info)
    doc.pop("schema_ipc", None)
    doc["content_hash"] = info.content_hash
    doc["rows"] = info.rows
    return doc


@datasets_app.command("list")
@_errors_exit_2
def list_cmd(registry: Registry = None, fmt: Format = "text", config: ConfigFile = None) -> None:
    """Datasets in the registry: configs, published versions, rows of the newest."""
    from tasuki.datasets._versions import list_datasets

    _check_format(fmt)
    settings = _settings(config, registry=registry)
    found = list_datasets(settings.registry)
    if fmt == "json":
        doc = [
            {
                "name": d.name,
                "config": d.config,
                "versions": d.versions,
                "latest": _info_json(d.latest) if d.latest else None,
                "error": d.error or None,
            }
            for d in found
        ]
        typer.echo(json.dumps({"registry": settings.registry, "datasets": doc}, indent=1))
        return
    if not found:
        typer.echo(f"no datasets in {settings.registry}")
        return
    rows = []
    for d in found:
        shown = d.versions if len(d.versions) <= 4 else ["...", *d.versions[-3:]]
        split_rows = (
            ", ".join(f"{k} {v:,}" for k, v in d.latest.rows.items()) if d.latest else d.error
        )
        rows.append([d.name, d.config, " ".join(shown), f"{len(d.versions)}", split_rows])
    typer.echo(_table(["NAME", "CONFIG", "VERSIONS", "N", "ROWS (newest)"], rows))


@datasets_app.command("info")
@_errors_exit_2
def info_cmd(
    ref: Annotated[str, typer.Argument(help="NAME[#CONFIG][:VERSION], e.g. product_a/clicks:1.*")],
    registry: Registry = None,
    fmt: Format = "text",
    config: ConfigFile = None,
) -> None:
    """A version's dataset_info.json: splits, columns and their docs, content hash."""
    from tasuki.datasets._versions import list_versions, read_info, resolve

    _check_format(fmt)
    settings = _settings(config, registry=registry)
    version = resolve(ref, registry=settings.registry)
    info = read_info(version)
    if fmt == "json":
        typer.echo(json.dumps(_info_json(info), indent=1))
        return
    others = list_versions(version.name, config=version.config, registry=settings.registry)
    out = [
        f"{version.ref}  (registry {settings.registry})",
        f"content hash: {info.content_hash}",
        f"published: {info.created_at or '?'}  by tasuki {info.tasuki_version or '?'}",
        f"versions: {' '.join(others)}",
    ]
    if info.description:
        out += ["", info.description.strip()]
    if info.release_notes:
        out += ["", f"release notes: {info.release_notes.strip()}"]
    out += ["", "splits:"]
    split_rows = [
        [f"  {name}", f"{s.rows:,}", f"{len(s.shards)}", f"{sum(x.bytes for x in s.shards):,}"]
        for name, s in info.splits.items()
    ]
    out.append(_table(["  SPLIT", "ROWS", "SHARDS", "BYTES"], split_rows))
    out += ["", "columns:"]
    col_rows = [
        [f"  {name}", c.type + ("" if c.nullable else " not null"), c.doc]
        for name, c in _schema_order(info)
    ]
    out.append(_table(["  COLUMN", "TYPE", "DOC"], col_rows))
    if info.sources:
        out += ["", "sources:"]
        out += [f"  {json.dumps(s, sort_keys=True)}" for s in info.sources]
    typer.echo("\n".join(out))


def _schema_order(info: DatasetInfo) -> list[tuple[str, Any]]:
    """Columns in the schema's order (``dataset_info.json`` keeps them sorted by name)."""
    if not info.schema_ipc:
        return list(info.columns.items())
    import base64

    import pyarrow as pa

    names = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(info.schema_ipc))).names
    return [(n, info.columns[n]) for n in names if n in info.columns]


def _cell(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


@datasets_app.command("load")
@_errors_exit_2
def load_cmd(
    ref: Annotated[str, typer.Argument(help="NAME[#CONFIG][:VERSION], e.g. product_a/clicks:1.*")],
    split: Annotated[
        str | None,
        typer.Option(
            "--split", "-s", help="train, train[:80%]+test, ... (required; left out: the splits)"
        ),
    ] = None,
    head: Annotated[int, typer.Option("--head", "-n", help="Rows to show.")] = 10,
    columns: Annotated[
        str | None, typer.Option("--columns", "-c", help="Comma-separated columns.")
    ] = None,
    registry: Registry = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, json (lines) or csv.")] = "text",
    config: ConfigFile = None,
) -> None:
    """Show the first rows of a split (reads only as many row groups as it shows)."""
    from tasuki.datasets._load import iter_batches

    if fmt not in ("text", "json", "csv"):
        raise typer.BadParameter(f"{fmt!r}; choose text, json or csv", param_hint="--format")
    if head < 0:
        raise typer.BadParameter(f"{head}; give 0 or more rows", param_hint="--head")
    settings = _settings(config, registry=registry)
    if split is None:
        from tasuki.datasets._versions import read_info, resolve

        version = resolve(ref, registry=settings.registry)
        splits = read_info(version).splits
        listed = ", ".join(f"{n} ({s.rows:,} rows)" for n, s in splits.items())
        first = "train" if "train" in splits else next(iter(splits), "train")
        raise typer.BadParameter(
            f"name the split to show: {version.ref} has {listed or 'no splits'}. For example: "
            f"tasuki datasets load {ref} --split {first} (or {first}[:10%], "
            f"{'+'.join(splits) or first})",
            param_hint="--split",
        )
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    batches = iter_batches(
        ref, split, columns=wanted, registry=settings.registry, batch_size=max(head, 1)
    )
    for batch in batches:
        names = batch.schema.names
        rows.extend(batch.slice(0, head - len(rows)).to_pylist())
        if len(rows) >= head:
            break
    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row, default=str))
    elif fmt == "csv":
        import csv
        import sys

        writer = csv.DictWriter(sys.stdout, fieldnames=names or wanted or [])
        writer.writeheader()
        writer.writerows(rows)
    else:
        if not names:
            typer.echo("(no rows)")
            return
        typer.echo(_table(names, [[_cell(r[n]) for n in names] for r in rows]))
