"""PostgreSQL target: binary COPY into a work table and swap, or into a temp table and merge.

The COPY is ADBC's bulk ingest (``adbc_ingest``, the PostgreSQL ADBC driver's binary COPY,
the warehouse's ``write_table`` path too) of batches cast to the planned types by
:mod:`tasuki.migrate._wire`; the rest of the load runs on the same ADBC connection.

Every load runs in ONE transaction on one connection, so a failure anywhere (a dropped
connection, a bad value, a kill) rolls back to the previous table and the previous cursor:

* full: ``CREATE <t>_wk`` -> ``COPY`` -> primary key and indexes -> ``ANALYZE`` ->
  rename ``<t>`` to ``<t>_old``, ``<t>_wk`` to ``<t>``, drop ``<t>_old`` -> state row.
* incremental: ``COPY`` into a temp table -> ``INSERT ... ON CONFLICT (pk) DO UPDATE ... WHERE
  row IS DISTINCT FROM`` (unchanged rows are not rewritten) -> cursor in the state table.

A transaction-scoped advisory lock per target table keeps two runs off the same table.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import MigrationError
from tasuki.migrate._common import (
    BatchSource,
    Counter,
    LoadOutcome,
    cursor_condition,
    cursor_to_text,
    newer_cursor,
)
from tasuki.migrate._drift import ColumnDiff, diff_columns
from tasuki.migrate._prefetch import prefetch
from tasuki.migrate._wire import to_target

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    import pyarrow as pa

    from tasuki.migrate._config import TableSpec
    from tasuki.migrate._source import SourceTable
    from tasuki.migrate._types import ColumnPlan

__all__ = ["PostgresTarget", "load_postgres", "merge_sql", "qi"]

logger = logging.getLogger(__name__)

STATE_TABLE = "tasuki_migrate_state"


def qi(name: str) -> str:
    """Quote a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _short(name: str, suffix: str) -> str:
    # PostgreSQL truncates identifiers at 63 bytes; keep names unique by hashing long ones.
    full = f"{name}_{suffix}"
    if len(full.encode()) <= 63:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full.encode()[:50].decode(errors='ignore')}_{digest}"


def merge_sql(table: str, stage: str, names: Sequence[str], primary_key: Sequence[str]) -> str:
    """The upsert of an incremental load, for PostgreSQL and DuckDB alike.

    ``INSERT INTO table AS t (...) SELECT ... FROM stage ON CONFLICT (pk) DO UPDATE SET ...
    WHERE ROW(t.others) IS DISTINCT FROM ROW(EXCLUDED.others)``: new rows are inserted,
    changed rows updated and identical rows left alone (so they count as no change).
    ``table`` and ``stage`` are already quoted.
    """
    cols = ", ".join(qi(c) for c in names)
    keys = ", ".join(qi(c) for c in primary_key)
    others = [c for c in names if c not in primary_key]
    if others:
        sets = ", ".join(f"{qi(c)} = EXCLUDED.{qi(c)}" for c in others)
        mine = ", ".join(f"t.{qi(c)}" for c in others)
        theirs = ", ".join(f"EXCLUDED.{qi(c)}" for c in others)
        # ROW(...) so a single column still compares as a row.
        action = f"DO UPDATE SET {sets} WHERE ROW({mine}) IS DISTINCT FROM ROW({theirs})"
    else:
        action = "DO NOTHING"
    return (
        f"INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage} "
        f"ON CONFLICT ({keys}) {action}"
    )


def _connect_url(url: str) -> str:
    """``url`` with libpq's ``connect_timeout=10`` unless it sets one."""
    if "connect_timeout=" in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}connect_timeout=10"


