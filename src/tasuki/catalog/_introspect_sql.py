"""What each warehouse is asked for its metadata, and how its answers become TableMeta.

Per backend: functions that return SQL text (pure, so the Redshift and BigQuery readers are
tested by the SQL they emit) and a function turning the answers (lists of dicts keyed by the
query's column names) into :class:`~tasuki.catalog._introspect.TableMeta`. Connecting and
running the SQL is :mod:`tasuki.catalog._introspect`'s job.

Every query aliases its columns to the same names where it can (``schema``, ``name``,
``table_type``, ``row_estimate``, ``size_bytes``, ``last_modified``, ``comment`` for tables;
``schema``, ``table_name``, ``name``, ``position``, ``data_type``, ``nullable``, ``comment``
for columns), so :func:`assemble` is shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from tasuki.catalog._introspect import ColumnMeta, TableMeta

__all__ = [
    "assemble",
    "bigquery_columns_sql",
    "bigquery_tables",
    "bigquery_tables_sql",
    "duckdb_columns_sql",
    "duckdb_tables_sql",
    "postgres_columns_sql",
    "postgres_tables_sql",
    "redshift_comments_sql",
    "redshift_columns_sql",
    "redshift_info_sql",
    "redshift_tables",
    "redshift_tables_sql",
]

Row = Mapping[str, Any]

_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_internal", "pg_automv")


def _literals(values: Iterable[str], dialect: str) -> str:
    return ", ".join(exp.Literal.string(v).sql(dialect) for v in values)


# -- PostgreSQL (pg_catalog) ----------------------------------------------------------------

# Ordinary and partitioned tables, views, materialized views, foreign tables; partitions are
# left out (their parent stands for them), as are system and temporary schemas. The SQL is
# run with a parameter mapping, hence ``%%`` for a literal ``%``.
_PG_WHERE = (
    "c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'"
)
_PG_SCHEMAS = " AND n.nspname = ANY(%(schemas)s)"


def postgres_tables_sql(schemas: Sequence[str] | None) -> str:
    """Tables with their kind, ``reltuples`` estimate, total size and COMMENT.

    ``schemas`` given: the SQL takes them as the ``%(schemas)s`` parameter (a list).
    """
    return (
        "SELECT n.nspname AS schema, c.relname AS name, "
        "CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
        "WHEN 'f' THEN 'external' ELSE 'table' END AS table_type, "
        # reltuples is -1 for a table never vacuumed or analysed: unknown, not empty. A
        # partitioned table holds nothing itself: its figures are its partitions' sums.
        "CASE WHEN c.relkind = 'p' THEN (SELECT sum(k.reltuples)::bigint "
        "FROM pg_catalog.pg_partition_tree(c.oid) p "
        "JOIN pg_catalog.pg_class k ON k.oid = p.relid WHERE p.isleaf AND k.reltuples >= 0) "
        "WHEN c.reltuples < 0 OR c.relkind IN ('v', 'f') THEN NULL "
        "ELSE c.reltuples::bigint END AS row_estimate, "
        "CASE WHEN c.relkind = 'p' THEN (SELECT sum(pg_catalog.pg_total_relation_size(p.relid))"
        "::bigint FROM pg_catalog.pg_partition_tree(c.oid) p) "
        "WHEN c.relkind IN ('r', 'm') THEN pg_catalog.pg_total_relation_size(c.oid) "
        "END AS size_bytes, NULL::timestamptz AS last_modified, d.description AS comment "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid "
        "AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0 "
        f"WHERE {_PG_WHERE}{_PG_SCHEMAS if schemas is not None else ''} ORDER BY 1, 2"
    )


def postgres_columns_sql(schemas: Sequence[str] | None) -> str:
    """Columns: ``attnum`` as position (what ``information_schema`` reports too: a renamed
    column keeps it, a dropped and re-added one gets a new one), ``format_type`` as type."""
    # A join on pg_description rather than col_description(): one hash join instead of a
    # lookup per column, which matters at 100,000 columns.
    return (
        "SELECT n.nspname AS schema, c.relname AS table_name, a.attname AS name, "
        "a.attnum AS position, pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type, "
        "NOT a.attnotnull AS nullable, d.description AS comment "
        "FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid "
        "AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = a.attnum "
        f"WHERE a.attnum > 0 AND NOT a.attisdropped AND {_PG_WHERE}"
        f"{_PG_SCHEMAS if schemas is not None else ''} ORDER BY 1, 2, 4"
    )


# -- DuckDB ---------------------------------------------------------------------------------


def duckdb_tables_sql() -> str:
    """Tables (with DuckDB's row estimate) and views of the opened database, with COMMENTs."""
    return (
        "SELECT schema_name AS \"schema\", table_name AS name, 'table' AS table_type, "
        "estimated_size AS row_estimate, NULL AS size_bytes, NULL AS last_modified, comment "
        "FROM duckdb_tables() WHERE NOT internal AND NOT temporary "
        "AND database_name = current_database() "
        "UNION ALL "
        "SELECT schema_name AS \"schema\", view_name AS name, 'view' AS table_type, "
        "NULL, NULL, NULL, comment "
        "FROM duckdb_views() WHERE NOT internal AND NOT temporary "
        "AND database_name = current_database() "
        "ORDER BY 1, 2"
    )


def duckdb_columns_sql() -> str:
    """Columns of the opened database's tables and views (``column_index`` is 1-based)."""
    return (
        'SELECT schema_name AS "schema", table_name, column_name AS name, '
        "column_index AS position, data_type, is_nullable AS nullable, comment "
        "FROM duckdb_columns() WHERE NOT internal AND database_name = current_database() "
        "ORDER BY 1, 2, 4"
    )


# -- Redshift (system views) ----------------------------------------------------------------
# Leader-node catalog views and the STV-backed SVV_TABLE_INFO cannot be joined in one query
# on Redshift, so each is asked separately and joined here.


def _redshift_where(column: str, schemas: Sequence[str] | None) -> str:
    system = _literals(_SYSTEM_SCHEMAS, "redshift")
    where = f"{column} NOT IN ({system}) AND {column} NOT LIKE 'pg\\\\_temp\\\\_%'"
    if schemas is not None:
        where += f" AND {column} IN ({_literals(schemas, 'redshift') or 'NULL'})"
    return where


def redshift_tables_sql(schemas: Sequence[str] | None) -> str:
    """``SVV_ALL_TABLES``: local, external and datashare tables and views, with remarks."""
    return (
        'SELECT schema_name AS "schema", table_name AS name, table_type, remarks AS comment '
        "FROM svv_all_tables WHERE database_name = current_database() AND "
        + _redshift_where("schema_name", schemas)
        + " ORDER BY 1, 2"
    )


def redshift_info_sql(schemas: Sequence[str] | None) -> str:
    """``SVV_TABLE_INFO``: rows and size (in 1 MB blocks) of the non-empty local tables."""
    return (
        'SELECT "schema", "table" AS name, tbl_rows, estimated_visible_rows, size AS size_mb '
        "FROM svv_table_info WHERE " + _redshift_where('"schema"', schemas)
    )


def redshift_columns_sql(schemas: Sequence[str] | None) -> str:
    """``SVV_COLUMNS``: columns of tables, views and external tables."""
    return (
        'SELECT table_schema AS "schema", table_name, column_name AS name, '
        "ordinal_position AS position, data_type, character_maximum_length, "
        "numeric_precision, numeric_scale, is_nullable, remarks AS comment "
        "FROM svv_columns WHERE " + _redshift_where("table_schema", schemas) + " ORDER BY 1, 2, 4"
    )


def redshift_comments_sql(schemas: Sequence[str] | None) -> str:
    """``PG_DESCRIPTION``: the COMMENTs on local tables (``objsubid`` 0) and their columns."""
    return (
        'SELECT n.nspname AS "schema", c.relname AS table_name, d.objsubid AS position, '
        "d.description AS comment FROM pg_catalog.pg_description d "
        "JOIN pg_catalog.pg_class c ON c.oid = d.objoid "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE " + _redshift_where("n.nspname", schemas)
    )


_REDSHIFT_TYPES = {"TABLE": "table", "VIEW": "view", "EXTERNAL TABLE": "external"}


def _redshift_type(row: Row) -> str:
    name = str(row.get("data_type") or "")
    length = row.get("character_maximum_length")
    if length is not None and name in ("character varying", "character"):
        return f"{name}({length})"
    precision, scale = row.get("numeric_precision"), row.get("numeric_scale")
    if name == "numeric" and precision is not None:
        return f"numeric({precision},{scale or 0})"
    return name


def redshift_tables(
    tables: Sequence[Row], info: Sequence[Row], columns: Sequence[Row], comments: Sequence[Row]
) -> list[TableMeta]:
    """Join the answers of the four Redshift queries into TableMeta.

    A COMMENT from ``PG_DESCRIPTION`` wins over the views' ``remarks`` (which leave some
    object kinds out); SVV_TABLE_INFO's ``estimated_visible_rows`` (deleted rows not yet
    vacuumed left out) over ``tbl_rows``.
    """
    notes = {(r["schema"], r["table_name"], int(r["position"])): r["comment"] for r in comments}
    sizes = {(r["schema"], r["name"]): r for r in info}
    table_rows = []
    for row in tables:
        key = (row["schema"], row["name"])
        stats = sizes.get(key, {})
        rows = stats.get("estimated_visible_rows")
        size_mb = stats.get("size_mb")
        table_rows.append(
            {
                "schema": row["schema"],
                "name": row["name"],
                "table_type": _REDSHIFT_TYPES.get(
                    str(row["table_type"]), str(row["table_type"]).lower()
                ),
                "row_estimate": rows if rows is not None else stats.get("tbl_rows"),
                "size_bytes": None if size_mb is None else int(size_mb) * 1024 * 1024,
                "last_modified": None,
                "comment": notes.get((*key, 0), row.get("comment")),
            }
        )
    column_rows = [
        {
            "schema": row["schema"],
            "table_name": row["table_name"],
            "name": row["name"],
            "position": row["position"],
            "data_type": _redshift_type(row),
            "nullable": str(row["is_nullable"]).upper() == "YES",
            "comment": notes.get(
                (row["schema"], row["table_name"], int(row["position"])), row.get("comment")
            ),
        }
        for row in columns
    ]
    return assemble(table_rows, column_rows)


# -- BigQuery (region INFORMATION_SCHEMA) ---------------------------------------------------


def _bq_view(project: str, region: str, view: str) -> str:
    qualifier = exp.to_identifier(project, quoted=True).sql("bigquery")
    return f"{qualifier}.`region-{region.lower()}`.INFORMATION_SCHEMA.{view}"


def _bq_where(alias: str, schemas: Sequence[str] | None) -> str:
    if schemas is None:
        return ""
    return f" WHERE {alias}.table_schema IN ({_literals(schemas, 'bigquery') or 'NULL'})"


def bigquery_tables_sql(project: str, region: str, schemas: Sequence[str] | None) -> str:
    """Tables and views of ``project`` in ``region`` with their description option and
    storage figures (``TABLE_STORAGE``: rows, logical bytes, last modified)."""
    return (
        "SELECT t.table_schema AS `schema`, t.table_name AS name, t.table_type, "
        "o.option_value AS description, s.total_rows AS row_estimate, "
        "s.total_logical_bytes AS size_bytes, s.storage_last_modified_time AS last_modified "
        f"FROM {_bq_view(project, region, 'TABLES')} AS t "
        f"LEFT JOIN {_bq_view(project, region, 'TABLE_OPTIONS')} AS o "
        "ON o.table_schema = t.table_schema AND o.table_name = t.table_name "
        "AND o.option_name = 'description' "
        f"LEFT JOIN {_bq_view(project, region, 'TABLE_STORAGE')} AS s "
        "ON s.table_schema = t.table_schema AND s.table_name = t.table_name"
        + _bq_where("t", schemas)
        + " ORDER BY 1, 2"
    )


def bigquery_columns_sql(project: str, region: str, schemas: Sequence[str] | None) -> str:
    """Top-level columns with their description (kept in ``COLUMN_FIELD_PATHS``)."""
    return (
        "SELECT c.table_schema AS `schema`, c.table_name, c.column_name AS name, "
        "c.ordinal_position AS position, c.data_type, c.is_nullable, f.description AS comment "
        f"FROM {_bq_view(project, region, 'COLUMNS')} AS c "
        f"LEFT JOIN {_bq_view(project, region, 'COLUMN_FIELD_PATHS')} AS f "
        "ON f.table_schema = c.table_schema AND f.table_name = c.table_name "
        "AND f.field_path = c.column_name" + _bq_where("c", schemas) + " ORDER BY 1, 2, 4"
    )


_BQ_TYPES = {
    "BASE TABLE": "table",
    "CLONE": "table",
    "VIEW": "view",
    "MATERIALIZED VIEW": "materialized view",
    "EXTERNAL": "external",
    "SNAPSHOT": "snapshot",
}


def bigquery_option_text(value: Any) -> str | None:
    """The text of a ``TABLE_OPTIONS.option_value``, which is a GoogleSQL string literal
    (``"it\\"s"``), not the bare text."""
    if value is None:
        return None
    text = str(value)
    try:
        literal: exp.Expression = exp.maybe_parse(text, dialect="bigquery")
    except Exception:  # sqlglot's ParseError/TokenError: keep the raw text rather than fail
        return text
    if isinstance(literal, exp.Literal) and literal.is_string:
        return str(literal.this)
    return text


def bigquery_tables(tables: Sequence[Row], columns: Sequence[Row]) -> list[TableMeta]:
    """Turn the answers of the two BigQuery queries into TableMeta."""
    table_rows = [
        {
            **row,
            "table_type": _BQ_TYPES.get(str(row["table_type"]), str(row["table_type"]).lower()),
            "comment": bigquery_option_text(row.get("description")),
        }
        for row in tables
    ]
    column_rows = [{**row, "nullable": str(row["is_nullable"]).upper() == "YES"} for row in columns]
    return assemble(table_rows, column_rows)


# -- shared ---------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, dt.datetime):
        raise TypeError(f"last_modified must be a timestamp, got {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def assemble(tables: Sequence[Row], columns: Sequence[Row]) -> list[TableMeta]:
    """TableMeta from table rows and column rows in the shared column names, sorted by
    schema and name, columns by position. Columns of a table not in ``tables`` (one
    created between the two queries) are dropped."""
    by_table: dict[tuple[str, str], list[ColumnMeta]] = {}
    for row in columns:
        by_table.setdefault((str(row["schema"]), str(row["table_name"])), []).append(
            ColumnMeta(
                name=str(row["name"]),
                position=int(row["position"]),
                data_type=str(row["data_type"]),
                nullable=None if row.get("nullable") is None else bool(row["nullable"]),
                comment=_text(row.get("comment")),
            )
        )
    out = []
    for row in tables:
        key = (str(row["schema"]), str(row["name"]))
        out.append(
            TableMeta(
                schema=key[0],
                name=key[1],
                table_type=str(row["table_type"]),
                row_estimate=_int(row.get("row_estimate")),
                size_bytes=_int(row.get("size_bytes")),
                last_modified=_timestamp(row.get("last_modified")),
                comment=_text(row.get("comment")),
                columns=tuple(sorted(by_table.get(key, ()), key=lambda c: c.position)),
            )
        )
    out.sort(key=lambda t: (t.schema, t.name))
    return out
