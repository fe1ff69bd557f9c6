"""FsspecStore: a workspace on any fsspec file system (``s3://``, ``gs://``, ``memory://``...).

On object stores (S3, GCS, Azure, memory) one PUT is atomic, so a write is buffered locally
and sent in one upload when the writer closes cleanly; nothing is sent after an exception.
Other fsspec file systems (SFTP, FTP...) get a temporary beside the key and a move.

``directory_atomic`` cannot be atomic on an object store: the parts are written under a
temporary prefix and copied into place one by one after the old folder is deleted, so a
reader may see a half-copied folder for a moment. The engine does not depend on it: a task is
complete only when its run record, written last, exists.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import io
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import xxhash

from tasuki._redact import redact
from tasuki.errors import WorkspaceUnreachableError
from tasuki.storage._disk import disk_error
from tasuki.storage._keys import (
    LOCKS_DIR,
    check_key,
    check_prefix,
    is_temp_name,
    temp_name,
)
from tasuki.storage._locks import DEFAULT_TTL, MarkerLease, RedisLeases, fence
from tasuki.storage._object_lease import GcsOps, ObjectLease, S3Ops

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import redis

    from tasuki.storage.base import Lease

__all__ = ["FsspecStore"]

logger = logging.getLogger(__name__)

OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "memory", "az", "abfs", "abfss", "adl"})
"""Protocols where one PUT publishes a whole object atomically."""

_CONDITIONAL_WRITES: dict[str, Any] = {"s3": S3Ops, "s3a": S3Ops, "gs": GcsOps, "gcs": GcsOps}
"""Protocols whose leases are :class:`ObjectLease` objects kept by conditional writes."""
_IN_PROCESS = frozenset({"memory"})
# s3fs and gcsfs cache directory listings; another worker's writes would then stay invisible
# to ``exists``, so listing caches are off unless the caller turns them on.
_LISTING_CACHE_OFF = frozenset({"s3", "s3a", "gs", "gcs"})

_HINTS = {
    "s3": (
        "Check that the bucket exists (create it with `aws s3 mb s3://BUCKET`), that "
        "credentials are set (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE), and, "
        "for an S3-compatible service, that AWS_ENDPOINT_URL points at a running endpoint."
    ),
    "gs": (
        "Check that the bucket exists and that Google credentials are available "
        "(GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`)."
    ),
}
_HINTS["s3a"] = _HINTS["s3"]
_HINTS["gcs"] = _HINTS["gs"]

# Protocol -> the tasuki extra that installs its fsspec implementation.
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}

SPOOL_BYTES = 16 * 2**20
"""Writes up to this size are buffered in memory; larger ones spill to a local temporary file."""


class _UploadBuffer(io.RawIOBase):
    """A writable, seekable buffer in memory that spills to a named local file past a limit.

    ``close()`` by the caller only marks it closed (the data stays for the upload), because
    some writers close the file object they were given.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit
        self._mem: io.BytesIO | None = io.BytesIO()
        self._disk: Any = None  # a NamedTemporaryFile once spilled
        # Whether a write to the local spill file failed (its disk, not the workspace's).
        self.failed_locally = False

    def _target(self) -> Any:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._mem if self._mem is not None else self._disk

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        target = self._target()
        try:
            if self._mem is not None and self._mem.tell() + memoryview(b).nbytes > self._limit:
                self._spill()
                target = self._disk
            return int(target.write(b))
        except OSError:
            self.failed_locally = True
            raise

    def _spill(self) -> None:
        mem = cast("io.BytesIO", self._mem)
        # Kept open across calls and closed by discard(): no ``with`` fits that lifetime.
        self._disk = tempfile.NamedTemporaryFile(prefix="tasuki-upload-", delete=False)  # noqa: SIM115
        self._disk.write(mem.getbuffer())
        self._disk.seek(mem.tell())
        self._mem = None

    def read(self, size: int = -1) -> bytes:
        return bytes(self._target().read(size))

    def readinto(self, b: Any) -> int:
        return int(self._target().readinto(b))

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._target().seek(offset, whence))

    def tell(self) -> int:
        return int(self._target().tell())

    def truncate(self, size: int | None = None) -> int:
        return int(self._target().truncate(size))

    def flush(self) -> None:
        if not self.closed and self._disk is not None:
            self._disk.flush()

    def upload(self, fs: Any, path: str) -> None:
        """Send the content to ``path`` in one PUT (or one multipart upload)."""
        if self._mem is not None:
            fs.pipe_file(path, self._mem.getvalue())
            return
        try:
            self._disk.flush()
        except OSError:
            self.failed_locally = True
            raise
        fs.put_file(self._disk.name, path)

    def discard(self) -> None:
        """Drop the buffer and any spill file."""
        super().close()
        self._mem = None
        if self._disk is not None:
            self._disk.close()
            with contextlib.suppress(OSError):
                os.unlink(self._disk.name)
            self._disk = None