class PostgresTarget:
    """One ADBC connection to the target database, scoped to a schema; one transaction.

    Args:
        url: ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB``.
        schema: target schema, created when missing.
    """

    def __init__(self, url: str, schema: str) -> None:
        # The driver's low-level API: its DB-API module imports pandas and polars (through
        # pyarrow.dataset), which would add a second of CPU and ~20 MB to every process.
        import adbc_driver_manager
        import adbc_driver_postgresql

        self.schema = schema
        self.url = url
        try:
            self._db = adbc_driver_postgresql.connect(_connect_url(url))
            try:
                self.conn: Any = adbc_driver_manager.AdbcConnection(self._db)
            except BaseException:
                self._db.close()
                raise
            self.conn.set_autocommit(False)
        except adbc_driver_manager.Error as exc:
            raise MigrationError(
                f"cannot connect to the target {redact(url)!r}: {redact(exc).strip()}. Check the "
                "URL (postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE), that the server runs "
                "and that the database exists.",
                url=redact(url),
            ) from exc

    def close(self) -> None:
        """Close the connection (rolling back anything uncommitted)."""
        import adbc_driver_manager

        try:
            self.conn.close()
            self._db.close()
        except adbc_driver_manager.Error:
            logger.debug("closing the target connection failed; it is gone", exc_info=True)

    def execute(self, sql: str, *params: str | int | None) -> list[tuple[Any, ...]]:
        """Run one statement (``$1``-style parameters); its rows, if it returns any."""
        import adbc_driver_manager
        import pyarrow as pa

        stmt = adbc_driver_manager.AdbcStatement(self.conn)
        try:
            stmt.set_sql_query(sql)
            if params:
                values = [pa.array([p], pa.string() if p is None else None) for p in params]
                stmt.bind(pa.record_batch(values, names=[f"p{i}" for i in range(len(values))]))
            handle, _ = stmt.execute_query()
            rows = pa.RecordBatchReader._import_from_c(handle.address).read_all()
            return [tuple(row.values()) for row in rows.to_pylist()]
        finally:
            stmt.close()

    def _ingest(self, table: str, data: pa.RecordBatchReader, *, temporary: bool) -> int:
        """ADBC bulk ingest (binary COPY) of ``data`` into the existing ``table``; rows sent."""
        import adbc_driver_manager as adbc

        stmt = adbc.AdbcStatement(self.conn)
        try:
            options = {
                adbc.INGEST_OPTION_TARGET_TABLE: table,
                adbc.INGEST_OPTION_MODE: adbc.INGEST_OPTION_MODE_APPEND,
                adbc.StatementOptions.INGEST_TEMPORARY.value: "true" if temporary else "false",
            }
            if not temporary:
                options[adbc.StatementOptions.INGEST_TARGET_DB_SCHEMA.value] = self.schema
            stmt.set_options(**options)
            stmt.bind_stream(data)
            rows = int(stmt.execute_update())
        finally:
            stmt.close()
        return max(rows, 0)

    def backend_pid(self) -> int:
        """Server process id of this connection (tests use it to kill a load)."""
        return int(self.execute("SELECT pg_backend_pid()")[0][0])

    # -- reading the target --------------------------------------------------------------

    def _table_columns(self, table: str) -> dict[str, str] | None:
        rows = self.execute(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            self.schema,
            table,
        )
        return {str(r[0]): str(r[1]) for r in rows} if rows else None

    def _state(self, table: str) -> tuple[str | None, str | None] | None:
        rows = self.execute(
            f"SELECT cursor_column, cursor_value FROM {self._fq(STATE_TABLE)} "
            "WHERE target_table = $1 FOR UPDATE",
            table,
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def _fq(self, table: str) -> str:
        return f"{qi(self.schema)}.{qi(table)}"

    # -- the load ------------------------------------------------------------------------

    def begin(self, table: str) -> None:
        """Open the load transaction: schema and state table exist, the table is ours."""
        # Creating the schema and state table is serialised across concurrent loads; two
        # racing CREATE ... IF NOT EXISTS can otherwise collide in the catalog.
        self.execute("SELECT pg_advisory_xact_lock(hashtext('tasuki_migrate:ddl'))")
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(self.schema)}")
        self.execute(
            f"CREATE TABLE IF NOT EXISTS {self._fq(STATE_TABLE)} ("
            "target_table text PRIMARY KEY, source_table text NOT NULL, mode text NOT NULL, "
            "cursor_column text, cursor_value text, rows_written bigint NOT NULL, "
            "loaded_at timestamptz NOT NULL DEFAULT now())"
        )
        got = self.execute(
            "SELECT pg_try_advisory_xact_lock(hashtext($1))",
            f"tasuki_migrate:{self.schema}.{table}",
        )
        if not got or not got[0][0]:
            raise MigrationError(
                f"another migration of {self.schema}.{table} is running (its advisory lock is "
                "held); wait for it to finish",
                table=table,
            )

    def current(
        self, table: str
    ) -> tuple[dict[str, str] | None, tuple[str | None, str | None] | None]:
        """The target table's columns (None if absent) and its state row (None if absent)."""
        return self._table_columns(table), self._state(table)

    def check_drift(
        self, table: str, existing: dict[str, str], plans: Sequence[ColumnPlan], policy: str
    ) -> ColumnDiff:
        """Compare source plans with the target's columns and apply the drift policy."""
        diff = diff_columns(existing, plans)
        diff.enforce(f"{self.schema}.{table}", policy)
        return diff

    def add_columns(self, table: str, plans: Sequence[ColumnPlan], names: Iterable[str]) -> None:
        """ALTER the target to add source columns it lacks (nullable: old rows have none)."""
        by_name = {p.name: p for p in plans}
        for name in names:
            plan = by_name[name]
            logger.info("adding column %s %s to %s.%s", name, plan.target_type, self.schema, table)
            self.execute(f"ALTER TABLE {self._fq(table)} ADD COLUMN {qi(name)} {plan.target_type}")

    def copy_into(
        self,
        table: str,
        plans: Sequence[ColumnPlan],
        batches: Iterable[pa.RecordBatch],
        *,
        on_batch: Callable[[pa.RecordBatch], None],
        temporary: bool = False,
    ) -> int:
        """Bulk-ingest (binary COPY) batches into the existing ``table``; returns the rows sent.

        ``on_batch`` sees each batch in the reading thread, before it is written; the batch
        is cast to the planned types there too, so the COPY thread only writes.
        """
        import pyarrow as pa

        def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
            on_batch(batch)
            return to_target(batch, plans, table=table)

        ready = prefetch(batches, convert, depth=1)
        failed: list[BaseException] = []

        def stream() -> Iterator[pa.RecordBatch]:
            try:
                yield from ready
            except BaseException as exc:  # ADBC reports it as its own error: keep the cause
                failed.append(exc)
                raise

        first = next(ready, None)
        if first is None:
            return 0

        def rest() -> Iterator[pa.RecordBatch]:
            yield first
            yield from stream()

        reader = pa.RecordBatchReader.from_batches(first.schema, rest())
        try:
            return self._ingest(table, reader, temporary=temporary)
        except BaseException:
            if failed:
                raise failed[0] from None
            raise
        finally:
            ready.close()

    def create_work_table(self, table: str, source: SourceTable) -> str:
        """Create ``<table>_wk`` with the planned types; returns its name."""
        work = _short(table, "wk")
        self.execute(f"DROP TABLE IF EXISTS {self._fq(work)}")
        self.execute(f"CREATE TABLE {self._fq(work)} ({_column_ddl(source)})")
        return work

    def finish_work_table(self, work: str, table: str, source: SourceTable) -> None:
        """Add the primary key and indexes to the filled work table, then ANALYZE it."""
        if source.primary_key:
            keys = ", ".join(qi(c) for c in source.primary_key)
            self.execute(
                f"ALTER TABLE {self._fq(work)} ADD CONSTRAINT {qi(_short(work, 'pkey'))} "
                f"PRIMARY KEY ({keys})"
            )
        for index in source.indexes:
            unique = "UNIQUE " if index.unique else ""
            cols = ", ".join(qi(c) for c in index.columns)
            self.execute(
                f"CREATE {unique}INDEX {qi(_short(work, index.name))} ON {self._fq(work)} ({cols})"
            )
        self.execute(f"ANALYZE {self._fq(work)}")

    def swap(self, work: str, table: str, source: SourceTable, exists: bool) -> None:
        """Put the work table in place of ``table`` (same transaction as the load)."""
        old = _short(table, "old")
        if exists:
            dependants = self.execute(
                "SELECT DISTINCT dv.relname::text FROM pg_depend d "
                "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class dv ON dv.oid = r.ev_class "
                "WHERE d.refobjid = $1::regclass AND dv.relname <> $2",
                self._fq(table),
                table,
            )
            if dependants and self._table_columns(table) == self._table_columns(work):
                # The views would block the drop: keep the table (its views, grants,
                # comments and indexes) and replace its rows instead, in this transaction.
                self.execute(f"TRUNCATE {self._fq(table)}")
                self.execute(f"INSERT INTO {self._fq(table)} SELECT * FROM {self._fq(work)}")
                self.execute(f"ANALYZE {self._fq(table)}")
                self.execute(f"DROP TABLE {self._fq(work)}")
                return
            if dependants:
                names = ", ".join(sorted(str(r[0]) for r in dependants))
                raise MigrationError(
                    f"views depend on {self.schema}.{table} ({names}), and the source's "
                    "columns are no longer the table's, so a full load has to make the table "
                    "anew, which the views prevent. Drop the views before the load and "
                    "recreate them after (a load with unchanged columns keeps them).",
                    table=table,
                )
            self.execute(f"DROP TABLE IF EXISTS {self._fq(old)}")
            self.execute(f"ALTER TABLE {self._fq(table)} RENAME TO {qi(old)}")
        self.execute(f"ALTER TABLE {self._fq(work)} RENAME TO {qi(table)}")
        if exists:
            self.execute(f"DROP TABLE {self._fq(old)}")
        # Index names are schema-wide: give the new ones the stable names the old table had
        # (now free), so the next load's work table can reuse the _wk names.
        if source.primary_key:
            self.execute(
                f"ALTER TABLE {self._fq(table)} RENAME CONSTRAINT {qi(_short(work, 'pkey'))} "
                f"TO {qi(_short(table, 'pkey'))}"
            )
        for index in source.indexes:
            self.execute(
                f"ALTER INDEX {qi(self.schema)}.{qi(_short(work, index.name))} "
                f"RENAME TO {qi(_short(table, index.name))}"
            )

    def merge(
        self,
        table: str,
        plans: Sequence[ColumnPlan],
        batches: Iterable[pa.RecordBatch],
        primary_key: Sequence[str],
        on_batch: Callable[[pa.RecordBatch], None],
    ) -> tuple[int, int]:
        """COPY into a temp table and upsert into ``table``; returns (rows read, rows changed)."""
        stage = "tasuki_stage"
        cols_ddl = ", ".join(f"{qi(p.name)} {p.target_type}" for p in plans)
        self.execute(f"DROP TABLE IF EXISTS pg_temp.{qi(stage)}")
        self.execute(f"CREATE TEMP TABLE {qi(stage)} ({cols_ddl}) ON COMMIT DROP")
        read = self.copy_into(stage, plans, batches, on_batch=on_batch, temporary=True)
        if not read:
            return 0, 0
        upsert = merge_sql(
            self._fq(table), f"pg_temp.{qi(stage)}", [p.name for p in plans], primary_key
        )
        # RETURNING counts what the upsert changed (an unchanged row is not returned).
        changed = self.execute(
            f"WITH changed AS ({upsert} RETURNING 1) SELECT count(*) FROM changed"
        )
        return read, int(changed[0][0])

    def save_state(
        self,
        table: str,
        source_table: str,
        mode: str,
        cursor_column: str | None,
        cursor_value: str | None,
        rows_written: int,
    ) -> None:
        """Upsert the table's state row (in the load transaction)."""
        self.execute(
            f"INSERT INTO {self._fq(STATE_TABLE)} (target_table, source_table, mode, "
            "cursor_column, cursor_value, rows_written, loaded_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (target_table) DO UPDATE SET "
            "source_table = EXCLUDED.source_table, mode = EXCLUDED.mode, "
            "cursor_column = EXCLUDED.cursor_column, cursor_value = EXCLUDED.cursor_value, "
            "rows_written = EXCLUDED.rows_written, loaded_at = EXCLUDED.loaded_at",
            table,
            source_table,
            mode,
            cursor_column,
            cursor_value,
            rows_written,
        )

    def commit(self) -> None:
        """Commit the load transaction."""
        self.conn.commit()

    def rollback(self) -> None:
        """Roll the load transaction back (ignoring a connection that is already gone)."""
        import adbc_driver_manager

        try:
            self.conn.rollback()
        except adbc_driver_manager.Error:
            logger.debug("rollback failed; the connection is gone", exc_info=True)


