"""``.parquet``, ``.feather`` and ``.arrow``: columnar files through pyarrow.

They hold a pandas DataFrame, a polars DataFrame or a pyarrow Table (a RecordBatch is
written as a one-batch Table), and load back as the same kind: the kind is stored in the
schema metadata under ``tasuki.kind``. A file without that key (written by another tool)
loads as pandas, the way most readers expect.

pandas values go through ``pyarrow.Table.from_pandas``, whose ``pandas`` schema metadata
restores the index (named, unnamed, MultiIndex; a RangeIndex is stored as metadata only,
costing nothing), categoricals, time zones and nullable extension dtypes such as
``Int64``. For polars, ``to_arrow()`` / ``polars.from_arrow`` carry the dtypes.

Parquet is written with snappy, pyarrow's default. On the 1 M x 10 benchmark frame
(benchmarks/bench_formats.py) zstd wrote 46 MB where snappy wrote 56 MB, but the dump +
load took 25-45% longer on an AMD EPYC; gokart's gzip took over 30x as long as snappy.
``.feather`` is an Arrow IPC file with lz4 frames (``pyarrow.feather``'s default), in
batches of 64k rows as ``pyarrow.feather`` writes them;
``.arrow`` is the same IPC file uncompressed, the form other Arrow tools expect and that
can be memory-mapped.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal

from tasuki.errors import FormatError
from tasuki.formats._stream import FormatBase, describe_file, local_path_of, seekable_file
from tasuki.formats._values import cannot_hold, frame_kind, type_name

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "KIND_KEY",
    "ArrowIpcFormat",
    "FeatherFormat",
    "ParquetFormat",
    "from_arrow",
    "to_arrow",
]

KIND_KEY = b"tasuki.kind"
_KINDS = ("pandas", "polars", "arrow")
FRAMES = "a pandas DataFrame, polars DataFrame or pyarrow Table"


def to_arrow(obj: Any, extension: str) -> pa.Table:
    """``obj`` as a pyarrow Table whose schema metadata records its kind.

    Raises:
        FormatError: ``obj`` is not a frame, or pyarrow cannot convert one of its columns.
    """
    import pyarrow as pa

    kind = frame_kind(obj)
    if kind is None:
        raise cannot_hold(obj, extension, FRAMES)
    try:
        if kind == "pandas":
            # preserve_index=None: a RangeIndex goes into metadata, any other index into
            # columns, and the pandas metadata says how to rebuild it.
            table = pa.Table.from_pandas(obj, preserve_index=None)
        elif kind == "polars":
            table = obj.to_arrow()
        else:
            table = obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise cannot_hold(
            obj,
            extension,
            FRAMES,
            detail=f"pyarrow could not convert it ({type_name(exc)}: {exc}); make each "
            "column hold one type, or write the frame to a .pkl file, which holds any frame",
        ) from exc
    metadata = dict(table.schema.metadata or {})
    metadata[KIND_KEY] = kind.encode()
    return table.replace_schema_metadata(metadata)


def from_arrow(table: pa.Table, extension: str, file: Any = None) -> Any:
    """Turn a loaded table back into the kind recorded in its metadata (pandas if none)."""
    metadata = dict(table.schema.metadata or {})
    raw_kind = metadata.pop(KIND_KEY, b"pandas")
    kind = raw_kind.decode(errors="replace")
    if kind not in _KINDS:
        raise FormatError(
            f"cannot read {describe_file(file)} as {extension}: its schema metadata says "
            f"tasuki.kind={kind!r}, expected one of {', '.join(_KINDS)}",
            extension=extension,
            kind=kind,
        )
    if kind == "pandas":
        return table.to_pandas()
    table = table.replace_schema_metadata(metadata or None)
    if kind == "arrow":
        return table
    try:
        import polars as pl
    except ImportError as exc:
        raise FormatError(
            f"{describe_file(file)} holds a polars DataFrame, but polars is not installed; "
            "install it with: pip install 'tasuki[polars]'",
            extension=extension,
            kind=kind,
        ) from exc
    return pl.from_arrow(table)


class _ColumnarFormat(FormatBase):
    accepts: ClassVar[str] = FRAMES

    def check(self, obj: Any) -> None:
        """Accept pandas / polars DataFrames and pyarrow Tables or RecordBatches."""
        if frame_kind(obj) is None:
            raise cannot_hold(obj, self.extension, self.accepts)

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Convert to Arrow and write the table."""
        self.write_table(to_arrow(obj, self.extension), file)

    def read(self, file: BinaryIO) -> Any:
        """Read the table and give back the kind that was written."""
        import pyarrow as pa

        path = local_path_of(file)
        try:
            if path is not None:
                with pa.OSFile(path) as native:
                    table = self.read_table(native)
            else:
                table = self.read_table(seekable_file(file))
        except pa.ArrowException as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: {exc}",
                extension=self.extension,
            ) from exc
        return from_arrow(table, self.extension, file)

    @abc.abstractmethod
    def write_table(self, table: pa.Table, file: BinaryIO) -> None:
        """Write an Arrow table in this container."""

    @abc.abstractmethod
    def read_table(self, file: Any) -> pa.Table:
        """Read an Arrow table from this container."""


