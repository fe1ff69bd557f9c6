"""Directory targets: data too large for one file, as a folder of Parquet parts.

``write_dataset`` streams: it takes a frame or an iterable of record batches / frames
and writes ``part-000000.parquet``, ``part-000001.parquet``, ... (zstd), each at most
``rows_per_file`` rows, holding at most one row group (``ROW_GROUP_ROWS`` rows) in memory
besides the batch being written. ``read_dataset`` reads the parts back in order as one
table through ``pyarrow.dataset``.

A pandas frame's index is kept as columns (and restored by ``as_="pandas"``), except an
unnamed RangeIndex with step 1, which is dropped: chunked readers such as
``pandas.read_sql(chunksize=...)`` give each chunk one, and it carries no data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import xxhash

from tasuki.errors import FormatError, MissingColumnsError
from tasuki.formats._stream import HashingWriter
from tasuki.formats._values import a_type, frame_kind, type_name

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

__all__ = ["ROW_GROUP_ROWS", "folder_digest", "read_dataset", "write_dataset"]

logger = logging.getLogger(__name__)

ROW_GROUP_ROWS = 128 * 1024
_PART = "part-{:06d}.parquet"
_COMPRESSION = "zstd"


def _resolve(fs_path: str, filesystem: Any) -> tuple[Any, str]:
    """(fsspec filesystem or None for local, path inside it)."""
    if filesystem is not None:
        return filesystem, filesystem._strip_protocol(fs_path)
    if "://" in fs_path:
        import fsspec.core

        fs, path = fsspec.core.url_to_fs(fs_path)
        return fs, path
    return None, os.path.abspath(fs_path)


def _join(fs: Any, directory: str, name: str) -> str:
    return os.path.join(directory, name) if fs is None else f"{directory.rstrip('/')}/{name}"


def _pandas_to_arrow(frame: Any) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    index = frame.index
    plain = isinstance(index, pd.RangeIndex) and index.step == 1 and index.name is None
    return pa.Table.from_pandas(frame, preserve_index=not plain)


def _tables(obj: Any) -> Iterator[pa.Table]:
    """Yield ``obj`` as Arrow tables of bounded size, converting lazily."""
    import pyarrow as pa

    kind = frame_kind(obj)
    if kind == "pandas":
        for start in range(0, max(len(obj), 1), ROW_GROUP_ROWS):
            yield _pandas_to_arrow(obj.iloc[start : start + ROW_GROUP_ROWS])
        return
    if kind == "polars":
        yield obj.to_arrow()
        return
    if kind == "arrow":
        yield obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
        return
    if isinstance(obj, str | bytes | Mapping) or not isinstance(obj, Iterable):
        raise FormatError(
            f"write_dataset cannot write {a_type(obj)}: it takes a pandas or polars "
            "DataFrame, a pyarrow Table, or an iterable of pyarrow RecordBatches / Tables / "
            "DataFrames",
            value_type=type_name(obj),
        )
    for i, item in enumerate(obj):
        if frame_kind(item) is None:
            raise FormatError(
                f"write_dataset: item {i} of the iterable is {a_type(item)}; each item "
                "must be a pyarrow RecordBatch or Table, or a pandas or polars DataFrame",
                value_type=type_name(item),
                position=i,
            )
        yield from _tables(item)


def folder_digest(parts: Iterable[tuple[str, int, str]]) -> str:
    """The xxh3 of a folder from its files' ``(name, size, xxh3)``: names relative to the
    folder, sorted, so the same parts give the same digest however they were listed."""
    hasher = xxhash.xxh3_64()
    for name, size, digest in sorted(parts):
        hasher.update(f"{name}\0{size}\0{digest}\n".encode())
    return hasher.hexdigest()


class _PartWriter:
    """Rolls Parquet parts every ``rows_per_file`` rows, buffering one row group."""

    def __init__(self, fs: Any, directory: str, rows_per_file: int) -> None:
        self.fs = fs
        self.directory = directory
        self.rows_per_file = rows_per_file
        self.schema: pa.Schema | None = None
        self.parts: list[str] = []
        self._writer: pq.ParquetWriter | None = None
        self._file: HashingWriter | None = None
        self.hashes: list[tuple[str, int, str]] = []  # (name, size, xxh3) of each part
        self._rows_in_part = 0
        self._buffer: list[pa.Table] = []
        self._buffered = 0

    def conform(self, table: pa.Table, position: int) -> pa.Table:
        """Check (and if needed cast) ``table`` to the dataset's schema."""
        import pyarrow as pa

        if self.schema is None:
            self.schema = table.schema
            return table
        if table.schema.equals(self.schema, check_metadata=False):
            return table
        try:
            return table.cast(self.schema)
        except (pa.ArrowException, ValueError) as exc:
            first = self.schema.to_string(show_schema_metadata=False).replace("\n", ", ")
            this = table.schema.to_string(show_schema_metadata=False).replace("\n", ", ")
            raise FormatError(
                f"write_dataset: batch {position} does not match the schema of the first "
                f"batch and cannot be cast to it ({exc}); first: {first}; this one: {this}",
                position=position,
            ) from exc

    def write(self, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            piece = table.slice(offset, self.rows_per_file - self._rows_in_part)
            self._buffer.append(piece)
            self._buffered += piece.num_rows
            self._rows_in_part += piece.num_rows
            offset += piece.num_rows
            if self._buffered >= ROW_GROUP_ROWS:
                self._flush()
            if self._rows_in_part >= self.rows_per_file:
                self._close_part()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buffer or self.schema is None:
            return
        if self._writer is None:
            path = _join(self.fs, self.directory, _PART.format(len(self.parts)))
            self.parts.append(path)
            raw = open(path, "wb") if self.fs is None else self.fs.open(path, "wb")  # noqa: SIM115
            self._file = HashingWriter(raw, owns_raw=True)
            self._writer = pq.ParquetWriter(self._file, self.schema, compression=_COMPRESSION)
        self._writer.write_table(pa.concat_tables(self._buffer), row_group_size=ROW_GROUP_ROWS)
        self._buffer = []
        self._buffered = 0

    def _close_part(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            name = _PART.format(len(self.parts) - 1)
            self.hashes.append((name, self._file.size, self._file.hasher.hexdigest()))
            self._file = None
        self._rows_in_part = 0

    def finish(self) -> None:
        """Write what is buffered; a dataset with no rows still gets one (empty) part."""
        if not self.parts and self.schema is not None and not self._buffer:
            self._buffer.append(self.schema.empty_table())
        self._close_part()

    def abort(self) -> None:
        """Close files and remove the parts this writer created (best effort)."""
        try:
            if self._writer is not None:
                self._writer.close()
            if self._file is not None:
                self._file.close()
        except Exception:  # the original error matters more than a close failure
            logger.debug("closing a part after a failed write_dataset raised", exc_info=True)
        for path in self.parts:
            try:
                if self.fs is None:
                    os.remove(path)
                else:
                    self.fs.rm(path)
            except OSError:
                logger.debug("could not remove partial part %s", path, exc_info=True)


def _listing(fs: Any, directory: str) -> list[str]:
    if fs is None:
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    if not fs.exists(directory):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(directory, detail=False))


def write_dataset(
    obj: Any,
    fs_path: str,
    filesystem: Any = None,
    *,
    rows_per_file: int = 1_000_000,
    schema: pa.Schema | None = None,
    hashes: list[tuple[str, int, str]] | None = None,
) -> list[str]:
    """Write ``obj`` as a directory of zstd Parquet parts.

    Args:
        obj: A pandas or polars DataFrame, a pyarrow Table, or an iterable of pyarrow
            RecordBatches / Tables / DataFrames (consumed lazily, so memory stays bounded).
        fs_path: The directory: a local path, a URL such as ``s3://bucket/dir`` (when
            ``filesystem`` is None), or a path inside ``filesystem``. It must be empty or
            absent; a store's ``directory_atomic`` gives such a directory.
        filesystem: An fsspec filesystem, or None for local paths and URLs.
        rows_per_file: Most rows in one part.
        schema: The dataset's schema when the iterable may yield nothing; later batches
            are cast to the first batch's (or this) schema when they differ.
        hashes: A list that receives each part's ``(name, size, xxh3)``, hashed as it is
            written (:func:`folder_digest` makes the folder's digest of them).

    Returns:
        The paths of the parts written, in order.

    Raises:
        FormatError: unsupported input, a batch that does not fit the schema, an empty
            iterable without ``schema``, or a directory that already holds files. Parts
            written before the error are removed.

    Example:
        >>> write_dataset(batches, "out/events_3f2a/", rows_per_file=500_000)  # doctest: +SKIP
    """
    if isinstance(rows_per_file, bool) or not isinstance(rows_per_file, int) or rows_per_file < 1:
        raise FormatError(
            f"rows_per_file must be a positive int, got {rows_per_file!r}",
            rows_per_file=rows_per_file,
        )
    fs, directory = _resolve(fs_path, filesystem)
    existing = _listing(fs, directory)
    if existing:
        raise FormatError(
            f"write_dataset: {fs_path!r} already holds {len(existing)} file(s) "
            f"({', '.join(existing[:5])}...); write into an empty directory so old parts do "
            "not mix with new ones",
            path=fs_path,
        )
    if fs is None:
        os.makedirs(directory, exist_ok=True)
    else:
        fs.makedirs(directory, exist_ok=True)
    parts = _PartWriter(fs, directory, rows_per_file)
    parts.schema = schema
    try:
        for position, table in enumerate(_tables(obj)):
            parts.write(parts.conform(table, position))
        if parts.schema is None:
            raise FormatError(
                f"write_dataset: the iterable for {fs_path!r} yielded no batches, so the "
                "dataset's columns are unknown; pass schema= to write an empty dataset",
                path=fs_path,
            )
        parts.finish()
    except BaseException:
        parts.abort()
        raise
    logger.debug("wrote %d part(s) to %s", len(parts.parts), fs_path)
    if hashes is not None:
        hashes.extend(parts.hashes)
    return parts.parts


def read_dataset(
    fs_path: str,
    filesystem: Any = None,
    columns: list[str] | None = None,
    *,
    as_: Literal["arrow", "pandas", "polars"] = "arrow",
) -> Any:
    """Read a directory of Parquet parts (as written by :func:`write_dataset`).

    Args:
        fs_path: The directory (local path, URL, or a path inside ``filesystem``).
        filesystem: An fsspec filesystem, or None for local paths and URLs.
        columns: Only these columns (a pandas index stored as columns comes along when
            ``as_="pandas"``).
        as_: ``"arrow"`` (a pyarrow Table), ``"pandas"`` or ``"polars"``.

    Returns:
        The parts, in order, as one table or frame.

    Raises:
        FileNotFoundError: the directory does not exist.
        MissingColumnsError: a requested column is not in the dataset.
        FormatError: the directory holds no parts, or ``as_`` is unknown.
    """
    import pyarrow.dataset as ds

    if as_ not in ("arrow", "pandas", "polars"):
        raise FormatError(
            f"read_dataset: as_={as_!r} is not one of 'arrow', 'pandas', 'polars'", as_=as_
        )
    fs, directory = _resolve(fs_path, filesystem)
    exists = os.path.isdir(directory) if fs is None else fs.isdir(directory)
    if not exists:
        raise FileNotFoundError(f"no dataset directory at {fs_path!r}")
    names = [
        n
        for n in _listing(fs, directory)
        if n.endswith(".parquet") and not n.startswith((".", "_"))
    ]
    if not names:
        raise FormatError(
            f"read_dataset: {fs_path!r} holds no .parquet parts; was it written by write_dataset?",
            path=fs_path,
        )
    dataset = ds.dataset([_join(fs, directory, n) for n in names], format="parquet", filesystem=fs)
    wanted = None
    if columns is not None:
        present = dataset.schema.names
        missing = [c for c in columns if c not in present]
        if missing:
            raise MissingColumnsError(
                f"dataset {fs_path!r}: missing required column(s) {missing!r}; it has "
                f"columns {present!r}",
                where=f"dataset {fs_path}",
                missing=tuple(missing),
                present=tuple(present),
            )
        wanted = list(columns)
        if as_ == "pandas":
            wanted += [c for c in _pandas_index_columns(dataset.schema) if c not in wanted]
    table = dataset.to_table(columns=wanted)
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


def _pandas_index_columns(schema: pa.Schema) -> list[str]:
    import json

    raw = (schema.metadata or {}).get(b"pandas")
    if not raw:
        return []
    index = json.loads(raw).get("index_columns", [])
    return [c for c in index if isinstance(c, str) and c in schema.names]
