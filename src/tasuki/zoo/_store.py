"""The zoo's view of the registry store: plain reads and writes through a tasuki Store, plus
the two things a Store does not offer, a conditional create and a one-level listing.

A **conditional create** writes an object only if nothing is at its key, and tells whether it
did; of racing writers exactly one wins, and the object appears whole or not at all:

* a local folder (or a network disk mounted as one): the bytes go to a private temporary
  beside the key, which is then hard-linked to the key (``link`` fails when the key exists);
* S3: ``PutObject`` with ``If-None-Match: *``; GCS: an upload with ``ifGenerationMatch=0``
  (the same requests the store's leases use);
* ``memory://``: one lock in the process that owns the file system;
* any other fsspec file system: the store's per-key lease around a check and a write.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from tasuki.storage import open_store
from tasuki.storage._keys import is_temp_name, temp_name

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tasuki.storage.base import Store

__all__ = ["RegistryStore"]

_MEMORY_LOCK = threading.Lock()
_CHUNK = 1 << 20


class RegistryStore:
    """The registry root (``registry`` setting: a folder or any fsspec URL) as the zoo uses it.

    Keys are relative to the registry root (``models/bert-ja/versions/3/version.json``).
    """

    def __init__(self, url: str, *, storage_options: dict[str, Any] | None = None) -> None:
        self.store: Store = open_store(url, storage_options=storage_options)
        self.url = self.store.url
        self.is_local = self.store.is_local
        self.protocol = "file" if self.is_local else self.url.split("://", 1)[0].lower()

    def __repr__(self) -> str:
        return f"RegistryStore({self.url!r})"

    def full_path(self, key: str) -> str:
        """The path or URL of ``key``."""
        return self.store.full_path(key)

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        if self.is_local:
            try:
                with open(self.store.full_path(key), "rb") as f:
                    return f.read()
            except (FileNotFoundError, NotADirectoryError):
                return None
        try:
            return self.store.read_bytes(key)
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        """Whether an object is at ``key``."""
        if self.is_local:
            return os.path.isfile(self.store.full_path(key))
        return self.store.exists(key)

    def write(self, key: str, data: bytes) -> None:
        """Write ``data`` at ``key`` atomically, replacing what was there."""
        self.store.write_bytes(key, data)

    def open_read(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A readable file of ``key``; FileNotFoundError when missing."""
        return self.store.open_read(key)

    def upload(self, source: str, key: str) -> None:
        """Copy the local file ``source`` to ``key`` (atomic: whole or not at all)."""
        with open(source, "rb") as src, self.store.open_atomic(key) as out:
            shutil.copyfileobj(src, out, _CHUNK)

    def children(self, prefix: str) -> list[str]:
        """Names of the files and folders right under the folder ``prefix`` (none if absent)."""
        if self.is_local:
            try:
                with os.scandir(self.store.full_path(prefix)) as entries:
                    return [e.name for e in entries if not is_temp_name(e.name)]
            except (FileNotFoundError, NotADirectoryError):
                return []
        fs = self.store.fs  # type: ignore[attr-defined]
        path = fs._strip_protocol(self.store.full_path(prefix))
        with contextlib.suppress(Exception):
            fs.invalidate_cache(path)  # another process's writes must be seen
        try:
            found = fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        names = [str(p).rstrip("/").rsplit("/", 1)[-1] for p in found]
        return [n for n in names if n and not is_temp_name(n) and n != path.rsplit("/", 1)[-1]]

    def list(self, prefix: str) -> Iterator[str]:
        """Keys of every object under ``prefix``, recursively."""
        return self.store.list(prefix)

    def create(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` only if nothing is there; whether this call wrote it."""
        if self.is_local:
            return _create_local(self.store.full_path(key), data)
        fs = self.store.fs  # type: ignore[attr-defined]
        path = fs._strip_protocol(self.store.full_path(key))
        if self.protocol in ("s3", "s3a"):
            from tasuki.storage._object_lease import S3Ops

            return S3Ops(fs).create(path, data) is not None
        if self.protocol in ("gs", "gcs"):
            from tasuki.storage._object_lease import GcsOps

            return GcsOps(fs).create(path, data) is not None
        if self.protocol == "memory":
            # The memory file system lives in this process: one lock orders every writer.
            with _MEMORY_LOCK:
                if fs.exists(path):
                    return False
                fs.pipe_file(path, data)
                return True
        lease = self.store.lease(key)
        lease.acquire()
        try:
            if self.store.exists(key):
                return False
            self.store.write_bytes(key, data)
            return True
        finally:
            lease.release()


def _create_local(path: str, data: bytes) -> bool:
    head, _, name = path.rpartition("/")
    os.makedirs(head, exist_ok=True)
    tmp = f"{head}/{temp_name(name)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the key never names a file whose bytes are not on disk
        try:
            os.link(tmp, path)  # atomic, and fails when another writer made the key first
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
