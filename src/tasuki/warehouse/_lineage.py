"""Write-back as a task: the lineage rows and table target of
:class:`tasuki.warehouse.WriteTableTask`.

The task itself is defined in :mod:`tasuki.warehouse`, so that its qualified name, which
lineage rows, records, ids and the CLI use, is the public ``tasuki.warehouse:WriteTableTask``.

A write-back task is complete when its table exists *and* the lineage table
``tasuki_lineage`` holds a row naming the table, the task's unique id, its task name and
parameters. The catalog reads these rows to say which pipeline made a table.

The table and the lineage row are written by ``Warehouse.write_table(...,
lineage=Lineage(...))`` in one transaction (staging table, then swap, append or merge, then
the row), so a crash leaves either both or neither. That is what makes ``append`` safe in
the task form: once the rows are in, so is the row that marks the task complete, and a rerun
finds it and appends nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlglot import exp

from tasuki._redact import redact
from tasuki.core.targets import Expected, OutputInfo, Target
from tasuki.errors import WarehouseError
from tasuki.warehouse.base import LINEAGE_TABLE

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["LINEAGE_TABLE", "TableTarget", "read_lineage"]


class _Conn:
    """A tiny DML connection for the lineage table (psycopg or duckdb)."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        scheme = url.split("://", 1)[0]
        if scheme in ("postgresql", "postgres"):
            import psycopg

            from tasuki.warehouse.postgres._roles import split_allow_privileged

            self.kind = "postgres"
            # allow_privileged is tasuki's parameter, not libpq's (which refuses it).
            self._conn: Any = psycopg.connect(split_allow_privileged(url)[0])
            self.mark = "%s"
        elif scheme == "duckdb":
            import duckdb

            self.kind = "duckdb"
            # The same path rule as DuckDBWarehouse.from_url: duckdb:///abs, duckdb://relative.
            path = url.split("://", 1)[1]
            # Read-only where only reading: other processes may hold the file read-only at
            # the same time (a query task in each worker), which a writer's lock refuses.
            self._conn = duckdb.connect(path or ":memory:", read_only=read_only and bool(path))
            self.mark = "?"
        else:
            raise WarehouseError(
                f"write-back tasks read their lineage rows over a direct PostgreSQL or DuckDB "
                f"connection; {scheme!r} URLs have none (Redshift and BigQuery need staging "
                "options a URL does not carry). Call wh.write_table(name, data, "
                "lineage=Lineage(...)) on a connected warehouse instead: the row is written in "
                "the same transaction there too",
                url=redact(url),
            )

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(sql.replace("?", self.mark), params)
        try:
            return list(cur.fetchall())
        except Exception:  # statements without a result set
            return []

    def commit(self) -> None:
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()


def _no_duckdb_file(url: str) -> bool:
    """Whether ``url`` names a DuckDB database file that is not there (yet)."""
    scheme, _, path = url.partition("://")
    return scheme == "duckdb" and path not in ("", ":memory:") and not os.path.exists(path)


def _table_exists(conn: _Conn, table: str) -> bool:
    name = exp.to_table(table)
    if conn.kind == "postgres":
        rows = conn.execute("SELECT to_regclass(?) IS NOT NULL", (name.sql("postgres"),))
    else:
        schema = name.db or "main"
        rows = conn.execute(
            "SELECT count(*) > 0 FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            (schema, name.name),
        )
    return bool(rows and rows[0][0])


def _has_column(conn: _Conn, table: str, column: str) -> bool:
    rows = conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?",
        (table, column),
    )
    return bool(rows and rows[0][0])


def read_lineage(url: str, table: str | None = None) -> list[dict[str, Any]]:
    """Lineage rows of a warehouse (of one table when given), newest first."""
    conn = _Conn(url)
    try:
        if not _table_exists(conn, LINEAGE_TABLE):
            return []
        columns = "table_name, unique_id, task, params, row_count, written_at"
        if _has_column(conn, LINEAGE_TABLE, "code_key"):
            columns += ", code_key"
        else:
            columns += ", NULL AS code_key"
        sql = f"SELECT {columns} FROM {LINEAGE_TABLE}"
        args: tuple[Any, ...] = ()
        if table is not None:
            sql += " WHERE table_name = ?"
            args = (table,)
        rows = conn.execute(sql + " ORDER BY written_at DESC", args)
    finally:
        conn.close()
    keys = ("table_name", "unique_id", "task", "params", "row_count", "written_at", "code_key")
    return [dict(zip(keys, r, strict=True)) | {"params": json.loads(r[3])} for r in rows]


