"""Where an unqualified table name is, as the warehouse finds it: the role's search path.

Teams give each product a schema and set it as the role's search path (``ALTER ROLE reader
SET search_path = analytics, public``); their queries then name ``ml_scores``, which is
``analytics.ml_scores`` to PostgreSQL. tasuki keys the tables a query reads to find the
writes that make its result out of date, so it must read names the same way: an
unqualified name is looked up on the warehouse, over the connection the lineage rows are
read on, with PostgreSQL's own lookup (``to_regclass``).

The lineage table is named unqualified too, so a writer whose search path differs makes it
in another schema: every ``tasuki_lineage`` of the database is read (:func:`lineage_tables`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

    from tasuki.warehouse._lineage import _Conn

logger = logging.getLogger(__name__)

__all__ = ["UNQUALIFIED", "default_schemas", "lineage_tables", "resolve_unqualified"]

#: The schema :func:`tasuki.warehouse._sources.tables_read` gives a name written without one
#: when asked to keep it so (``default=UNQUALIFIED``): resolved here.
UNQUALIFIED = ""

# The schema each name is found in by this session's search path (pg_catalog and pg_temp
# included, as the parser looks); a name found nowhere gets the first schema of the path
# that exists (where CREATE TABLE would put it).
_PG_RESOLVE = """
SELECT n.name, coalesce(
    (SELECT s.nspname::text FROM pg_catalog.pg_class c
     JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
     WHERE c.oid = to_regclass(quote_ident(n.name))),
    (current_schemas(false))[1]::text)
FROM unnest(?::text[]) AS n(name)
"""

_PG_LINEAGE_TABLES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
    has_table_privilege(c.oid, 'SELECT'), current_user::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = ? AND c.relkind IN ('r', 'p')
ORDER BY 1
"""


def resolve_unqualified(
    conn: _Conn, tables: Collection[tuple[str, str]], default: str
) -> list[tuple[str, str]]:
    """``tables`` (``(schema, table)``, read as the warehouse reads names) with each
    :data:`UNQUALIFIED` schema replaced by the one the warehouse finds the name in; on
    DuckDB, and where PostgreSQL's path has no schema, by ``default``. Sorted, no repeats.
    """
    bare = sorted({t for s, t in tables if s == UNQUALIFIED})
    found: dict[str, str] = {}
    if bare and conn.kind == "postgres":
        found = {str(n): str(s) for n, s in conn.execute(_PG_RESOLVE, (bare,)) if s is not None}
    return sorted({(found.get(t, default) if s == UNQUALIFIED else s, t) for s, t in tables})


def lineage_tables(conn: _Conn, name: str) -> list[str]:
    """Every lineage table (``name``, unqualified) of the database, quoted for its SQL: on
    PostgreSQL in any schema (each writer made it where its search path led), on DuckDB the
    one its connection sees. Empty where there is none.

    One this role may not read is left out with a warning naming the grant, where another
    can be read (a refused SELECT would abort the transaction, and the readable ones would
    be lost with it).

    Raises:
        PermissionError: there are lineage tables and this role may read none of them (the
            writes cannot be told at all: the caller says so and keeps no record of them).
    """
    from tasuki.warehouse._lineage import _table_exists

    if conn.kind != "postgres":
        return [name] if _table_exists(conn, name) else []
    rows = conn.execute(_PG_LINEAGE_TABLES, (name,))
    found = [str(table) for table, readable, _ in rows if readable]
    refused = [str(table) for table, readable, _ in rows if not readable]
    role = str(rows[0][2]) if rows else ""
    grants = "; ".join(f"GRANT SELECT ON {t} TO {role}" for t in refused)
    if refused and not found:
        raise PermissionError(f"role {role} may not read {', '.join(refused)}. To fix it: {grants}")
    if refused:
        logger.warning(
            "role %s may not read %s, so a query task cannot tell that a tasuki write-back "
            "whose lineage rows are there wrote the tables it reads (its cached result is kept "
            "until its freshness runs out). To fix it: %s",
            role,
            ", ".join(refused),
            grants,
        )
    return found


def default_schemas(tables: Collection[tuple[str, str]], dialect: str) -> list[tuple[str, str]]:
    """``tables`` with each :data:`UNQUALIFIED` schema replaced by the dialect's default,
    for a warehouse that is not asked (one without a default, BigQuery, leaves them out)."""
    from tasuki.warehouse._sources import DEFAULT_SCHEMA

    default = DEFAULT_SCHEMA.get(dialect)
    found = {(s, t) for s, t in tables if s != UNQUALIFIED}
    if default is not None:
        found |= {(default, t) for s, t in tables if s == UNQUALIFIED}
    return sorted(found)
