"""Amazon Redshift: ``UNLOAD`` the query to S3 as Parquet in parallel, then read the parts;
``write_table`` goes the other way, Parquet parts on S3 then ``COPY``."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tasuki.errors import ConfigError, QueryTimeoutError, WarehouseError
from tasuki.warehouse._common import (
    DEFAULT_TIMEOUT,
    BaseWarehouse,
    check_timeout,
    redact,
    timeout_ms,
    utcnow,
)
from tasuki.warehouse._fs import filesystem, join_url
from tasuki.warehouse._parts import DEFAULT_PART_BYTES, DEFAULT_PART_ROWS
from tasuki.warehouse._result import QueryResult, new_query_id
from tasuki.warehouse._staged import describe_parts
from tasuki.warehouse._write import (
    as_reader,
    check_lineage,
    check_mode,
    for_loading,
    record_lineage,
    remove_staged,
    stage_parts,
    staging_name,
    table_name,
)
from tasuki.warehouse.postgres._errors import translate
from tasuki.warehouse.postgres._roles import (
    allow_privileged_option,
    privileged_error,
    split_allow_privileged,
)
from tasuki.warehouse.redshift._roles import FIX, WHY, redshift_role_check
from tasuki.warehouse.redshift._unload import arrow_type, unload_sql
from tasuki.warehouse.redshift._write import create_schema_sql, redshift_type, write_statements

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from tasuki.warehouse.base import Lineage, Params, WriteMode

__all__ = ["RedshiftWarehouse"]

logger = logging.getLogger(__name__)

ConnectionFactory = Callable[[], Any]
"""Returns a new DB-API 2.0 connection to Redshift."""


class RedshiftWarehouse(BaseWarehouse):
    """Redshift as a warehouse: each query becomes one ``UNLOAD ... FORMAT PARQUET``.

    The cluster writes the result in parallel (one or more files per slice, at most
    ``max_file_size_mb`` each) plus a ``MANIFEST VERBOSE`` listing every file with its row
    count; the client then reads the files at its own pace, never holding a transaction
    open. Parameters are rendered as SQL literals by sqlglot, because UNLOAD takes its query
    as a string and cannot bind them.

    Args:
        dsn: ``redshift://user:password@host:5439/database``.
        s3_staging: ``s3://bucket/prefix`` under which each query gets ``<query_id>/``.
        iam_role: ARN of the role Redshift assumes to write to S3, or ``"default"``.
        timeout: Default statement timeout in seconds.
        allow_functions: Function names to allow beyond the dialect's allow list (the
            warehouse's own read-only functions); a name refused on every warehouse is
            an error here. See :func:`tasuki.warehouse.check_query`.
        max_file_size_mb: Largest Parquet file UNLOAD writes (5 to 6200).
        storage_options: fsspec options for reading and writing ``s3_staging``
            (credentials, ``endpoint_url``).
        part_rows: Rows per Parquet part ``write_table`` stages for COPY.
        part_bytes: Arrow bytes per staged part (slices load parts in parallel).
        connection_factory: Makes a DB-API connection; default: ``redshift_connector`` if
            installed, else psycopg.
        allow_privileged: Let :meth:`query` run as a superuser or a user that owns tables
            (refused by default, see :mod:`._roles`); ``?allow_privileged=true`` in the URL
            does the same and is removed from it. :meth:`write_table` is never refused.
    """

    backend = "redshift"
    dialect = "redshift"

    def __init__(
        self,
        dsn: str,
        *,
        s3_staging: str | None = None,
        iam_role: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_file_size_mb: int = 256,
        storage_options: Mapping[str, Any] | None = None,
        connection_factory: ConnectionFactory | None = None,
        part_rows: int = DEFAULT_PART_ROWS,
        part_bytes: int = DEFAULT_PART_BYTES,
        allow_privileged: bool = False,
        allow_functions: Iterable[str] = (),
    ) -> None:
        dsn, from_url = split_allow_privileged(dsn)
        self.allow_privileged = allow_privileged_option(allow_privileged) or from_url
        # Set once a query has found the user unprivileged: later queries skip the check.
        self._role_checked = self.allow_privileged
        if not s3_staging or "://" not in s3_staging:
            raise ConfigError(
                f"Redshift needs s3_staging='s3://bucket/prefix' for UNLOAD, got {s3_staging!r}",
                s3_staging=s3_staging,
            )
        if not iam_role:
            raise ConfigError(
                "Redshift needs iam_role= (the ARN of a role that may write to s3_staging, or "
                "'default')",
                iam_role=iam_role,
            )
        if not 5 <= int(max_file_size_mb) <= 6200:
            raise ConfigError(
                f"max_file_size_mb must be between 5 and 6200, got {max_file_size_mb}",
                max_file_size_mb=max_file_size_mb,
            )
        self.dsn = dsn
        self.url = redact(dsn)
        self.s3_staging = s3_staging.rstrip("/")
        self.iam_role: str = iam_role
        self.timeout = check_timeout(timeout, DEFAULT_TIMEOUT)
        self._allow(allow_functions)
        self.max_file_size_mb = int(max_file_size_mb)
        self.storage_options = dict(storage_options or {})
        self.part_rows = part_rows
        self.part_bytes = part_bytes
        self._factory = connection_factory or (lambda: _default_connection(dsn))

    @classmethod
    def from_url(
        cls, url: str, *, parts_dir: str | None = None, **options: Any
    ) -> RedshiftWarehouse:
        """``redshift://user:pw@host:5439/db``; ``parts_dir`` may stand for ``s3_staging``."""
        if parts_dir is not None:
            options.setdefault("s3_staging", parts_dir)
        return cls(url, **options)

    def __repr__(self) -> str:
        return f"RedshiftWarehouse({self.url!r}, s3_staging={self.s3_staging!r})"

    def unload_statement(
        self, sql: str, params: Params | None = None, *, query_id: str | None = None
    ) -> str:
        """The UNLOAD statement :meth:`query` would send (for review and tests)."""
        checked = self._check(sql)
        target = join_url(self.s3_staging, query_id or new_query_id()) + "/"
        return unload_sql(checked.render(params), target, self.iam_role, self.max_file_size_mb)

    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only query through UNLOAD; see :meth:`Warehouse.query`."""
        checked = self._check(sql)
        seconds = check_timeout(timeout, self.timeout)
        query_id = new_query_id()
        location = join_url(self.s3_staging, query_id)
        statement = unload_sql(
            checked.render(params), location + "/", self.iam_role, self.max_file_size_mb
        )
        snapshot_at = utcnow()
        self._execute(statement, seconds, check_role=not self._role_checked)
        parts, schema = self._read_manifest(location)
        return self._result(
            query_id=query_id,
            checked=checked,
            params=params,
            schema=schema,
            parts=parts,
            location=location,
            snapshot_at=snapshot_at,
            storage_options=self.storage_options,
        )

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode = "replace",
        key: Sequence[str] | None = None,
        lineage: Lineage | None = None,
    ) -> int:
        """Load ``data`` into ``name`` through S3: Parquet parts, ``COPY``, one transaction.

        The data is written as zstd Parquet parts under ``<s3_staging>/write-<id>/`` (with
        ``storage_options``), copied into a staging table with ``COPY ... IAM_ROLE ...
        FORMAT AS PARQUET`` (the role UNLOAD uses), then swapped in (``replace``), inserted
        (``append``) or merged on ``key`` (``merge``: matching rows deleted, staging rows
        inserted), with the ``lineage`` row, and committed. Any failure rolls back: the
        target is as it was. The parts are removed afterwards either way. See
        :mod:`tasuki.warehouse.redshift._write` for the statements.

        Args:
            name: ``table`` or ``schema.table``.
            data: Arrow table / batch / reader, pandas or polars DataFrame, QueryResult.
            mode: ``"replace"``, ``"append"`` or ``"merge"``.
            key: Key columns for ``"merge"``.
            lineage: A ``tasuki_lineage`` row to write in the same transaction.

        Returns:
            Rows written.

        Raises:
            WarehouseError: Bad arguments, a column type Redshift cannot load, or the
                cluster refused a statement (translated by SQLSTATE).
        """
        lineage = check_lineage(lineage, name)
        reader = for_loading(as_reader(data))
        keys = check_mode(mode, key, reader.schema.names)
        target = table_name(name, self.dialect)
        for field in reader.schema:
            redshift_type(field)  # refuse an unloadable column before anything is written
        location = join_url(self.s3_staging, f"write-{new_query_id()}")
        parts, schema = stage_parts(
            reader,
            location,
            self.storage_options,
            table=name,
            part_rows=self.part_rows,
            part_bytes=self.part_bytes,
        )
        rows = sum(p.rows for p in parts)
        try:
            statements = write_statements(
                target=target,
                stage=staging_name(target),
                schema=schema,
                mode=mode,
                keys=keys,
                prefix=location + "/" if parts else None,
                iam_role=self.iam_role,
            )
            self._transaction(statements, lineage, rows, mode, schema=target.db or None, table=name)
        finally:
            remove_staged(location, self.storage_options)
        logger.debug("wrote %d rows to %s (%s) through %s", rows, name, mode, location)
        return rows

    def _transaction(
        self,
        statements: list[str],
        lineage: Lineage | None,
        rows: int,
        mode: str,
        *,
        schema: str | None = None,
        table: str | None = None,
    ) -> None:
        """Run ``statements`` and the lineage row in one transaction, then commit.

        ``schema``, the target's, is created first when it is missing (as migrate does); it
        is looked up before, because ``CREATE SCHEMA IF NOT EXISTS`` needs the CREATE
        privilege on the database even when the schema is there. Every statement runs under
        the warehouse's timeout; one that runs past it (waiting on a lock, for one) ends the
        write with ``QueryTimeoutError`` naming ``table``, and nothing changes.
        """
        try:
            connection = self._factory()
        except Exception as exc:
            raise translate(exc, url=self.url) from exc
        current = ""
        try:
            cursor = connection.cursor()
            current = f"SET statement_timeout TO {timeout_ms(self.timeout)}"
            cursor.execute(current)
            if schema:
                current = "SELECT count(*) FROM pg_namespace WHERE nspname = %s"
                cursor.execute(current, (schema,))
                if not cursor.fetchall()[0][0]:
                    current = create_schema_sql(schema)
                    cursor.execute(current)
            for current in statements:
                cursor.execute(current)
            if lineage is not None:

                def execute(sql: str, params: tuple[Any, ...]) -> list[Any]:
                    nonlocal current
                    current = sql
                    if params:
                        cursor.execute(sql, params)
                    else:
                        cursor.execute(sql)
                    return list(cursor.fetchall()) if cursor.description else []

                # DB-API drivers for Redshift (redshift_connector, psycopg) bind with %s.
                record_lineage(
                    execute, lineage, rows, mode=mode, dialect="redshift", mark=lambda _: "%s"
                )
            connection.commit()
        except WarehouseError:
            _rollback_quietly(connection)
            raise
        except Exception as exc:
            _rollback_quietly(connection)
            error = translate(exc, url=self.url, sql=current, timeout=self.timeout)
            if table is not None and "other objects depend on it" in str(exc):
                error = _blocked_by_views(exc, table)
            if isinstance(error, QueryTimeoutError) and table is not None:
                error = QueryTimeoutError(
                    f"writing table {table!r} on {self.url} was cancelled after the statement "
                    f"timeout of {self.timeout:g} s (a lock held by another session, or a slow "
                    "COPY); it was rolled back, so the table is unchanged. Find what holds the "
                    "lock (STV_LOCKS) or raise the warehouse's timeout=",
                    table=table,
                    timeout=self.timeout,
                )
            raise error from exc
        except BaseException:
            _rollback_quietly(connection)
            raise
        finally:
            connection.close()

    def _execute(self, statement: str, seconds: float, *, check_role: bool = False) -> None:
        """Run ``statement`` (an UNLOAD) under ``seconds``; with ``check_role``, refuse a
        privileged user first, on the same connection."""
        try:
            connection = self._factory()
        except Exception as exc:
            raise translate(exc, url=self.url) from exc
        try:
            cursor = connection.cursor()
            cursor.execute(f"SET statement_timeout TO {timeout_ms(seconds)}")
            if check_role:
                found = redshift_role_check(cursor)
                if found.privileges:
                    raise privileged_error(
                        found, url=self.url, backend="Redshift", why=WHY, fix=FIX
                    )
                self._role_checked = True
            cursor.execute(statement)
            connection.commit()
        except WarehouseError:
            _rollback_quietly(connection)
            raise
        except Exception as exc:
            _rollback_quietly(connection)
            raise translate(exc, url=self.url, sql=statement, timeout=seconds) from exc
        finally:
            connection.close()

    def _read_manifest(self, location: str) -> tuple[list[Any], pa.Schema]:
        url = join_url(location, "manifest")
        fs, path = filesystem(url, self.storage_options)
        try:
            with fs.open_input_stream(path) as stream:
                manifest = json.loads(stream.read())
        except FileNotFoundError as exc:
            raise WarehouseError(
                f"UNLOAD finished but wrote no manifest at {url}; check that the IAM role may "
                "write there and that storage_options point at the same S3",
                url=url,
            ) from exc
        entries = manifest.get("entries") or []
        known = {
            e["url"]: (
                (e.get("meta") or {}).get("record_count"),
                (e.get("meta") or {}).get("content_length"),
            )
            for e in entries
        }
        parts, schema = describe_parts([e["url"] for e in entries], self.storage_options, known)
        if schema is None:
            elements = (manifest.get("schema") or {}).get("elements") or []
            schema = pa.schema([(e["name"], arrow_type(e)) for e in elements])
        return parts, schema


def _default_connection(dsn: str) -> Any:
    parts = urllib.parse.urlsplit(dsn)
    try:
        import redshift_connector
    except ImportError:
        redshift_connector = None
    if redshift_connector is not None:
        return redshift_connector.connect(
            host=parts.hostname or "localhost",
            port=parts.port or 5439,
            database=parts.path.lstrip("/") or "dev",
            user=urllib.parse.unquote(parts.username or ""),
            password=urllib.parse.unquote(parts.password or ""),
        )
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigError(
            "the Redshift backend needs redshift_connector or psycopg: pip install "
            "redshift_connector",
            missing="redshift_connector",
        ) from exc
    netloc = parts.netloc if parts.port else f"{parts.netloc}:5439"
    conninfo = urllib.parse.urlunsplit(parts._replace(scheme="postgresql", netloc=netloc))
    return psycopg.connect(conninfo, connect_timeout=10)


def _rollback_quietly(connection: Any) -> None:
    try:
        connection.rollback()
    except Exception:
        logger.debug("rollback failed", exc_info=True)


def _blocked_by_views(exc: Exception, table: str) -> WarehouseError:
    """The error for a replace whose DROP of the old table the server refused because
    views depend on it (schema-bound views: a late-binding one does not hold the table)."""
    diag = getattr(exc, "diag", None)
    detail = getattr(diag, "message_detail", None) or ""
    which = f" ({detail.strip()})" if detail else ""
    return WarehouseError(
        f"cannot replace {table!r}: views depend on it{which}, and a replace drops the table "
        "and renames the new one in, in one transaction, so it was rolled back and the table "
        "is unchanged. Create those views WITH NO SCHEMA BINDING (late-binding views, which "
        "a drop leaves alone), or drop them before the write and create them again after",
        table=table,
    )
