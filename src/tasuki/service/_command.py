"""``tasuki query``: run one query (locally or through the service), preview or save it."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import ConfigError, TasukiError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import pyarrow as pa
    from rich.console import Console

    from tasuki.warehouse import QueryResult

__all__ = ["run_query_command"]

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = (".parquet", ".csv")


def run_query_command(
    sql: str,
    *,
    warehouse: str | None = None,
    service_url: str | None = None,
    token: str | None = None,
    output: str | os.PathLike[str] | None = None,
    limit_preview: int = 20,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
    console: Console | None = None,
) -> int:
    """Run one read-only query and print a preview table, or write the result to a file.

    The query runs through the query service when ``service_url`` is given, else directly
    on the warehouse. Files are written batch by batch, so memory stays bounded.

    Args:
        sql: The query.
        warehouse: Warehouse URL or a name from ``[warehouses]`` (default: the only one
            configured). Ignored with ``service_url``.
        service_url: Base URL of a running query service.
        token: The client token for ``service_url``.
        output: ``.parquet`` or ``.csv`` file to write instead of printing a preview.
        limit_preview: Rows shown in the preview.
        params: Placeholder values.
        console: Where to print (default: standard output; errors go to standard error).

    Returns:
        0 on success, 1 when the query failed, 2 for bad arguments or settings.
    """
    from rich.console import Console
    from rich.markup import escape

    out = console or Console()
    err = console or Console(stderr=True)
    target = os.fspath(output) if output is not None else None
    suffix = os.path.splitext(target)[1].lower() if target is not None else None
    if suffix is not None and suffix not in OUTPUT_FORMATS:
        err.print(
            f"[red]error:[/red] cannot write {target!r}: the extension must be one "
            f"of {', '.join(OUTPUT_FORMATS)}",
            highlight=False,
        )
        return 2
    started = time.perf_counter()
    try:
        if service_url is not None:
            from tasuki.warehouse._client import QueryClient

            if not token:
                raise ConfigError(
                    f"a token is needed for the query service at {redact(service_url)}; pass "
                    "--token (made by `tasuki serve add-client` / tasuki.service.add_client)"
                )
            with QueryClient(service_url, token) as client:
                result: QueryResult = client.query(sql, params)
                return _emit(result, output, suffix, limit_preview, out, started)
        from tasuki.service._config import resolve_warehouse
        from tasuki.warehouse import connect

        with connect(resolve_warehouse(warehouse)) as wh:
            result = wh.query(sql, params)
            return _emit(result, output, suffix, limit_preview, out, started)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(redact(exc))}", highlight=False, markup=True)
        return 2
    except TasukiError as exc:
        position = getattr(exc, "position", None)
        err.print(
            f"[red]query failed ({type(exc).__name__}):[/red] {escape(redact(exc))}",
            highlight=False,
        )
        if isinstance(position, int):
            err.print(f"  at character {position}", highlight=False)
        return 1


def _emit(
    result: QueryResult,
    output: str | os.PathLike[str] | None,
    suffix: str | None,
    limit: int,
    out: Console,
    started: float,
) -> int:
    manifest = result.manifest
    if output is not None:
        rows = _write(result, os.fspath(output), suffix or "")
        out.print(
            f"wrote {rows:,} rows to {os.fspath(output)} ({time.perf_counter() - started:.2f} s)",
            highlight=False,
        )
        return 0
    _preview(result.schema, _head(result.iter_batches(), limit), out)
    out.print(
        f"{manifest.total_rows:,} rows in {len(manifest.parts)} part(s), "
        f"{manifest.total_bytes:,} bytes; {time.perf_counter() - started:.2f} s"
        + (f" (showing the first {limit})" if manifest.total_rows > limit else ""),
        highlight=False,
    )
    return 0


def _head(batches: Iterator[pa.RecordBatch], limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in batches:
        rows.extend(batch.slice(0, limit - len(rows)).to_pylist())
        if len(rows) >= limit:
            break
    close = getattr(batches, "close", None)
    if close is not None:
        close()  # stop downloading the parts a preview does not show
    return rows


def _preview(schema: pa.Schema, rows: list[dict[str, Any]], out: Console) -> None:
    from rich.table import Table

    table = Table(show_lines=False)
    for field in schema:
        table.add_column(f"{field.name}\n[dim]{field.type}[/dim]", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[f.name]) for f in schema))
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]NULL[/dim]"
    text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text.replace("[", r"\[")


def _write(result: QueryResult, path: str, suffix: str) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    rows = 0
    writer: Any = None
    try:
        if suffix == ".parquet":
            writer = pq.ParquetWriter(tmp, result.schema, compression="zstd")
        else:
            writer = pacsv.CSVWriter(tmp, result.schema)
        for batch in result.iter_batches():
            writer.write_batch(batch)
            rows += batch.num_rows
        writer.close()
        writer = None
        os.replace(tmp, path)
    except BaseException:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return rows
