"""Where result parts live, and the rolling zstd Parquet writer that fills them.

Parts go to a local directory or any fsspec URL (``s3://bucket/prefix``). Local paths use
pyarrow's own file system; URLs go through fsspec wrapped for pyarrow, so the Parquet
writer and reader stream to and from object stores without temporary files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import tempfile
import threading
import weakref
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasuki.errors import StorageError, WarehouseError
from tasuki.storage._disk import disk_error
from tasuki.warehouse._arrow import Conformer
from tasuki.warehouse._fs import filesystem, join_url
from tasuki.warehouse._result import PartInfo

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "DEFAULT_PART_BYTES",
    "DEFAULT_PART_ROWS",
    "ByteBudget",
    "PartWriter",
    "PartsRoot",
    "ResultTooLargeError",
    "result_byte_limit",
]

logger = logging.getLogger(__name__)

DEFAULT_PART_ROWS = 1_000_000
"""A part is closed once it holds this many rows ..."""
DEFAULT_PART_BYTES = 256 * 1024 * 1024
"""... or this many bytes of Arrow data (before compression), whichever comes first."""
ROW_GROUP_BYTES = 64 * 1024 * 1024
"""Batches are gathered up to this many Arrow bytes into one Parquet row group."""
ROW_GROUP_ROWS = 256 * 1024
# decimal128 with precision <= 18 stored as INT64 reads back ~40% faster (pyarrow >= 18).
_INT_DECIMALS = (
    {"store_decimal_as_integer": True} if int(pa.__version__.split(".")[0]) >= 18 else {}
)
_QUEUE_DEPTH = 2  # batches in flight to the writer thread: memory stays bounded


class ResultTooLargeError(WarehouseError):
    """A query's parts passed the byte limit set by :func:`result_byte_limit`."""


