"""The query path's privilege check on Redshift: a superuser or a table owner is refused.

Redshift has no ``rolsuper``/``pg_has_role``; its catalog says ``pg_user.usesuper``, and
``pg_class.relowner`` names each relation's owner. UNLOAD runs the query with every right
of the user, so a superuser reads every table and every user's query text in the system
tables, and an owner may do more to its tables than read them. The check costs one round
trip (two small catalog queries), on a warehouse's first query only.
"""

from __future__ import annotations

from typing import Any

from tasuki.warehouse.postgres._roles import RoleCheck

__all__ = ["FIX", "OWNED_SQL", "USER_SQL", "WHY", "redshift_role_check"]

USER_SQL = "SELECT usename::text, usesuper FROM pg_user WHERE usename = session_user"
"""The session user and whether it is a superuser."""

_OWNED_LIMIT = 4

OWNED_SQL = (
    "SELECT n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_user u ON u.usesysid = c.relowner "
    "WHERE u.usename = session_user AND c.relkind IN ('r', 'v', 'm') "
    "AND left(n.nspname, 3) <> 'pg_' AND n.nspname <> 'information_schema' "
    f"ORDER BY 1, 2 LIMIT {_OWNED_LIMIT}"
)
"""The first few tables and views the session user owns, outside the system schemas."""

WHY = (
    "UNLOAD runs the query with every right the user has: a superuser reads every table and "
    "every user's query text in the system tables, and an owner may do more to its tables "
    "than read them"
)
FIX = (
    "Connect as a user that may only read: CREATE USER ... ; GRANT USAGE ON SCHEMA s TO it; "
    "GRANT SELECT ON ALL TABLES IN SCHEMA s TO it"
)

_KINDS = {"v": "view", "m": "materialized view"}


def redshift_role_check(cursor: Any) -> RoleCheck:
    """Run :data:`USER_SQL` and :data:`OWNED_SQL` on ``cursor`` (DB-API); what they found."""
    cursor.execute(USER_SQL)
    rows = cursor.fetchall()
    if not rows:  # pg_user hides nothing from its own user; be safe if it ever does
        return RoleCheck("?", ("could not be found in pg_user",))
    name, superuser = str(rows[0][0]), bool(rows[0][1])
    if superuser:
        return RoleCheck(name, ("is a superuser",))
    cursor.execute(OWNED_SQL)
    owned = cursor.fetchall()
    found = [
        f"owns {_KINDS.get(str(kind), 'table')} {schema}.{table}"
        for schema, table, kind in owned[: _OWNED_LIMIT - 1]
    ]
    if len(owned) >= _OWNED_LIMIT:
        found.append("owns more relations")
    return RoleCheck(name, tuple(found))
