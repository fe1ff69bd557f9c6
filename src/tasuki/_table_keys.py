"""One table named the same by every task that reads or writes it, whatever URL each uses.

A build refuses a query and a write of one table in no order (``core._plan_checks``); the
tasks that write (a write-back's table target, a migration) and those that read (a query
task) live in sibling packages that never import each other, so the key they meet on is
made here, below them.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

__all__ = ["ANY_SCHEMA", "any_schema", "database_of", "table_key"]

#: The schema of a table written under a name without one: the writer's search path put it
#: somewhere, so it is taken to be that name in any schema.
ANY_SCHEMA = "*"
#: Host names that reach this machine's server (libpq's empty host is its local socket).
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})
#: The port a scheme's server listens on when a URL names none.
_DEFAULT_PORTS = {"postgresql": 5432, "redshift": 5439}


def database_of(url: str) -> str | None:
    """Where the tables of warehouse ``url`` live, spelled the same by every URL that reaches
    them: the role, password and connection options left out (a query task reads through a
    reader role what a write-back wrote as its owner), this machine's server one name
    (``localhost``, ``127.0.0.1``, a socket directory), default ports filled in.
    ``duckdb:/absolute/path`` for a DuckDB file, ``bigquery://project`` for BigQuery.

    None where no two connections share the tables (DuckDB in memory) or the URL cannot be
    read (a bad port): nothing can be compared there.
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "duckdb":
        path = rest.split("?", 1)[0]
        return None if path in ("", ":memory:") else f"duckdb:{os.path.realpath(path)}"
    scheme = "postgresql" if scheme == "postgres" else scheme
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if scheme in _DEFAULT_PORTS:
        # libpq takes the host from ?host= too, and a missing database name is the user's.
        host = parse_qs(parts.query).get("host", [host])[0].lower()
        host = "localhost" if host in _LOCAL_HOSTS or host.startswith("/") else host
        database = parts.path.lstrip("/") or (parts.username or "")
    elif scheme == "bigquery":  # bigquery://project/dataset: tables name their dataset
        return f"bigquery://{host}"
    else:
        database = parts.path.lstrip("/")
    return f"{scheme}://{host}:{port or ''}/{database}"


def table_key(url: str, table: tuple[str, str]) -> str | None:
    """``schema.table in <database_of(url)>``: one table, named the same by the tasks that
    write it and those that read it; None where :func:`database_of` is."""
    database = database_of(url)
    return None if database is None else f"{table[0]}.{table[1]} in {database}"


def any_schema(key: str) -> str | None:
    """The key of ``key``'s table name in any schema (:data:`ANY_SCHEMA`): what a write under
    that name without a schema is keyed as. None for a key it cannot read."""
    left, sep, database = key.partition(" in ")
    schema, dot, table = left.partition(".")
    if not (sep and dot and table) or schema == ANY_SCHEMA:
        return None
    return f"{ANY_SCHEMA}.{table} in {database}"
