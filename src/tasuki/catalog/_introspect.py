"""Read a warehouse's metadata: its tables and views, their columns, sizes and COMMENTs.

:func:`read_metadata` connects by URL (the URLs ``tasuki.warehouse.connect`` takes) and asks
the backend's own catalog: DuckDB's ``duckdb_tables()``/``duckdb_columns()``, PostgreSQL's
``pg_catalog``, Redshift's ``SVV_*`` views and ``PG_DESCRIPTION``, BigQuery's region
``INFORMATION_SCHEMA``. The SQL and the turning of answers into :class:`TableMeta` live in
:mod:`._introspect_sql`; this module connects and runs it. Every reader is a *runner* (SQL
text in, rows as dicts out) plus that pure code, so a caller (or a test) can hand in its own
runner for a backend it reaches another way.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import ConfigError, WarehouseConnectionError, WarehouseError

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = [
    "SCHEMES",
    "ColumnMeta",
    "Runner",
    "TableMeta",
    "check_warehouse_name",
    "read_metadata",
    "warehouse_url",
]

logger = logging.getLogger(__name__)

Runner = Callable[[str], list[dict[str, Any]]]
"""Runs one SQL text on the warehouse and returns its rows as dicts keyed by column name."""

SCHEMES = ("duckdb", "postgresql", "postgres", "redshift", "bigquery")
"""URL schemes :func:`read_metadata` reads."""


@dataclass(frozen=True)
class ColumnMeta:
    """One column as the warehouse describes it.

    Attributes:
        name: Column name.
        position: Ordinal in its table, 1-based (PostgreSQL: ``attnum``, which keeps gaps
            where columns were dropped).
        data_type: The warehouse's spelling of the type (``character varying(20)``).
        nullable: Whether NULL is allowed; None when unknown.
        comment: The warehouse's COMMENT / description, None when there is none.
    """

    name: str
    position: int
    data_type: str
    nullable: bool | None
    comment: str | None


@dataclass(frozen=True)
class TableMeta:
    """One table or view as the warehouse describes it.

    Attributes:
        schema: Schema (BigQuery: dataset).
        name: Table name.
        table_type: ``table``, ``view``, ``materialized view``, ``external``, ``snapshot``.
        row_estimate: The warehouse's row count estimate, None when it has none.
        size_bytes: Storage size, None when the warehouse does not say.
        last_modified: When the data last changed, where the warehouse says it.
        comment: The warehouse's COMMENT / description.
        columns: The columns, by position.
    """

    schema: str
    name: str
    table_type: str
    row_estimate: int | None
    size_bytes: int | None
    last_modified: dt.datetime | None
    comment: str | None
    columns: tuple[ColumnMeta, ...]


def check_warehouse_name(name: str) -> None:
    """Refuse a name the catalog cannot use as the first part of its paths.

    Raises:
        ConfigError: The name is empty or holds a ``/``.
    """
    if not name or "/" in name:
        raise ConfigError(
            f"warehouse name {name!r} cannot name a catalog database: it must be non-empty "
            "and hold no '/' (it is the first part of catalog paths such as 'dwh/schema/table')",
            warehouse=name,
        )


def warehouse_url(name: str, settings: Settings | None = None) -> str:
    """The URL of the warehouse named ``name`` under ``[warehouses]`` in the settings.

    Raises:
        ConfigError: No warehouse of that name (the message lists the configured ones), or a
            name the catalog cannot use as the first part of a path.
    """
    check_warehouse_name(name)
    if settings is None:
        from tasuki.config import active_settings, load_settings

        settings = active_settings() or load_settings()
    named = settings.warehouses
    if name not in named:
        raise ConfigError(
            f"no warehouse named {name!r} in settings; configured: "
            f"{', '.join(sorted(named)) or 'none'}. Add it under [warehouses] in tasuki.toml "
            f'({name} = "postgresql://user@host/db") or pass its URL',
            key="warehouses",
            value=name,
            configured=sorted(named),
        )
    return named[name]


def read_metadata(
    url: str,
    *,
    schemas: Sequence[str] | None = None,
    runner: Runner | None = None,
    name: str | None = None,
) -> list[TableMeta]:
    """The tables and views of the warehouse at ``url``, with their columns.

    Args:
        url: ``duckdb:///path.db``, ``postgresql://...``, ``redshift://...`` or
            ``bigquery://project[/dataset][?location=EU]`` (the region whose
            ``INFORMATION_SCHEMA`` is read; default ``us``).
        schemas: Only these schemas (BigQuery datasets). Default: all but the system ones;
            for BigQuery, the URL's dataset when it names one, else all.
        runner: Run the SQL through this instead of connecting (Redshift, BigQuery and
            PostgreSQL; e.g. a client configured elsewhere).
        name: The warehouse's name, for messages.

    Returns:
        The tables, sorted by schema and name.

    Raises:
        ConfigError: A URL scheme with no metadata reader, or the backend's driver is not
            installed.
        WarehouseConnectionError: The warehouse cannot be reached (the message names it,
            the URL without its password).
        WarehouseError: The warehouse refused a metadata query.
    """
    url = str(url)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    label = f"warehouse {name!r} ({redact(url)})" if name else f"warehouse {redact(url)}"
    if scheme not in SCHEMES:
        raise ConfigError(
            f"cannot read catalog metadata from {label}: scheme {scheme or '(none)'!r} is not "
            f"one of {', '.join(SCHEMES)}; use a URL such as duckdb:///path/to.db or "
            "postgresql://user@host:5432/db",
            url=redact(url),
            scheme=scheme,
        )
    schema_list = None if schemas is None else [str(s) for s in schemas]
    if scheme == "duckdb":
        return _read_duckdb(url, schema_list, label)
    if scheme in ("postgresql", "postgres"):
        return _read_postgres(url, schema_list, label, runner)
    if scheme == "redshift":
        return _read_redshift(url, schema_list, label, runner)
    return _read_bigquery(url, schema_list, label, runner)


def _only(tables: list[TableMeta], schemas: Sequence[str] | None) -> list[TableMeta]:
    return tables if schemas is None else [t for t in tables if t.schema in set(schemas)]


def _read_duckdb(url: str, schemas: Sequence[str] | None, label: str) -> list[TableMeta]:
    import duckdb

    from tasuki.catalog import _introspect_sql as q

    path = url[len("duckdb://") :] or ":memory:"
    if path != ":memory:" and not os.path.exists(path):
        raise WarehouseConnectionError(
            f"cannot read {label}: no DuckDB database file at {path!r}; check the path in "
            "[warehouses]",
            url=redact(url),
        )
    try:
        connection = duckdb.connect(path, read_only=path != ":memory:")
    except duckdb.Error as exc:  # locked by a writer, not a DuckDB file, ...
        raise WarehouseConnectionError(
            f"cannot open {label}: {exc}", url=redact(url), reason=str(exc)
        ) from exc
    try:
        tables = _rows(connection.execute(q.duckdb_tables_sql()))
        columns = _rows(connection.execute(q.duckdb_columns_sql()))
    finally:
        connection.close()
    return _only(q.assemble(tables, columns), schemas)


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _psycopg_rows(
    connection: Any, sql: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _rows(cursor)


def _connect_pg(conninfo: str, label: str, url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(conninfo, connect_timeout=10, autocommit=False)
    except psycopg.Error as exc:
        raise WarehouseConnectionError(
            f"cannot reach {label}: {redact(str(exc)).strip()}; check that the server is up "
            "and the URL in [warehouses] is right",
            url=redact(url),
            reason=redact(str(exc)),
        ) from exc


def _query_error(label: str, url: str, exc: Exception) -> WarehouseError:
    import psycopg

    message = redact(str(exc)).strip()
    if isinstance(exc, psycopg.OperationalError):
        return WarehouseConnectionError(f"lost {label}: {message}", url=redact(url))
    return WarehouseError(
        f"{label} refused a metadata query: {message}", url=redact(url), reason=message
    )


def _read_postgres(
    url: str, schemas: Sequence[str] | None, label: str, runner: Runner | None
) -> list[TableMeta]:
    from tasuki.catalog import _introspect_sql as q

    if runner is not None:
        if schemas is not None:
            raise ConfigError(
                "schemas= with a runner is not supported for PostgreSQL (the SQL takes them as "
                "a bound parameter); filter the result instead",
                url=redact(url),
            )
        return q.assemble(runner(q.postgres_tables_sql(None)), runner(q.postgres_columns_sql(None)))
    from tasuki.warehouse.postgres._roles import split_allow_privileged

    conninfo, _ = split_allow_privileged(url)
    conninfo = "postgresql://" + conninfo.split("://", 1)[1]
    params = {"schemas": list(schemas)} if schemas is not None else {}
    connection = _connect_pg(conninfo, label, url)
    try:
        # One snapshot for both queries: a table and its columns as of the same moment.
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        tables = _psycopg_rows(connection, q.postgres_tables_sql(schemas), params)
        columns = _psycopg_rows(connection, q.postgres_columns_sql(schemas), params)
    except Exception as exc:
        raise _query_error(label, url, exc) from exc
    finally:
        connection.close()
    return q.assemble(tables, columns)


def _read_redshift(
    url: str, schemas: Sequence[str] | None, label: str, runner: Runner | None
) -> list[TableMeta]:
    from tasuki.catalog import _introspect_sql as q

    sqls = (
        q.redshift_tables_sql(schemas),
        q.redshift_info_sql(schemas),
        q.redshift_columns_sql(schemas),
        q.redshift_comments_sql(schemas),
    )
    if runner is None:
        runner = _redshift_runner(url, label)
    tables, info, columns, comments = (runner(sql) for sql in sqls)
    return q.redshift_tables(tables, info, columns, comments)


def _redshift_runner(url: str, label: str) -> Runner:
    """Run through the Redshift backend's connection (redshift_connector or psycopg),
    one connection per query: the catalog reads four times a day at most."""
    from tasuki.warehouse.postgres._roles import split_allow_privileged
    from tasuki.warehouse.redshift.warehouse import _default_connection

    dsn, _ = split_allow_privileged(url)

    def run(sql: str) -> list[dict[str, Any]]:
        try:
            connection = _default_connection(dsn)
        except ConfigError:
            raise
        except Exception as exc:
            raise WarehouseConnectionError(
                f"cannot reach {label}: {redact(str(exc)).strip()}", url=redact(url)
            ) from exc
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            return _rows(cursor)
        except Exception as exc:
            raise WarehouseError(
                f"{label} refused a metadata query: {redact(str(exc)).strip()}", url=redact(url)
            ) from exc
        finally:
            connection.close()

    return run


def bigquery_target(url: str) -> tuple[str, str | None, str]:
    """``(project, dataset or None, region)`` of a ``bigquery://project/dataset?location=``
    URL; the region defaults to ``us``."""
    parts = urllib.parse.urlsplit(url)
    project = parts.netloc
    dataset = parts.path.strip("/") or None
    region = urllib.parse.parse_qs(parts.query).get("location", ["us"])[-1]
    if not project:
        raise ConfigError(
            f"BigQuery URL {redact(url)!r} names no project; write bigquery://project[/dataset]",
            url=redact(url),
        )
    return project, dataset, region


def _read_bigquery(
    url: str, schemas: Sequence[str] | None, label: str, runner: Runner | None
) -> list[TableMeta]:
    from tasuki.catalog import _introspect_sql as q

    project, dataset, region = bigquery_target(url)
    if schemas is None and dataset is not None:
        schemas = [dataset]
    if runner is None:
        runner = bigquery_runner(project, label)
    tables = runner(q.bigquery_tables_sql(project, region, schemas))
    columns = runner(q.bigquery_columns_sql(project, region, schemas))
    return q.bigquery_tables(tables, columns)


def bigquery_runner(project: str, label: str) -> Runner:
    """A runner on a ``google.cloud.bigquery.Client`` for ``project``.

    Raises:
        ConfigError: google-cloud-bigquery is not installed (pass ``runner=`` instead).
    """
    try:
        from google.cloud import bigquery  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise ConfigError(
            f"reading {label} needs google-cloud-bigquery, which is not installed: "
            "pip install google-cloud-bigquery, or pass runner= (a function running SQL "
            "and returning rows as dicts)",
            missing="google-cloud-bigquery",
        ) from exc
    client = bigquery.Client(project=project)

    def run(sql: str) -> list[dict[str, Any]]:
        try:
            return [dict(row.items()) for row in client.query(sql).result()]
        except Exception as exc:
            raise WarehouseError(
                f"{label} refused a metadata query: {exc}", project=project
            ) from exc

    return run
