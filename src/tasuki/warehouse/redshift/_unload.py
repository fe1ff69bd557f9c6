"""The UNLOAD statement and the manifest Redshift writes beside the parts."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

__all__ = ["arrow_type", "iam_role_sql", "unload_sql"]


def iam_role_sql(iam_role: str) -> str:
    """The ``IAM_ROLE`` argument: ``default``, or the role's ARN as a quoted literal."""
    return "default" if iam_role == "default" else exp.Literal.string(iam_role).sql("redshift")


def unload_sql(select_sql: str, target: str, iam_role: str, max_file_size_mb: int) -> str:
    """``UNLOAD ('<select>') TO '<target>' ... FORMAT PARQUET ... MANIFEST VERBOSE``.

    UNLOAD takes its query as a string literal, so the query (with its parameters already
    rendered as literals) is quoted once more by sqlglot's Redshift generator, which doubles
    quotes and escapes backslashes; no value can close the string early.
    """
    query = exp.Literal.string(select_sql).sql("redshift")
    to = exp.Literal.string(target).sql("redshift")
    return (
        f"UNLOAD ({query}) TO {to} IAM_ROLE {iam_role_sql(iam_role)} FORMAT PARQUET PARALLEL ON "
        f"MAXFILESIZE {int(max_file_size_mb)} MB MANIFEST VERBOSE"
    )


_TYPES: dict[str, pa.DataType] = {
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "boolean": pa.bool_(),
    "character": pa.string(),
    "character varying": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "super": pa.string(),
}


def arrow_type(element: dict[str, Any]) -> pa.DataType:
    """Arrow type for one column of a ``MANIFEST VERBOSE`` schema (used for empty results)."""
    typ = element.get("type") or {}
    base = str(typ.get("base", "")).lower()
    if base in ("numeric", "decimal"):
        precision, scale = int(typ.get("precision", 38)), int(typ.get("scale", 0))
        if 1 <= precision <= 38:
            return pa.decimal128(precision, scale)
        return pa.string()
    return _TYPES.get(base, pa.string())
