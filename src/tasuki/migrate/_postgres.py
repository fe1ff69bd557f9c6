"""PostgreSQL target: binary COPY into a work table and swap, or into a temp table and merge.

Every load runs in ONE transaction on one connection, so a failure anywhere (a dropped
connection, a bad value, a kill) rolls back to the previous table and the previous cursor:

* full: ``CREATE <t>_wk`` -> ``COPY ... FREEZE`` -> primary key and indexes -> ``ANALYZE`` ->
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
from tasuki.migrate._pgcopy import COPY_HEADER, COPY_TRAILER, encode_batch
from tasuki.migrate._prefetch import prefetch

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import psycopg
    import pyarrow as pa

    from tasuki.migrate._config import TableSpec
    from tasuki.migrate._source import SourceTable
    from tasuki.migrate._types import ColumnPlan

__all__ = ["PostgresTarget", "load_postgres", "qi"]

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


class PostgresTarget:
    """One connection to the target database, scoped to a schema.

    Args:
        url: ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB``.
        schema: target schema, created when missing.
    """

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        self.schema = schema
        self.url = url
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(url, connect_timeout=10)
        except (psycopg.Error, psycopg.ProgrammingError) as exc:
            raise MigrationError(
                f"cannot connect to the target {redact(url)!r}: {redact(exc).strip()}. Check the "
                "URL (postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE), that the server runs "
                "and that the database exists.",
                url=redact(url),
            ) from exc

    def close(self) -> None:
        """Close the connection (rolling back anything uncommitted)."""
        self.conn.close()

    def backend_pid(self) -> int:
        """Server process id of this connection (tests use it to kill a load)."""
        return int(self.conn.info.backend_pid)

    # -- reading the target --------------------------------------------------------------

    def _table_columns(self, table: str) -> dict[str, str] | None:
        rows = self.conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            (self.schema, table),
        ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows} if rows else None

    def _state(self, table: str) -> tuple[str | None, str | None] | None:
        row = self.conn.execute(
            f"SELECT cursor_column, cursor_value FROM {self._fq(STATE_TABLE)} "
            "WHERE target_table = %s FOR UPDATE",
            (table,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def _fq(self, table: str) -> str:
        return f"{qi(self.schema)}.{qi(table)}"

    # -- the load ------------------------------------------------------------------------

    def begin(self, table: str) -> None:
        """Open the load transaction: schema and state table exist, the table is ours."""
        conn = self.conn
        # Creating the schema and state table is serialised across concurrent loads; two
        # racing CREATE ... IF NOT EXISTS can otherwise collide in the catalog.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('tasuki_migrate:ddl'))")
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qi(self.schema)}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {self._fq(STATE_TABLE)} ("
            "target_table text PRIMARY KEY, source_table text NOT NULL, mode text NOT NULL, "
            "cursor_column text, cursor_value text, rows_written bigint NOT NULL, "
            "loaded_at timestamptz NOT NULL DEFAULT now())"
        )
        got = conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtext(%s))",
            (f"tasuki_migrate:{self.schema}.{table}",),
        ).fetchone()
        if not got or not got[0]:
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
            self.conn.execute(
                f"ALTER TABLE {self._fq(table)} ADD COLUMN {qi(name)} {plan.target_type}"
            )

    def copy_into(
        self,
        table: str,
        plans: Sequence[ColumnPlan],
        batches: Iterable[pa.RecordBatch],
        *,
        freeze: bool,
        on_batch: Callable[[pa.RecordBatch], None],
        qualified: bool = True,
    ) -> int:
        """Binary-COPY batches into ``table``; returns the rows sent.

        ``on_batch`` sees each batch in the reading thread, before it is written; only the
        encoded bytes cross to this thread, so at most a few batches are alive at once.
        """
        cols = ", ".join(qi(p.name) for p in plans)
        name = self._fq(table) if qualified else qi(table)
        options = "FORMAT BINARY, FREEZE" if freeze else "FORMAT BINARY"
        rows = 0

        def encode(batch: pa.RecordBatch) -> tuple[int, pa.Buffer]:
            on_batch(batch)
            return batch.num_rows, encode_batch(batch, plans, table=table)

        with self.conn.cursor().copy(f"COPY {name} ({cols}) FROM STDIN ({options})") as copy:
            copy.write(COPY_HEADER)
            for count, data in prefetch(batches, encode, depth=1):
                copy.write(data)
                rows += count
            copy.write(COPY_TRAILER)
        return rows

    def create_work_table(self, table: str, source: SourceTable) -> str:
        """Create ``<table>_wk`` with the planned types; returns its name."""
        work = _short(table, "wk")
        self.conn.execute(f"DROP TABLE IF EXISTS {self._fq(work)}")
        self.conn.execute(f"CREATE TABLE {self._fq(work)} ({_column_ddl(source)})")
        return work

    def finish_work_table(self, work: str, table: str, source: SourceTable) -> None:
        """Add the primary key and indexes to the filled work table, then ANALYZE it."""
        if source.primary_key:
            keys = ", ".join(qi(c) for c in source.primary_key)
            self.conn.execute(
                f"ALTER TABLE {self._fq(work)} ADD CONSTRAINT {qi(_short(work, 'pkey'))} "
                f"PRIMARY KEY ({keys})"
            )
        for index in source.indexes:
            unique = "UNIQUE " if index.unique else ""
            cols = ", ".join(qi(c) for c in index.columns)
            self.conn.execute(
                f"CREATE {unique}INDEX {qi(_short(work, index.name))} ON {self._fq(work)} ({cols})"
            )
        self.conn.execute(f"ANALYZE {self._fq(work)}")

    def swap(self, work: str, table: str, source: SourceTable, exists: bool) -> None:
        """Put the work table in place of ``table`` (same transaction as the load)."""
        old = _short(table, "old")
        if exists:
            dependants = self.conn.execute(
                "SELECT DISTINCT dv.relname FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
                "JOIN pg_class dv ON dv.oid = r.ev_class "
                "WHERE d.refobjid = %s::regclass AND dv.relname <> %s",
                (self._fq(table), table),
            ).fetchall()
            if dependants:
                names = ", ".join(sorted(str(r[0]) for r in dependants))
                raise MigrationError(
                    f"views depend on {self.schema}.{table} ({names}); a full load replaces the "
                    "table, which would leave them pointing at the dropped copy. Drop the views "
                    "before the load and recreate them after, or use mode 'incremental'.",
                    table=table,
                )
            self.conn.execute(f"DROP TABLE IF EXISTS {self._fq(old)}")
            self.conn.execute(f"ALTER TABLE {self._fq(table)} RENAME TO {qi(old)}")
        self.conn.execute(f"ALTER TABLE {self._fq(work)} RENAME TO {qi(table)}")
        if exists:
            self.conn.execute(f"DROP TABLE {self._fq(old)}")
        # Index names are schema-wide: give the new ones the stable names the old table had
        # (now free), so the next load's work table can reuse the _wk names.
        if source.primary_key:
            self.conn.execute(
                f"ALTER TABLE {self._fq(table)} RENAME CONSTRAINT {qi(_short(work, 'pkey'))} "
                f"TO {qi(_short(table, 'pkey'))}"
            )
        for index in source.indexes:
            self.conn.execute(
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
        self.conn.execute(f"DROP TABLE IF EXISTS pg_temp.{qi(stage)}")
        self.conn.execute(f"CREATE TEMP TABLE {qi(stage)} ({cols_ddl}) ON COMMIT DROP")
        read = self.copy_into(
            stage, plans, batches, freeze=False, on_batch=on_batch, qualified=False
        )
        if not read:
            return 0, 0
        names = [p.name for p in plans]
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
        cur = self.conn.execute(
            f"INSERT INTO {self._fq(table)} AS t ({cols}) SELECT {cols} FROM {qi(stage)} "
            f"ON CONFLICT ({keys}) {action}"
        )
        return read, max(cur.rowcount, 0)

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
        self.conn.execute(
            f"INSERT INTO {self._fq(STATE_TABLE)} (target_table, source_table, mode, "
            "cursor_column, cursor_value, rows_written, loaded_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, now()) ON CONFLICT (target_table) DO UPDATE SET "
            "source_table = EXCLUDED.source_table, mode = EXCLUDED.mode, "
            "cursor_column = EXCLUDED.cursor_column, cursor_value = EXCLUDED.cursor_value, "
            "rows_written = EXCLUDED.rows_written, loaded_at = EXCLUDED.loaded_at",
            (table, source_table, mode, cursor_column, cursor_value, rows_written),
        )

    def commit(self) -> None:
        """Commit the load transaction."""
        self.conn.commit()

    def rollback(self) -> None:
        """Roll the load transaction back (ignoring a connection that is already gone)."""
        import psycopg

        try:
            self.conn.rollback()
        except psycopg.Error:
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
    import psycopg

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
            target.copy_into(work, source.columns, batches(""), freeze=True, on_batch=counter)
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
    except psycopg.Error as exc:
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
