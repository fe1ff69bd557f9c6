"""A least-privilege reader role for the query path and the service (PostgreSQL).

Queuery's promise is that the server enforces what a client may do. The SQL here makes a
login role that can read and do nothing else, whatever a query manages to say: no superuser,
reads through ``pg_read_all_data`` (PostgreSQL 14+) or grants on named schemas, every
transaction read-only by default, and server-side limits on statement time and on idle
transactions.

It also holds the other side of that promise: the check by which the query path refuses a
privileged role (a superuser, a table owner, ...) unless ``allow_privileged`` is set.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from tasuki._redact import redact
from tasuki.errors import ConfigError, WarehouseError

__all__ = [
    "PRIVILEGE_COLUMNS",
    "SERVER_ROLES",
    "ReaderRole",
    "RoleCheck",
    "allow_privileged_option",
    "apply_reader_role",
    "privileged_error",
    "privileges_found",
    "reader_role_sql",
    "split_allow_privileged",
]


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("postgres")


def _literal(value: str) -> str:
    return exp.Literal.string(value).sql("postgres")


@dataclass(frozen=True)
class ReaderRole:
    """What the reader role may do.

    Attributes:
        name: The role (it can log in).
        database: The database it may connect to.
        schemas: Schemas it may read; empty for every table (``pg_read_all_data``).
        statement_timeout: Server-side limit on one statement, e.g. ``"5min"``.
        idle_in_transaction_timeout: Limit on a transaction left open, e.g. ``"1min"``.
        connection_limit: Concurrent sessions of the role.
    """

    name: str
    database: str
    schemas: tuple[str, ...] = ()
    statement_timeout: str = "15min"
    idle_in_transaction_timeout: str = "1min"
    connection_limit: int = 16


def reader_role_sql(role: ReaderRole, *, password: str | None = None) -> list[str]:
    """The statements that create (or bring up to date) ``role``, in order.

    Run them as a superuser or a role with CREATEROLE. Running them again changes nothing.

    Raises:
        WarehouseError: a limit is empty or the connection limit is not positive.

    Example:
        >>> for sql in reader_role_sql(ReaderRole("tasuki_reader", "analytics")):
        ...     print(sql)  # doctest: +ELLIPSIS
        DO $$ BEGIN ... END $$
        ...
    """
    for field, value in (
        ("statement_timeout", role.statement_timeout),
        ("idle_in_transaction_timeout", role.idle_in_transaction_timeout),
    ):
        if not value.strip() or value.strip() in ("0", "0s", "0ms"):
            raise WarehouseError(
                f"reader role {role.name!r}: {field} {value!r} would mean no limit; give a "
                "duration such as '5min' (the server enforces it on every query)",
                field=field,
                value=value,
            )
    if role.connection_limit < 1:
        raise WarehouseError(
            f"reader role {role.name!r}: connection_limit must be at least 1, got "
            f"{role.connection_limit}",
            field="connection_limit",
        )
    name, db = _ident(role.name), _ident(role.database)
    login = f" PASSWORD {_literal(password)}" if password else ""
    create = (
        f"CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS CONNECTION LIMIT {role.connection_limit}{login}"
    )
    alter = (
        f"ALTER ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS CONNECTION LIMIT {role.connection_limit}{login}"
    )
    statements = [
        # Create once, or bring the attributes back to these on a second run.
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
        f"{_literal(role.name)}) THEN EXECUTE {_literal(create)}; ELSE EXECUTE "
        f"{_literal(alter)}; END IF; END $$",
        f"ALTER ROLE {name} SET default_transaction_read_only = on",
        f"ALTER ROLE {name} SET statement_timeout = {_literal(role.statement_timeout)}",
        f"ALTER ROLE {name} SET idle_in_transaction_session_timeout = "
        f"{_literal(role.idle_in_transaction_timeout)}",
        f"REVOKE ALL ON DATABASE {db} FROM {name}",
        f"GRANT CONNECT ON DATABASE {db} TO {name}",
    ]
    if role.schemas:
        for schema in role.schemas:
            s = _ident(schema)
            statements += [
                f"GRANT USAGE ON SCHEMA {s} TO {name}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {name}",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {name}",
            ]
    else:
        statements.append(f"GRANT pg_read_all_data TO {name}")
    return statements


def apply_reader_role(url: str, role: ReaderRole, *, password: str | None = None) -> None:
    """Run :func:`reader_role_sql` on the server at ``url`` (one transaction)."""
    import psycopg

    with psycopg.connect(url) as conn:
        for sql in reader_role_sql(role, password=password):
            conn.execute(sql.encode())  # built above from quoted names, not run-time input


# --- The query path's privilege check ----------------------------------------------------
#
# What counts as privileged, and why. The query path runs each query in a READ ONLY
# transaction, but READ ONLY stops only what PostgreSQL classes as writes; a role with more
# than read rights can still change the server through functions a SELECT may call:
#
# - SUPERUSER: everything (pg_read_file reads server files, pg_stat_reset() writes, ...).
# - REPLICATION: pg_create_physical_replication_slot() works in a READ ONLY transaction, and
#   a forgotten slot keeps WAL on the server until its disk is full.
# - BYPASSRLS: reads past row-level security, which the reader role is meant to obey.
# - membership of pg_read_server_files, pg_write_server_files, pg_execute_server_program
#   (server files and programs) or pg_signal_backend (ends other sessions).
# - owning a table, view, materialized view, sequence or foreign table in this database
#   (outside the system schemas): the owner may run brin_summarize_new_values(),
#   gin_clean_pending_list() and the like on it, which write despite READ ONLY.
#
# Each counts for the session user itself and for every role it is a member of, inheriting
# or not: `SET ROLE` (allowed in a READ ONLY transaction) takes that role's rights. CREATEROLE
# and CREATEDB are not counted: what they allow is DDL, which READ ONLY refuses and the query
# checker never lets through, and counting them would refuse many ordinary analyst accounts.

SERVER_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_signal_backend",
    "pg_write_server_files",
)
"""Predefined roles whose members are refused by the query path (see above)."""

_MEMBER_OF = "pg_has_role(session_user, r.oid, 'MEMBER')"
_OWNED_LIMIT = 4

PRIVILEGE_COLUMNS = [
    "session_user::text",
    # The roles with a dangerous attribute the session user is, or may SET ROLE to.
    "ARRAY(SELECT r.rolname::text || E'\\t' || concat_ws(',', CASE WHEN r.rolsuper THEN "
    "'superuser' END, CASE WHEN r.rolreplication THEN 'replication' END, CASE WHEN "
    "r.rolbypassrls THEN 'bypassrls' END) FROM pg_roles r WHERE (r.rolsuper OR "
    f"r.rolreplication OR r.rolbypassrls) AND {_MEMBER_OF} "
    "ORDER BY r.rolname <> session_user, r.rolname LIMIT 4)",
    "ARRAY(SELECT r.rolname::text FROM pg_roles r WHERE r.rolname IN ("
    + ", ".join(f"'{name}'" for name in SERVER_ROLES)
    + f") AND {_MEMBER_OF} ORDER BY 1)",
    # Relations it owns, directly or through a role it is a member of (first few).
    "ARRAY(SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
    "WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END || ' ' || "
    "quote_ident(n.nspname) || '.' || quote_ident(c.relname) || E'\\t' || "
    "pg_get_userbyid(c.relowner)::text FROM pg_class c JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND left(n.nspname, 3) "
    "<> 'pg_' AND n.nspname <> 'information_schema' AND c.relowner IN (SELECT r.oid FROM "
    f"pg_roles r WHERE {_MEMBER_OF}) ORDER BY 1 LIMIT {_OWNED_LIMIT})",
]
"""Columns added to the first statement of a warehouse's first query (no extra round trip):
the session user, its privileged roles, its server roles, and relations it owns."""

_ATTRIBUTES = {
    "superuser": "is a superuser",
    "replication": "has REPLICATION (it can create replication slots, which keep WAL on the "
    "server, even in a read-only transaction)",
    "bypassrls": "has BYPASSRLS (it reads past row-level security)",
}
_SERVER_ROLE_WHY = {
    "pg_execute_server_program": "runs programs on the server",
    "pg_read_server_files": "reads the server's files",
    "pg_signal_backend": "ends other sessions",
    "pg_write_server_files": "writes the server's files",
}


@dataclass(frozen=True)
class RoleCheck:
    """What the query path found out about the role it connected as.

    Attributes:
        role: The session user.
        privileges: Why it is privileged, one phrase each ("is a superuser", "owns table
            public.t", ...); empty when it is not.
    """

    role: str
    privileges: tuple[str, ...] = ()


def privileges_found(row: Sequence[Any]) -> RoleCheck:
    """Read the :data:`PRIVILEGE_COLUMNS` of one row into a :class:`RoleCheck`."""
    role, attributed, server, owned = (list(v) if isinstance(v, list | tuple) else v for v in row)
    role = str(role)
    found: list[str] = []
    superuser = False
    for entry in attributed or []:
        name, _, attributes = str(entry).rpartition("\t")
        names = [a for a in attributes.split(",") if a in _ATTRIBUTES]
        if name == role:
            superuser = superuser or "superuser" in names
            found += [_ATTRIBUTES[a] for a in names]
        elif not superuser:  # a superuser "is a member" of every role; that says nothing
            found.append(
                f"may SET ROLE {name!r}, which {' and '.join(_ATTRIBUTES[a] for a in names)}"
            )
    if superuser:  # that says it all
        return RoleCheck(role, (_ATTRIBUTES["superuser"],))
    for name in server or []:
        found.append(
            f"is a member of {name} (it {_SERVER_ROLE_WHY.get(str(name), 'is privileged')})"
        )
    owned = list(owned or [])
    for entry in owned[: _OWNED_LIMIT - 1]:
        relation, _, owner = str(entry).rpartition("\t")
        if owner == role:
            found.append(f"owns {relation}")
        else:
            found.append(f"may SET ROLE {owner!r}, which owns {relation}")
    if len(owned) >= _OWNED_LIMIT:
        found.append("owns more relations")
    return RoleCheck(role, tuple(found))


_WHY = (
    "A privileged role is not held back by a READ ONLY transaction: functions such as "
    "pg_stat_reset(), brin_summarize_new_values() and pg_create_physical_replication_slot() "
    "still write, pg_read_file() reads the server's files, and SET ROLE takes on another "
    "role's rights"
)
_FIX = (
    "Connect the query path as a reader role instead (`tasuki warehouse reader-role NAME "
    "--database DB` prints the SQL for one; add --apply --url ADMIN_URL to run it)"
)


def privileged_error(
    check: RoleCheck,
    *,
    url: str,
    backend: str = "PostgreSQL",
    why: str = _WHY,
    fix: str = _FIX,
) -> WarehouseError:
    """The error that refuses a query through a privileged role: who, what, why, and the fix.

    Args:
        check: The role and what makes it privileged.
        url: The warehouse URL, password removed.
        backend: Named in the message.
        why: Why such a role is refused (a sentence).
        fix: How to connect as a role that is not (a sentence).
    """
    privileges = "; it ".join(check.privileges)
    return WarehouseError(
        f"refusing to query {url} as {backend} role {check.role!r}: it {privileges}. {why}. "
        f"{fix}. If every query this warehouse runs is trusted, pass allow_privileged=True "
        "(a connect option, e.g. in the service's warehouse_options) or add "
        "?allow_privileged=true to the URL, knowing that a query may then change the server",
        role=check.role,
        privileges=list(check.privileges),
        url=url,
        option="allow_privileged",
    )


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def allow_privileged_option(value: Any) -> bool:
    """``allow_privileged`` as given to a warehouse: a bool, or its text from a settings file.

    Raises:
        ConfigError: Anything else (``"maybe"``, ``2``): a typo must not turn the check off.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(
        f"allow_privileged must be true or false, got {value!r}",
        option="allow_privileged",
        value=value,
    )


def split_allow_privileged(url: str) -> tuple[str, bool]:
    """``url`` without its ``allow_privileged=`` query parameter, and the parameter's value.

    libpq refuses parameters it does not know, so tasuki's own is taken out before the URL
    reaches it. Without the parameter the URL comes back unchanged.

    Raises:
        ConfigError: The parameter's value is not true or false.

    Example:
        >>> split_allow_privileged("postgresql://u@h/db?allow_privileged=true&sslmode=require")
        ('postgresql://u@h/db?sslmode=require', True)
    """
    if "allow_privileged" not in url:
        return url, False
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    values = [v for k, v in pairs if k == "allow_privileged"]
    if not values:
        return url, False
    allowed = False
    for value in values:
        try:
            allowed = allow_privileged_option(value)
        except ConfigError as exc:
            raise ConfigError(
                f"{redact(url)}: allow_privileged must be true or false, got {value!r}",
                option="allow_privileged",
                value=value,
            ) from exc
    rest = [(k, v) for k, v in pairs if k != "allow_privileged"]
    # quote_via=quote: libpq reads '+' literally, so spaces must be %20 (options=-c%20...)
    query = urllib.parse.urlencode(rest, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit(parts._replace(query=query)), allowed
