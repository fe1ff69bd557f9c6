"""``numeric(p, s)`` columns read as scaled bigints instead of text.

The ADBC driver hands ``numeric`` over as text: the server's binary digits are formatted into
a decimal string per value, which the client then parses back into ``decimal128``. For a
table with one ``numeric(12, 2)`` column that round trip is about a third of the client's CPU
time. When every ``numeric`` column with a precision of at most 18 digits is selected as
``(col * 10^s)::int8`` instead, the value travels as eight bytes and becomes ``decimal128``
by a cast that only widens the integers; the values are exactly the same (``|x| * 10^s <
10^p <= 10^18`` fits a bigint). Wider or unconstrained ``numeric`` keeps the text path.

The query is wrapped, never edited: ``SELECT c0, (c1 * 100)::int8, ... FROM (<query>) AS
q(c0, c1, ...)``; the column list renames whatever the query named its columns (even
duplicates or ``?column?``), and the original names come back in the Arrow schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tasuki.errors import WarehouseError
from tasuki.warehouse._arrow import target_type

__all__ = ["ScaledNumerics", "plan_scaled_numerics"]

_MAX_INT8_DIGITS = 18
_WIDE = pa.decimal128(38, 0)


@dataclass(frozen=True)
class ScaledNumerics:
    """How one query's ``numeric(p, s)`` columns are fetched as bigints and restored."""

    described: pa.Schema
    """The query's own result schema, as the driver describes it."""
    columns: tuple[tuple[int, int, int], ...]
    """(position, precision, scale) of each column fetched as a scaled bigint."""

    def wrap(self, sql: str) -> str:
        """The query that selects the scaled columns as ``int8``."""
        scaled = {index: scale for index, _, scale in self.columns}
        names = [f"c{i}" for i in range(len(self.described))]
        select = []
        for i, name in enumerate(names):
            if i not in scaled:
                select.append(name)
            elif scaled[i] == 0:
                select.append(f"{name}::int8")
            else:
                select.append(f"({name} * {10 ** scaled[i]})::int8")
        return f"SELECT {', '.join(select)} FROM ({sql}) AS _tasuki_q({', '.join(names)})"

    def schema(self, fetched: pa.Schema) -> pa.Schema:
        """The schema of restored batches: the query's names, decimals for scaled columns."""
        scaled = {index: (precision, scale) for index, precision, scale in self.columns}
        fields = []
        for i, field in enumerate(self.described):
            if i in scaled:
                fields.append(pa.field(field.name, pa.decimal128(*scaled[i]), field.nullable))
            else:
                fields.append(fetched.field(i).with_name(field.name))
        return pa.schema(fields)

    def restore(self, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
        """Turn a fetched batch's scaled bigints back into ``decimal128(p, s)``."""
        arrays = list(batch.columns)
        for index, precision, scale in self.columns:
            # int64 -> decimal128(38, 0) widens each integer to 16 bytes (Arrow wants room
            # for any int64 there); the same bytes read as decimal128(p, s) are the numbers
            # the server holds, which its typmod keeps under 10^p.
            whole = arrays[index].cast(_WIDE)
            arrays[index] = pa.Array.from_buffers(
                pa.decimal128(precision, scale),
                len(whole),
                whole.buffers(),
                null_count=whole.null_count,
                offset=whole.offset,
            )
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def explain(self, exc: BaseException) -> WarehouseError | None:
        """A clear error for a NaN in a scaled column (``numeric(p, s)`` holds NaN, not
        infinity; the bigint cast refuses it), else None."""
        if "cannot convert nan to bigint" not in str(exc).lower():
            return None
        names = [self.described.field(i).name for i, _, _ in self.columns]
        shown = ", ".join(repr(n) for n in names)
        return WarehouseError(
            f"a numeric column ({shown}) holds NaN, which decimal128 cannot hold; cast the "
            f"column in the query (e.g. {names[0]}::float8 or {names[0]}::text) to read it",
            columns=names,
            value="NaN",
        )


def plan_scaled_numerics(described: pa.Schema) -> ScaledNumerics | None:
    """The scaled-bigint plan for a result schema, or None when no column benefits."""
    columns = []
    for i, field in enumerate(described):
        typ = target_type(field)
        if pa.types.is_decimal(typ) and typ.precision <= _MAX_INT8_DIGITS:
            columns.append((i, typ.precision, typ.scale))
    if not columns:
        return None
    return ScaledNumerics(described, tuple(columns))
