"""Streaming a split task's rows into content-addressed Parquet shards.

:class:`WriteShards` is the task that does it for one producing task (a partition of a
split): it reads the partition's output in record batches (never the whole table), cuts the
rows into shards of ``shard_rows`` rows, each written in row groups of ``ROW_GROUP_ROWS``
rows, hashes each shard's bytes (xxh3-128), uploads the shards the registry does not hold
yet, and dumps a small manifest (schema, shards). Being a task, it is cached (a partition
that did not change is not read again), and the shard tasks of a dataset run in parallel
through the configured executor.

Why the bytes are deterministic: shard and row-group boundaries depend only on the row index
within the partition (the incoming batches are re-cut), every row group is written from
contiguous arrays with fixed writer options, and schema-level metadata (pandas' carries its
version) is dropped. The same rows therefore give the same shard hash with the same pyarrow,
and a version that changes one partition of eight writes that partition's shards only.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import xxhash

from tasuki.core import context
from tasuki.core.records import expected_output
from tasuki.core.targets import DirectoryTarget, Expected, FileTarget, targets_of
from tasuki.core.task import Task, declared_outputs, load_task_outputs
from tasuki.datasets._info import ShardInfo, shard_path
from tasuki.errors import TaskError

if TYPE_CHECKING:
    import pyarrow as pa

    from tasuki.storage.base import Store

__all__ = ["ROW_GROUP_ROWS", "WriteShards", "registry_key", "schema_from_ipc", "schema_to_ipc"]

ROW_GROUP_ROWS = 64 * 1024
_READ_BATCH = 64 * 1024
_COPY_CHUNK = 8 * 1024 * 1024
_WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
}


def registry_key(registry_url: str, path: str) -> str:
    """The key of ``path`` (from :func:`shard_path` / :func:`info_path` with ``registry_url``)
    inside the store opened at ``registry_url``."""
    return path[len(registry_url.rstrip("/")) + 1 :]


def schema_to_ipc(schema: pa.Schema) -> str:
    """Arrow IPC bytes of ``schema``, base64 (``dataset_info.json``'s ``schema_ipc``)."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_ipc(text: str) -> pa.Schema:
    """The schema :func:`schema_to_ipc` wrote."""
    import pyarrow as pa

    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _to_table(value: Any, where: str) -> pa.Table:
    """A pyarrow Table of a loaded output (Table, RecordBatch, pandas, polars, list of rows)."""
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    module = type(value).__module__.partition(".")[0]
    if module == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            index = value.index
            plain = isinstance(index, pd.RangeIndex) and index.step == 1 and index.name is None
            return pa.Table.from_pandas(value, preserve_index=not plain)
    if module == "polars" and hasattr(value, "to_arrow"):
        table = value.to_arrow()
        if isinstance(table, pa.Table):
            return table
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return pa.Table.from_pylist(value)
    raise TaskError(
        f"{where} produced a {type(value).__module__}.{type(value).__qualname__}, which is not "
        "a table; a split task's output must be a folder of Parquet parts, a .parquet or "
        ".arrow file, a pyarrow Table, a pandas or polars DataFrame, or a list of dicts",
        value_type=type(value).__qualname__,
    )


def _parquet_batches(source: Any) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(source)
    return reader.schema_arrow, reader.iter_batches(batch_size=_READ_BATCH)


def read_task_batches(task: Task, store: Store) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema of ``task``'s one table output and an iterator over its record batches.

    A folder of Parquet parts and a ``.parquet`` file are streamed (bounded memory); any
    other output is loaded through its format and converted.

    Raises:
        TaskError: the task declares no output or several, or its output is not a table.
    """
    where = f"{task!r}"
    targets = targets_of(declared_outputs(task))
    if len(targets) != 1:
        raise TaskError(
            f"{where} declares {len(targets)} outputs; a split task must declare exactly one "
            "table output (wrap it in a task that outputs the split's rows)",
            task=type(task).task_name(),
        )
    target = targets[0]
    if isinstance(target, DirectoryTarget | FileTarget):
        # Streamed outputs skip the loader's checks: compare the size with the run record
        # here (a damaged output raises CorruptOutputError, and the runner recomputes it).
        known = expected_output(store, target.key, task.unique_id)
        if known is not None:
            entry = known[1]
            Expected(task.unique_id, known[0], entry.get("size"), None).check_size(
                target.key, store.size(target.key)
            )
    if isinstance(target, DirectoryTarget):
        return _directory_batches(store, target.key, where)
    if isinstance(target, FileTarget) and target.key.endswith(".parquet"):
        return _file_batches(store, target.key)
    table = _to_table(load_task_outputs(task, store), where)
    return table.schema, iter(table.to_batches(max_chunksize=_READ_BATCH))


def _file_batches(store: Store, key: str) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    f = store.open_read(key).__enter__()
    schema, batches = _parquet_batches(f)

    def stream() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        finally:
            f.close()

    return schema, stream()


def _directory_batches(
    store: Store, key: str, where: str
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    parts = sorted(k for k in store.list(key) if k.endswith(".parquet"))
    if not parts:
        raise TaskError(
            f"{where}'s output folder {key} holds no Parquet part; a split needs a schema, "
            "so even an empty result must be written as one (empty) part",
            key=key,
        )
    first = store.open_read(parts[0]).__enter__()
    schema, head = _parquet_batches(first)

    def stream() -> Iterator[pa.RecordBatch]:
        try:
            yield from head
        finally:
            first.close()
        for part in parts[1:]:
            with store.open_read(part) as f:
                _, batches = _parquet_batches(f)
                yield from batches

    return schema, stream()


class _Recut:
    """Re-cuts a stream of record batches into tables of requested row counts."""

    def __init__(self, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
        self.schema = schema
        self.batches = batches
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.done = False

    def take(self, rows: int) -> pa.Table | None:
        """The next ``rows`` rows (fewer at the end) as one contiguous table; None at the end."""
        import pyarrow as pa

        while self.pending_rows < rows and not self.done:
            batch = next(self.batches, None)
            if batch is None:
                self.done = True
                break
            if batch.schema != self.schema:
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
            if batch.num_rows:
                self.pending.append(batch)
                self.pending_rows += batch.num_rows
        if not self.pending_rows:
            return None
        table = pa.Table.from_batches(self.pending, schema=self.schema)
        out, rest = table.slice(0, rows), table.slice(rows)
        self.pending = rest.to_batches() if rest.num_rows else []
        self.pending_rows = rest.num_rows
        # Contiguous arrays: page boundaries then depend on the rows only, not on how the
        # producer happened to batch them.
        return out.combine_chunks()


def _hash_file(path: str) -> str:
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_shards(
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    *,
    registry: Store,
    name: str,
    config: str,
    shard_rows: int,
) -> tuple[list[ShardInfo], int]:
    """Cut ``batches`` into shards, upload the new ones; (shards in order, how many were new).

    One shard and one row group are in memory at most (plus the batch being read).
    """
    import pyarrow.parquet as pq

    rows = _Recut(schema, batches)
    shards: list[ShardInfo] = []
    written = 0
    with tempfile.TemporaryDirectory(prefix="tasuki-shards-") as tmp:
        while True:
            group = rows.take(min(ROW_GROUP_ROWS, shard_rows))
            if group is None:
                break
            path = os.path.join(tmp, "shard.parquet")
            count = 0
            with pq.ParquetWriter(path, schema, **_WRITER_OPTIONS) as writer:
                while group is not None:
                    writer.write_table(group, row_group_size=group.num_rows)
                    count += group.num_rows
                    if count >= shard_rows:
                        break
                    group = rows.take(min(ROW_GROUP_ROWS, shard_rows - count))
            digest = _hash_file(path)
            size = os.path.getsize(path)
            key = registry_key(registry.url, shard_path(registry.url, name, config, digest))
            if not registry.exists(key):
                # open_atomic: a shard appears whole or not at all; two builds writing the
                # same shard write the same bytes, so the last rename wins harmlessly.
                with open(path, "rb") as src, registry.open_atomic(key) as dst:
                    while chunk := src.read(_COPY_CHUNK):
                        dst.write(chunk)
                written += 1
            shards.append(ShardInfo(digest, count, size))
            os.unlink(path)
    return shards, written


class WriteShards(Task):
    """Streams one producing task's rows into the registry's shards; dumps the manifest.

    The manifest (JSON) is ``{"schema_ipc": ..., "rows": n, "shards": [[hash, rows, bytes],
    ...], "written": n}``: ``written`` counts the shards this run uploaded (0 when every
    shard was in the registry already).
    """

    version = "1"
    source: Task
    registry: str
    """URL or absolute folder of the registry (shards are shared by a config's versions)."""
    dataset: str
    config: str
    shard_rows: int

    def requires(self) -> Task:
        """The producing task."""
        return self.source

    def output(self) -> Any:
        """The manifest."""
        return self.make_target("shards.json")

    def run(self) -> None:
        """Read the source's batches, write shards, dump the manifest."""
        import pyarrow as pa

        from tasuki.storage import open_store

        store = context.current("run", self).store
        schema, batches = read_task_batches(self.source, store)
        # Schema-level metadata (pandas writes its version into it) would make the same rows
        # give other bytes after an upgrade; field types and names are what a dataset keeps.
        schema = pa.schema(list(schema), metadata=None)
        shards, written = write_shards(
            schema,
            batches,
            registry=open_store(self.registry),
            name=self.dataset,
            config=self.config,
            shard_rows=self.shard_rows,
        )
        self.task_log["rows"] = sum(s.rows for s in shards)
        self.task_log["shards_written"] = written
        self.dump(
            {
                "schema_ipc": schema_to_ipc(schema),
                "rows": sum(s.rows for s in shards),
                "shards": [[s.hash, s.rows, s.bytes] for s in shards],
                "written": written,
            }
        )
