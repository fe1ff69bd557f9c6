"""The Warehouse protocol: run one read-only query, get its result as Parquet parts.

Every backend (``duckdb/``, ``postgres/``, ``redshift/``, ``bigquery/``, or a third-party one
registered under the ``tasuki.warehouses`` entry-point group) implements this small surface::

    with tasuki.warehouse.connect("duckdb:///warehouse.db") as wh:
        result = wh.query("SELECT * FROM events WHERE day = :day", {"day": day})
        for batch in result.iter_batches():
            ...

Backends may add keyword-only options to :meth:`Warehouse.query` (PostgreSQL takes
``parallel=``), never positional ones.

:meth:`Warehouse.write_table` takes an optional :class:`Lineage`: the row naming the task
that produced the table is then written to ``tasuki_lineage`` in the same transaction as
the rows, so a table never holds a task's rows without its lineage row, nor the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from tasuki.warehouse._result import QueryResult

__all__ = ["LINEAGE_TABLE", "Lineage", "Params", "Warehouse", "WriteMode"]

Params = Mapping[str, Any] | Sequence[Any]
"""Query parameters: a mapping for ``:name`` placeholders, a sequence for ``?`` / ``$n``."""

WriteMode = Literal["replace", "append", "merge"]
"""How :meth:`Warehouse.write_table` treats an existing table."""

LINEAGE_TABLE = "tasuki_lineage"
"""The table (in the warehouse's default schema or dataset) that holds lineage rows."""


@dataclass(frozen=True)
class Lineage:
    """Who wrote a table: one row of ``tasuki_lineage``, committed with the table's rows.

    Pass it as ``write_table(..., lineage=Lineage(...))``. The backend adds the row count and
    the server's time. With ``mode="append"`` a row for the same ``(table, unique_id)``
    already present means these rows were appended before: the write fails and nothing
    changes, so an append is never repeated by a rerun. With ``replace`` and ``merge`` the
    row is replaced.

    Attributes:
        table: The table name, exactly as passed to ``write_table``.
        unique_id: Unique id of the task that produced the rows.
        task: Qualified task name (``module:Class``).
        params: The task's parameters as JSON values.
        code_key: The code key of the task (its code and everything upstream's, see
            ``tasuki.core.code``); a later build compares it to tell whether the table is out
            of date, from any workspace.

    Example:
        >>> row = Lineage("ml.scores", "3f2a9c", "pipeline:Publish", {"day": "2024-01-01"})
        >>> wh.write_table("ml.scores", scores, mode="append", lineage=row)  # doctest: +SKIP
        3
    """

    table: str
    unique_id: str
    task: str
    params: Mapping[str, Any] = field(default_factory=dict)
    code_key: str | None = None

    def params_json(self) -> str:
        """The parameters as JSON text, keys sorted (what the ``params`` column holds)."""
        return json.dumps(dict(self.params), sort_keys=True)


@runtime_checkable
class Warehouse(Protocol):
    """A data warehouse that unloads query results to Parquet parts."""

    backend: ClassVar[str]
    """Registry name of the backend: ``"duckdb"``, ``"postgresql"``, ..."""

    dialect: ClassVar[str]
    """The sqlglot dialect queries are checked and printed in."""

    @classmethod
    def from_url(cls, url: str, *, parts_dir: str | None = None, **options: Any) -> Self:
        """Build the warehouse from its URL; ``options`` are backend specific."""

    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only query and unload its result to Parquet parts.

        Args:
            sql: One ``SELECT`` / ``WITH`` query in the backend's dialect.
            params: Values for the query's placeholders, bound by the driver.
            timeout: Seconds before the statement is cancelled (default: the warehouse's);
                greater than 0 and at most 2147483.647. The server enforces it, in whole
                milliseconds rounded up (at least 1 ms); there is no "no timeout" value.

        Returns:
            The result, with its manifest written next to the parts.

        Raises:
            UnsafeQueryError: Not a single read-only query.
            QuerySyntaxError: The parser or the server rejected the SQL.
            TableNotFoundError: A relation does not exist.
            PermissionDeniedError: The user may not read a relation.
            QueryTimeoutError: The statement ran past ``timeout``.
            WarehouseError: ``timeout`` is not a number of seconds the server can enforce.
            WarehouseConnectionError: The warehouse could not be reached, or dropped.
        """

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode = "replace",
        key: Sequence[str] | None = None,
        lineage: Lineage | None = None,
    ) -> int:
        """Load ``data`` (Arrow table or reader, pandas or polars frame, QueryResult) into
        table ``name`` through a staging table, in one transaction.

        Args:
            name: ``table`` or ``schema.table``.
            data: The rows.
            mode: ``"replace"`` swaps the table, ``"append"`` adds rows, ``"merge"`` replaces
                rows whose ``key`` columns match and adds the rest.
            key: Key columns for ``"merge"``.
            lineage: A lineage row to write in the same transaction (third-party backends
                written before it existed may leave it out; write-back tasks then refuse
                them with a clear message).

        Returns:
            Rows written.

        Raises:
            WarehouseError: Bad mode, key, name or data; an append this lineage already
                made; or the warehouse refused the write (nothing changed).
        """

    def close(self) -> None:
        """Release connections (and a temporary parts directory the warehouse made)."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
