"""When ``tasuki migrate`` last loaded the tables a query reads.

A migration is tasuki's own write too: each load that changes a target table upserts its
row of ``tasuki_migrate_state`` (in the table's schema) in the load's transaction, so the
row's ``loaded_at`` dates the rows a query would read.
:func:`~tasuki.warehouse._sources.reads_and_writes` adds it to a
table's entry, and a query task whose record kept another is out of date.

The table's name is spelled here rather than imported: ``tasuki.migrate`` is a sibling
package (siblings never import each other); a test pins the two spellings together.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection

    from tasuki.warehouse._lineage import _Conn

__all__ = ["MIGRATE_STATE_TABLE", "migration_loads"]

logger = logging.getLogger(__name__)

MIGRATE_STATE_TABLE = "tasuki_migrate_state"
"""The table (one per target schema) where ``tasuki migrate`` keeps each table's load."""


def _quoted(*names: str) -> str:
    return ".".join('"' + n.replace('"', '""') + '"' for n in names)


def migration_loads(
    conn: _Conn, wanted: Collection[tuple[str, str]], dialect: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """The last load of each of ``wanted`` (``(schema, table)``, read as the warehouse reads
    names) that ``tasuki migrate`` loaded: ``migrated_from`` (the source table) and
    ``migrated_at`` (text). A schema whose state table this role may not read is skipped
    with a warning naming the grant that would fix it.
    """
    from sqlglot.errors import SqlglotError

    from tasuki.warehouse._sources import written_name

    found: dict[tuple[str, str], dict[str, Any]] = {}
    for schema in sorted({s for s, _ in wanted}):
        state = _quoted(schema, MIGRATE_STATE_TABLE)
        if not _readable(conn, state, schema):
            continue
        names = sorted({t.lower() for s, t in wanted if s == schema})
        marks = ", ".join("?" for _ in names)
        rows = conn.execute(
            f"SELECT target_table, source_table, loaded_at FROM {state} "
            f"WHERE lower(target_table) IN ({marks})",
            tuple(names),
        )
        for target, source, loaded_at in rows:
            try:  # the migration quotes its names: as written, in the state table's schema
                name = written_name(_quoted(schema, str(target)), dialect)
            except SqlglotError:
                continue
            if name is not None and name in wanted:
                found[name] = {"migrated_from": str(source), "migrated_at": str(loaded_at)}
    return found


def _readable(conn: _Conn, state: str, schema: str) -> bool:
    """Whether the state table is there and this role may read it (a refused SELECT would
    abort the PostgreSQL transaction the lineage rows are read in)."""
    if conn.kind != "postgres":
        rows = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            (schema, MIGRATE_STATE_TABLE),
        )
        return bool(rows and rows[0][0])
    rows = conn.execute(
        "SELECT c.oid IS NOT NULL, has_table_privilege(c.oid, 'SELECT'), current_user "
        "FROM (SELECT to_regclass(?) AS oid) c",
        (state,),
    )
    there, allowed, role = rows[0]
    if there and not allowed:
        logger.warning(
            "role %s may not read %s.%s, so a query task cannot tell that tasuki migrate "
            "loaded the tables it reads since it ran (its cached result is kept until its "
            "freshness runs out). To fix it: GRANT SELECT ON %s.%s TO %s",
            role,
            schema,
            MIGRATE_STATE_TABLE,
            schema,
            MIGRATE_STATE_TABLE,
            role,
        )
    return bool(there and allowed)
