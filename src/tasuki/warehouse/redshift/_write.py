"""Redshift ``write_table``: zstd Parquet parts on S3, ``COPY`` into a staging table, then
swap / append / merge and the lineage row, in one transaction.

This is how Redshift is meant to be loaded: the cluster's slices read the parts from S3 in
parallel (``COPY ... FORMAT AS PARQUET``), instead of rows being pushed through the leader
node. The statements, for table ``t``::

    SET statement_timeout TO <ms>
    [schema.t whose schema is missing] CREATE SCHEMA IF NOT EXISTS s
    -- replace                                  -- append / merge
    CREATE TABLE s._tasuki_stage_t_<hex> (...)  CREATE TEMP TABLE _tasuki_stage_t_<hex> (...)
    COPY <stage> FROM 's3://.../write-<id>/' IAM_ROLE ... FORMAT AS PARQUET
    DROP TABLE IF EXISTS s.t                    CREATE TABLE IF NOT EXISTS s.t (...)
    ALTER TABLE <stage> RENAME TO t             [merge] DELETE FROM s.t USING <stage> WHERE <keys>
                                                INSERT INTO s.t (...) SELECT ... FROM <stage>
                                                DROP TABLE <stage>
    [lineage] CREATE TABLE IF NOT EXISTS tasuki_lineage ...; DELETE / check; INSERT
    COMMIT

Merge is Redshift's documented "replace existing rows" merge (delete the matching target
rows, insert the staging table), the same rule the other backends follow, so a key that
appears twice in the data is inserted twice everywhere. Redshift has no ``IS NOT DISTINCT
FROM``; keys match when equal or both NULL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from tasuki.errors import WarehouseError
from tasuki.warehouse.redshift._unload import iam_role_sql

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "column_definitions",
    "copy_sql",
    "create_schema_sql",
    "redshift_type",
    "write_statements",
]

VARCHAR_MAX = "VARCHAR(65535)"
VARBYTE_MAX = "VARBYTE(1024000)"

_SCALARS: dict[pa.DataType, str] = {
    pa.bool_(): "BOOLEAN",
    pa.int8(): "SMALLINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float32(): "REAL",
    pa.float64(): "DOUBLE PRECISION",
    pa.string(): VARCHAR_MAX,
    pa.large_string(): VARCHAR_MAX,
    pa.binary(): VARBYTE_MAX,
    pa.large_binary(): VARBYTE_MAX,
    pa.date32(): "DATE",
}


def redshift_type(field: pa.Field) -> str:
    """The Redshift column type a Parquet column of ``field``'s type is copied into.

    Raises:
        WarehouseError: A type Redshift cannot load from Parquet (named, with the fix).
    """
    typ = field.type
    if typ in _SCALARS:
        return _SCALARS[typ]
    if pa.types.is_decimal128(typ):
        return f"DECIMAL({typ.precision}, {typ.scale})"
    if pa.types.is_timestamp(typ):
        return "TIMESTAMPTZ" if typ.tz is not None else "TIMESTAMP"
    if pa.types.is_time(typ):
        return "TIME"
    if pa.types.is_nested(typ):
        return "SUPER"  # COPY ... SERIALIZETOJSON turns nested Parquet values into SUPER
    raise WarehouseError(
        f"column {field.name!r} has type {typ}, which Redshift cannot load from Parquet; "
        "cast it (e.g. to string, int64 or decimal128(38, s)) before writing",
        column=field.name,
        type=str(typ),
    )


def column_definitions(schema: pa.Schema) -> str:
    """``"a" BIGINT, "b" VARCHAR(65535), ...`` for ``schema``, in its column order.

    COPY from Parquet fills columns by position, so the staging table keeps the data's order.
    """
    return ", ".join(
        f"{exp.to_identifier(f.name, quoted=True).sql('redshift')} {redshift_type(f)}"
        for f in schema
    )


def copy_sql(table: str, prefix: str, iam_role: str, *, nested: bool) -> str:
    """``COPY <table> FROM '<prefix>' IAM_ROLE ... FORMAT AS PARQUET [SERIALIZETOJSON]``.

    Redshift loads every object whose key starts with ``prefix``; the prefix is unique to one
    write, so that is exactly the parts it made.
    """
    source = exp.Literal.string(prefix).sql("redshift")
    role = iam_role_sql(iam_role)
    options = " SERIALIZETOJSON" if nested else ""
    return f"COPY {table} FROM {source} IAM_ROLE {role} FORMAT AS PARQUET{options}"


def create_schema_sql(schema: str) -> str:
    """``CREATE SCHEMA IF NOT EXISTS "schema"``: sent first when the target's schema is missing."""
    return f"CREATE SCHEMA IF NOT EXISTS {exp.to_identifier(schema, quoted=True).sql('redshift')}"


def write_statements(
    *,
    target: exp.Table,
    stage: exp.Table,
    schema: pa.Schema,
    mode: str,
    keys: Sequence[str],
    prefix: str | None,
    iam_role: str,
) -> list[str]:
    """The statements of one write, from creating the staging table to the last change of
    the target (the lineage row and COMMIT follow).

    Args:
        target: The table written.
        stage: The staging table's name (in the target's schema; ``replace`` renames it).
        schema: The Arrow schema of the parts (after :func:`~tasuki.warehouse._write.
            for_loading`).
        mode: ``replace``, ``append`` or ``merge``.
        keys: Key columns for ``merge``.
        prefix: S3 prefix of the parts; None when there are no rows (nothing to COPY).
        iam_role: The role COPY reads S3 with, as for UNLOAD.
    """
    columns = column_definitions(schema)
    t = target.sql("redshift", identify=True)
    if mode == "replace":
        s = stage.sql("redshift", identify=True)
        create = f"CREATE TABLE {s} ({columns})"
    else:
        # A temporary table lives in its own schema and vanishes with the session.
        s = exp.to_identifier(stage.name, quoted=True).sql("redshift")
        create = f"CREATE TEMP TABLE {s} ({columns})"
    statements = [create]
    if prefix is not None:
        nested = any(pa.types.is_nested(f.type) for f in schema)
        statements.append(copy_sql(s, prefix, iam_role, nested=nested))
    if mode == "replace":
        statements.append(f"DROP TABLE IF EXISTS {t}")
        name = exp.to_identifier(target.name, quoted=True).sql("redshift")
        statements.append(f"ALTER TABLE {s} RENAME TO {name}")
        return statements
    names = ", ".join(exp.to_identifier(c, quoted=True).sql("redshift") for c in schema.names)
    statements.append(f"CREATE TABLE IF NOT EXISTS {t} ({columns})")
    if mode == "merge":
        match = " AND ".join(_key_match(t, s, k) for k in keys)
        statements.append(f"DELETE FROM {t} USING {s} WHERE {match}")
    statements.append(f"INSERT INTO {t} ({names}) SELECT {names} FROM {s}")
    statements.append(f"DROP TABLE {s}")
    return statements


def _key_match(target: str, stage: str, key: str) -> str:
    column = exp.to_identifier(key, quoted=True).sql("redshift")
    left, right = f"{target}.{column}", f"{stage}.{column}"
    return f"({left} = {right} OR ({left} IS NULL AND {right} IS NULL))"