class _Phases:
    """Logs (at DEBUG) how long each phase of a load took."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        logger.debug("%s: %s took %.3f s", self.target, phase, now - self.last)
        self.last = now


def _column_ddl(source: SourceTable) -> str:
    parts = []
    for plan in source.columns:
        not_null = " NOT NULL" if not plan.nullable or plan.name in source.primary_key else ""
        parts.append(f"{qi(plan.name)} {plan.target_type}{not_null}")
    return ", ".join(parts)


def load_postgres(
    url: str,
    schema: str | None,
    spec: TableSpec,
    source: SourceTable,
    batches: BatchSource,
    counter: Counter,
) -> LoadOutcome:
    """Load one table into PostgreSQL in one transaction (full swap or incremental merge)."""
    import adbc_driver_manager

    schema = schema or "public"
    table = spec.target_name
    incremental = spec.mode == "incremental"
    cursor_plan = source.column(spec.cursor) if incremental and spec.cursor else None
    if cursor_plan is not None:
        counter.cursor_index = source.columns.index(cursor_plan)
    target = PostgresTarget(url, schema)
    clock = _Phases(f"{schema}.{table}")
    try:
        target.begin(table)
        existing, state = target.current(table)
        added: tuple[str, ...] = ()
        if existing is not None:
            diff = target.check_drift(table, existing, source.columns, spec.on_schema_drift)
            added = tuple(name for name, _ in diff.added)
        before = state[1] if incremental and state and state[0] == spec.cursor else None
        initial = incremental and (existing is None or before is None)
        if not incremental or initial:
            work = target.create_work_table(table, source)
            clock("prepare")
            target.copy_into(work, source.columns, batches(""), on_batch=counter)
            clock("copy")
            target.finish_work_table(work, table, source)
            clock("keys and analyze")
            target.swap(work, table, source, exists=existing is not None)
            clock("swap")
            written = counter.rows
            after = cursor_to_text(counter.max_cursor) if incremental else None
        else:
            if added:
                target.add_columns(table, source.columns, added)
            where = cursor_condition(spec.cursor or "", spec.lag, before or "")
            clock("prepare")
            _, written = target.merge(
                table, source.columns, batches(where), source.primary_key, counter
            )
            clock("copy and merge")
            after = newer_cursor(before, counter.max_cursor)
        if not incremental or initial or written or after != before or added:
            target.save_state(table, spec.name, spec.mode, spec.cursor, after, written)
        target.commit()
        clock("commit")
    except adbc_driver_manager.Error as exc:
        target.rollback()
        raise MigrationError(
            f"loading {spec.name!r} into {schema}.{table} failed and was rolled back (the "
            f"previous table and cursor are unchanged): {type(exc).__name__}: "
            f"{redact(exc).strip()}",
            table=spec.name,
            target=f"{schema}.{table}",
            sqlstate=getattr(exc, "sqlstate", None),
        ) from exc
    except BaseException:
        target.rollback()
        raise
    finally:
        target.close()
    return LoadOutcome(
        target=f"{schema}.{table}",
        initial=initial,
        rows_written=written,
        cursor_before=before,
        cursor_after=after,
        added_columns=added,
    )
