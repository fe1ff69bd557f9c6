"""Write published dataset versions straight into a registry, as the contract lays them out.

The reading side is tested against files made here with pyarrow alone (shards at
``shard_path``, named by the xxh3-128 of their bytes; ``dataset_info.json`` from
``DatasetInfo.to_json()``), not through the builder: the contract is the interface.
"""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from tasuki.datasets._info import (
    ColumnInfo,
    DatasetInfo,
    ShardInfo,
    SplitInfo,
    info_path,
    shard_path,
)


def _root_and_fs(registry: str) -> tuple[str, Any]:
    if "://" in registry and not registry.startswith("file://"):
        import fsspec

        fs, root = fsspec.core.url_to_fs(registry)
        return root.rstrip("/"), fs
    return os.path.abspath(registry.removeprefix("file://")), None


def _write(fs: Any, path: str, data: bytes) -> None:
    if fs is None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    else:
        fs.pipe_file(path, data)


def publish(
    registry: str,
    name: str,
    version: str,
    splits: dict[str, list[pa.Table]],
    *,
    config: str = "default",
    row_group_size: int | None = None,
    docs: dict[str, str] | None = None,
    release_notes: str = "",
) -> DatasetInfo:
    """Publish ``splits`` (split -> its shards as tables, in order) as ``name:version``."""
    root, fs = _root_and_fs(registry)
    schema = next(t.schema for shards in splits.values() for t in shards)
    infos: dict[str, SplitInfo] = {}
    for split, tables in splits.items():
        shards = []
        for table in tables:
            buffer = io.BytesIO()
            pq.write_table(table, buffer, row_group_size=row_group_size)
            data = buffer.getvalue()
            digest = xxhash.xxh3_128_hexdigest(data)
            _write(fs, shard_path(root, name, config, digest), data)
            shards.append(ShardInfo(digest, table.num_rows, len(data)))
        infos[split] = SplitInfo(sum(s.rows for s in shards), shards)
    info = DatasetInfo(
        name=name,
        config=config,
        version=version,
        columns={
            f.name: ColumnInfo(str(f.type), f.nullable, (docs or {}).get(f.name, ""))
            for f in schema
        },
        splits=infos,
        release_notes=release_notes,
        schema_ipc=base64.b64encode(schema.serialize().to_pybytes()).decode(),
        created_at="2026-12-05T00:00:00Z",
    )
    _write(fs, info_path(root, name, config, version), info.to_json())
    return info


def rows(start: int, stop: int, *, offset: int = 0) -> pa.Table:
    """Rows ``start..stop-1``: ``id`` (the row number), ``x`` (= id % 7), ``label`` (text),
    ``emb`` (a fixed-size list of 2 floats); ``offset`` shifts ``x`` (other content)."""
    ids = np.arange(start, stop, dtype=np.int64)
    emb = pa.FixedSizeListArray.from_arrays(pa.array(np.repeat(ids.astype(np.float32), 2)), 2)
    return pa.table(
        {
            "id": ids,
            "x": (ids + offset) % 7,
            "label": pa.array([f"r{i}" for i in ids]),
            "emb": emb,
        }
    )


def split_of(total: int, per_shard: int, *, start: int = 0, offset: int = 0) -> list[pa.Table]:
    """``total`` rows from ``start`` cut into shards of ``per_shard`` rows (last shorter)."""
    return [
        rows(s, min(s + per_shard, start + total), offset=offset)
        for s in range(start, start + total, per_shard)
    ]
