"""Write-back as a task: :class:`WriteTableTask` and its lineage rows.

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

import inspect
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from sqlglot import exp

from tasuki.core.params import param, to_jsonable
from tasuki.core.targets import OutputInfo, Target
from tasuki.core.task import Task
from tasuki.errors import TaskError, WarehouseError
from tasuki.warehouse.base import LINEAGE_TABLE, Lineage

if TYPE_CHECKING:
    from tasuki.storage.base import Store
    from tasuki.warehouse.base import Warehouse

__all__ = ["LINEAGE_TABLE", "TableTarget", "WriteTableTask", "read_lineage"]


class _Conn:
    """A tiny DML connection for the lineage table (psycopg or duckdb)."""

    def __init__(self, url: str) -> None:
        self.url = url
        scheme = url.split("://", 1)[0]
        if scheme in ("postgresql", "postgres"):
            import psycopg

            self.kind = "postgres"
            self._conn: Any = psycopg.connect(url)
            self.mark = "%s"
        elif scheme == "duckdb":
            import duckdb

            self.kind = "duckdb"
            # The same path rule as DuckDBWarehouse.from_url: duckdb:///abs, duckdb://relative.
            path = url.split("://", 1)[1]
            self._conn = duckdb.connect(path or ":memory:")
            self.mark = "?"
        else:
            raise WarehouseError(
                f"write-back tasks read their lineage rows over a direct PostgreSQL or DuckDB "
                f"connection; {scheme!r} URLs have none (Redshift and BigQuery need staging "
                "options a URL does not carry). Call wh.write_table(name, data, "
                "lineage=Lineage(...)) on a connected warehouse instead: the row is written in "
                "the same transaction there too",
                url=url,
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


def read_lineage(url: str, table: str | None = None) -> list[dict[str, Any]]:
    """Lineage rows of a warehouse (of one table when given), newest first."""
    conn = _Conn(url)
    try:
        if not _table_exists(conn, LINEAGE_TABLE):
            return []
        columns = "table_name, unique_id, task, params, row_count, written_at"
        sql = f"SELECT {columns} FROM {LINEAGE_TABLE}"
        args: tuple[Any, ...] = ()
        if table is not None:
            sql += " WHERE table_name = ?"
            args = (table,)
        rows = conn.execute(sql + " ORDER BY written_at DESC", args)
    finally:
        conn.close()
    keys = ("table_name", "unique_id", "task", "params", "row_count", "written_at")
    return [dict(zip(keys, r, strict=True)) | {"params": json.loads(r[3])} for r in rows]


@dataclass(frozen=True, repr=False)
class TableTarget(Target):
    """A warehouse table written by a task; present when its lineage row is."""

    key: str
    url: str
    table: str
    unique_id: str
    in_store: ClassVar[bool] = False

    def info(self, store: Store) -> OutputInfo:
        """What the run record keeps: the table name as the key."""
        return OutputInfo(f"{self.url.split('://', 1)[0]}:{self.table}", 0, None)

    def exists(self, store: Store) -> bool:
        """The table exists and a lineage row names this task's id for it."""
        conn = _Conn(self.url)
        try:
            if not (_table_exists(conn, self.table) and _table_exists(conn, LINEAGE_TABLE)):
                return False
            rows = conn.execute(
                f"SELECT 1 FROM {LINEAGE_TABLE} WHERE table_name = ? AND unique_id = ?",
                (self.table, self.unique_id),
            )
            return bool(rows)
        finally:
            conn.close()

    def load(self, store: Store) -> Any:
        """The table's contents, read back through the warehouse (an Arrow table)."""
        from tasuki.warehouse.registry import connect

        name = exp.to_table(self.table).sql("postgres")
        with connect(self.url) as wh:
            return wh.query(f"SELECT * FROM {name}").to_arrow()

    def remove(self, store: Store) -> None:
        """Forget the lineage row (the table itself is left to its owners)."""
        conn = _Conn(self.url)
        try:
            if _table_exists(conn, LINEAGE_TABLE):
                conn.execute(
                    f"DELETE FROM {LINEAGE_TABLE} WHERE table_name = ? AND unique_id = ?",
                    (self.table, self.unique_id),
                )
                conn.commit()
        finally:
            conn.close()


class WriteTableTask(Task):
    """Write the output of ``data`` into a warehouse table, with a lineage row.

    The rows and the lineage row go in one transaction, so the task is complete exactly when
    its rows are in. That makes ``mode="append"`` safe: a rerun after a completed append
    finds the lineage row and appends nothing; a failed append leaves neither rows nor row.

    Example:
        >>> publish = WriteTableTask(
        ...     data=Predict(day=day), table="ml.recipe_scores",
        ...     warehouse="postgresql://dwh/analytics", mode="merge", key=("recipe_id",),
        ... )
        >>> tasuki.build(publish)
    """

    data: Task
    table: str
    warehouse: str
    mode: Literal["replace", "append", "merge"] = "replace"
    key: tuple[str, ...] = ()
    output_name: str | None = param(default=None, description="which output of `data` to write")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode == "merge" and not self.key:
            raise TaskError(
                f"{type(self).task_name()}: mode 'merge' needs key=(...) naming the columns that "
                "identify a row",
                task=type(self).task_name(),
                parameter="key",
            )

    def requires(self) -> Any:
        """The task whose output is written."""
        return self.data

    def output(self) -> Any:
        """The table (complete when its lineage row for this id exists)."""
        from tasuki.warehouse._task import _resolve

        return TableTarget(
            f"warehouse/{self.table}", _resolve(self.warehouse), self.table, self.unique_id
        )

    def lineage(self) -> Lineage:
        """The lineage row this task writes with its table."""
        return Lineage(
            table=self.table,
            unique_id=self.unique_id,
            task=type(self).task_name(),
            params={n: to_jsonable(v) for n, v in self.param_values.items()},
        )

    def run(self) -> None:
        """Write the table and its lineage row in one transaction."""
        from tasuki.warehouse.registry import connect

        target: TableTarget = self.output()
        value = self.load(self.output_name) if self.output_name else self.load()
        with connect(target.url) as wh:
            _check_takes_lineage(wh, self.table)
            rows = wh.write_table(
                self.table,
                value,
                mode=self.mode,
                key=list(self.key) or None,
                lineage=self.lineage(),
            )
        self.task_log["rows"] = rows


def _check_takes_lineage(wh: Warehouse, table: str) -> None:
    """Refuse a (third-party) backend whose write_table cannot record lineage."""
    try:
        parameters = inspect.signature(wh.write_table).parameters
    except (TypeError, ValueError):  # no signature to read: let the call decide
        return
    if "lineage" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    ):
        return
    raise WarehouseError(
        f"the {type(wh).__name__} backend's write_table takes no lineage= argument, so "
        f"WriteTableTask cannot record the lineage of {table!r} in the same transaction as "
        "its rows; add `lineage: tasuki.warehouse.base.Lineage | None = None` to that "
        "backend's write_table, or call write_table directly",
        table=table,
        backend=type(wh).__name__,
    )