@dataclass(frozen=True, repr=False)
class TableTarget(Target):
    """A warehouse table written by a task; present when its lineage row is.

    The lineage row alone decides: a table written from another workspace (a teammate, CI,
    or this one before ``tasuki gc``) is present with no run record here. ``legacy`` names
    a row written under an earlier task name, ``(task name, params JSON)``, that counts as
    this task's own (its unique id was made from the old name).
    """

    key: str
    url: str
    table: str
    unique_id: str
    legacy: tuple[str, str] | None = None
    compare_code: bool = False
    replaces: bool = False
    in_store: ClassVar[bool] = False

    def claim(self) -> str | None:
        """A table that a task replaces is its own in a build (a second replace would undo
        the first); appends and merges to one table may come from several tasks. Named as
        :meth:`touches` names it, so two spellings of one table (``scores`` and
        ``public.scores``, the owner's URL and another role's) are one."""
        if not self.replaces:
            return None
        return f"table {self.touches() or f'{self.table} of {redact(self.url)}'}"

    def touches(self) -> str | None:
        """The table, by ``schema.table in <database>`` (whatever role the URL names), as a
        query task reading it names it; None when its name does not parse."""
        from sqlglot.errors import SqlglotError

        from tasuki.warehouse._sources import dialect_of, table_key, written_name

        try:
            name = written_name(self.table, dialect_of(self.url))
        except SqlglotError:
            return None
        return None if name is None else table_key(self.url, name)

    def touches_any_schema(self) -> str | None:
        """The table's name in any schema when it is written without one on PostgreSQL or
        Redshift (the writer's search path decides where it lands)."""
        from sqlglot import exp
        from sqlglot.errors import SqlglotError

        from tasuki._table_keys import ANY_SCHEMA
        from tasuki.warehouse._sources import dialect_of, table_key, written_name

        dialect = dialect_of(self.url)
        if dialect not in ("postgres", "redshift"):
            return None
        try:
            name = exp.to_table(self.table, dialect=dialect)
        except SqlglotError:
            return None
        if name.db or not name.name:
            return None
        written = written_name(self.table, dialect)
        return None if written is None else table_key(self.url, (ANY_SCHEMA, written[1]))

    def info(self, store: Store) -> OutputInfo:
        """What the run record keeps: the table name as the key."""
        return OutputInfo(f"{self.url.split('://', 1)[0]}:{self.table}", 0, None, kind="table")

    def _own_ids(self, conn: _Conn) -> list[str]:
        """Unique ids of the lineage rows of this table that are this task's."""
        if not _table_exists(conn, LINEAGE_TABLE):
            return []
        legacy_task, legacy_params = self.legacy or ("", "null")
        rows = conn.execute(
            f"SELECT unique_id, task, params FROM {LINEAGE_TABLE} "
            "WHERE table_name = ? AND (unique_id = ? OR task = ?)",
            (self.table, self.unique_id, legacy_task),
        )
        wanted = json.loads(legacy_params)
        return [
            uid
            for uid, task, params in rows
            if uid == self.unique_id or (task == legacy_task and json.loads(params) == wanted)
        ]

    def exists(self, store: Store) -> bool:
        """The table exists and a lineage row names this task's id for it."""
        if _no_duckdb_file(self.url):
            return False  # connecting would create the file just to find it empty
        conn = _Conn(self.url)
        try:
            return _table_exists(conn, self.table) and bool(self._own_ids(conn))
        finally:
            conn.close()

    def recorded_code_key(self, store: Store) -> str | None:
        """The code key in this task's lineage row (None for appends, which are never
        repeated, and for rows written before the column existed)."""
        if not self.compare_code:
            return None
        conn = _Conn(self.url)
        try:
            if not _has_column(conn, LINEAGE_TABLE, "code_key"):
                return None
            rows = conn.execute(
                f"SELECT code_key FROM {LINEAGE_TABLE} WHERE table_name = ? AND unique_id = ?",
                (self.table, self.unique_id),
            )
        finally:
            conn.close()
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """The table's contents, read back through the warehouse (an Arrow table)."""
        from tasuki.warehouse.registry import connect

        name = exp.to_table(self.table).sql("postgres")
        # tasuki's own SELECT of the table this task wrote, through the writer's URL: that
        # role owns the table, and no user SQL runs here, so the query path's refusal of
        # privileged roles (which guards user queries) does not apply.
        scheme = self.url.split("://", 1)[0].lower()
        trusted: dict[str, Any] = {"allow_privileged": True} if scheme in _PRIVILEGE_CHECKED else {}
        with connect(self.url, **trusted) as wh:
            return wh.query(f"SELECT * FROM {name}").to_arrow()

    def remove(self, store: Store) -> None:
        """Forget the lineage row (the table itself is left to its owners)."""
        conn = _Conn(self.url)
        try:
            for uid in self._own_ids(conn):
                conn.execute(
                    f"DELETE FROM {LINEAGE_TABLE} WHERE table_name = ? AND unique_id = ?",
                    (self.table, uid),
                )
            conn.commit()
        finally:
            conn.close()


#: Schemes whose query path refuses privileged roles unless ``allow_privileged`` is set.
_PRIVILEGE_CHECKED = frozenset({"postgresql", "postgres", "redshift"})

#: The name lineage rows and records gave the task before it moved to the public module.
LEGACY_TASK_NAME = "tasuki.warehouse._lineage:WriteTableTask"


def __getattr__(name: str) -> Any:
    # Records written before the move name the task tasuki.warehouse._lineage:WriteTableTask.
    if name == "WriteTableTask":
        from tasuki.warehouse import WriteTableTask

        return WriteTableTask
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
