"""A least-privilege reader role for the query path and the service (PostgreSQL).

Queuery's promise is that the server enforces what a client may do. The SQL here makes a
login role that can read and do nothing else, whatever a query manages to say: no superuser,
reads through ``pg_read_all_data`` (PostgreSQL 14+) or grants on named schemas, every
transaction read-only by default, and server-side limits on statement time and on idle
transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from tasuki.errors import WarehouseError

__all__ = ["ReaderRole", "apply_reader_role", "reader_role_sql"]


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
