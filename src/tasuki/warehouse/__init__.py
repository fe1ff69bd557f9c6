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

Backend classes (``DuckDBWarehouse``, ``PostgresWarehouse``, ``RedshiftWarehouse``,
``BigQueryWarehouse``) are importable from here too; each is imported on first access, so
importing this package loads no database driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tasuki.warehouse._result import Manifest, PartInfo, QueryResult
from tasuki.warehouse._safety import CheckedQuery, check_query
from tasuki.warehouse.base import Lineage, Warehouse
from tasuki.warehouse.registry import connect, register

if TYPE_CHECKING:
    from tasuki.warehouse._client import QueryClient, RemoteQueryResult
    from tasuki.warehouse._lineage import TableTarget, WriteTableTask, read_lineage
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

_LAZY = {
    "BigQueryWarehouse": "tasuki.warehouse.bigquery",
    "DuckDBWarehouse": "tasuki.warehouse.duckdb",
    "PostgresWarehouse": "tasuki.warehouse.postgres",
    "RedshiftWarehouse": "tasuki.warehouse.redshift",
    "QueryClient": "tasuki.warehouse._client",
    "QueryTask": "tasuki.warehouse._task",
    "RemoteQueryResult": "tasuki.warehouse._client",
    "TableTarget": "tasuki.warehouse._lineage",
    "WriteTableTask": "tasuki.warehouse._lineage",
    "read_lineage": "tasuki.warehouse._lineage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
