"""Make driver Arrow types fit Parquet and the documented type mapping.

Drivers hand back Arrow types Parquet cannot hold or that readers handle badly: the ADBC
PostgreSQL driver returns ``numeric`` and unknown types as opaque extension types over
strings and ``json``/``jsonb`` as the ``arrow.json`` extension; intervals arrive as
``month_day_nano_interval``, which Parquet has no type for. :class:`Conformer` maps a result
schema once, then converts each batch on the way to the part files:

============================ =================================================================
source Arrow type             written as
============================ =================================================================
PostgreSQL ``numeric(p, s)``  ``decimal128(p, s)`` when ``p <= 38``, else ``string``
``numeric`` (no typmod)       ``string`` (exact digits; scale varies row to row)
``arrow.json``                ``string`` (the JSON text)
other opaque extension        ``string`` (the server's text form)
``month_day_nano_interval``   ``struct<months: int32, days: int32, nanoseconds: int64>``
string/binary views           ``string`` / ``binary``
timestamp with any zone       ``timestamp[unit, tz=UTC]`` (same instants)
============================ =================================================================

Everything else (integers, floats, booleans, dates, ``timestamp[us, tz=UTC]`` for
``timestamptz``, lists, structs, ``arrow.uuid``) passes through unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasuki.errors import WarehouseError

__all__ = ["INTERVAL_STRUCT", "Conformer", "target_type"]

INTERVAL_STRUCT = pa.struct(
    [("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64())]
)
_TYPMOD_KEY = b"POSTGRESQL:typmod"
_MAX_DECIMAL128 = 38


class Conformer:
    """Converts batches of one result schema to the Parquet-friendly schema.

    Args:
        schema: The schema the driver reports for the result.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.source = schema
        fields = [_target_field(f) for f in schema]
        self.schema = pa.schema(fields, metadata=schema.metadata)
        self._identity = self.schema.equals(schema, check_metadata=False)

    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` in :attr:`schema`.

        Raises:
            WarehouseError: A value cannot be converted (a ``NaN`` in a ``numeric(p, s)``).
        """
        if self._identity:
            return batch
        columns = [
            _convert(batch.column(i), src, dst)
            for i, (src, dst) in enumerate(zip(self.source, self.schema, strict=True))
        ]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


def target_type(field: pa.Field) -> pa.DataType:
    """The Arrow type a driver's ``field`` is stored as (see the table above)."""
    return _target_type(field.type, field.metadata or {})


def _target_field(field: pa.Field) -> pa.Field:
    return field.with_type(target_type(field))


def _target_type(typ: pa.DataType, metadata: dict[bytes, bytes]) -> pa.DataType:
    if isinstance(typ, pa.BaseExtensionType):
        name = typ.extension_name
        if name == "arrow.uuid":
            return typ
        if name == "arrow.opaque" and getattr(typ, "type_name", "") == "numeric":
            return _numeric_type(metadata)
        return _target_type(typ.storage_type, {})
    if pa.types.is_interval(typ):
        return INTERVAL_STRUCT
    if pa.types.is_timestamp(typ) and typ.tz is not None and typ.tz != "UTC":
        # Arrow stores instants in UTC whatever the label; one label keeps schemas equal.
        return pa.timestamp(typ.unit, tz="UTC")
    if typ == pa.string_view():
        return pa.string()
    if typ == pa.binary_view():
        return pa.binary()
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        value = typ.value_field
        target = value.with_type(_target_type(value.type, value.metadata or {}))
        return pa.list_(target) if pa.types.is_list(typ) else pa.large_list(target)
    if pa.types.is_struct(typ):
        return pa.struct([_target_field(typ.field(i)) for i in range(typ.num_fields)])
    return typ


def _numeric_type(metadata: dict[bytes, bytes]) -> pa.DataType:
    """``numeric(p, s)`` from PostgreSQL's typmod: ``((p << 16) | s) + 4``."""
    try:
        typmod = int(metadata.get(_TYPMOD_KEY, b"-1"))
    except ValueError:
        typmod = -1
    if typmod < 4:
        return pa.string()
    precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    if 1 <= precision <= _MAX_DECIMAL128 and scale <= precision:
        return pa.decimal128(precision, scale)
    return pa.string()


def _convert(array: pa.Array, src: pa.Field, dst: pa.Field) -> pa.Array:
    if array.type == dst.type:
        return array
    if isinstance(array, pa.ExtensionArray):
        storage = array.storage
        if pa.types.is_decimal(dst.type):
            return _cast_decimal(storage, src.name, dst.type)
        return _convert(storage, src.with_type(storage.type), dst)
    if pa.types.is_interval(array.type):
        return _interval_struct(array)
    if isinstance(array, pa.ListArray | pa.LargeListArray):
        value_src = src.type.value_field
        value_dst = dst.type.value_field
        values = _convert(array.values, value_src, value_dst)
        cls = pa.ListArray if isinstance(array, pa.ListArray) else pa.LargeListArray
        mask = array.is_null() if array.null_count else None
        return cls.from_arrays(array.offsets, values, type=dst.type, mask=mask)
    if isinstance(array, pa.StructArray):
        children = [
            _convert(child, src.type.field(i), dst.type.field(i))
            for i, child in enumerate(array.flatten())
        ]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(dst.type), mask=mask)
    return array.cast(dst.type)


def _cast_decimal(storage: pa.Array, column: str, typ: pa.DataType) -> pa.Array:
    try:
        return pc.cast(storage, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        bad = _first_bad_decimal(storage, typ)
        raise WarehouseError(
            f"column {column!r}: the value {bad!r} does not fit {typ}; cast the column in the "
            f"query (e.g. {column}::text or {column}::float8) to read it",
            column=column,
            value=bad,
        ) from exc


def _first_bad_decimal(storage: pa.Array, typ: pa.DataType) -> Any:
    for value in storage.to_pylist():
        if value is None:
            continue
        try:
            pc.cast(pa.array([value]), typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return value
    return None


def _interval_struct(array: pa.Array) -> pa.StructArray:
    """month_day_nano values (int32 months, int32 days, int64 ns, 16 bytes each) as a struct."""
    dtype = np.dtype([("months", "<i4"), ("days", "<i4"), ("ns", "<i8")])
    data = array.buffers()[1]
    raw = np.frombuffer(data, dtype=dtype, count=array.offset + len(array))[array.offset :]
    mask = array.is_null() if array.null_count else None
    return pa.StructArray.from_arrays(
        [pa.array(raw["months"]), pa.array(raw["days"]), pa.array(raw["ns"])],
        fields=list(INTERVAL_STRUCT),
        mask=mask,
    )
