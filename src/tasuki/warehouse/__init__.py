"""Warehouse access that does not hurt the warehouse.

Open a warehouse by URL, run one read-only query, and read its result from Parquet parts
at your own pace::

    from tasuki.warehouse import connect

    with connect("postgresql://analyst@db/warehouse") as wh:
        result = wh.query("SELECT * FROM orders WHERE day = :day", {"day": day})
        for batch in result.iter_batches():
            ...

The same results over HTTP from a ``tasuki serve`` query service come from
:class:`QueryClient`, which needs httpx alone::

    from tasuki.warehouse import QueryClient

    with QueryClient("http://127.0.0.1:8000", token) as client:
        table = client.query("SELECT * FROM events LIMIT 10").to_arrow()

:class:`WriteTableTask` (write a task's output into a table, with a lineage row) is defined
here rather than in a private module because its qualified name,
``tasuki.warehouse:WriteTableTask``, is data: lineage rows, run records and unique ids carry
it, and other tools read them.

Backend classes (``DuckDBWarehouse``, ``PostgresWarehouse``, ``RedshiftWarehouse``,
``BigQueryWarehouse``) are importable from here too; each is imported on first access, so
importing this package loads no database driver.
"""

from __future__ import annotations

import inspect
import json
import logging
from typing import TYPE_CHECKING, Any, Literal

from tasuki._registry import lazy_attribute
from tasuki.core.params import param, to_jsonable
from tasuki.core.task import Task
from tasuki.errors import TaskError, WarehouseError
from tasuki.warehouse._lineage import LEGACY_TASK_NAME, TableTarget, read_lineage
from tasuki.warehouse._result import Manifest, PartInfo, QueryResult
from tasuki.warehouse._safety import CheckedQuery, check_query
from tasuki.warehouse.base import Lineage, Warehouse
from tasuki.warehouse.registry import connect, register

if TYPE_CHECKING:
    from tasuki.warehouse._client import QueryClient, RemoteQueryResult
    from tasuki.warehouse._task import QueryTask
    from tasuki.warehouse.bigquery import BigQueryWarehouse
    from tasuki.warehouse.duckdb import DuckDBWarehouse
    from tasuki.warehouse.postgres import PostgresWarehouse
    from tasuki.warehouse.redshift import RedshiftWarehouse

__all__ = [
    "BigQueryWarehouse",
    "CheckedQuery",
    "DuckDBWarehouse",
    "Lineage",
    "Manifest",
    "PartInfo",
    "PostgresWarehouse",
    "QueryClient",
    "QueryResult",
    "QueryTask",
    "RedshiftWarehouse",
    "RemoteQueryResult",
    "TableTarget",
    "Warehouse",
    "WriteTableTask",
    "check_query",
    "connect",
    "read_lineage",
    "register",
]

logger = logging.getLogger(__name__)

_LAZY = {
    "BigQueryWarehouse": "tasuki.warehouse.bigquery",
    "DuckDBWarehouse": "tasuki.warehouse.duckdb",
    "PostgresWarehouse": "tasuki.warehouse.postgres",
    "RedshiftWarehouse": "tasuki.warehouse.redshift",
    "QueryClient": "tasuki.warehouse._client",
    "QueryTask": "tasuki.warehouse._task",
    "RemoteQueryResult": "tasuki.warehouse._client",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)


def __dir__() -> list[str]:
    return sorted(__all__)


class WriteTableTask(Task):
    """Write the output of ``data`` into a warehouse table, with a lineage row.

    The rows and the lineage row go in one transaction, and the task is complete exactly
    when its lineage row is in the warehouse, whichever workspace wrote it. That makes
    ``mode="append"`` safe: a rebuild, from this workspace or any other, finds the lineage
    row and appends nothing; a failed append leaves neither rows nor row.

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
            f"warehouse/{self.table}",
            _resolve(self.warehouse),
            self.table,
            self.unique_id,
            legacy=(LEGACY_TASK_NAME, json.dumps(self._lineage_params())),
            # An append is never repeated, whatever changed upstream; a replace or a merge
            # made by other code is out of date, from any workspace.
            compare_code=self.mode != "append",
            replaces=self.mode == "replace",
        )

    def _lineage_params(self) -> dict[str, Any]:
        return {n: to_jsonable(v) for n, v in self.param_values.items()}

    def lineage(self) -> Lineage:
        """The lineage row this task writes with its table."""
        from tasuki.core.code import code_key_of

        return Lineage(
            table=self.table,
            unique_id=self.unique_id,
            task=type(self).task_name(),
            params=self._lineage_params(),
            code_key=code_key_of(self),
        )

    def run(self) -> None:
        """Write the table and its lineage row in one transaction.

        An append whose lineage row is already there (written from another workspace, or
        before this workspace's record was deleted) appends nothing.
        """
        from tasuki.warehouse.registry import connect

        target: TableTarget = self.output()
        if self.mode == "append" and target.exists(None):  # type: ignore[arg-type]
            logger.warning(
                "%s: the rows of this append are in %r already (its lineage row is in the "
                "warehouse); nothing appended. Only to add them a second time on purpose, "
                "delete the lineage row first: task.output().remove(None)",
                type(self).task_name(),
                self.table,
            )
            self.task_log["rows"] = 0
            self.task_log["appended_before"] = True
            return
        # load() of the one requirement gives its outputs; output_name picks one of them.
        value = self.load()[self.output_name] if self.output_name else self.load()
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
