"""The tables a query reads, and the tasuki writes those tables last had.

A :class:`~tasuki.warehouse.QueryTask` is cached by its SQL and a freshness bucket, which is
right for tables loaded by others (tasuki cannot know when they change) but not for tables a
tasuki write-back wrote: those writes leave rows in ``tasuki_lineage``, so a rewrite is
known. :func:`reads_and_writes` reads, for the tables a query reads (:func:`tables_read`), the
newest lineage row of each; the query task keeps that in its run record and is out of date
when it moves. The catalog uses :func:`tables_read` for its table -[read]-> task edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki._table_keys import database_of, table_key

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlglot import exp

__all__ = [
    "DEFAULT_SCHEMA",
    "DIALECTS",
    "database_of",
    "dialect_of",
    "reads_and_writes",
    "table_key",
    "tables_read",
]

#: sqlglot dialect of each warehouse URL scheme.
DIALECTS = {
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "postgres": "postgres",
    "redshift": "redshift",
    "bigquery": "bigquery",
}
#: The schema an unqualified table name lands in, by sqlglot dialect (BigQuery has none:
#: an unqualified name there is not recorded).
DEFAULT_SCHEMA = {"duckdb": "main", "postgres": "public", "redshift": "public"}


def dialect_of(url_or_scheme: str) -> str:
    """The sqlglot dialect of a warehouse URL (``duckdb:///x.db`` -> ``duckdb``); PostgreSQL's
    for a scheme tasuki does not know."""
    scheme = url_or_scheme.split("://", 1)[0].lower()
    return DIALECTS.get(scheme, DIALECTS.get(url_or_scheme, "postgres"))


def tables_read(
    sql: str | exp.Expression, *, dialect: str, default: str | None = None
) -> list[tuple[str, str]]:
    """``(schema, table)`` of every table ``sql`` reads, sorted, normalised as the warehouse
    does (unquoted names lower-cased in PostgreSQL; DuckDB ignores case), with ``default``
    (the dialect's default schema unless given) where none is written. CTE names and table
    functions are left out. ``default=UNQUALIFIED`` (``""``) keeps such names without a
    schema, for :func:`reads_and_writes` to look them up on the warehouse (the role's search
    path may not lead to the default schema).

    Raises:
        sqlglot.errors.ParseError: ``sql`` does not parse.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    tree = sqlglot.parse_one(sql, read=dialect) if isinstance(sql, str) else sql.copy()
    tree = normalize_identifiers(tree, dialect=dialect)
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    if default is None:
        default = DEFAULT_SCHEMA.get(dialect)
    found: set[tuple[str, str]] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or not table.name:
            continue  # a table function (read_parquet(...), generate_series(...))
        if not table.db and table.name in ctes:
            continue
        schema = table.db or default
        if schema is not None:
            found.add((schema, table.name))
    return sorted(found)


def written_name(table_name: str, dialect: str) -> tuple[str, str] | None:
    """``(schema, table)`` of a name as ``write_table`` was given it (``table`` or
    ``schema.table``), read the way the warehouse reads it; None when it names no schema.

    Raises:
        sqlglot.errors.SqlglotError: the name does not parse.
    """
    from sqlglot import exp
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    name = normalize_identifiers(exp.to_table(table_name, dialect=dialect), dialect=dialect)
    schema = name.db or DEFAULT_SCHEMA.get(dialect)
    if not schema or not name.name:
        return None
    return schema, name.name


def reads_and_writes(
    url: str, tables: Sequence[tuple[str, str]], *, also: Callable[[Any], Any] | None = None
) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
    """``tables`` with their unqualified names looked up (where the warehouse finds them;
    as given, with the dialect's default schema, on warehouses that are not read), and the
    newest tasuki write of each of ``tables`` that has one, by ``schema.table``:
    ``unique_id`` and ``task`` of the writer, ``written_at`` (text) and ``writes`` (how many
    lineage rows the table has) for a table a write-back wrote; ``migrated_from`` and
    ``migrated_at`` for one ``tasuki migrate`` loaded (its last load that changed it).
    Tables under those that are views count too, with ``through``: the view read. Tables
    neither wrote are left out. A table of ``tables`` without a schema (``UNQUALIFIED``) is
    looked up where the warehouse finds it for this connection (its search path); a lineage
    row naming its table without a schema counts for that name in any schema (the search
    path of the role that wrote it is not known), and the lineage tables of every schema
    are read.

    Only PostgreSQL and DuckDB URLs are read (the lineage connection's kinds); others give
    an empty answer. ``also`` is called with the connection before it closes, where one was
    opened (a caller's own read of the same database, at the cost of no second connection).

    Raises:
        Exception: the warehouse cannot be reached or read (the driver's error).
    """
    from tasuki.warehouse._lineage import LINEAGE_TABLE, _Conn, _no_duckdb_file
    from tasuki.warehouse._migrated import migration_loads
    from tasuki.warehouse._search_path import default_schemas, lineage_tables, resolve_unqualified
    from tasuki.warehouse._views import tables_under_views

    scheme = url.split("://", 1)[0].lower()
    dialect = dialect_of(url)
    if not tables or scheme not in ("postgresql", "postgres", "duckdb") or _no_duckdb_file(url):
        return default_schemas(tables, dialect), {}
    conn = _Conn(url, read_only=True)
    try:
        tables = resolve_unqualified(conn, tables, DEFAULT_SCHEMA.get(dialect, "main"))
        through = tables_under_views(conn, set(tables), dialect)
        wanted = set(tables) | set(through)
        # Candidate spellings, lower-cased (unquoted names fold so): the exact match is
        # made below on names read as the warehouse reads them.
        spellings = sorted({s for sc, t in wanted for s in (t.lower(), f"{sc}.{t}".lower())})
        marks = ", ".join("?" for _ in spellings)
        rows: list[tuple[Any, ...]] = []
        for lineage in lineage_tables(conn, LINEAGE_TABLE):
            rows += conn.execute(
                f"SELECT table_name, unique_id, task, written_at FROM {lineage} "
                f"WHERE lower(table_name) IN ({marks})",
                tuple(spellings),
            )
        loads = migration_loads(conn, wanted, dialect)
        if also is not None:
            also(conn)
    finally:
        conn.close()
    found: dict[str, dict[str, Any]] = {}
    # Oldest first (across lineage tables): the newest wins.
    for table_name, unique_id, task, written_at in sorted(rows, key=lambda r: r[3]):
        for name in _rows_tables(str(table_name), wanted, dialect):
            key = f"{name[0]}.{name[1]}"
            count = found.get(key, {}).get("writes", 0) + 1
            found[key] = {
                "unique_id": str(unique_id),
                "task": str(task),
                "written_at": str(written_at),
                "writes": count,
            }
    for (schema, table), load in loads.items():
        found.setdefault(f"{schema}.{table}", {}).update(load)
    for (schema, name_), view in through.items():  # one read through a view names the view
        if (entry := found.get(f"{schema}.{name_}")) is not None:
            entry["through"] = f"{view[0]}.{view[1]}"
    return tables, found


def _rows_tables(
    table_name: str, wanted: set[tuple[str, str]], dialect: str
) -> list[tuple[str, str]]:
    """The tables of ``wanted`` a lineage row's ``table_name`` may name: the one it names
    with its schema, or every one of that name when it names none (the writer's search path
    put it somewhere: a write counted for one table too many only reruns a query, one missed
    leaves a result wrong)."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    try:
        name = normalize_identifiers(exp.to_table(table_name, dialect=dialect), dialect=dialect)
    except SqlglotError:
        return []
    if not name.name:
        return []
    if name.db:
        return [(name.db, name.name)] if (name.db, name.name) in wanted else []
    return sorted(t for t in wanted if t[1] == name.name)
