"""Shared parts of ``write_table``: turning data into an Arrow stream, checking names."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ParseError

from tasuki.errors import WarehouseError
from tasuki.warehouse._result import QueryResult

__all__ = ["MODES", "as_reader", "check_mode", "staging_name", "table_name"]

MODES = ("replace", "append", "merge")


def as_reader(data: Any) -> pa.RecordBatchReader:
    """An Arrow stream over ``data``.

    Accepts an Arrow Table, RecordBatch or RecordBatchReader, a pandas or polars DataFrame,
    a :class:`~tasuki.warehouse.QueryResult` (streamed part by part), or an iterable of
    record batches.

    Raises:
        WarehouseError: Anything else.
    """
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data]).to_reader()
    if isinstance(data, QueryResult):
        return pa.RecordBatchReader.from_batches(data.schema, data.iter_batches())
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False).to_reader()
    if module == "polars":
        return data.to_arrow().to_reader()
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        batches = iter(data)
        first = next(batches, None)
        if isinstance(first, pa.RecordBatch):

            def chain() -> Iterable[pa.RecordBatch]:
                yield first
                yield from batches

            return pa.RecordBatchReader.from_batches(first.schema, chain())
    raise WarehouseError(
        f"cannot write a {type(data).__name__}; pass an Arrow Table, RecordBatch or "
        "RecordBatchReader, a pandas or polars DataFrame, a QueryResult, or record batches",
        data_type=type(data).__name__,
    )


def table_name(name: str, dialect: str) -> exp.Table:
    """Parse ``name`` (``table`` or ``schema.table``) as a table reference.

    Raises:
        WarehouseError: Not a plain (optionally schema-qualified) table name.
    """
    try:
        table = exp.to_table(name, dialect=dialect)
    except (ParseError, ValueError) as exc:
        raise WarehouseError(
            f"{name!r} is not a table name; expected table or schema.table", table=name
        ) from exc
    extra = {k for k, v in table.args.items() if v and k not in ("this", "db")}
    if not isinstance(table.this, exp.Identifier) or extra or not table.name:
        raise WarehouseError(
            f"{name!r} is not a table name; expected table or schema.table", table=name
        )
    return table


def staging_name(table: exp.Table) -> exp.Table:
    """A fresh staging table next to ``table``."""
    stage = table.copy()
    stage.set("this", exp.to_identifier(f"_tasuki_stage_{table.name}_{uuid.uuid4().hex[:8]}"))
    return stage


def check_mode(mode: str, key: Sequence[str] | None, columns: Sequence[str]) -> list[str]:
    """Validate ``mode`` and ``key`` against the data's columns; the key columns.

    Raises:
        WarehouseError: Unknown mode, merge without a key, or key columns not in the data.
    """
    if mode not in MODES:
        raise WarehouseError(f"unknown write mode {mode!r}; allowed: {', '.join(MODES)}", mode=mode)
    keys = list(key or [])
    if mode == "merge" and not keys:
        raise WarehouseError(
            "mode='merge' needs key=[...] naming the columns that identify a row", mode=mode
        )
    missing = [k for k in keys if k not in columns]
    if missing:
        raise WarehouseError(
            f"key columns {missing} are not in the data; its columns are {list(columns)}",
            missing=missing,
        )
    return keys