class ByteBudget:
    """The most bytes of Parquet parts the writers of one query may write together.

    Writers charge the bytes they wrote after every row group, so a query is stopped at
    most one row group (about ``ROW_GROUP_BYTES`` of Arrow data, less once compressed)
    past the limit. Thread-safe: parallel readers share one budget.

    Args:
        max_bytes: The limit, in bytes.
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise WarehouseError(
                f"max_bytes must be a whole number of bytes >= 1, got {max_bytes!r}",
                max_bytes=max_bytes,
            )
        self.max_bytes = max_bytes
        self.used = 0
        self._lock = threading.Lock()

    def charge(self, size: int) -> None:
        """Count ``size`` more bytes written.

        Raises:
            ResultTooLargeError: The total passed the limit.
        """
        with self._lock:
            self.used += size
            used = self.used
        if used > self.max_bytes:
            raise ResultTooLargeError(
                f"the query's result passed {used:,} bytes of Parquet; at most "
                f"{self.max_bytes:,} are kept per query (the query service's "
                "max_result_bytes setting). What was written is deleted: select fewer "
                "rows or columns, or aggregate",
                used=used,
                limit=self.max_bytes,
            )


# The budget of the query this process runs now (see result_byte_limit). Process-wide, not
# a context variable: the backends write parts from reader and writer threads of their own.
_budget: ByteBudget | None = None
_budget_lock = threading.Lock()


@contextlib.contextmanager
def result_byte_limit(max_bytes: int | None) -> Iterator[ByteBudget | None]:
    """Limit the bytes of parts written by every :class:`PartWriter` made in the block.

    Meant for a process that runs one query at a time, such as the query service's worker:
    the limit is process-wide, so that the writers the backends make on their own threads
    see it too. A writer made in the block fails with :class:`ResultTooLargeError` once the
    writers together pass ``max_bytes``; the backend then deletes the query's parts.

    Args:
        max_bytes: The limit, in bytes; None for no limit (the block does nothing).

    Yields:
        The budget (its ``used`` says how much was written), or None.

    Example:
        >>> with result_byte_limit(10 * 2**30):  # doctest: +SKIP
        ...     wh.query("SELECT * FROM events")
    """
    global _budget
    if max_bytes is None:
        yield None
        return
    budget = ByteBudget(max_bytes)
    with _budget_lock:
        previous, _budget = _budget, budget
    try:
        yield budget
    finally:
        with _budget_lock:
            _budget = previous


class PartsRoot:
    """The directory under which one warehouse puts each query's parts.

    Given a path or URL, results stay there after the warehouse closes. Without one, a
    temporary directory is made on first use and removed by :meth:`cleanup` (called by the
    warehouse's ``close()``) or at interpreter exit.
    """

    def __init__(
        self, parts_dir: str | os.PathLike[str] | None, storage_options: Mapping[str, Any] | None
    ) -> None:
        self._given = os.fspath(parts_dir) if parts_dir is not None else None
        self.storage_options = dict(storage_options or {})
        self._temp: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The root path or URL (making the temporary directory if needed)."""
        if self._given is not None:
            if "://" in self._given:
                return self._given.rstrip("/")
            return os.path.abspath(os.path.expanduser(self._given))
        with self._lock:
            if self._temp is None:
                self._temp = tempfile.mkdtemp(prefix="tasuki-parts-")
                self._finalizer = weakref.finalize(
                    self, shutil.rmtree, self._temp, ignore_errors=True
                )
            return self._temp

    def query_dir(self, query_id: str) -> str:
        """The path or URL of one query's directory (not created yet)."""
        return join_url(self.url, query_id)

    def cleanup(self) -> None:
        """Remove the temporary directory, if this root made one."""
        if self._finalizer is not None:
            self._finalizer()


class PartWriter:
    """Writes a stream of record batches as rolling zstd Parquet parts in one directory.

    Parts are named ``<prefix>-00000.parquet``, ``<prefix>-00001.parquet`` ... and a new one
    starts when the current part reaches ``part_rows`` rows or ``part_bytes`` Arrow bytes.
    Batches are gathered into row groups of about ``ROW_GROUP_BYTES``. With ``threaded``,
    conversion and compression run on a writer thread fed through a short queue, so the
    driver can decode the next batch meanwhile; memory stays bounded by the queue.

    Args:
        directory: Path or URL of the (new) directory for the parts.
        schema: The schema the driver reports; converted with :class:`Conformer`.
        prefix: File name prefix (parallel readers use one prefix each).
        part_rows: Roll to a new part after this many rows.
        part_bytes: Roll to a new part after this many Arrow bytes.
        compression_level: zstd level (pyarrow's default when None).
        storage_options: fsspec options for URLs.
        threaded: Write on a background thread.
        budget: Bytes this writer may write, shared with the query's other writers
            (default: the one :func:`result_byte_limit` set, if any); past it, ``write``
            or ``close`` raises :class:`ResultTooLargeError`.
    """

    def __init__(
        self,
        directory: str,
        schema: pa.Schema,
        *,
        prefix: str = "part",
        part_rows: int = DEFAULT_PART_ROWS,
        part_bytes: int = DEFAULT_PART_BYTES,
        compression_level: int | None = None,
        storage_options: Mapping[str, Any] | None = None,
        threaded: bool = True,
        budget: ByteBudget | None = None,
    ) -> None:
        if part_rows < 1 or part_bytes < 1:
            raise WarehouseError(
                f"part_rows and part_bytes must be positive, got {part_rows} and {part_bytes}",
                part_rows=part_rows,
                part_bytes=part_bytes,
            )
        _check_names(schema)
        self.directory = directory.rstrip("/")
        self.conformer = Conformer(schema)
        self.schema = self.conformer.schema
        # Dictionary encoding pays off for repetitive text (status, country); on ids, floats,
        # timestamps and mostly-distinct text it is built and then abandoned, which costs
        # ~30% of the write time. Text columns are judged on the first rows (_flush).
        self._text_columns = [
            f.name
            for f in self.schema
            if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        self._dictionary_columns: list[str] | None = None
        self.prefix = prefix
        self.part_rows = part_rows
        self.part_bytes = part_bytes
        self.compression_level = compression_level
        self.fs, self._dir_path = filesystem(self.directory, storage_options)
        try:
            self.fs.create_dir(self._dir_path, recursive=True)
        except OSError as exc:
            self._raise_disk_error(exc, self.directory)
            raise
        self.budget = budget if budget is not None else _budget
        self._charged = 0  # bytes of the open part already charged to the budget
        self.parts: list[PartInfo] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None
        self._name = ""
        self._rows = 0
        self._bytes = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[pa.RecordBatch | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=_QUEUE_DEPTH)
            self._thread = threading.Thread(target=self._drain, name="tasuki-parts", daemon=True)
            self._thread.start()

    def write(self, batch: pa.RecordBatch) -> None:
        """Add a batch (empty batches are skipped)."""
        if self._error is not None:
            raise self._error
        if batch.num_rows == 0:
            return
        if self._queue is not None:
            self._put(batch)
            return
        try:
            self._add(batch)
        except OSError as exc:
            self._raise_disk_error(exc)
            raise

    def close(self) -> list[PartInfo]:
        """Flush and close the last part; the parts written, in order."""
        if self._queue is not None and self._thread is not None:
            self._put(None)
            self._thread.join()
            self._queue = None
        if self._error is not None:
            raise self._error
        try:
            self._flush()
            self._finish_part()
        except OSError as exc:
            self._raise_disk_error(exc)
            raise
        return list(self.parts)

    def abort(self) -> None:
        """Stop and delete everything written to the directory."""
        if self._queue is not None and self._thread is not None:
            self._error = self._error or WarehouseError("part writer aborted")
            # Unblock the writer thread whatever state it is in, then wait for it.
            while self._thread.is_alive():
                try:
                    self._queue.put(None, timeout=0.05)
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()
            self._thread.join()
            self._queue = None
        try:
            if self._writer is not None:
                self._writer.close()
            if self._sink is not None:
                self._sink.close()
        except Exception:  # the part is deleted below; a close error changes nothing
            logger.debug("closing an aborted part failed", exc_info=True)
        self._writer = self._sink = None
        try:
            self.fs.delete_dir(self._dir_path)
        except (FileNotFoundError, OSError):
            logger.debug("removing %s failed", self.directory, exc_info=True)

    def _raise_disk_error(self, exc: BaseException, path: str | None = None) -> None:
        """Raise a StorageError naming the part and the results folder for a disk error.

        A full results folder is the machine's problem, not the warehouse's: it must not
        read as a (PostgreSQL, DuckDB) query error.
        """
        if path is None:
            path = join_url(self.directory, self._name) if self._name else self.directory
        error = disk_error(
            exc, path=path, root=self.directory.rpartition("/")[0], kind="results folder"
        )
        if error is not None:
            raise error from exc

    def _put(self, item: pa.RecordBatch | None) -> None:
        queue_ = self._queue
        while queue_ is not None:
            if self._error is not None and item is not None:
                raise self._error
            try:
                queue_.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _drain(self) -> None:
        queue_ = self._queue
        while queue_ is not None:
            item = queue_.get()
            if item is None:
                return
            if self._error is not None:
                continue
            try:
                self._add(item)
            except BaseException as exc:  # handed to the producer on its next write/close
                try:
                    self._raise_disk_error(exc)
                except StorageError as error:
                    exc = error
                self._error = exc

    def _add(self, batch: pa.RecordBatch) -> None:
        batch = self.conformer.convert(batch)
        while batch.num_rows:
            room = self.part_rows - self._rows - self._pending_rows
            if batch.num_rows > room:
                head, batch = batch.slice(0, room), batch.slice(room)
            else:
                head, batch = batch, batch.slice(0, 0)
            self._pending.append(head)
            self._pending_rows += head.num_rows
            self._pending_bytes += head.nbytes
            full_part = (
                self._rows + self._pending_rows >= self.part_rows
                or self._bytes + self._pending_bytes >= self.part_bytes
            )
            if (
                full_part
                or self._pending_bytes >= ROW_GROUP_BYTES
                or self._pending_rows >= ROW_GROUP_ROWS
            ):
                self._flush()
            if full_part:
                self._finish_part()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self._name = f"{self.prefix}-{len(self.parts):05d}.parquet"
            self._sink = self.fs.open_output_stream(f"{self._dir_path}/{self._name}")
            if self._dictionary_columns is None:
                self._dictionary_columns = _repetitive(self._pending[0], self._text_columns)
            self._writer = pq.ParquetWriter(
                self._sink,
                self.schema,
                compression="zstd",
                compression_level=self.compression_level,
                use_dictionary=self._dictionary_columns,
                **_INT_DECIMALS,
            )
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self._rows += self._pending_rows
        self._bytes += self._pending_bytes
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        self._charge(self._sink.tell())

    def _charge(self, position: int) -> None:
        """Charge the budget for the open part's bytes up to ``position``."""
        if self.budget is not None and position > self._charged:
            size, self._charged = position - self._charged, position
            self.budget.charge(size)

    def _finish_part(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        size = self._sink.tell()
        self._sink.close()
        self.parts.append(
            PartInfo(path=join_url(self.directory, self._name), rows=self._rows, bytes=size)
        )
        logger.debug("wrote part %s: %d rows, %d bytes", self._name, self._rows, size)
        self._writer = self._sink = None
        self._rows = self._bytes = 0
        charged, self._charged = self._charged, 0
        if self.budget is not None and size > charged:
            self.budget.charge(size - charged)  # the footer


def _check_names(schema: pa.Schema) -> None:
    """Refuse a result with two columns of one name: Parquet readers cannot tell them apart."""
    seen: set[str] = set()
    for name in schema.names:
        if name in seen:
            raise WarehouseError(
                f"the query's result has more than one column named {name!r}; give each "
                f"column its own name with AS (e.g. SELECT a.{name} AS a_{name}, "
                f"b.{name} AS b_{name} ...)",
                column=name,
                columns=schema.names,
            )
        seen.add(name)


def _repetitive(batch: pa.RecordBatch, names: list[str]) -> list[str]:
    """The text columns of ``batch`` with at most one distinct value in four rows."""
    chosen = []
    for name in names:
        index = batch.schema.get_field_index(name)
        if index < 0:  # a batch that does not fit the schema: the write itself will say so
            continue
        column = batch.column(index)
        values = len(column) - column.null_count
        if values and pc.count_distinct(column).as_py() * 4 <= values:
            chosen.append(name)
    return chosen
