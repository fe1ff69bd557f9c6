"""MySQL / MariaDB column metadata -> how to select it and which target type holds it.

The plan is built from ``information_schema`` on the source, never from the Arrow types that
connectorx happens to produce: ``TINYINT(1)`` and ``TINYINT`` both arrive as ``int8``,
MariaDB's ``JSON`` is a ``LONGTEXT`` with a ``json_valid`` check, and connectorx squeezes every
``DECIMAL`` into ``decimal128(38, 10)``. Each column gets a source SQL expression that makes the
value safe to read (zero dates become NULL, decimals travel as exact text, ``TIME`` as signed
microseconds) and an encoder kind used by the target loader.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tasuki.errors import MigrationError

__all__ = ["ColumnPlan", "Kind", "SourceColumn", "plan_column", "quote_mysql"]


class Kind(enum.Enum):
    """How the loader encodes a column for the target (PostgreSQL binary COPY wire types)."""

    BOOL = "bool"
    INT2 = "int2"
    INT4 = "int4"
    INT8 = "int8"
    FLOAT4 = "float4"
    FLOAT8 = "float8"
    NUMERIC = "numeric"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    INTERVAL_US = "interval_us"
    TEXT = "text"
    JSON = "json"
    BYTEA = "bytea"


@dataclass(frozen=True)
class SourceColumn:
    """One row of ``information_schema.COLUMNS`` (plus the JSON check MariaDB uses)."""

    name: str
    data_type: str  # DATA_TYPE, lower case: "bigint", "varchar", ...
    column_type: str  # COLUMN_TYPE, lower case: "bigint(20) unsigned", "tinyint(1)", ...
    nullable: bool
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    char_length: int | None = None
    is_json: bool = False


@dataclass(frozen=True)
class ColumnPlan:
    """What to select from the source and which target column receives it.

    Attributes:
        name: column name (same in source and target).
        source_type: the source ``COLUMN_TYPE`` (for messages and docs).
        select_sql: SQL expression selecting the value from the source, aliased to ``name``.
        target_type: target type in PostgreSQL's canonical ``format_type`` spelling, so it can
            be compared with an existing table's columns.
        kind: encoder kind for the loader.
        nullable: whether the source column admits NULL (zero dates make it nullable).
        int_digits: for NUMERIC, the most digits before the decimal point.
        scale: for NUMERIC, digits after the decimal point.
    """

    name: str
    source_type: str
    select_sql: str
    target_type: str
    kind: Kind
    nullable: bool
    int_digits: int = 0
    scale: int = 0


def quote_mysql(name: str) -> str:
    """Quote a MySQL identifier with backticks (doubling any backtick inside)."""
    return "`" + name.replace("`", "``") + "`"


_SUPPORTED = (
    "tinyint, smallint, mediumint, int, bigint (signed or unsigned), decimal, float, double, "
    "bit, year, date, datetime, timestamp, time, char, varchar, *text, enum, set, json, "
    "binary, varbinary, *blob"
)

_TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext", "enum", "set"}
_BYTEA_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


def _zero_date_guard(col: str) -> str:
    # MySQL stores '0000-00-00' and dates with a zero month or day ('2024-00-10'); neither
    # exists in PostgreSQL (nor in Arrow), so they are read as NULL. The guard keeps the
    # expression's type a DATE/DATETIME so the driver still decodes it natively.
    return f"IF(MONTH({col}) = 0 OR DAYOFMONTH({col}) = 0, NULL, {col})"


def plan_column(col: SourceColumn, *, table: str) -> ColumnPlan:
    """Choose the source expression, target type and encoder for one source column.

    Args:
        col: the column's metadata from ``information_schema``.
        table: source table name, used in error messages.

    Returns:
        The column's plan.

    Raises:
        MigrationError: the column's type has no mapping (e.g. GEOMETRY).
    """
    q = quote_mysql(col.name)
    dt = col.data_type.lower()
    ct = col.column_type.lower()
    unsigned = "unsigned" in ct

    def plan(
        target: str, kind: Kind, select: str | None = None, *, nullable: bool | None = None
    ) -> ColumnPlan:
        return ColumnPlan(
            name=col.name,
            source_type=col.column_type,
            select_sql=f"{select or q} AS {q}",
            target_type=target,
            kind=kind,
            nullable=col.nullable if nullable is None else nullable,
        )

    if col.is_json or dt == "json":
        return plan("jsonb", Kind.JSON)
    if dt == "tinyint":
        if ct.startswith("tinyint(1)") and not unsigned:
            return plan("boolean", Kind.BOOL)
        return plan("smallint", Kind.INT2)
    if dt == "smallint":
        return plan("integer", Kind.INT4) if unsigned else plan("smallint", Kind.INT2)
    if dt in ("mediumint", "int", "integer"):
        if dt != "mediumint" and unsigned:
            return plan("bigint", Kind.INT8)
        return plan("integer", Kind.INT4)
    if dt == "bigint":
        if unsigned:
            # Values above 2**63 - 1 do not fit bigint; numeric(20,0) holds all of 0..2**64-1.
            return _numeric_plan(col, q, precision=20, scale=0, select=None)
        return plan("bigint", Kind.INT8)
    if dt == "decimal":
        precision = col.numeric_precision or 10
        scale = col.numeric_scale or 0
        # connectorx reads DECIMAL as decimal128(38, 10): exact while the scale is at most 10
        # and the value fits 18 digits (then the loader uses integer arithmetic). Wider
        # decimals travel as MySQL's own exact text.
        native = precision <= 18 and scale <= 10
        select = None if native else f"CAST({q} AS CHAR)"
        return _numeric_plan(col, q, precision=precision, scale=scale, select=select)
    if dt == "float":
        return plan("real", Kind.FLOAT4)
    if dt == "double":
        return plan("double precision", Kind.FLOAT8)
    if dt == "bit":
        bits = col.numeric_precision or 1
        select = f"CAST({q} AS UNSIGNED)"
        if bits == 1:
            return plan("boolean", Kind.BOOL, select)
        if bits <= 63:
            return plan("bigint", Kind.INT8, select)
        return _numeric_plan(col, q, precision=20, scale=0, select=select)
    if dt == "year":
        return plan("smallint", Kind.INT2)
    if dt == "date":
        return plan("date", Kind.DATE, _zero_date_guard(q), nullable=True)
    if dt == "datetime":
        return plan(
            "timestamp without time zone", Kind.TIMESTAMP, _zero_date_guard(q), nullable=True
        )
    if dt == "timestamp":
        # Read with the session time zone at UTC (see _source), so the instant is exact.
        return plan(
            "timestamp with time zone", Kind.TIMESTAMPTZ, _zero_date_guard(q), nullable=True
        )
    if dt == "time":
        # MySQL TIME is a signed duration up to 838:59:59, not a time of day.
        return plan("interval", Kind.INTERVAL_US, f"CAST(TIME_TO_SEC({q}) * 1000000 AS SIGNED)")
    if dt in ("char", "varchar"):
        length = col.char_length
        target = f"character varying({length})" if length else "text"
        return plan(target, Kind.TEXT)
    if dt in _TEXT_TYPES:
        return plan("text", Kind.TEXT)
    if dt in _BYTEA_TYPES:
        return plan("bytea", Kind.BYTEA)
    raise MigrationError(
        f"column {col.name!r} of source table {table!r} has type {col.column_type!r}, which "
        f"tasuki migrate cannot map. Supported source types: {_SUPPORTED}. Fix: convert the "
        "column on the source (or migrate a view that selects it as text).",
        table=table,
        column=col.name,
        source_type=col.column_type,
    )


def _numeric_plan(
    col: SourceColumn, q: str, *, precision: int, scale: int, select: str | None
) -> ColumnPlan:
    return ColumnPlan(
        name=col.name,
        source_type=col.column_type,
        select_sql=f"{select or q} AS {q}",
        target_type=f"numeric({precision},{scale})",
        kind=Kind.NUMERIC,
        nullable=col.nullable,
        int_digits=precision - scale,
        scale=scale,
    )
