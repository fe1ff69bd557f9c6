"""Decoded shards kept on the local disk as Arrow IPC files, read back memory-mapped.

Reading a Parquet shard decodes every value into memory: a 2 M-row split of four columns is
~64 MB of resident buffers before anyone looks at a row, on top of pyarrow's own libraries.
Hugging Face ``datasets`` and tfds answer the same way as here: the first load of a shard
writes its decoded table once, as an uncompressed Arrow IPC file named by the shard's content
hash, and later loads (in any process) map that file: zero copies, and pages are read from
disk only as the rows are used.

Trust: an entry is written only from a shard whose xxh3-128 this process has checked against
its ``dataset_info.json``, under a temporary name renamed into place whole; it is named by
that hash, so every version and registry that shares the shard shares the entry. It is read
back only when it names that hash itself and its row count and columns match the shard's (a
file copied or renamed over another entry is dropped). With ``verify="once"`` a shard
whose entry exists is not hashed again while the shard file keeps the size and modification
time it had when its entry was made (the entry keeps them): a shard rewritten since is
hashed, and a damaged one reported, as without the cache. ``verify="always"`` bypasses the
cache (the Parquet shard is hashed and decoded on every read). Hashing an entry on every read
would touch every page it is there to leave untouched.

The cache lives in ``$TASUKI_DATASET_CACHE``, else ``$XDG_CACHE_HOME/tasuki/datasets``, else
``~/.cache/tasuki/datasets``; ``TASUKI_DATASET_CACHE=off`` turns it off. Deleting it is always
safe. A cache that cannot be written is skipped (a debug log line), never an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING

from tasuki._file_cache import user_cache

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["cache_path", "cache_root", "cached_table", "entry_stamp", "write_entry"]

logger = logging.getLogger(__name__)


def cache_root() -> str | None:
    """The cache folder, or None when ``TASUKI_DATASET_CACHE=off``."""
    return user_cache("TASUKI_DATASET_CACHE", "datasets")


def cache_path(digest: str) -> str | None:
    """Where the decoded shard with content hash ``digest`` is kept (None: cache off)."""
    root = cache_root()
    return None if root is None else os.path.join(root, digest[:2], f"{digest}.arrow")


def cached_table(digest: str, rows: int, names: list[str] | None) -> pa.Table | None:
    """The decoded shard ``digest``, memory-mapped, or None when there is no usable entry
    (absent, unreadable, or not the shard's rows and columns: removed, to be written again)."""
    path = cache_path(digest)
    if path is None or not os.path.exists(path):
        return None
    import pyarrow as pa

    try:
        # Not closed here: the table's buffers are views of the mapping, which lives as long
        # as they do (closing it would leave them pointing at unmapped memory).
        table = pa.ipc.open_file(pa.memory_map(path, "r")).read_all()
    except (OSError, pa.ArrowInvalid):
        logger.debug("dropping an unreadable dataset cache entry %s", path, exc_info=True)
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None
    own = (table.schema.metadata or {}).get(_DIGEST, b"").decode()
    if (
        own != digest
        or table.num_rows != rows
        or (names is not None and table.schema.names != names)
    ):
        logger.debug("dropping a dataset cache entry that is not its shard: %s", path)
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None
    # What it holds is the shard's table without tasuki's keys (as reading the Parquet gives).
    kept = {k: v for k, v in (table.schema.metadata or {}).items() if k not in (_STAMP, _DIGEST)}
    return table.replace_schema_metadata(kept or None)


_STAMP = b"tasuki.shard_stamp"
_DIGEST = b"tasuki.shard_hash"


def write_entry(digest: str, table: pa.Table, stamp: str) -> bool:
    """Keep ``table`` (the whole decoded shard ``digest``, hash checked) in the cache, with
    ``stamp`` (the shard file's size and modification time when it was checked); False when
    the cache is off or cannot be written."""
    path = cache_path(digest)
    if path is None:
        return False
    import pyarrow as pa

    temp = f"{path}.{os.getpid()}.tmp"
    schema = table.schema.with_metadata(
        {**(table.schema.metadata or {}), _STAMP: stamp.encode(), _DIGEST: digest.encode()}
    )
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with pa.OSFile(temp, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            writer.write_table(table.replace_schema_metadata(schema.metadata))
        os.replace(temp, path)  # whole or not at all, for readers in other processes
    except (OSError, pa.ArrowException):
        logger.debug("could not write the dataset cache entry %s", path, exc_info=True)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    return True


def entry_stamp(digest: str) -> str | None:
    """The stamp of the shard file the entry for ``digest`` was made from, or None (no
    entry, or one that cannot be read). A shard whose file has another stamp now was
    written since: its hash is checked again before the entry stands for it."""
    path = cache_path(digest)
    if path is None or not os.path.exists(path):
        return None
    import pyarrow as pa

    try:
        with pa.memory_map(path, "r") as source:
            metadata = pa.ipc.open_file(source).schema.metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    found = metadata.get(_STAMP)
    return None if found is None else found.decode()
