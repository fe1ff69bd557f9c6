"""The tables a query reads through views.

Teams put views over the tables their pipelines write (a dbt staging layer, an analysts'
``v_scores``), and queries name the views. A query's result changes when a table under such
a view is written, so :func:`~tasuki.warehouse._sources.reads_and_writes` looks for
tasuki's writes of those tables too.
Views are followed through views, in any schema; a materialised view is not (its rows change
when it is refreshed, which leaves no trace tasuki can read: the freshness rule covers it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

    from tasuki.warehouse._lineage import _Conn

__all__ = ["tables_under_views", "view_edges", "views_read"]

#: How deep views of views are followed (PostgreSQL refuses cycles; DuckDB binds late).
_DEPTH = 32

_PG_UNDER = f"""
WITH RECURSIVE under(top, rel, depth) AS (
    SELECT c.oid, c.oid, 0 FROM unnest(?::text[]) AS n(name)
    JOIN pg_class c ON c.oid = to_regclass(n.name) AND c.relkind = 'v'
  UNION
    SELECT u.top, d.refobjid, u.depth + 1 FROM under u
    JOIN pg_class uc ON uc.oid = u.rel AND uc.relkind = 'v'
    JOIN pg_rewrite r ON r.ev_class = u.rel
    JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
        AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> u.rel
    WHERE u.depth < {_DEPTH}
)
SELECT DISTINCT tn.nspname::text, t.relname::text, vn.nspname::text, v.relname::text
FROM under u
JOIN pg_class t ON t.oid = u.rel JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_class v ON v.oid = u.top JOIN pg_namespace vn ON vn.oid = v.relnamespace
WHERE u.depth > 0 AND t.relkind IN ('r', 'p', 'f')
"""


def views_read(
    url: str, tables: Collection[tuple[str, str]]
) -> tuple[list[tuple[str, str]], dict[tuple[str, str], tuple[str, str]]]:
    """``tables`` with their unqualified names looked up
    (:func:`~tasuki.warehouse._search_path.resolve_unqualified`), and
    :func:`tables_under_views` of them, over a connection of its own to ``url``
    (PostgreSQL and DuckDB). Other warehouses, or a DuckDB file that is not there yet, are
    not asked: unqualified names get the dialect's default schema (none on BigQuery: left
    out), and no views are followed.

    Raises:
        Exception: the warehouse cannot be reached or read (the driver's error).
    """
    from tasuki.warehouse._lineage import _Conn, _no_duckdb_file
    from tasuki.warehouse._search_path import default_schemas, resolve_unqualified
    from tasuki.warehouse._sources import DEFAULT_SCHEMA, dialect_of

    dialect = dialect_of(url)
    scheme = url.split("://", 1)[0].lower()
    if not tables or scheme not in ("postgresql", "postgres", "duckdb") or _no_duckdb_file(url):
        return default_schemas(tables, dialect), {}
    conn = _Conn(url, read_only=True)
    try:
        resolved = resolve_unqualified(conn, tables, DEFAULT_SCHEMA.get(dialect, "main"))
        return resolved, tables_under_views(conn, resolved, dialect)
    finally:
        conn.close()


def tables_under_views(
    conn: _Conn, wanted: Collection[tuple[str, str]], dialect: str
) -> dict[tuple[str, str], tuple[str, str]]:
    """The tables under those of ``wanted`` that are views (``(schema, table)``, read as the
    warehouse reads names), each with the view of ``wanted`` it is read through. Tables
    of ``wanted`` themselves are left out."""
    if conn.kind == "postgres":
        names = [".".join('"' + p.replace('"', '""') + '"' for p in t) for t in sorted(wanted)]
        rows = conn.execute(_PG_UNDER, (names,))
        found = {(s, t): (vs, v) for s, t, vs, v in rows}
    else:
        found = _duckdb_under(conn, wanted, dialect)
    return {table: view for table, view in sorted(found.items()) if table not in wanted}


def _duckdb_under(
    conn: _Conn, wanted: Collection[tuple[str, str]], dialect: str
) -> dict[tuple[str, str], tuple[str, str]]:
    """DuckDB keeps no dependencies of views: each view's SQL is read (:func:`_duckdb_reads`)
    and its tables followed. DuckDB ignores the case of names: they are lower-cased."""
    reads = _duckdb_reads(conn, dialect)
    if not reads:
        return {}
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for top in sorted((s.lower(), t.lower()) for s, t in wanted):
        todo, seen = [top], {top}
        while todo and len(seen) < _DEPTH * 32:
            name = todo.pop()
            if name not in reads:  # a table (or a name that is not there)
                found.setdefault(name, top)
                continue
            for under in reads[name]:
                if under not in seen:
                    seen.add(under)
                    todo.append(under)
    return {table: view for table, view in found.items() if table != view}


def _duckdb_reads(conn: _Conn, dialect: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Each view of the opened DuckDB database -> the relations its SQL reads, as
    ``(schema, name)`` lower-cased. A name the view leaves unqualified is looked up in the
    view's schema first, then in main (DuckDB's search path). A view whose SQL sqlglot
    cannot read is left out."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from tasuki.warehouse._sources import tables_read

    views = conn.execute(
        "SELECT schema_name, view_name, sql FROM duckdb_views() "
        "WHERE NOT internal AND NOT temporary AND database_name = current_database()"
    )
    if not views:
        return {}
    relations = {(str(s).lower(), str(v).lower()) for s, v, _ in views} | {
        (str(s).lower(), str(t).lower())
        for s, t in conn.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database()"
        )
    }
    reads: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, name, sql in views:
        view = (str(schema).lower(), str(name).lower())
        try:
            tree = sqlglot.parse_one(str(sql), read=dialect)
            body = tree.expression if isinstance(tree, exp.Create) else tree
            if not isinstance(body, exp.Expression):
                continue
            read = tables_read(body, dialect=dialect, default=view[0])
        except SqlglotError:
            continue
        reads[view] = sorted(
            {("main", t) if (s, t) not in relations and s == view[0] else (s, t) for s, t in read}
        )
    return reads


_PG_EDGES = """
SELECT DISTINCT vn.nspname::text, v.relname::text, tn.nspname::text, t.relname::text
FROM pg_class v JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_rewrite r ON r.ev_class = v.oid
JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass
    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid
JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE v.relkind IN ('v', 'm') AND t.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND vn.nspname NOT IN ('pg_catalog', 'information_schema') AND left(vn.nspname, 8) <> 'pg_toast'
ORDER BY 1, 2, 3, 4
"""


def view_edges(url: str) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """``(view, relation it reads)`` for every view (and materialised view) of warehouse
    ``url``, one level each (a view of views gives an edge per level), as ``(schema,
    name)``: what the catalog draws as ``table -[read]-> view``. PostgreSQL and DuckDB; an
    empty list for other warehouses.

    Raises:
        Exception: the warehouse cannot be reached or read (the driver's error).
    """
    from tasuki.warehouse._lineage import _Conn, _no_duckdb_file
    from tasuki.warehouse._sources import dialect_of

    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("postgresql", "postgres", "duckdb") or _no_duckdb_file(url):
        return []
    conn = _Conn(url, read_only=True)
    try:
        if conn.kind == "postgres":
            return [((vs, v), (ts, t)) for vs, v, ts, t in conn.execute(_PG_EDGES)]
        return _duckdb_edges(conn, dialect_of(url))
    finally:
        conn.close()


def _duckdb_edges(conn: _Conn, dialect: str) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    reads = _duckdb_reads(conn, dialect)
    return sorted((view, under) for view, unders in reads.items() for under in unders)
