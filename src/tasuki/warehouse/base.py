"""The Warehouse protocol: run one read-only query, get its result as Parquet parts.

Every backend (``duckdb/``, ``postgres/``, ``redshift/``, ``bigquery/``, or a third-party one
registered under the ``tasuki.warehouses`` entry-point group) implements this small surface::

    with tasuki.warehouse.connect("duckdb:///warehouse.db") as wh:
        result = wh.query("SELECT * FROM events WHERE day = :day", {"day": day})
        for batch in result.iter_batches():
            ...

Backends may add keyword-only options to :meth:`Warehouse.query` (PostgreSQL takes
``parallel=``), never positional ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from tasuki.warehouse._result import QueryResult

__all__ = ["Params", "WriteMode", "Warehouse"]

Params = Mapping[str, Any] | Sequence[Any]
"""Query parameters: a mapping for ``:name`` placeholders, a sequence for ``?`` / ``$n``."""

WriteMode = Literal["replace", "append", "merge"]
"""How :meth:`Warehouse.write_table` treats an existing table."""


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
            timeout: Seconds before the statement is cancelled (default: the warehouse's).

        Returns:
            The result, with its manifest written next to the parts.

        Raises:
            UnsafeQueryError: Not a single read-only query.
            QuerySyntaxError: The parser or the server rejected the SQL.
            TableNotFoundError: A relation does not exist.
            PermissionDeniedError: The user may not read a relation.
            QueryTimeoutError: The statement ran past ``timeout``.
            WarehouseConnectionError: The warehouse could not be reached, or dropped.
        """

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode = "replace",
        key: Sequence[str] | None = None,
    ) -> int:
        """Load ``data`` (Arrow table or reader, pandas or polars frame, QueryResult) into
        table ``name`` through a staging table, in one transaction.

        Returns:
            Rows written.
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