class FsspecStore(RedisLeases):
    """A workspace on an fsspec file system.

    Args:
        url: ``protocol://root``, e.g. ``s3://bucket/prefix`` or ``memory://name``.
        storage_options: Keyword arguments for the fsspec file system (``endpoint_url``,
            ``key``, ``secret``, ``anon``...). S3 also reads the usual AWS environment
            (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``...).
        fs: An already built fsspec file system to use instead of building one.
        lock_timeout: Default seconds a lease waits before LockTimeoutError; None waits forever.
        redis_url: When given, leases are Redis leases instead of lease objects.
        lease_ttl: Seconds a lease outlives a holder that stopped renewing it.
        max_workers: Threads ``exists_many`` and folder copies use against remote stores.

    The file system is built on first use, so creating a store never touches the network;
    call :meth:`check` to find out early whether the workspace can be reached.

    Example:
        >>> store = FsspecStore("memory://example")
        >>> store.write_bytes("mod/a.bin", b"hello")
        >>> store.exists("mod/a.bin")
        True
    """

    is_local = False

    def __init__(
        self,
        url: str,
        *,
        storage_options: dict[str, Any] | None = None,
        fs: Any = None,
        lock_timeout: float | None = None,
        redis_url: str | None = None,
        lease_ttl: float = DEFAULT_TTL,
        max_workers: int = 16,
    ) -> None:
        from fsspec.core import split_protocol

        protocol, _ = split_protocol(url)
        if protocol is None:
            raise WorkspaceUnreachableError(
                f"FsspecStore needs a URL with a protocol such as s3:// or memory://, got "
                f"{url!r}; use LocalStore (or open_store) for a local folder",
                url=url,
            )
        cls = fs.__class__ if fs is not None else _filesystem_class(protocol, url)
        root = str(cls._strip_protocol(url)).rstrip("/")
        self.protocol = protocol
        self.url = self._url_of(root)
        self.lock_timeout = lock_timeout
        self.redis_url = redis_url
        self.lease_ttl = lease_ttl
        self.max_workers = max_workers
        self.object_store = protocol in OBJECT_STORES
        self.storage_options = dict(storage_options or {})
        self._root = root
        self._prefix = root + "/"
        self._given_fs = fs
        self._fs: Any = fs
        self._fs_pid = os.getpid()
        self._redis: redis.Redis | None = None

    def __repr__(self) -> str:
        return f"FsspecStore({redact(self.url)!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs"] = self._given_fs  # a file system we built is rebuilt in the new process
        state["_redis"] = None
        return state

    @property
    def fs(self) -> Any:
        """The fsspec file system (built on first use). Paths on it are ``root/key``."""
        if self._fs is None or (self._fs_pid != os.getpid() and self._given_fs is None):
            # Built lazily, and again in a forked child: async clients (s3fs, gcsfs) refuse to
            # run in a process other than the one that made them.
            import fsspec

            options = dict(self.storage_options)
            if self.protocol in _LISTING_CACHE_OFF:
                options.setdefault("use_listings_cache", False)
            self._fs = fsspec.filesystem(self.protocol, **options)
            self._fs_pid = os.getpid()
        return self._fs

    def _path(self, key: str) -> str:
        return self._prefix + check_key(key)

    def _url_of(self, path: str) -> str:
        # memory:// paths carry a leading "/" that its URLs do not; file:///abs keeps it.
        if self.protocol in _IN_PROCESS:
            path = path.lstrip("/")
        return f"{self.protocol}://{path}"

    # -- reading ---------------------------------------------------------------------------

    def full_path(self, key: str) -> str:
        """The URL of ``key`` (``s3://bucket/prefix/key``)."""
        return self._url_of(self._path(key))

    def exists(self, key: str) -> bool:
        """Whether an object, or a folder holding objects, exists under ``key``."""
        return bool(self.fs.exists(self._path(key)))

    def exists_many(self, keys: Sequence[str]) -> list[bool]:
        """``exists`` for each key, in order; remote stores are asked concurrently."""
        paths = [self._path(key) for key in keys]
        fs = self.fs
        if self.protocol in _IN_PROCESS or len(paths) < 2:
            return [bool(fs.exists(p)) for p in paths]
        workers = min(self.max_workers, len(paths))
        with ThreadPoolExecutor(workers, thread_name_prefix="tasuki-exists") as pool:
            return [bool(found) for found in pool.map(fs.exists, paths)]

    def read_bytes(self, key: str) -> bytes:
        """The whole object; FileNotFoundError when missing."""
        return bytes(self.fs.cat_file(self._path(key)))

    def open_read(self, key: str) -> BinaryIO:
        """The object opened for binary reading (a context manager); FileNotFoundError if gone."""
        return cast("BinaryIO", self.fs.open(self._path(key), "rb"))

    def modified(self, key: str) -> float | None:
        """The object's last-modified time from its listing (``LastModified`` on S3,
        ``updated`` on GCS, ``mtime`` / ``created`` elsewhere); None when it has none."""
        info = self.fs.info(self._path(key))
        for field_name in _TIME_FIELDS:
            seconds = _epoch_seconds(info.get(field_name))
            if seconds is not None:
                return seconds
        return None

    def size(self, key: str) -> int:
        """Bytes of an object, or the total under a folder (temporaries excluded)."""
        path = self._path(key)
        info = self.fs.info(path)
        if info.get("type") != "directory":
            return int(info["size"])
        found = self.fs.find(path, detail=True)
        return sum(
            int(meta.get("size") or 0)
            for name, meta in found.items()
            if not any(is_temp_name(part) for part in name.split("/"))
        )

    def stat(self, key: str) -> tuple[int, str | None]:
        """``(size, stamp)``: the stamp is the object's ETag (S3, GCS, Azure) or its
        modification time; for a folder, a digest of each object's name, size and stamp
        (None when one of them has no stamp)."""
        path = self._path(key)
        info = self.fs.info(path)
        if info.get("type") != "directory":
            return int(info["size"]), _stamp(info)
        found = self.fs.find(path, detail=True)
        digest = xxhash.xxh3_64()
        size = 0
        stamped = True
        for name in sorted(found):
            if any(is_temp_name(part) for part in name.split("/")):
                continue
            meta = found[name]
            part_size = int(meta.get("size") or 0)
            size += part_size
            stamp = _stamp(meta)
            stamped = stamped and stamp is not None
            digest.update(f"{name}\0{part_size}\0{stamp}\n".encode())
        return size, digest.hexdigest() if stamped else None

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys of the objects under the folder (or the object) ``prefix``, recursively.

        Temporaries and ``.tasuki/locks`` are skipped; order is not defined.
        """
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[str]:
        base = self._prefix + prefix if prefix else self._root
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return
        cut = len(self._prefix)
        locks = LOCKS_DIR + "/"
        for path in found:
            key = str(path)[cut:]
            if key.startswith(locks) or any(is_temp_name(part) for part in key.split("/")):
                continue
            yield key

    # -- writing ---------------------------------------------------------------------------

    def _publish(self, buffer: _UploadBuffer, path: str) -> None:
        fence()
        if self.object_store:
            buffer.upload(self.fs, path)
            return
        head, _, name = path.rpartition("/")
        tmp = f"{head}/{temp_name(name)}"
        self.fs.makedirs(head, exist_ok=True)
        try:
            buffer.upload(self.fs, tmp)
            self.fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.rm(tmp)
            raise

    def _raise_disk_error(self, exc: BaseException, path: str, buffer: _UploadBuffer) -> None:
        """A StorageError for a disk error: in the local spill file, or in the workspace."""
        if buffer.failed_locally:
            error = disk_error(
                exc,
                path=f"a local copy of {self._url_of(path)}",
                root=tempfile.gettempdir(),
                kind="temporary folder (TMPDIR)",
            )
        else:
            error = disk_error(exc, path=redact(self._url_of(path)), root=redact(self.url))
        if error is not None:
            raise error from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key`` atomically (one PUT on object stores)."""
        path = self._path(key)
        if self.object_store:
            fence()
            self.fs.pipe_file(path, data)
            return
        buffer = _UploadBuffer(SPOOL_BYTES)
        try:
            buffer.write(data)
            self._publish(buffer, path)
        except OSError as exc:
            self._raise_disk_error(exc, path, buffer)
            raise
        finally:
            buffer.discard()

    @contextlib.contextmanager
    def open_atomic(self, key: str) -> Iterator[BinaryIO]:
        """A local buffer to write; uploaded to ``key`` on clean exit, dropped on an exception.

        Up to 16 MiB stays in memory; more spills to a local temporary file, which is then
        uploaded with the file system's ``put_file`` (multipart on S3, completed only at the
        end, so a reader never sees part of it).
        """
        path = self._path(key)
        buffer = _UploadBuffer(SPOOL_BYTES)
        try:
            yield cast("BinaryIO", buffer)
            self._publish(buffer, path)
        except OSError as exc:
            self._raise_disk_error(exc, path, buffer)
            raise
        finally:
            buffer.discard()

    @contextlib.contextmanager
    def directory_atomic(self, key: str) -> Iterator[str]:
        """Yield the URL of a temporary folder beside ``key``; on clean exit it becomes ``key``.

        On object stores this is *not* atomic: the old folder is deleted, then each object is
        copied from the temporary prefix and the prefix deleted. On an exception the
        temporary prefix is deleted and ``key`` is left as it was.
        """
        path = self._path(key)
        head, _, name = path.rpartition("/")
        tmp = f"{head}/{temp_name(name)}"
        fs = self.fs
        if not self.object_store:
            fs.makedirs(tmp, exist_ok=True)
        try:
            yield self._url_of(tmp)
            fence()
            if self.object_store:
                self._copy_into_place(tmp, path)
            else:
                self._move_into_place(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                if fs.exists(tmp):
                    fs.rm(tmp, recursive=True)

    def _copy_into_place(self, tmp: str, path: str) -> None:
        fs = self.fs
        sources = [str(p) for p in fs.find(tmp)]
        with contextlib.suppress(FileNotFoundError):
            if fs.exists(path):
                fs.rm(path, recursive=True)
        pairs = [(src, path + src[len(tmp) :]) for src in sources]
        if self.protocol in _IN_PROCESS or len(pairs) < 2:
            for src, dst in pairs:
                fs.copy(src, dst)
        else:
            with ThreadPoolExecutor(min(self.max_workers, len(pairs))) as pool:
                list(pool.map(lambda pair: fs.copy(*pair), pairs))
        if sources:
            fs.rm(sources)

    def _move_into_place(self, tmp: str, path: str) -> None:
        fs = self.fs
        old = None
        if fs.exists(path):
            head, _, name = path.rpartition("/")
            old = f"{head}/{temp_name(name)}"
            fs.mv(path, old, recursive=True)
        fs.mv(tmp, path, recursive=True)
        if old is not None:
            fs.rm(old, recursive=True)

    def remove(self, key: str) -> None:
        """Delete an object or a folder tree; a missing key is ignored."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(key), recursive=True)

    # -- workspace and leases --------------------------------------------------------------

    def check(self) -> None:
        """Write and delete a probe object; ping Redis when leases use it.

        Raises:
            WorkspaceUnreachableError: naming the URL, the cause and how to fix it.
        """
        probe = f"{self._prefix}.tasuki/{temp_name('probe')}"
        try:
            if not self.object_store:
                self.fs.makedirs(f"{self._prefix}.tasuki", exist_ok=True)
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            hint = _HINTS.get(
                self.protocol,
                f"Check the {self.protocol}:// location and the storage options for it.",
            )
            raise WorkspaceUnreachableError(
                f"workspace {redact(self.url)!r} cannot be written ({redact(cause)}). {hint}",
                url=redact(self.url),
                cause=redact(cause),
            ) from exc
        self._check_redis()

    def lease(self, key: str) -> Lease:
        """A lease on ``key``: Redis if configured, else an object under ``.tasuki/locks``.

        On S3 and GCS the lease object is kept by conditional writes (:class:`ObjectLease`:
        exactly once across hosts, two requests per uncontended task); elsewhere it is a
        best-effort marker (:class:`MarkerLease`).
        """
        check_key(key)
        shared = self._redis_lease(key)
        if shared is not None:
            return shared
        path = f"{self._prefix}{LOCKS_DIR}/{key}.lock"
        ops = _CONDITIONAL_WRITES.get(self.protocol)
        if ops is not None:
            return ObjectLease(
                ops(self.fs),
                path,
                key=key,
                url=self.url,
                default_timeout=self.lock_timeout,
                ttl=self.lease_ttl,
            )
        return MarkerLease(
            self.fs,
            path,
            key=key,
            url=self.url,
            conditional=False,
            make_dirs=not self.object_store,
            default_timeout=self.lock_timeout,
            ttl=self.lease_ttl,
        )


def _filesystem_class(protocol: str, url: str) -> Any:
    """Import the fsspec implementation of ``protocol``; a helpful error if that fails."""
    import fsspec
    from fsspec.registry import get_filesystem_class

    try:
        return get_filesystem_class(protocol)
    except ValueError as exc:
        known = sorted(set(fsspec.available_protocols()))
        close = difflib.get_close_matches(protocol, known, n=3, cutoff=0.5)
        maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise WorkspaceUnreachableError(
            f"workspace {redact(url)!r} uses the unknown protocol {protocol!r}.{maybe} Known "
            f"protocols: {', '.join(known)}.",
            url=redact(url),
            cause=str(exc),
        ) from exc
    except ImportError as exc:
        extra = _EXTRAS.get(protocol)
        fix = (
            f"pip install 'tasuki[{extra}]'"
            if extra
            else f"install the package fsspec names for {protocol!r}"
        )
        raise WorkspaceUnreachableError(
            f"workspace {redact(url)!r} needs support for {protocol}:// that is not installed "
            f"({exc}). Fix: {fix}.",
            url=redact(url),
            cause=str(exc),
            missing_extra=extra,
        ) from exc


#: Where listings keep an object's modification time (S3, local, GCS, others, memory).
_TIME_FIELDS = ("LastModified", "mtime", "updated", "last_modified", "created")


def _stamp(info: dict[str, Any]) -> str | None:
    """What changes when an object is rewritten, from its listing: the ETag (or a content
    hash the backend keeps), else its modification time; None when there is neither."""
    for field_name in ("ETag", "etag", "md5Hash", "md5", "generation"):
        value = info.get(field_name)
        if value:
            return f"{field_name}:{value}"
    for field_name in _TIME_FIELDS:
        value = info.get(field_name)
        if value is not None and value != "":
            # A local file system's listing has the inode too: a replacement within one tick
            # of its clock gets a new one.
            ino = info.get("ino")
            return f"{field_name}:{value}" + (f".{ino}" if ino is not None else "")
    return None


def _epoch_seconds(value: Any) -> float | None:
    """A listing's time field (a datetime, ISO text or a number) as seconds since the epoch."""
    if isinstance(value, datetime.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return stamp.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return _epoch_seconds(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None
