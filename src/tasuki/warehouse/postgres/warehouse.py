"""PostgreSQL through the ADBC driver: binary COPY decoded to Arrow, streamed to parts."""

from __future__ import annotations

import logging
import os
import re
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, cast

from tasuki.errors import QueryTimeoutError, StorageError, WarehouseError
from tasuki.warehouse._common import (
    DEFAULT_TIMEOUT,
    BaseWarehouse,
    check_timeout,
    redact,
    timeout_ms,
    utcnow,
)
from tasuki.warehouse._parts import DEFAULT_PART_BYTES, DEFAULT_PART_ROWS, PartsRoot, PartWriter
from tasuki.warehouse._result import PartInfo, QueryResult, new_query_id
from tasuki.warehouse.postgres._errors import translate
from tasuki.warehouse.postgres._numeric import plan_scaled_numerics
from tasuki.warehouse.postgres._parallel import page_ranges, range_query, scan_table
from tasuki.warehouse.postgres._params import pg_text, placeholder, setting_name
from tasuki.warehouse.postgres._roles import (
    PRIVILEGE_COLUMNS,
    allow_privileged_option,
    privileged_error,
    privileges_found,
    split_allow_privileged,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Mapping, Sequence

    import pyarrow as pa
    from sqlglot import exp

    from tasuki.warehouse._safety import CheckedQuery
    from tasuki.warehouse.base import Lineage, Params, WriteMode

__all__ = ["PostgresWarehouse"]

logger = logging.getLogger(__name__)

Parallel = bool | int | Literal["auto"]

PARALLEL_MIN_BYTES = 256 * 1024 * 1024
"""With ``parallel="auto"``, a simple scan is split when its table is at least this big."""

_TABLE_INFO = (
    "SELECT c.relkind::text, pg_relation_size(c.oid) / current_setting('block_size')::bigint "
    "FROM pg_class c WHERE c.oid = to_regclass($1)"
)
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")


class _Stopped(Exception):
    """Another range failed; this one stops early."""


class PostgresWarehouse(BaseWarehouse):
    """PostgreSQL as a warehouse, read through binary COPY.

    Each query runs in a ``READ ONLY`` transaction with ``statement_timeout`` set locally.
    The query path refuses a privileged role (a superuser, a role that owns tables, ...;
    see :mod:`._roles`) unless ``allow_privileged`` is set: ``READ ONLY`` does not stop
    such a role from writing through functions. Connections go back to the pool only after
    ``DISCARD ALL``, so nothing a query did to its session (an advisory lock, a setting, a
    temporary table) is there for the next one. The ADBC driver decodes the binary COPY
    stream to Arrow batches, which a writer thread compresses into rolling zstd Parquet
    parts, so client memory stays flat.

    A single-table scan can be split into ctid ranges read over several connections that
    share one exported snapshot (see :mod:`._parallel`).

    Args:
        uri: ``postgresql://user[:password]@host[:port]/database[?options]``.
        parts_dir: Directory or fsspec URL for result parts (default: a temporary
            directory removed on :meth:`close`).
        timeout: Default statement timeout in seconds.
        allow_functions: Function names to allow beyond the dialect's allow list (the
            warehouse's own read-only functions); a name refused on every warehouse is
            an error here. See :func:`tasuki.warehouse.check_query`.
        parallel: ``False``: one connection. ``True`` or ``n``: split every query into
            ``n`` (default: CPU count, at least 2) ctid ranges, and fail if it is not a
            simple scan. ``"auto"``: split simple scans of tables of at least
            ``parallel_min_bytes``.
        parallel_min_bytes: Table size from which ``"auto"`` splits.
        part_rows: Rows per Parquet part.
        part_bytes: Arrow bytes per Parquet part.
        storage_options: fsspec options for ``parts_dir`` URLs.
        connect_timeout: Seconds to wait for a connection.
        max_idle: Connections kept open between queries.
        allow_privileged: Let :meth:`query` run through a superuser or a role that owns
            tables (for trusted code only: a query may then write despite ``READ ONLY``).
            ``?allow_privileged=true`` in the URL does the same, and is removed from the
            URL before it reaches libpq. :meth:`write_table` is never refused.
    """

    backend = "postgresql"
    dialect = "postgres"

    def __init__(
        self,
        uri: str,
        *,
        parts_dir: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        parallel: Parallel = "auto",
        parallel_min_bytes: int = PARALLEL_MIN_BYTES,
        part_rows: int = DEFAULT_PART_ROWS,
        part_bytes: int = DEFAULT_PART_BYTES,
        storage_options: Mapping[str, Any] | None = None,
        connect_timeout: float = 10.0,
        max_idle: int = 4,
        allow_privileged: bool = False,
        allow_functions: Iterable[str] = (),
    ) -> None:
        uri, from_url = split_allow_privileged(uri)
        self.allow_privileged = allow_privileged_option(allow_privileged) or from_url
        self.uri = _with_connect_timeout(uri, connect_timeout)
        self.url = redact(uri)
        self.timeout = check_timeout(timeout, DEFAULT_TIMEOUT)
        self._allow(allow_functions)
        self.parallel = parallel
        self.parallel_min_bytes = parallel_min_bytes
        self.part_rows = part_rows
        self.part_bytes = part_bytes
        self.storage_options = dict(storage_options or {})
        self.max_idle = max_idle
        self._parts = PartsRoot(parts_dir, storage_options)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        # Set once a query has found the role unprivileged (or allow_privileged is set): the
        # check then costs nothing on later queries of this object.
        self._role_checked = self.allow_privileged

    @classmethod
    def from_url(
        cls, url: str, *, parts_dir: str | None = None, **options: Any
    ) -> PostgresWarehouse:
        """``postgresql://...`` or ``postgres://...``, passed to libpq as is (less
        ``allow_privileged``, which is tasuki's)."""
        return cls(url, parts_dir=parts_dir, **options)

    def __repr__(self) -> str:
        return f"PostgresWarehouse({self.url!r})"

    def query(
        self,
        sql: str,
        params: Params | None = None,
        *,
        timeout: float | None = None,
        parallel: Parallel | None = None,
    ) -> QueryResult:
        """Run one read-only query; see :meth:`tasuki.warehouse.Warehouse.query`.

        Args:
            sql: One read-only query.
            params: Placeholder values (see :mod:`._params` for the type mapping).
            timeout: Statement timeout in seconds.
            parallel: Override the warehouse's ``parallel`` setting for this query.
        """
        checked = self._check(sql)
        seconds = check_timeout(timeout, self.timeout)
        mode = self.parallel if parallel is None else parallel
        workers = _workers(mode)
        table, reason = scan_table(checked.expression) if workers > 1 else (None, "")
        if table is None and workers > 1 and mode != "auto":
            raise WarehouseError(
                f"parallel={mode!r} needs a single-table scan (SELECT ... FROM table "
                f"[WHERE ...]), but {reason}; run it with parallel=False",
                reason=reason,
            )
        query_id = new_query_id()
        directory = self._parts.query_dir(query_id)
        run = _Run(self, checked, params, seconds, directory)
        if table is None:
            return run.single()
        return run.split(table, workers, min_bytes=0 if mode != "auto" else self.parallel_min_bytes)

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode = "replace",
        key: Sequence[str] | None = None,
        lineage: Lineage | None = None,
    ) -> int:
        """Load ``data`` into ``name``: binary COPY into a staging table, then swap, append
        or merge, and the ``lineage`` row if given, in the same transaction. See
        :meth:`tasuki.warehouse.Warehouse.write_table`.

        Each statement of the write runs under the warehouse's ``timeout`` (``SET LOCAL
        statement_timeout``): a write that waits on a lock ends with ``QueryTimeoutError``
        naming the table, and nothing changes.
        """
        from tasuki.warehouse.postgres._write import write_table

        connection = self._acquire()
        ok = False
        try:
            rows = write_table(
                connection,
                name,
                data,
                mode=mode,
                key=key,
                lineage=lineage,
                timeout_ms=timeout_ms(self.timeout),
            )
            ok = True
            return rows
        except WarehouseError:
            raise
        except Exception as exc:
            error = translate(exc, url=self.url, timeout=self.timeout)
            if isinstance(error, QueryTimeoutError):
                error = QueryTimeoutError(
                    f"writing table {name!r} on {self.url} was cancelled after the statement "
                    f"timeout of {self.timeout:g} s (a lock held by another session, or a slow "
                    "load); it was rolled back, so the table is unchanged. Find what holds the "
                    "lock (pg_locks) or raise the warehouse's timeout=",
                    table=name,
                    timeout=self.timeout,
                )
            raise error from exc
        finally:
            self._release(connection, ok)

    def close(self) -> None:
        """Close idle connections and remove a temporary parts directory."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            _close_quietly(connection)
        self._parts.cleanup()

    def _acquire(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        import adbc_driver_postgresql.dbapi as adbc

        try:
            return adbc.connect(self.uri)
        except Exception as exc:
            raise translate(exc, url=self.url) from exc

    def _release(self, connection: Any, ok: bool) -> None:
        """Pool ``connection`` after a reset, or close it (failed, reset failed, pool full)."""
        with self._lock:
            room = len(self._idle) < self.max_idle
        if ok and room and _reset(connection):
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(connection)
                    return
        _close_quietly(connection)

    def _check_role(self, row: Sequence[Any]) -> None:
        """Refuse the query when the role is privileged (``row``: the PRIVILEGE_COLUMNS)."""
        found = privileges_found(row)
        if found.privileges:
            raise privileged_error(found, url=self.url)
        self._role_checked = True


class _Run:
    """One query execution: its settings, parts directory, writers and connections."""

    def __init__(
        self,
        warehouse: PostgresWarehouse,
        checked: CheckedQuery,
        params: Params | None,
        seconds: float,
        directory: str,
    ) -> None:
        self.wh = warehouse
        self.checked = checked
        self.params = params
        self.seconds = seconds
        self.directory = directory
        # Validates the parameters before any connection is made.
        self.bound = checked.bind(params, placeholder)[1]
        self.first_error: BaseException | None = None
        self.stop = threading.Event()
        self.writers: list[PartWriter] = []
        self.cursors: list[Any] = []
        self.lock = threading.Lock()

    def sql(self, expression: exp.Expression | None = None) -> str:
        return self.checked.bind(self.params, placeholder, expression=expression)[0]

    def begin(
        self,
        cursor: Any,
        *,
        export: bool = False,
        snapshot: str | None = None,
        check_role: bool = False,
    ) -> Any:
        """Start the read-only transaction; returns (now(), exported snapshot or None).

        With ``check_role`` (the first connection of a query), the role's privileges are
        read in the same statement, on the warehouse's first query only, and a privileged
        role is refused before the query runs.
        """
        if export or snapshot:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            cursor.execute("SET TRANSACTION READ ONLY")
        if snapshot is not None:
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        settings = [
            (setting_name(i + 1), pg_text(v)) for i, v in enumerate(self.bound) if v is not None
        ]
        columns = ["now()", "set_config('statement_timeout', $1, true)"]
        columns += [f"set_config('{name}', ${i + 2}, true)" for i, (name, _) in enumerate(settings)]
        check = check_role and not self.wh._role_checked
        if check:
            columns += PRIVILEGE_COLUMNS
        if export:
            columns.append("pg_export_snapshot()")
        args = [str(timeout_ms(self.seconds)), *(text for _, text in settings)]
        cursor.execute("SELECT " + ", ".join(columns), args)
        row = cursor.fetchone()
        if check:
            start = 2 + len(settings)
            self.wh._check_role(row[start : start + len(PRIVILEGE_COLUMNS)])
        return row[0], (row[-1] if export else None)

    def stream(self, cursor: Any, sql: str, prefix: str) -> PartWriter:
        # numeric(p <= 18, s) columns travel as scaled bigints, not text (see _numeric.py).
        scaled = plan_scaled_numerics(cursor.adbc_execute_schema(sql))
        try:
            cursor.execute(scaled.wrap(sql) if scaled else sql)
            reader = cursor.fetch_record_batch()
            schema = scaled.schema(reader.schema) if scaled else reader.schema
            writer = PartWriter(
                self.directory,
                schema,
                prefix=prefix,
                part_rows=self.wh.part_rows,
                part_bytes=self.wh.part_bytes,
                storage_options=self.wh.storage_options,
            )
            with self.lock:
                self.writers.append(writer)
            for batch in reader:
                if self.stop.is_set():
                    raise _Stopped
                writer.write(scaled.restore(batch, schema) if scaled else batch)
        except Exception as exc:
            clear = scaled.explain(exc) if scaled else None
            if clear is not None:
                raise clear from exc
            raise
        return writer

    def fail(self, exc: BaseException, sql: str | None) -> BaseException:
        """Stop every range, delete what was written, and translate ``exc``."""
        with self.lock:
            if self.first_error is None and not isinstance(exc, _Stopped):
                self.first_error = exc
            first = self.first_error or exc
            self.stop.set()
            cursors, writers = list(self.cursors), list(self.writers)
        for cursor in cursors:
            try:
                cursor.adbc_cancel()
            except Exception:
                logger.debug("cancel failed", exc_info=True)
        for writer in writers:
            writer.abort()
        if first is not exc:
            return first  # another range failed first; that is the cause
        # A full results folder (StorageError from the part writer) is not a warehouse error.
        if isinstance(exc, WarehouseError | StorageError | _Stopped) or not isinstance(
            exc, Exception
        ):
            return exc
        translated = translate(exc, url=self.wh.url, sql=sql, timeout=self.seconds)
        with self.lock:
            self.first_error = translated
        return translated

    def single(self) -> QueryResult:
        sql = self.sql()
        connection = self.wh._acquire()
        ok = False
        try:
            cursor = connection.cursor()
            snapshot_at, _ = self.begin(cursor, check_role=True)
            writer = self.stream(cursor, sql, "part")
            parts = writer.close()
            ok = True
        except BaseException as exc:
            raise _chained(self.fail(exc, sql), exc)  # noqa: B904 (_chained sets the cause)
        finally:
            self.wh._release(connection, ok)
        return self.finish(writer.schema, parts, snapshot_at, {"connections": 1})

    def split(self, table: exp.Table, workers: int, *, min_bytes: int) -> QueryResult:
        connection = self.wh._acquire()
        ok = False
        sql: str | None = None
        try:
            cursor = connection.cursor()
            self.cursors.append(cursor)
            snapshot_at, snapshot = self.begin(cursor, export=True, check_role=True)
            relation = table.copy()
            relation.set("alias", None)
            cursor.execute(_TABLE_INFO, [relation.sql("postgres")])
            info = cursor.fetchone()
            kind, pages = (info[0], int(info[1])) if info else (None, 0)
            if kind not in ("r", "m") or pages * 8192 < min_bytes:
                # A view, a partitioned table, a missing table (the scan below raises the
                # server's error) or a small table: one connection does it.
                sql = self.sql()
                writer = self.stream(cursor, sql, "part")
                parts = writer.close()
                ok = True
                return self.finish(writer.schema, parts, snapshot_at, {"connections": 1})
            if not isinstance(snapshot, str) or not _SNAPSHOT_ID.match(snapshot):
                raise WarehouseError(f"unexpected snapshot id from the server: {snapshot!r}")
            ranges = page_ranges(pages, workers)
            queries = [
                self.sql(range_query(cast("exp.Select", self.checked.expression), table, a, b))
                for a, b in ranges
            ]
            sql = queries[0]
            pool = ThreadPoolExecutor(max_workers=len(queries) - 1 or 1)
            try:
                futures = [
                    pool.submit(self._range, i, q, snapshot) for i, q in enumerate(queries) if i
                ]
                try:
                    first = self.stream(cursor, queries[0], "part-000")
                except BaseException as exc:
                    # Record the cause before the other ranges fail on the aborted snapshot.
                    raise _chained(self.fail(exc, sql), exc)  # noqa: B904 (_chained sets the cause)
                written = [first] + [f.result() for f in futures]
            finally:
                pool.shutdown(wait=True)
            parts = [p for w in written for p in w.close()]
            ok = True
        except BaseException as exc:
            raise _chained(self.fail(exc, sql), exc)  # noqa: B904 (_chained sets the cause)
        finally:
            self.wh._release(connection, ok)
        extra = {"connections": len(queries), "snapshot": snapshot, "pages": pages}
        return self.finish(written[0].schema, parts, snapshot_at, extra)

    def _range(self, index: int, sql: str, snapshot: str) -> PartWriter:
        if self.stop.is_set():
            raise _Stopped
        connection = self.wh._acquire()
        ok = False
        try:
            cursor = connection.cursor()
            with self.lock:
                self.cursors.append(cursor)
            self.begin(cursor, snapshot=snapshot)
            writer = self.stream(cursor, sql, f"part-{index:03d}")
            ok = True
            return writer
        except BaseException as exc:
            raise _chained(self.fail(exc, sql), exc)  # noqa: B904 (_chained sets the cause)
        finally:
            self.wh._release(connection, ok)

    def finish(
        self,
        schema: pa.Schema,
        parts: list[PartInfo],
        snapshot_at: dt.datetime,
        extra: dict[str, Any],
    ) -> QueryResult:
        return self.wh._result(
            query_id=self.directory.rstrip("/").rsplit("/", 1)[-1],
            checked=self.checked,
            params=self.params,
            schema=schema,
            parts=parts,
            location=self.directory,
            snapshot_at=snapshot_at or utcnow(),
            storage_options=self.wh.storage_options,
            extra=extra,
        )


def _chained(error: BaseException, exc: BaseException) -> BaseException:
    """``error`` to raise for ``exc``: ``exc`` itself unchanged, or chained to it."""
    if error is not exc and error.__cause__ is None:
        error.__cause__ = exc
        error.__suppress_context__ = True
    return error


def _workers(mode: Parallel) -> int:
    if mode is False:
        return 1
    if mode is True or mode == "auto":
        return max(2, os.cpu_count() or 2)
    if isinstance(mode, int) and not isinstance(mode, bool) and mode >= 1:
        return mode
    raise WarehouseError(
        f"parallel must be True, False, 'auto' or a positive number of connections, got {mode!r}",
        parallel=mode,
    )


def _with_connect_timeout(uri: str, seconds: float) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query)
    if any(k == "connect_timeout" for k, _ in query):
        return uri
    query.append(("connect_timeout", str(max(1, round(seconds)))))
    # quote_via=quote: libpq reads '+' literally, so spaces must be %20 (options=-c%20...)
    encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit(parts._replace(query=encoded))


def _reset(connection: Any) -> bool:
    """End the transaction and ``DISCARD ALL``; False (close it) when that fails.

    ``DISCARD ALL`` releases session advisory locks, resets every setting, drops temporary
    tables and deallocates prepared statements, so what one query did to its session does
    not reach the next one. It cannot run in a transaction block, and the ADBC driver opens
    one before each statement while autocommit is off, so autocommit is on around it.
    """
    try:
        connection.rollback()
        connection.adbc_connection.set_autocommit(True)
        try:
            cursor = connection.cursor()
            try:
                cursor.execute("DISCARD ALL")
            finally:
                cursor.close()
        finally:
            connection.adbc_connection.set_autocommit(False)
    except Exception:
        logger.debug("resetting a pooled connection failed; closing it", exc_info=True)
        return False
    return True


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception:
        logger.debug("closing a connection failed", exc_info=True)
