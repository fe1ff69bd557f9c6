"""Write the descriptions people wrote back into the warehouse as its own COMMENTs.

A table or column whose ``description`` is not empty and differs from the ``comment`` last
synced gets ``COMMENT ON TABLE|VIEW|COLUMN ... IS '...'`` (PostgreSQL, Redshift, DuckDB) or
``ALTER TABLE|VIEW ... SET OPTIONS(description=...)`` (BigQuery). Identifiers and literals
are quoted by sqlglot in the warehouse's dialect, so any text (quotes, backslashes, new
lines) arrives as written. The next sync reads the COMMENTs back into ``comment``.

An empty description never clears a COMMENT: the warehouse's text stays until someone
writes a description.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlglot import exp

from tasuki._redact import redact
from tasuki.catalog import _schema as t
from tasuki.catalog._introspect import (
    Runner,
    bigquery_runner,
    bigquery_target,
    check_warehouse_name,
    warehouse_url,
)
from tasuki.errors import ConfigError, WarehouseConnectionError, WarehouseError
from tasuki.warehouse._sources import DIALECTS

if TYPE_CHECKING:
    from tasuki.catalog._store import Catalog
    from tasuki.config import Settings

__all__ = ["comment_statements", "push_comments"]

logger = logging.getLogger(__name__)

# COMMENT ON <noun> per table_type; a kind missing here gets no COMMENT on that backend.
_NOUNS = {
    "postgres": {
        "table": "TABLE",
        "view": "VIEW",
        "materialized view": "MATERIALIZED VIEW",
        "external": "FOREIGN TABLE",
    },
    "redshift": {"table": "TABLE", "view": "VIEW", "materialized view": "VIEW"},
    "duckdb": {"table": "TABLE", "view": "VIEW"},
    "bigquery": {
        "table": "TABLE",
        "view": "VIEW",
        "materialized view": "MATERIALIZED VIEW",
        "external": "TABLE",
        "snapshot": "TABLE",
    },
}


def _ident(dialect: str, *names: str) -> str:
    return ".".join(exp.to_identifier(n, quoted=True).sql(dialect) for n in names)


def _literal(dialect: str, text: str) -> str:
    return exp.Literal.string(text).sql(dialect)


def comment_statements(
    dialect: str,
    items: Sequence[tuple[str, str, str, str | None, str]],
    *,
    project: str | None = None,
) -> list[str]:
    """The statements that set each item's text as the warehouse's comment.

    Args:
        dialect: ``postgres``, ``redshift``, ``duckdb`` or ``bigquery``.
        items: ``(table_type, schema, table, column or None, text)``.
        project: BigQuery's project (table names are ``project.dataset.table``).
    """
    nouns = _NOUNS[dialect]
    out = []
    for table_type, schema, table, column, text in items:
        noun = nouns.get(table_type)
        if noun is None:
            logger.info("no COMMENT for %s %s.%s on %s", table_type, schema, table, dialect)
            continue
        value = _literal(dialect, text)
        if dialect == "bigquery":
            target = exp.to_identifier(f"{project}.{schema}.{table}", quoted=True).sql(dialect)
            if column is None:
                out.append(f"ALTER {noun} {target} SET OPTIONS(description={value})")
            else:
                out.append(
                    f"ALTER {noun} {target} ALTER COLUMN {_ident(dialect, column)} "
                    f"SET OPTIONS(description={value})"
                )
        elif column is None:
            out.append(f"COMMENT ON {noun} {_ident(dialect, schema, table)} IS {value}")
        else:
            out.append(f"COMMENT ON COLUMN {_ident(dialect, schema, table, column)} IS {value}")
    return out


def _pending(catalog: Catalog, warehouse: str) -> list[tuple[str, str, str, str | None, str]]:
    o = t.objects.c
    live = (o.warehouse == warehouse) & o.gone_at.is_(None)
    with catalog.engine.connect() as conn:
        kinds = {
            (r.schema_name, r.table_name): r.table_type
            for r in conn.execute(
                select(o.schema_name, o.table_name, o.table_type).where(live, o.kind == "table")
            )
        }
        rows = conn.execute(
            select(o.kind, o.schema_name, o.table_name, o.column_name, o.description)
            .where(
                live,
                o.kind.in_(("table", "column")),
                o.description != "",
                o.description != func.coalesce(o.comment, ""),
            )
            .order_by(o.path)
        ).all()
    return [
        (
            kinds.get((r.schema_name, r.table_name)) or "table",
            r.schema_name,
            r.table_name,
            r.column_name if r.kind == "column" else None,
            r.description,
        )
        for r in rows
        if (r.schema_name, r.table_name) in kinds
    ]


def push_comments(
    catalog: Catalog,
    warehouse: str,
    *,
    settings: Settings | None = None,
    url: str | None = None,
    dry_run: bool = False,
    runner: Runner | None = None,
) -> list[str]:
    """Write descriptions back to the warehouse as COMMENTs (see the module docstring).

    Args:
        catalog: The catalog store.
        warehouse: The warehouse's name under ``[warehouses]``.
        settings: Where to look the name up.
        url: The warehouse's URL, instead of looking the name up.
        dry_run: Only return the statements.
        runner: Run each statement through this (BigQuery without google-cloud-bigquery
            installed, or a Redshift reached another way).

    Returns:
        The statements run (or, with ``dry_run``, that would run), in path order.

    Raises:
        ConfigError: Unknown warehouse name, or a backend without COMMENTs.
        WarehouseConnectionError: The warehouse cannot be reached.
        WarehouseError: The warehouse refused a statement; PostgreSQL and DuckDB then keep
            none of them (one transaction).
    """
    check_warehouse_name(warehouse)
    if url is None:
        url = warehouse_url(warehouse, settings)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    dialect = DIALECTS.get(scheme)
    if dialect is None:
        raise ConfigError(
            f"cannot write COMMENTs to warehouse {warehouse!r} ({redact(url)}): scheme "
            f"{scheme or '(none)'!r} is not one of {', '.join(DIALECTS)}",
            url=redact(url),
        )
    project = bigquery_target(url)[0] if dialect == "bigquery" else None
    statements = comment_statements(dialect, _pending(catalog, warehouse), project=project)
    if dry_run or not statements:
        return statements
    label = f"warehouse {warehouse!r} ({redact(url)})"
    if runner is not None:
        for statement in statements:
            runner(statement)
    elif dialect == "duckdb":
        _run_duckdb(url, statements, label)
    elif dialect == "postgres":
        _run_postgres(url, statements, label)
    elif dialect == "bigquery":
        run = bigquery_runner(project or "", label)
        for statement in statements:
            run(statement)
    else:
        _run_redshift(url, statements, label)
    return statements


def _run_duckdb(url: str, statements: Sequence[str], label: str) -> None:
    import duckdb

    path = url[len("duckdb://") :]
    if not path or not os.path.exists(path):
        raise WarehouseConnectionError(
            f"cannot write COMMENTs to {label}: no DuckDB database file at {path!r}",
            url=redact(url),
        )
    try:
        connection = duckdb.connect(path)
    except duckdb.Error as exc:
        raise WarehouseConnectionError(f"cannot open {label}: {exc}", url=redact(url)) from exc
    try:
        connection.execute("BEGIN TRANSACTION")
        for statement in statements:
            connection.execute(statement)
        connection.execute("COMMIT")
    except duckdb.Error as exc:
        raise WarehouseError(f"{label} refused a COMMENT: {exc}", url=redact(url)) from exc
    finally:
        connection.close()


def _run_postgres(url: str, statements: Sequence[str], label: str) -> None:
    from tasuki.catalog._introspect import _connect_pg, _query_error
    from tasuki.warehouse.postgres._roles import split_allow_privileged

    conninfo, _ = split_allow_privileged(url)
    connection = _connect_pg("postgresql://" + conninfo.split("://", 1)[1], label, url)
    try:
        with connection.transaction():
            for statement in statements:
                connection.execute(statement.encode())  # bytes: no placeholder parsing
    except Exception as exc:
        raise _query_error(label, url, exc) from exc
    finally:
        connection.close()


def _run_redshift(url: str, statements: Sequence[str], label: str) -> None:
    from tasuki.warehouse.postgres._roles import split_allow_privileged
    from tasuki.warehouse.redshift.warehouse import _default_connection

    dsn, _ = split_allow_privileged(url)
    try:
        connection: Any = _default_connection(dsn)
    except ConfigError:
        raise
    except Exception as exc:
        raise WarehouseConnectionError(
            f"cannot reach {label}: {redact(str(exc))}", url=redact(url)
        ) from exc
    try:
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(statement)
        connection.commit()
    except Exception as exc:
        raise WarehouseError(
            f"{label} refused a COMMENT: {redact(str(exc))}", url=redact(url)
        ) from exc
    finally:
        connection.close()
