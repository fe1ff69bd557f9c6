"""Arrow batches from the source -> Arrow batches that ADBC's binary COPY writes as the plan.

The PostgreSQL target loads through ``adbc_ingest`` (the ADBC driver's binary COPY, the same
write path as the warehouse's ``write_table``). The driver encodes each column from its Arrow
type, so every column is first cast to the Arrow type whose binary encoding is the planned
PostgreSQL type's ``recv`` format:

====================  =======================================================
planned type          Arrow type sent
====================  =======================================================
boolean               bool (a source ``tinyint(1)`` is ``value <> 0``)
smallint/int/bigint   int16 / int32 / int64 (a safe cast: no wrap-around)
real/double           float32 / float64
numeric(p,s)          decimal128(p,s), or decimal256(p,s) above 38 digits
date                  date32
timestamp[tz]         timestamp("us") (the binary formats of both are the same)
interval              duration("us") (MySQL ``TIME`` as signed microseconds)
text/varchar          string as read
jsonb                 binary: the version byte 1, then the JSON text
bytea                 binary as read
====================  =======================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from tasuki.errors import MigrationError
from tasuki.migrate._types import ColumnPlan, Kind

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["to_target", "wire_type"]

_JSONB_VERSION = pa.scalar(b"\x01", pa.large_binary())
_EMPTY = pa.scalar(b"", pa.large_binary())

_SIMPLE: dict[Kind, pa.DataType] = {
    Kind.INT2: pa.int16(),
    Kind.INT4: pa.int32(),
    Kind.INT8: pa.int64(),
    Kind.FLOAT4: pa.float32(),
    Kind.FLOAT8: pa.float64(),
    Kind.DATE: pa.date32(),
    Kind.INTERVAL_US: pa.duration("us"),
    Kind.BOOL: pa.bool_(),
    Kind.JSON: pa.large_binary(),
    Kind.BYTEA: pa.large_binary(),
}


def wire_type(plan: ColumnPlan, source: pa.DataType | None = None) -> pa.DataType:
    """The Arrow type a column of ``plan`` is sent as (``source``: the type read, if known)."""
    if plan.kind is Kind.NUMERIC:
        precision = max(plan.int_digits + plan.scale, 1)
        if precision <= 38:
            return pa.decimal128(precision, plan.scale)
        return pa.decimal256(precision, plan.scale)
    if plan.kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return pa.timestamp("us", tz=getattr(source, "tz", None))
    if plan.kind is Kind.TEXT:
        if source is not None and (
            pa.types.is_string(source)
            or pa.types.is_large_string(source)
            or pa.types.is_binary(source)
            or pa.types.is_large_binary(source)
        ):
            return source
        return pa.large_string()
    if plan.kind is Kind.BYTEA and source is not None and pa.types.is_binary(source):
        return source
    return _SIMPLE[plan.kind]


def to_target(batch: pa.RecordBatch, plans: Sequence[ColumnPlan], *, table: str) -> pa.RecordBatch:
    """Cast one record batch to the Arrow types ADBC writes as the planned PostgreSQL types.

    Args:
        batch: the rows, columns in the same order as ``plans``.
        plans: one plan per column.
        table: table name, for error messages.

    Returns:
        The batch with columns of :func:`wire_type`'s types, named as the plans.

    Raises:
        MigrationError: a column holds values its target type cannot take.
    """
    columns = []
    for plan, column in zip(plans, batch.columns, strict=True):
        try:
            columns.append(_column(column, plan))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError) as exc:
            raise MigrationError(
                f"cannot convert column {plan.name!r} of {table!r} (source type "
                f"{plan.source_type!r}, read as Arrow {column.type}) to PostgreSQL "
                f"{plan.target_type}: {exc}",
                table=table,
                column=plan.name,
            ) from exc
    return pa.RecordBatch.from_arrays(columns, names=[p.name for p in plans])


def _column(column: pa.Array, plan: ColumnPlan) -> pa.Array:
    kind = plan.kind
    target = wire_type(plan, column.type)
    if kind is Kind.BOOL and not pa.types.is_boolean(column.type):
        return pc.not_equal(column, 0)
    if kind is Kind.INTERVAL_US:
        return pc.cast(column, pa.int64()).view(target)
    if kind is Kind.JSON:
        # jsonb's binary format is a version byte (1) followed by the JSON text.
        return pc.binary_join_element_wise(_JSONB_VERSION, _as_large_binary(column), _EMPTY)
    if column.type == target:
        return column
    if kind is Kind.BYTEA:
        return _as_large_binary(column)
    # A safe cast: an out-of-range value or a lost digit raises instead of being changed.
    return pc.cast(column, target)


def _as_large_binary(column: pa.Array) -> pa.Array:
    if pa.types.is_large_binary(column.type):
        return column
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.cast(column, pa.large_string()).view(pa.large_binary())
    return pc.cast(column, pa.large_binary())
