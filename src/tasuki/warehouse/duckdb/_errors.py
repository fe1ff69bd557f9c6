"""DuckDB exceptions -> the tasuki warehouse error tree."""

from __future__ import annotations

import re
from typing import Any

from tasuki.errors import (
    PermissionDeniedError,
    QuerySyntaxError,
    QueryTimeoutError,
    TableNotFoundError,
    WarehouseConnectionError,
    WarehouseError,
)

__all__ = ["timed_out", "translate"]

_MISSING = re.compile(
    r"(Table|Schema|Catalog|View)(?: with name)? \"?([^\s\"!]+)\"? does not exist"
)
_LINE = re.compile(r"LINE (\d+): (.*)\n(\s*)\^")


def timed_out(timeout: float) -> QueryTimeoutError:
    """The error for a query our timer interrupted after ``timeout`` seconds."""
    return QueryTimeoutError(
        f"the DuckDB query ran past its timeout of {timeout:g} s and was interrupted; "
        "raise timeout= or make the query cheaper",
        timeout=timeout,
    )


def translate(exc: Exception, *, database: str, timeout: float | None = None) -> WarehouseError:
    """The tasuki error for a DuckDB exception (``timeout`` set when our timer fired)."""
    import duckdb

    text = str(exc)
    first = text.split("\n", 1)[0]
    if isinstance(exc, duckdb.InterruptException):
        if timeout is not None:
            return timed_out(timeout)
        return WarehouseError(f"the DuckDB query was interrupted: {first}", database=database)
    if isinstance(exc, duckdb.CatalogException):
        found = _MISSING.search(text)
        if found:
            kind, name = found.group(1).lower(), found.group(2)
            return TableNotFoundError(
                f"{kind} {name!r} does not exist in DuckDB database {database}: {first}",
                table=name,
                database=database,
            )
        return _syntax(text, first)
    if isinstance(exc, duckdb.ParserException | duckdb.BinderException):
        return _syntax(text, first)
    if isinstance(exc, duckdb.PermissionException):
        return PermissionDeniedError(
            f"DuckDB refused: {first}. Queries may not touch files or the network; load the "
            "data into the warehouse with write_table() first",
            database=database,
        )
    if isinstance(exc, duckdb.InvalidInputException) and "read-only" in text:
        return PermissionDeniedError(
            f"DuckDB database {database} is open read-only: {first}. Connect with "
            "read_only=False to write",
            database=database,
        )
    if isinstance(exc, duckdb.IOException | duckdb.ConnectionException):
        return WarehouseConnectionError(
            f"cannot use DuckDB database {database}: {first}", database=database
        )
    return WarehouseError(f"DuckDB error: {first}", database=database, cause=type(exc).__name__)


def _syntax(text: str, first: str) -> QuerySyntaxError:
    fields: dict[str, Any] = {"line": None, "column": None}
    match = _LINE.search(text)
    excerpt = ""
    if match:
        line = int(match.group(1))
        column = len(match.group(3)) - len(f"LINE {line}: ") + 1
        fields = {"line": line, "column": column}
        excerpt = f" (line {line}, column {column})\n  {match.group(2)}\n  {' ' * (column - 1)}^"
    return QuerySyntaxError(f"DuckDB rejected the query: {first}{excerpt}", **fields)
