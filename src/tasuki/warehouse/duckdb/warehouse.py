"""DuckDB, the embedded default warehouse: a database file in the workspace (or memory)."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from tasuki._redact import redact
from tasuki.errors import PermissionDeniedError, WarehouseError
from tasuki.warehouse._common import DEFAULT_TIMEOUT, BaseWarehouse, check_timeout, utcnow
from tasuki.warehouse._parts import DEFAULT_PART_BYTES, DEFAULT_PART_ROWS, PartsRoot, PartWriter
from tasuki.warehouse._result import QueryResult, new_query_id
from tasuki.warehouse.duckdb._errors import timed_out, translate

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import duckdb

    from tasuki.warehouse.base import Lineage, Params, WriteMode

__all__ = ["DuckDBWarehouse"]

logger = logging.getLogger(__name__)

MEMORY = ":memory:"


class DuckDBWarehouse(BaseWarehouse):
    """An embedded DuckDB database as a warehouse.

    The database is opened with external access disabled (no files, no network, no
    extensions), on top of the query check, so a query can only read tables inside it.
    An existing file is opened read-only until :meth:`write_table` needs to write, unless
    ``read_only`` says otherwise.

    Args:
        database: Path of the database file, or ``":memory:"``.
        parts_dir: Directory or fsspec URL for result parts (default: a temporary directory
            removed on :meth:`close`).
        read_only: True: never write (``write_table`` raises PermissionDeniedError). False:
            open read-write. None: read-only while the file exists and nothing was written.
        timeout: Default statement timeout in seconds.
        allow_functions: Function names to allow beyond the dialect's allow list (the
            warehouse's own read-only functions); a name refused on every warehouse is
            an error here. See :func:`tasuki.warehouse.check_query`.
        part_rows: Rows per Parquet part.
        part_bytes: Arrow bytes per Parquet part.
        batch_size: Rows per batch pulled from DuckDB.
        storage_options: fsspec options for ``parts_dir`` URLs.
        config: Extra DuckDB configuration (``threads``, ``memory_limit`` ...).
    """

    backend = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        database: str | os.PathLike[str] = MEMORY,
        *,
        parts_dir: str | os.PathLike[str] | None = None,
        read_only: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        part_rows: int = DEFAULT_PART_ROWS,
        part_bytes: int = DEFAULT_PART_BYTES,
        batch_size: int = 131_072,
        storage_options: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        allow_functions: Iterable[str] = (),
    ) -> None:
        self.database = os.fspath(database) or MEMORY
        self.read_only = read_only
        self.timeout = check_timeout(timeout, DEFAULT_TIMEOUT)
        self._allow(allow_functions)
        self.part_rows = part_rows
        self.part_bytes = part_bytes
        self.batch_size = batch_size
        self.storage_options = dict(storage_options or {})
        self.config = dict(config or {})
        self._parts = PartsRoot(parts_dir, storage_options)
        self._db: duckdb.DuckDBPyConnection | None = None
        self._db_read_only = False
        self._lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str, *, parts_dir: str | None = None, **options: Any) -> DuckDBWarehouse:
        """``duckdb:///abs/path.db``, ``duckdb://relative/path.db``, ``duckdb://`` (memory)."""
        if not url.lower().startswith("duckdb://"):
            raise WarehouseError(
                f"not a DuckDB URL: {redact(url)!r}; expected duckdb:///path/to.db"
            )
        path = url[len("duckdb://") :] or MEMORY
        return cls(path, parts_dir=parts_dir, **options)

    @property
    def url(self) -> str:
        """The warehouse URL."""
        return "duckdb://" if self.database == MEMORY else f"duckdb://{self.database}"

    def __repr__(self) -> str:
        return f"DuckDBWarehouse({self.database!r})"

    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only query; see :meth:`tasuki.warehouse.Warehouse.query`."""
        import duckdb

        checked = self._check(sql)
        seconds = check_timeout(timeout, self.timeout)
        text, values = checked.bind(params, lambda n, _value: exp.Placeholder(this=str(n)))
        query_id = new_query_id()
        directory = self._parts.query_dir(query_id)
        snapshot_at = utcnow()
        cursor = self._connection(write=False).cursor()
        timer = _Interrupter(cursor, seconds, name=f"tasuki-duckdb-timeout-{query_id}")
        writer: PartWriter | None = None
        try:
            timer.start()
            reader = cursor.sql(text, params=values or None).to_arrow_reader(self.batch_size)
            writer = PartWriter(
                directory,
                reader.schema,
                part_rows=self.part_rows,
                part_bytes=self.part_bytes,
                storage_options=self.storage_options,
            )
            for batch in reader:
                if timer.fired.is_set():
                    # Batches DuckDB had already made do not see the interrupt.
                    raise timed_out(seconds)
                writer.write(batch)
            parts = writer.close()
        except duckdb.Error as exc:
            if writer is not None:
                writer.abort()
            timed_out_after = seconds if timer.fired.is_set() else None
            raise translate(exc, database=self.database, timeout=timed_out_after) from exc
        except BaseException as exc:
            if writer is not None:
                writer.abort()
            if timer.fired.is_set() and _interrupted(exc):
                # Mid-stream, the interrupt reaches us through the Arrow reader as an OSError.
                raise timed_out(seconds) from exc
            raise
        finally:
            timer.stop()
            cursor.close()
        return self._result(
            query_id=query_id,
            checked=checked,
            params=params,
            schema=writer.schema,
            parts=parts,
            location=directory,
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
        """Load ``data`` into table ``name`` in one transaction.

        DuckDB reads the Arrow stream directly into a staging table (it runs in this
        process, so no Parquet parts are needed), then replaces, appends to, or merges into
        the target in the same transaction.

        Args:
            name: Table name, optionally ``schema.table``.
            data: Arrow table / batch / reader, pandas or polars DataFrame, QueryResult.
            mode: ``"replace"`` swaps the table, ``"append"`` adds rows, ``"merge"`` replaces
                rows whose ``key`` columns match and adds the rest.
            key: Key columns for ``"merge"``.
            lineage: A ``tasuki_lineage`` row to write in the same transaction.

        Returns:
            Rows written.
        """
        import duckdb

        from tasuki.warehouse.duckdb._write import write_table

        if self.read_only:
            raise PermissionDeniedError(
                f"DuckDB warehouse {self.database} was opened with read_only=True; "
                f"cannot write table {name!r}",
                table=name,
                database=self.database,
            )
        with self._lock:
            connection = self._connection(write=True)
            try:
                return write_table(connection, name, data, mode=mode, key=key, lineage=lineage)
            except duckdb.Error as exc:
                raise translate(exc, database=self.database) from exc

    def close(self) -> None:
        """Close the database and remove a temporary parts directory."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self._parts.cleanup()

    def _connection(self, *, write: bool) -> duckdb.DuckDBPyConnection:
        import duckdb

        with self._lock:
            if self._db is not None and not (write and self._db_read_only):
                return self._db
            if self._db is not None:
                # DuckDB allows one configuration per file in a process: reopen read-write.
                self._db.close()
                self._db = None
            memory = self.database == MEMORY
            if self.read_only is True:
                read_only = True
            elif self.read_only is False or write or memory:
                read_only = False
            else:
                read_only = os.path.exists(self.database)
            config = {"enable_external_access": False, **self.config}
            try:
                self._db = duckdb.connect(self.database, read_only=read_only, config=config)
            except duckdb.Error as exc:
                raise translate(exc, database=self.database) from exc
            self._db_read_only = read_only
            logger.debug("opened DuckDB %s (read_only=%s)", self.database, read_only)
            return self._db


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB's interrupt, as the Arrow reader passes it on."""
    return isinstance(exc, Exception) and str(exc).startswith("INTERRUPT Error")


class _Interrupter(threading.Thread):
    """Interrupts a DuckDB cursor ``seconds`` after :meth:`start`, and keeps interrupting it
    until :meth:`stop`.

    DuckDB drops an interrupt that arrives while no query is running on the connection (it
    clears the flag when a query starts), so a single interrupt sent before the query got
    going (a tiny timeout, a slow parse) would be lost and the query would run unbounded.
    Repeating it (every 1 ms at first, then at most every 50 ms) until the caller says the
    query has ended makes the timeout impossible to lose.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, seconds: float, *, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.cursor = cursor
        self.seconds = seconds
        self.fired = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        if self._done.wait(self.seconds):
            return
        self.fired.set()
        pause = 0.001
        while True:
            try:
                self.cursor.interrupt()
            except Exception:  # only once the connection is closed, which ends the query too
                logger.debug("interrupting a DuckDB cursor failed", exc_info=True)
                return
            if self._done.wait(pause):
                return
            pause = min(pause * 2, 0.05)

    def stop(self) -> None:
        """The query has ended: stop interrupting, and wait until no interrupt is in flight."""
        self._done.set()
        if self.is_alive():
            self.join()
