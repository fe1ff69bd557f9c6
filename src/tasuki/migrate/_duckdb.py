"""DuckDB target: the same full-swap and incremental-merge protocol as PostgreSQL.

Arrow batches are handed to DuckDB directly (no encoding step) and converted by a SELECT
whose expressions follow the column plans. DuckDB allows one writer per database file, so
loads into the same file are serialised by a process-wide lock per path.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import MigrationError
from tasuki.migrate._common import LoadOutcome, cursor_condition, cursor_to_text, newer_cursor
from tasuki.migrate._drift import diff_columns
from tasuki.migrate._postgres import STATE_TABLE, merge_sql, qi
from tasuki.migrate._types import ColumnPlan, Kind

if TYPE_CHECKING:
    import pyarrow as pa

    from tasuki.migrate._common import BatchSource, Counter
    from tasuki.migrate._config import TableSpec
    from tasuki.migrate._source import SourceTable

__all__ = ["duckdb_plans", "load_duckdb"]

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()

_TYPES = {
    Kind.BOOL: "BOOLEAN",
    Kind.INT2: "SMALLINT",
    Kind.INT4: "INTEGER",
    Kind.INT8: "BIGINT",
    Kind.FLOAT4: "FLOAT",
    Kind.FLOAT8: "DOUBLE",
    Kind.DATE: "DATE",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.TIMESTAMPTZ: "TIMESTAMP WITH TIME ZONE",
    Kind.INTERVAL_US: "INTERVAL",
    Kind.TEXT: "VARCHAR",
    Kind.JSON: "JSON",
    Kind.BYTEA: "BLOB",
}


def duckdb_plans(source: SourceTable) -> tuple[ColumnPlan, ...]:
    """The column plans with DuckDB's type names (as its information_schema spells them).

    Raises:
        MigrationError: a DECIMAL wider than DuckDB's 38 digits.
    """
    plans = []
    for plan in source.columns:
        if plan.kind is Kind.NUMERIC:
            precision = plan.int_digits + plan.scale
            if precision > 38:
                raise MigrationError(
                    f"column {plan.name!r} of {source.name!r} is {plan.source_type}, wider than "
                    "DuckDB's DECIMAL limit of 38 digits; migrate it to PostgreSQL, or narrow "
                    "the column on the source",
                    table=source.name,
                    column=plan.name,
                )
            typ = f"DECIMAL({precision},{plan.scale})"
        else:
            typ = _TYPES[plan.kind]
        plans.append(dataclasses.replace(plan, target_type=typ))
    return tuple(plans)


def _select(plan: ColumnPlan) -> str:
    col = qi(plan.name)
    if plan.kind is Kind.BOOL:
        return f"CAST({col} AS BIGINT) <> 0"
    if plan.kind is Kind.INTERVAL_US:
        return f"to_microseconds(CAST({col} AS BIGINT))"
    if plan.kind is Kind.TIMESTAMPTZ:
        # The source session reads TIMESTAMP in UTC; the naive value is a UTC wall time.
        return f"CAST({col} AS TIMESTAMP) AT TIME ZONE 'UTC'"
    return f"CAST({col} AS {plan.target_type})"


def _path(url: str) -> str:
    path = url.removeprefix("duckdb://")
    if path in ("", "/", "/:memory:"):
        raise MigrationError(
            f"target URL {redact(url)!r} names no database file; use duckdb:///absolute/path.db "
            "(an in-memory database would vanish when the load ends)",
            url=redact(url),
        )
    return path


def _lock(path: str) -> threading.Lock:
    key = str(Path(path).resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def load_duckdb(
    url: str,
    schema: str | None,
    spec: TableSpec,
    source: SourceTable,
    batches: BatchSource,
    counter: Counter,
) -> LoadOutcome:
    """Load one table into a DuckDB file in one transaction (full swap or merge)."""
    import duckdb

    schema = schema or "main"
    path = _path(url)
    plans = duckdb_plans(source)
    table = spec.target_name
    incremental = spec.mode == "incremental"
    if incremental and spec.cursor:
        cursor_plan = source.column(spec.cursor)
        counter.cursor_index = source.columns.index(cursor_plan) if cursor_plan else None
    with _lock(path):
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = duckdb.connect(path)
        except (duckdb.Error, OSError) as exc:
            raise MigrationError(
                f"cannot open DuckDB target {path!r}: {redact(exc)}",
                url=redact(url),
                table=spec.name,
            ) from exc
        try:
            return _load(conn, schema, spec, source, plans, batches, counter, incremental)
        except duckdb.Error as exc:
            raise MigrationError(
                f"loading {spec.name!r} into {schema}.{table} ({path}) failed and was rolled "
                f"back (the previous table and cursor are unchanged): {exc}",
                table=spec.name,
                target=f"{schema}.{table}",
            ) from exc
        finally:
            conn.close()


def _load(
    conn: Any,
    schema: str,
    spec: TableSpec,
    source: SourceTable,
    plans: tuple[ColumnPlan, ...],
    batches: BatchSource,
    counter: Counter,
    incremental: bool,
) -> LoadOutcome:
    table = spec.target_name
    fq = f"{qi(schema)}.{qi(table)}"
    state_fq = f"{qi(schema)}.{qi(STATE_TABLE)}"
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(schema)}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {state_fq} (target_table VARCHAR PRIMARY KEY, "
        "source_table VARCHAR NOT NULL, mode VARCHAR NOT NULL, cursor_column VARCHAR, "
        "cursor_value VARCHAR, rows_written BIGINT NOT NULL, loaded_at TIMESTAMP NOT NULL)"
    )
    conn.execute("BEGIN TRANSACTION")
    try:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
        existing = {str(r[0]): str(r[1]) for r in rows} or None
        state = conn.execute(
            f"SELECT cursor_column, cursor_value FROM {state_fq} WHERE target_table = ?", [table]
        ).fetchone()
        added: tuple[str, ...] = ()
        if existing is not None:
            diff = diff_columns(existing, plans)
            diff.enforce(f"{schema}.{table}", spec.on_schema_drift)
            added = tuple(name for name, _ in diff.added)
        before = state[1] if incremental and state and state[0] == spec.cursor else None
        initial = incremental and (existing is None or before is None)
        selects = ", ".join(f"{_select(p)} AS {qi(p.name)}" for p in plans)
        cols = ", ".join(qi(p.name) for p in plans)
        if not incremental or initial:
            work = f"{qi(schema)}.{qi(table + '_wk')}"
            conn.execute(f"DROP TABLE IF EXISTS {work}")
            conn.execute(f"CREATE TABLE {work} ({_ddl(plans, source.primary_key)})")
            _insert(conn, work, cols, selects, batches(""), counter)
            if existing is not None:
                conn.execute(f"DROP TABLE {fq}")
            conn.execute(f"ALTER TABLE {work} RENAME TO {qi(table)}")
            written = counter.rows
            after = cursor_to_text(counter.max_cursor) if incremental else None
        else:
            for name in added:
                typ = next(p.target_type for p in plans if p.name == name)
                conn.execute(f"ALTER TABLE {fq} ADD COLUMN {qi(name)} {typ}")
            stage = qi("tasuki_stage")
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {stage} ({_ddl(plans, ())})")
            where = cursor_condition(spec.cursor or "", spec.lag, before or "")
            _insert(conn, stage, cols, selects, batches(where), counter)
            written = _merge(conn, fq, stage, [p.name for p in plans], source.primary_key)
            conn.execute(f"DROP TABLE {stage}")
            after = newer_cursor(before, counter.max_cursor)
        if not incremental or initial or written or after != before or added:
            conn.execute(
                f"INSERT OR REPLACE INTO {state_fq} VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [table, spec.name, spec.mode, spec.cursor, after, written],
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return LoadOutcome(
        target=f"{schema}.{table}",
        initial=initial,
        rows_written=written,
        cursor_before=before,
        cursor_after=after,
        added_columns=added,
    )


def _ddl(plans: tuple[ColumnPlan, ...], primary_key: tuple[str, ...]) -> str:
    cols = [f"{qi(p.name)} {p.target_type}" for p in plans]
    if primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(qi(c) for c in primary_key)})")
    return ", ".join(cols)


def _insert(conn: Any, table: str, cols: str, selects: str, batches: Any, counter: Counter) -> None:
    for batch in batches:
        counter(batch)
        arrow_batch: pa.RecordBatch = batch
        conn.register("tasuki_batch", arrow_batch)
        try:
            conn.execute(f"INSERT INTO {table} ({cols}) SELECT {selects} FROM tasuki_batch")
        finally:
            conn.unregister("tasuki_batch")


def _merge(conn: Any, fq: str, stage: str, names: list[str], primary_key: tuple[str, ...]) -> int:
    row = conn.execute(merge_sql(fq, stage, names, primary_key)).fetchone()
    return int(row[0]) if row else 0