class ParquetFormat(_ColumnarFormat):
    """Parquet with snappy compression; loads back as the kind that was written.

    Snappy, pyarrow's and pandas' default, keeps a dump + load of a task output at the speed
    of raw pyarrow; zstd made files ~18% smaller but the round trip 25-45% slower. Directory
    targets (data too large for one file) keep zstd, where the size matters more. Subclass
    and register with ``compression = "zstd"`` to choose it for single files too.
    """

    name: ClassVar[str] = "parquet"
    extensions: ClassVar[tuple[str, ...]] = (".parquet",)
    compression: ClassVar[str] = "snappy"

    def write_table(self, table: pa.Table, file: BinaryIO) -> None:
        """Write one Parquet file."""
        import pyarrow.parquet as pq

        pq.write_table(table, file, compression=self.compression)

    def read_table(self, file: Any) -> pa.Table:
        """Read the whole Parquet file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        # Pre-buffering a Python file object (an output read into memory, a reader that
        # hashes) reads it on Arrow's I/O threads, which may still be alive when the
        # interpreter exits: a third of the scripts that loaded one ended in SIGABRT
        # ("terminate called without an active exception", apache/arrow#34314) after their
        # work was done. Native files (a local path) keep it.
        table = pq.read_table(file, pre_buffer=isinstance(file, pa.NativeFile))
        if (table.schema.metadata or {}).get(KIND_KEY) == b"arrow":
            table = _restore_arrow_types(table, file)
        return table


def _restore_arrow_types(table: pa.Table, file: Any) -> pa.Table:
    """Cast back to the Arrow schema stored in the file where Parquet could not keep it.

    pyarrow reads ``dictionary<large_string>`` (what pandas 3 categoricals become) back as
    ``dictionary<string>``; the exact schema is in the file's ``ARROW:schema`` entry.
    """
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    file.seek(0)
    stored = (pq.read_metadata(file).metadata or {}).get(b"ARROW:schema")
    if not stored:
        return table
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored)))
    if table.schema.equals(schema, check_metadata=False):
        return table
    try:
        return table.cast(schema.with_metadata(table.schema.metadata))
    except (pa.ArrowException, ValueError):
        return table  # keep what Parquet gave rather than fail a readable file


_IPC_BATCH_ROWS = 65_536


class FeatherFormat(_ColumnarFormat):
    """Feather v2: an Arrow IPC file with lz4-compressed buffers."""

    name: ClassVar[str] = "feather"
    extensions: ClassVar[tuple[str, ...]] = (".feather",)
    compression: ClassVar[Literal["lz4", "zstd"] | None] = "lz4"

    def write_table(self, table: pa.Table, file: BinaryIO) -> None:
        """Write an Arrow IPC file."""
        import pyarrow as pa

        options = pa.ipc.IpcWriteOptions(compression=self.compression)
        with pa.ipc.new_file(file, table.schema, options=options) as writer:
            # Batches of 64k rows, as pyarrow.feather writes them: a reader then decompresses
            # batches on several threads (one 1M-row batch takes twice as long to read).
            writer.write_table(table, max_chunksize=_IPC_BATCH_ROWS)

    def read_table(self, file: Any) -> pa.Table:
        """Read every record batch of the IPC file."""
        import pyarrow as pa

        with pa.ipc.open_file(file) as reader:
            return reader.read_all()


class ArrowIpcFormat(FeatherFormat):
    """An uncompressed Arrow IPC file (``.arrow``)."""

    name: ClassVar[str] = "arrow"
    extensions: ClassVar[tuple[str, ...]] = (".arrow",)
    compression: ClassVar[Literal["lz4", "zstd"] | None] = None
