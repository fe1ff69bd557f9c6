"""Copy one table (``migrate_table``) or all tables of a config (``run_migrations``)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from tasuki._redact import redact
from tasuki.errors import MigrationError, TasukiError
from tasuki.migrate._common import Counter, Progress, ProgressCallback
from tasuki.migrate._source import SourceTable, cursor_kind, describe_table, read_batches

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import pyarrow as pa

    from tasuki.migrate._config import MigrationConfig, TableSpec

__all__ = ["Progress", "TableResult", "migrate_table", "run_migrations"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableResult:
    """What one table copy did.

    Attributes:
        table: source table name.
        target: ``schema.table`` written.
        mode: the configured mode, ``"full"`` or ``"incremental"``.
        initial_load: True when an incremental table had no target or cursor yet and was
            loaded in full.
        rows_read: rows read from the source.
        rows_written: rows inserted or changed in the target (a full load writes all).
        seconds: wall time of the copy.
        cursor_before: stored cursor before the run (incremental), as text.
        cursor_after: stored cursor after the run (incremental), as text.
        added_columns: columns added to the target under ``on_schema_drift = 'add_columns'``.
    """

    table: str
    target: str
    mode: str
    initial_load: bool
    rows_read: int
    rows_written: int
    seconds: float
    cursor_before: str | None = None
    cursor_after: str | None = None
    added_columns: tuple[str, ...] = field(default=())


def migrate_table(
    source_url: str,
    target_url: str,
    table_spec: TableSpec,
    *,
    schema: str | None = None,
    batch_rows: int = 32_768,
    chunk_rows: int | None = 131_072,
    progress: ProgressCallback | None = None,
) -> TableResult:
    """Copy one MySQL / MariaDB table into the target warehouse.

    Self-contained: it opens and closes its own connections, so it can run in a worker
    process or thread; concurrent runs on the same target table are refused by an advisory
    lock rather than interleaved. A failure at any point leaves the previous target table
    and the stored cursor as they were.

    Args:
        source_url: ``mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE``.
        target_url: ``postgresql://...`` (or ``postgres://``) or ``duckdb:///PATH``.
        table_spec: which table and how (mode, cursor, lag, drift policy).
        schema: target schema; defaults to ``public`` (PostgreSQL) or ``main`` (DuckDB).
        batch_rows: at most this many rows per Arrow batch read from the source (fewer
            for wide rows: a batch is kept near 8 MB by the table's average row length).
        chunk_rows: at most this many rows per keyset query when the source key is one
            integer column (bounds memory; also cut to four batches); None reads with one
            query.
        progress: called with a :class:`Progress` at start, after each batch and at the end.

    Returns:
        What was read and written, and the cursor before and after.

    Raises:
        MigrationError: the source or target is unreachable, the table is missing, a value
            cannot be converted, or the load failed (the target is then unchanged).
        SchemaDriftError: the target's columns differ and the policy does not allow it.

    Example:
        >>> spec = TableSpec(name="users", mode="incremental", cursor="updated_at",
        ...                  lag="10 minutes")  # doctest: +SKIP
        >>> migrate_table("mysql://root@127.0.0.1/app",
        ...               "postgresql://postgres@127.0.0.1/dwh", spec)  # doctest: +SKIP
        TableResult(table='users', ..., rows_read=120, rows_written=3, ...)
    """
    started = time.perf_counter()
    notify = progress or (lambda _p: None)
    notify(Progress(table_spec.name, "start", 0))
    source = describe_table(source_url, table_spec.name)
    if table_spec.mode == "incremental":
        _check_incremental(source, table_spec)
    if target_url.startswith("duckdb://"):
        from tasuki.migrate._duckdb import load_duckdb

        run = load_duckdb
    elif target_url.startswith(("postgresql://", "postgres://")):
        from tasuki.migrate._postgres import load_postgres

        run = load_postgres
    else:
        raise MigrationError(
            f"target URL {redact(target_url)!r} has an unsupported scheme; use "
            "postgresql://USER@HOST:PORT/DB or duckdb:///PATH.db",
            target=redact(target_url),
        )
    counter = Counter(table_spec.name, notify)
    batch_rows, chunk_rows = source.batch_sizes(batch_rows, chunk_rows)

    def batches(where: str) -> Iterator[pa.RecordBatch]:
        return read_batches(
            source_url,
            source,
            where=where,
            batch_rows=batch_rows,
            chunk_rows=chunk_rows,
            cursor=table_spec.cursor if table_spec.mode == "incremental" else None,
        )

    outcome = run(
        target_url,
        schema,
        table_spec,
        source,
        batches,
        counter,
    )
    seconds = time.perf_counter() - started
    notify(Progress(table_spec.name, "done", counter.rows))
    result = TableResult(
        table=table_spec.name,
        target=outcome.target,
        mode=table_spec.mode,
        initial_load=outcome.initial,
        rows_read=counter.rows,
        rows_written=outcome.rows_written,
        seconds=seconds,
        cursor_before=outcome.cursor_before,
        cursor_after=outcome.cursor_after,
        added_columns=outcome.added_columns,
    )
    if result.mode != "incremental":
        how = result.mode
    elif result.initial_load:  # no target table or no stored cursor: every row was read
        how = "incremental, initial full load: no high-water mark yet"
    else:
        how = f"incremental since {table_spec.cursor} {result.cursor_before}"
    logger.info(
        "migrated %s -> %s (%s): %d rows read, %d written in %.1f s",
        result.table,
        result.target,
        how,
        result.rows_read,
        result.rows_written,
        result.seconds,
        extra={"task": f"migrate:{result.table}"},
    )
    return result


def _check_incremental(source: SourceTable, spec: TableSpec) -> None:
    if not source.primary_key:
        raise MigrationError(
            f"source table {spec.name!r} has no primary key, which mode 'incremental' needs to "
            "merge changed rows. Add a primary key on the source or use mode 'full'.",
            table=spec.name,
        )
    plan = source.column(spec.cursor or "")
    if plan is None:
        raise MigrationError(
            f"cursor column {spec.cursor!r} does not exist in source table {spec.name!r} "
            f"(columns: {', '.join(c.name for c in source.columns)})",
            table=spec.name,
            column=spec.cursor,
        )
    kind = cursor_kind(plan)
    if not kind:
        raise MigrationError(
            f"cursor column {spec.cursor!r} of {spec.name!r} has type {plan.source_type!r}; a "
            "cursor must be a DATE, DATETIME, TIMESTAMP or integer column",
            table=spec.name,
            column=spec.cursor,
        )
    if kind == "time" and not isinstance(spec.lag, timedelta) and spec.lag:
        raise MigrationError(
            f"lag {spec.lag!r} of table {spec.name!r} is an integer, but cursor {spec.cursor!r} "
            "is a time column; write a duration such as lag = '10 minutes'",
            table=spec.name,
        )
    if kind == "int" and isinstance(spec.lag, timedelta):
        raise MigrationError(
            f"lag of table {spec.name!r} is a duration, but cursor {spec.cursor!r} is an "
            "integer column; write an integer (ids to re-read), e.g. lag = 1000",
            table=spec.name,
        )


def run_migrations(
    config: MigrationConfig,
    *,
    tables: Sequence[str] | None = None,
    workers: int = 1,
    progress: ProgressCallback | None = None,
) -> list[TableResult]:
    """Copy every table of a config (or the named subset).

    Tables run concurrently on up to ``workers`` threads (the source reads and target
    writes release the GIL). Every table is attempted; if any failed, a MigrationError
    listing them is raised afterwards, carrying the finished results as ``results``.

    Args:
        config: a loaded ``migrations.toml`` (see :func:`load_config`).
        tables: names of source tables to run; None runs all.
        workers: how many tables to copy at once.
        progress: progress callback, called from the worker threads.

    Returns:
        One result per table, in config order.

    Raises:
        MigrationError: a named table is not in the config, or some tables failed.
    """
    specs = list(config.tables)
    if tables is not None:
        known = {s.name for s in specs}
        unknown = [t for t in tables if t not in known]
        if unknown:
            raise MigrationError(
                f"tables {unknown} are not in the migration config "
                f"(configured: {', '.join(sorted(known))})",
                tables=unknown,
            )
        specs = [s for s in specs if s.name in set(tables)]
    if workers < 1:
        raise MigrationError(f"workers must be at least 1, got {workers}", workers=workers)

    def one(spec: TableSpec) -> TableResult | TasukiError:
        try:
            return migrate_table(
                config.source.url,
                config.target.url,
                spec,
                schema=config.target.schema_,
                progress=progress,
            )
        except TasukiError as exc:
            logger.error("migration of %s failed: %s", spec.name, exc)
            return exc

    if workers == 1 or len(specs) <= 1:
        outcomes = [one(s) for s in specs]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tasuki-migrate") as pool:
            outcomes = list(pool.map(one, specs))
    results = [o for o in outcomes if isinstance(o, TableResult)]
    failed = [
        (s.name, o) for s, o in zip(specs, outcomes, strict=True) if isinstance(o, TasukiError)
    ]
    if failed:
        lines = "\n".join(f"  {name}: {type(err).__name__}: {err}" for name, err in failed)
        raise MigrationError(
            f"{len(failed)} of {len(specs)} table migrations failed:\n{lines}",
            results=results,
            failed=[name for name, _ in failed],
        )
    return results
