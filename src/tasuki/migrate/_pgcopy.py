"""Arrow record batches -> PostgreSQL binary COPY data, vectorised (no per-row Python).

The binary COPY format is row-major: per row a 16-bit field count, then per field a 32-bit
length (-1 for NULL) followed by the value in the type's binary ``recv`` format. Each column is
first turned into a ``large_binary`` Arrow array whose elements are complete fields (length
prefix + payload), built with numpy for fixed-width types and with Arrow kernels for strings;
``binary_join_element_wise`` then concatenates the fields of every row in C++, and the joined
array's data buffer *is* the COPY payload for the batch.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasuki.errors import MigrationError
from tasuki.migrate._types import ColumnPlan, Kind

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

__all__ = ["COPY_HEADER", "COPY_TRAILER", "encode_batch"]

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)

_LB = pa.large_binary()
_EMPTY = pa.scalar(b"", _LB)
_NULL_FIELD = pa.scalar(struct.pack(">i", -1), _LB)
# PostgreSQL counts dates from 2000-01-01; Arrow (and Unix) from 1970-01-01.
_PG_EPOCH_DAYS = 10957
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000
_NUMERIC_NEG = 0x4000

_FIXED: dict[Kind, tuple[str, int]] = {
    Kind.BOOL: (">u1", 1),
    Kind.INT2: (">i2", 2),
    Kind.INT4: (">i4", 4),
    Kind.INT8: (">i8", 8),
    Kind.FLOAT4: (">f4", 4),
    Kind.FLOAT8: (">f8", 8),
    Kind.DATE: (">i4", 4),
    Kind.TIMESTAMP: (">i8", 8),
    Kind.TIMESTAMPTZ: (">i8", 8),
}


def encode_batch(batch: pa.RecordBatch, plans: Sequence[ColumnPlan], *, table: str) -> pa.Buffer:
    """Encode one record batch as the row section of a binary COPY stream.

    Args:
        batch: the rows, columns in the same order as ``plans``.
        plans: one plan per column, giving the encoder kind.
        table: table name, for error messages.

    Returns:
        A buffer holding the encoded rows (no COPY header or trailer).

    Raises:
        MigrationError: a column holds values its target type cannot take.
    """
    n = batch.num_rows
    if n == 0:
        return pa.py_buffer(b"")
    # Consecutive fixed-width columns without NULLs in this batch are laid side by side in
    # one numpy block (no per-column Arrow array); the rest become Arrow arrays of fields.
    blocks: list[npt.NDArray[np.uint8]] = [
        np.broadcast_to(np.frombuffer(struct.pack(">h", len(plans)), np.uint8), (n, 2))
    ]
    parts: list[pa.Array] = []
    for plan, column in zip(plans, batch.columns, strict=True):
        try:
            part = _encode_column(column, plan)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError) as exc:
            raise MigrationError(
                f"cannot encode column {plan.name!r} of {table!r} (source type "
                f"{plan.source_type!r}, read as Arrow {column.type}) as PostgreSQL "
                f"{plan.target_type}: {exc}",
                table=table,
                column=plan.name,
            ) from exc
        if isinstance(part, np.ndarray):
            blocks.append(part)
        else:
            if blocks:
                parts.append(_binary_rows(np.hstack(blocks)))
                blocks = []
            parts.append(part)
    if not parts:  # every column fixed-width: the block is the payload
        return pa.py_buffer(np.ascontiguousarray(np.hstack(blocks)))
    if blocks:
        parts.append(_binary_rows(np.hstack(blocks)))
    rows = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _EMPTY)
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64, count=n + 1, offset=rows.offset * 8)
    data = rows.buffers()[2]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


_Part: TypeAlias = "pa.Array | npt.NDArray[np.uint8]"


def _encode_column(column: pa.Array, plan: ColumnPlan) -> _Part:
    kind = plan.kind
    if kind in _FIXED:
        dtype, width = _FIXED[kind]
        values = _fixed_values(column, kind).astype(dtype, copy=False)
        return _fixed_or_nullable(_fixed_block(values, width), column)
    if kind is Kind.NUMERIC:
        return _fixed_or_nullable(_numeric_block(column, plan), column)
    if kind is Kind.INTERVAL_US:
        return _fixed_or_nullable(_interval_block(column), column)
    if kind is Kind.TEXT:
        return _varlen_fields(_as_large_binary(column), prefix=b"")
    if kind is Kind.JSON:
        # jsonb's binary format is a version byte (1) followed by the JSON text.
        return _varlen_fields(_as_large_binary(column), prefix=b"\x01")
    if kind is Kind.BYTEA:
        return _varlen_fields(_as_large_binary(column), prefix=b"")
    raise ValueError(f"no encoder for kind {kind}")  # pragma: no cover - Kind is closed


def _fixed_or_nullable(block: npt.NDArray[np.uint8], column: pa.Array) -> _Part:
    """The block itself when the column has no NULLs, else an Arrow array with NULL fields."""
    if column.null_count == 0:
        return block
    return pc.if_else(column.is_valid(), _binary_rows(block), _NULL_FIELD)


def _binary_rows(block: npt.NDArray[np.uint8]) -> pa.Array:
    """View an (n, width) byte block as a large_binary array of n elements (no copy)."""
    block = np.ascontiguousarray(block)
    n, width = block.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeBinaryArray.from_buffers(
        _LB, n, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )


def _fixed_values(column: pa.Array, kind: Kind) -> npt.NDArray[np.generic]:
    if kind is Kind.BOOL:
        as_bool = column if pa.types.is_boolean(column.type) else pc.not_equal(column, 0)
        return np.asarray(as_bool.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
    if kind is Kind.DATE:
        days = pc.cast(column, pa.date32()).view(pa.int32()).fill_null(0)
        shifted: npt.NDArray[np.generic] = days.to_numpy().astype(np.int32) - _PG_EPOCH_DAYS
        return shifted
    if kind in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        tz = getattr(column.type, "tz", None)
        micros = pc.cast(column, pa.timestamp("us", tz=tz)).view(pa.int64()).fill_null(0)
        moved: npt.NDArray[np.generic] = micros.to_numpy() - _PG_EPOCH_US
        return moved
    target = {
        Kind.INT2: pa.int16(),
        Kind.INT4: pa.int32(),
        Kind.INT8: pa.int64(),
        Kind.FLOAT4: pa.float32(),
        Kind.FLOAT8: pa.float64(),
    }[kind]
    # A safe cast: an out-of-range value raises instead of wrapping around.
    values: npt.NDArray[np.generic] = pc.cast(column, target).fill_null(0).to_numpy()
    return values


def _fixed_block(values: npt.NDArray[np.generic], width: int) -> npt.NDArray[np.uint8]:
    n = len(values)
    out = np.empty((n, 4 + width), dtype=np.uint8)
    out[:, :4] = np.frombuffer(struct.pack(">i", width), dtype=np.uint8)
    out[:, 4:] = np.ascontiguousarray(values).view(np.uint8).reshape(n, width)
    return out


def _as_large_binary(column: pa.Array) -> pa.Array:
    if pa.types.is_large_binary(column.type):
        return column
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.cast(pa.large_string()).view(_LB)
    return column.cast(_LB)


def _varlen_fields(values: pa.Array, *, prefix: bytes) -> pa.Array:
    lengths = pc.binary_length(values).fill_null(0).to_numpy().astype(np.int64) + len(prefix)
    if lengths.size and lengths.max() > 2**31 - 1:
        raise ValueError("a value is larger than PostgreSQL's 1 GB field limit")
    nulls = values.null_count and not prefix
    if nulls:
        # A NULL field is just the length -1; with an empty payload the join emits exactly that.
        lengths = np.where(values.is_valid().to_numpy(zero_copy_only=False), lengths, -1)
    heads = lengths.astype(">i4").view(np.uint8).reshape(-1, 4)
    if prefix:
        heads = np.hstack([heads, np.tile(np.frombuffer(prefix, np.uint8), (len(heads), 1))])
    joined = pc.binary_join_element_wise(_binary_rows(heads), values.fill_null(b""), _EMPTY)
    if values.null_count == 0 or nulls:
        return joined
    return pc.if_else(values.is_valid(), joined, _NULL_FIELD)


def _interval_block(column: pa.Array) -> npt.NDArray[np.uint8]:
    micros = pc.cast(column, pa.int64()).fill_null(0).to_numpy()
    n = len(micros)
    out = np.zeros((n, 4 + 16), dtype=np.uint8)
    out[:, :4] = np.frombuffer(struct.pack(">i", 16), dtype=np.uint8)
    # interval recv format: int64 microseconds, int32 days, int32 months (days/months stay 0
    # so "838:59:59" stays 838 hours rather than being normalised into days).
    out[:, 4:12] = micros.astype(">i8").view(np.uint8).reshape(n, 8)
    return out


def _numeric_block(column: pa.Array, plan: ColumnPlan) -> npt.NDArray[np.uint8]:
    """Encode a numeric column with a fixed number of base-10000 digits per value.

    Every value gets the same layout: ``ceil(int_digits / 4)`` groups before the point and
    ``ceil(scale / 4)`` after. PostgreSQL's ``numeric_recv`` strips leading and trailing zero
    groups itself, so this fixed-width form is accepted and stored normalised. Integers and
    decimals of up to 18 digits are split with integer arithmetic; wider decimals arrive as
    MySQL's exact text and are split character by character.
    """
    int_groups = -(-plan.int_digits // 4)
    frac_groups = -(-plan.scale // 4)
    typ = column.type
    if pa.types.is_integer(typ) or pa.types.is_decimal(typ):
        neg, digits = _numeric_digits_int(column, plan, int_groups, frac_groups)
    else:
        neg, digits = _numeric_digits_text(column, plan, int_groups, frac_groups)
    n = len(column)
    groups = int_groups + frac_groups
    out = np.empty((n, 4 + 8 + 2 * groups), dtype=np.uint8)
    out[:, :4] = np.frombuffer(struct.pack(">i", 8 + 2 * groups), dtype=np.uint8)
    header = np.empty((n, 4), dtype=">i2")
    header[:, 0] = groups
    header[:, 1] = int_groups - 1  # weight: base-10000 exponent of the first group
    header[:, 2] = np.where(neg, _NUMERIC_NEG, 0)
    header[:, 3] = plan.scale
    out[:, 4:12] = header.view(np.uint8).reshape(n, 8)
    out[:, 12:] = digits.astype(">i2").view(np.uint8).reshape(n, 2 * groups)
    return out


_Digits = tuple["npt.NDArray[np.bool_]", "npt.NDArray[np.int64]"]


def _numeric_digits_int(
    column: pa.Array, plan: ColumnPlan, int_groups: int, frac_groups: int
) -> _Digits:
    """Sign and base-10000 digit groups of integer or decimal(<=18) values."""
    n = len(column)
    scale = 0
    if pa.types.is_decimal(column.type):
        scale = plan.scale
        # A safe cast to decimal128(18, scale) raises if a value does not fit; the unscaled
        # value then fits in the low 64 bits of each 128-bit two's-complement slot.
        dec = pc.cast(column, pa.decimal128(18, scale)).fill_null(0)
        low = np.frombuffer(dec.buffers()[1], dtype=np.int64, count=2 * (dec.offset + n))
        signed = low[2 * dec.offset :: 2]
    elif pa.types.is_unsigned_integer(column.type):
        signed = None
        mag = pc.cast(column, pa.uint64()).fill_null(0).to_numpy()
        neg = np.zeros(n, dtype=np.bool_)
    else:
        signed = pc.cast(column, pa.int64()).fill_null(0).to_numpy()
    if signed is not None:
        neg = signed < 0
        as_unsigned = signed.view(np.uint64)
        # Two's-complement negation in uint64 also handles -2**63.
        mag = np.where(neg, ~as_unsigned + np.uint64(1), as_unsigned)
    unit = np.uint64(10**scale)
    whole, frac = np.divmod(mag, unit)
    frac = frac * np.uint64(10 ** (4 * frac_groups - scale))
    digits = np.empty((n, int_groups + frac_groups), dtype=np.int64)
    base = np.uint64(10_000)
    for g in range(int_groups - 1, -1, -1):
        whole, digits[:, g] = np.divmod(whole, base)
    if whole.any():
        raise ValueError(f"a value has more than {plan.int_digits} digits before the point")
    for g in range(int_groups + frac_groups - 1, int_groups - 1, -1):
        frac, digits[:, g] = np.divmod(frac, base)
    return neg, digits


def _numeric_digits_text(
    column: pa.Array, plan: ColumnPlan, int_groups: int, frac_groups: int
) -> _Digits:
    """Sign and base-10000 digit groups of decimal text such as ``-12345.678``."""
    text = pc.cast(column, pa.string())
    n = len(text)
    groups = int_groups + frac_groups
    parts = pc.extract_regex(
        text.fill_null("0"), r"^\s*(?P<sign>[-+]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?\s*$"
    )
    if parts.null_count:
        bad = text.filter(pc.and_(parts.is_null(), text.is_valid()))[0].as_py()
        raise ValueError(f"{bad!r} is not a plain decimal number")
    int_part = pc.utf8_ltrim(parts.field("int"), characters="0")
    frac_part = parts.field("frac")
    if pc.max(pc.utf8_length(int_part)).as_py() > plan.int_digits:
        raise ValueError(f"a value has more than {plan.int_digits} digits before the point")
    if pc.max(pc.utf8_length(frac_part)).as_py() > plan.scale:
        raise ValueError(f"a value has more than {plan.scale} digits after the point")
    neg = pc.equal(parts.field("sign"), "-").to_numpy(zero_copy_only=False)
    if not groups:
        return neg, np.zeros((n, 0), dtype=np.int64)
    joined = pc.binary_join_element_wise(
        pc.utf8_lpad(int_part, width=4 * int_groups, padding="0"),
        pc.utf8_rpad(frac_part, width=4 * frac_groups, padding="0"),
        "",
    )
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=joined.offset + n + 1)
    offsets = offsets[joined.offset :]
    raw = np.frombuffer(joined.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    chars = raw.reshape(n, groups, 4).astype(np.int64) - 48
    return neg, chars @ np.array([1000, 100, 10, 1], dtype=np.int64)
