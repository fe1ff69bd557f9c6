"""LocalStore: a workspace folder on this machine, the engine's hot path.

Everything here calls ``os`` directly; fsspec is not on this path. A file is written to a
temporary in this process's own staging folder (``.tasuki/.staging.tmp-<pid>-<random>``) and
published with ``os.replace``, so a reader sees the old object or the new one, never a part.
That holds against a killed writer (``kill -9``), not against power loss: without
``fsync=True`` the kernel may not yet have put the data on disk when the rename lands.

Why a staging folder rather than a temporary beside the key: on ext4, creating a file holds
its folder's lock for the whole (slow) inode creation, so two workers writing small outputs
into one task family's folder take turns; created in separate folders they run side by side,
and the rename that follows is short. A key whose folder is on another file system (a mount
inside the workspace) falls back to a temporary beside it.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import stat
import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import xxhash

from tasuki.errors import WorkspaceUnreachableError
from tasuki.storage._disk import disk_error
from tasuki.storage._keys import (
    LOCKS_DIR,
    check_key,
    check_prefix,
    is_temp_name,
    temp_name,
    temp_owner,
)
from tasuki.storage._locks import DEFAULT_TTL, FileLease, RedisLeases, fence
from tasuki.storage._mounts import network_file_system

try:
    from tasuki.storage._range_lock import RangeLease
except ImportError:  # no fcntl (Windows): one filelock file per key instead
    RangeLease = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import TracebackType

    import redis

    from tasuki.storage.base import Lease

__all__ = ["LocalStore"]

logger = logging.getLogger(__name__)

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)

_LEASE_KINDS = ("auto", "range", "disk")

STALE_TEMP_SECONDS = 24 * 3600.0
"""A temporary whose writer cannot be checked (another host) is removed after this age."""


def _stamp(st: os.stat_result) -> str:
    """What changes when a file is rewritten: its modification time, its change time (which
    no tool can set back, unlike the first: ``cp -p``, ``tar x``, ``rsync -t``) and inode."""
    return f"{st.st_mtime_ns:x}.{st.st_ctime_ns:x}.{st.st_ino:x}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


# Staging folders by (pid, workspace root), shared by every LocalStore of the process.
_STAGING: dict[tuple[int, str], str] = {}
_STAGING_LOCK = threading.Lock()


def _remove_empty_dir(directory: str) -> None:
    """At exit: remove this process's staging folder (left alone if a write is still in it)."""
    with contextlib.suppress(OSError):
        os.rmdir(directory)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _rmtree(path: str) -> None:
    """Remove a folder and what it holds, ignoring errors."""
    import shutil  # here: with bz2 and lzma it is ~2 ms of `import tasuki`, for removals only

    shutil.rmtree(path, ignore_errors=True)


class LocalStore(RedisLeases):
    """A workspace folder on a local (or mounted) file system.

    Args:
        root: The folder; ``~`` is expanded and relative paths are made absolute. It is
            created on the first write (or by :meth:`check`), not here.
        fsync: Also ``fsync`` each file and its folder before and after the rename, which makes
            writes survive power loss at a large cost per write. Off by default: without it a
            write is atomic against a killed process, not against a crashed machine.
        lock_timeout: Default seconds a lease waits before LockTimeoutError; None waits forever.
        redis_url: When given, leases are Redis leases shared by every machine using that
            Redis, instead of file locks under ``.tasuki/locks``.
        lease_ttl: Seconds a Redis lease or lease file outlives a holder that died.
        lease: ``"auto"`` (default): a byte-range lock, or lease files when the folder is on
            a network file system (NFS, SMB, sshfs...); ``"range"``: the byte-range lock
            (freed by the kernel when a holder dies); ``"disk"``: lease files made by
            exclusive create, with heartbeat and expiry. ``redis_url`` overrides all three.

    Example:
        >>> store = LocalStore("/tmp/ws")
        >>> store.write_bytes("mod/a.bin", b"hello")
        >>> store.read_bytes("mod/a.bin")
        b'hello'
    """

    is_local = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = False,
        lock_timeout: float | None = None,
        redis_url: str | None = None,
        lease_ttl: float = DEFAULT_TTL,
        lease: str = "auto",
    ) -> None:
        if lease not in _LEASE_KINDS:
            raise WorkspaceUnreachableError(
                f"unknown lease kind {lease!r} for a local workspace; choose one of "
                f"{', '.join(repr(k) for k in _LEASE_KINDS)} (or set redis_url for Redis leases)",
                url=os.fspath(root),
                lease=lease,
            )
        self.lease_kind = lease
        self.root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        self.url = self.root
        self.fsync = fsync
        self.lock_timeout = lock_timeout
        self.redis_url = redis_url
        self.lease_ttl = lease_ttl
        self._prefix = self.root.rstrip("/") + "/"
        # Folders this object has created or seen, and swept of stale temporaries: a write into
        # a known folder costs no makedirs or stat. A folder removed behind our back shows up as
        # FileNotFoundError on open, which re-prepares it.
        self._ready_dirs: set[str] = set()
        # This process's staging folder, keyed by pid: a forked worker makes its own.
        self._staging: tuple[int, str] | None = None
        # Folders on another file system than the staging folder: temporaries go beside keys.
        self._beside_dirs: set[str] = set()
        self._redis: redis.Redis | None = None

    def __repr__(self) -> str:
        return f"LocalStore({self.root!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ready_dirs"] = set()  # another process or host must sweep for itself
        state["_staging"] = None
        state["_redis"] = None
        return state

    # -- reading ---------------------------------------------------------------------------

    def full_path(self, key: str) -> str:
        """The absolute file path of ``key``."""
        return self._prefix + check_key(key)

    def exists(self, key: str) -> bool:
        """Whether a file or folder exists at ``key`` (one ``access`` system call)."""
        return os.access(self._prefix + check_key(key), os.F_OK)

    def exists_many(self, keys: Sequence[str]) -> list[bool]:
        """``exists`` for each key, in order."""
        prefix, access, f_ok = self._prefix, os.access, os.F_OK
        return [access(prefix + check_key(key), f_ok) for key in keys]

    def read_bytes(self, key: str) -> bytes:
        """The file's bytes; FileNotFoundError when missing."""
        with open(self._prefix + check_key(key), "rb") as f:
            return f.read()

    def open_read(self, key: str) -> BinaryIO:
        """The file opened for binary reading (a context manager); FileNotFoundError if missing."""
        return open(self._prefix + check_key(key), "rb")

    def modified(self, key: str) -> float | None:
        """The file's modification time (seconds since the epoch)."""
        return os.stat(self._prefix + check_key(key)).st_mtime

    def size(self, key: str) -> int:
        """Bytes of a file, or the total of the files under a folder (temporaries excluded)."""
        path = self._prefix + check_key(key)
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):  # one stat: completeness sizes every output
            return st.st_size
        total = 0
        for _, entry in self._walk(path, key + "/"):
            total += entry.stat().st_size
        return total

    def stat(self, key: str) -> tuple[int, str | None]:
        """``(size, stamp)``: the stamp is the file's modification and change times and inode
        (a rewrite in place changes the times, a replacement the inode), or for a folder a
        digest of each file's name, size and stamp."""
        path = self._prefix + check_key(key)
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            return st.st_size, _stamp(st)
        parts = sorted((name, entry.stat()) for name, entry in self._walk(path, key + "/"))
        digest = xxhash.xxh3_64()
        for name, est in parts:
            digest.update(f"{name}\0{est.st_size}\0{_stamp(est)}\n".encode())
        return sum(est.st_size for _, est in parts), digest.hexdigest()

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys of the files under the folder (or the file) ``prefix``, recursively.

        Temporaries and ``.tasuki/locks`` are skipped; order is not defined.
        """
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[str]:
        if prefix == LOCKS_DIR or prefix.startswith(LOCKS_DIR + "/"):
            return
        path = self._prefix + prefix if prefix else self.root
        if prefix and os.path.isfile(path):
            yield prefix
            return
        for key, _ in self._walk(path, prefix + "/" if prefix else ""):
            yield key

    def _walk(self, path: str, rel: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        stack = [(path, rel)]
        while stack:
            directory, rel_dir = stack.pop()
            try:
                entries = os.scandir(directory)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with entries:
                for entry in entries:
                    name = entry.name
                    if is_temp_name(name):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        sub = rel_dir + name
                        if sub != LOCKS_DIR:
                            stack.append((entry.path, sub + "/"))
                    elif entry.is_file():
                        yield rel_dir + name, entry

    # -- writing ---------------------------------------------------------------------------

    def _prepare_dir(self, directory: str) -> None:
        """Create ``directory`` if needed and remove temporaries left by dead writers."""
        os.makedirs(directory, exist_ok=True)
        self._sweep(directory)
        self._ready_dirs.add(directory)

    def _sweep(self, directory: str) -> None:
        """Remove temporaries in ``directory`` whose writer is dead (this host) or is old."""
        me = os.getpid()
        now = time.time()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            if not is_temp_name(entry.name):
                continue
            owner = temp_owner(entry.name)
            if owner is not None and owner[1] and owner[0] != me:
                stale = not _pid_alive(owner[0])
            else:
                stale = False
            if not stale:
                try:
                    stale = entry.stat(follow_symlinks=False).st_mtime < now - STALE_TEMP_SECONDS
                except OSError:
                    continue
            if stale:
                logger.debug("removing stale temporary %s", entry.path)
                if entry.is_dir(follow_symlinks=False):
                    _rmtree(entry.path)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _temp_for(self, path: str) -> tuple[str, str]:
        """(folder, temporary path) for the final ``path``, the folder ready for writing."""
        head, _, name = path.rpartition("/")
        if head not in self._ready_dirs:
            self._prepare_dir(head)
        return head, f"{head}/{temp_name(name)}"

    def _staging_dir(self) -> str:
        """This process's staging folder, made (and dead writers' folders swept) on first use.

        Every store on the same root in one process shares it: a notebook that builds a
        thousand times makes one folder, not a thousand.
        """
        pid = os.getpid()
        if self._staging is not None and self._staging[0] == pid:
            return self._staging[1]
        base = self._prefix + ".tasuki"
        if base not in self._ready_dirs:
            self._prepare_dir(base)  # sweeps the staging folders of dead writers
        key = (pid, self.root)
        with _STAGING_LOCK:
            folder = _STAGING.get(key)
            if folder is None:
                folder = f"{base}/{temp_name('staging')}"
                os.mkdir(folder)
                _STAGING[key] = folder
                atexit.register(_remove_empty_dir, folder)
        self._staging = (pid, folder)
        return folder

    def _forget_staging(self) -> None:
        """Drop the staging folder (it was removed behind our back); the next write remakes it."""
        with _STAGING_LOCK:
            if self._staging is not None:
                key = (self._staging[0], self.root)
                if _STAGING.get(key) == self._staging[1]:
                    del _STAGING[key]
        self._staging = None

    def _open_temp(self, path: str, *, again: bool = True) -> tuple[str, str, int]:
        """(folder of ``path``, temporary path, open descriptor) for writing ``path``."""
        head, _, name = path.rpartition("/")
        if head not in self._ready_dirs:
            self._prepare_dir(head)
        if head in self._beside_dirs:
            tmp = f"{head}/{temp_name(name)}"
        else:
            tmp = f"{self._staging_dir()}/{temp_name(name)}"
        try:
            fd = os.open(tmp, _WRITE_FLAGS, 0o666)
        except FileNotFoundError:
            if not again:
                raise
            # A folder (the staging one, or the key's) was removed since we prepared it.
            self._ready_dirs.clear()
            self._forget_staging()
            return self._open_temp(path, again=False)
        return head, tmp, fd

    def _publish(self, tmp: str, path: str, head: str) -> None:
        """Rename the written temporary ``tmp`` to ``path``."""
        fence()
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            if not os.path.exists(tmp):
                raise
            # The key's folder was removed behind our back since we prepared it.
            self._ready_dirs.discard(head)
            self._prepare_dir(head)
            os.replace(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # ``head`` is on another file system: copy beside the key, rename there.
            self._beside_dirs.add(head)
            beside = f"{head}/{temp_name(path.rpartition('/')[2])}"
            try:
                import shutil

                shutil.copyfile(tmp, beside)
                os.replace(beside, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(beside)
                raise
            os.unlink(tmp)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` to ``key`` atomically: a temporary in staging, then a rename."""
        path = self._prefix + check_key(key)
        try:
            head, tmp, fd = self._open_temp(path)
        except OSError as exc:
            self._raise_disk_error(exc, path)
            raise
        try:
            try:
                written = os.write(fd, data)
                if written < len(data):
                    view = memoryview(data)[written:]
                    while view:
                        view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._publish(tmp, path, head)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self._raise_disk_error(exc, path)
            raise
        if self.fsync:
            _fsync_dir(head)

    def _raise_disk_error(self, exc: BaseException, path: str) -> None:
        """Raise a StorageError naming ``path`` and this workspace if ``exc`` is a disk error."""
        error = disk_error(exc, path=path, root=self.root)
        if error is not None:
            raise error from exc

    def open_atomic(self, key: str) -> _AtomicFile:
        """A binary file to write; it replaces ``key`` on clean exit, vanishes on an exception."""
        return _AtomicFile(self, self._prefix + check_key(key))

    @contextlib.contextmanager
    def directory_atomic(self, key: str) -> Iterator[str]:
        """Yield an empty temporary folder beside ``key``; on clean exit it becomes ``key``.

        An old file or folder at ``key`` is first renamed aside and deleted after the new one
        is in place, so the key is missing only between two renames. On an exception the
        temporary folder is deleted and ``key`` is left as it was.
        """
        path = self._prefix + check_key(key)
        try:
            head, tmp = self._temp_for(path)
            try:
                os.mkdir(tmp)
            except FileNotFoundError:
                self._ready_dirs.discard(head)
                self._prepare_dir(head)
                os.mkdir(tmp)
        except OSError as exc:
            self._raise_disk_error(exc, path)
            raise
        try:
            yield tmp
            self._publish_dir(tmp, path, head)
        except BaseException as exc:
            _rmtree(tmp)
            self._raise_disk_error(exc, path)
            raise
        if self.fsync:
            _fsync_dir(head)

    def _publish_dir(self, tmp: str, path: str, head: str) -> None:
        fence()
        name = path.rpartition("/")[2]
        for _ in range(3):
            old = None
            if os.path.lexists(path):
                old = f"{head}/{temp_name(name)}"
                os.rename(path, old)
            try:
                os.rename(tmp, path)
            except OSError as exc:
                # A concurrent writer put something at ``path`` between our two renames.
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise
                continue
            finally:
                if old is not None:
                    self._remove_path(old)
            return
        raise FileExistsError(errno.EEXIST, "another writer keeps replacing this folder", path)

    @staticmethod
    def _remove_path(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except (IsADirectoryError, PermissionError):
            _rmtree(path)

    def remove(self, key: str) -> None:
        """Delete the file or folder tree at ``key``; a missing key is ignored."""
        self._remove_path(self._prefix + check_key(key))

    # -- workspace and leases --------------------------------------------------------------

    def check(self) -> None:
        """Create the root if needed and prove it writable; ping Redis when leases use it.

        Raises:
            WorkspaceUnreachableError: naming the folder, the cause and how to fix it.
        """
        folder = self.root + "/.tasuki"
        try:
            os.makedirs(folder, exist_ok=True)
            # access() answers for this user, and EROFS on a read-only mount, without the
            # file a probe would create and remove (two metadata writes per command).
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "no write permission", folder)
        except OSError as exc:
            cause = f"{type(exc).__name__}: {exc.strerror or exc}"
            fix = (
                # a workspace already there, on a read-only mount or another user's
                "It can be read, not built in: `tasuki ls`, `show`, `tree`, `why`, `verify`, "
                "`lineage`, the web app and tasuki.load() / load_output() work on it. To "
                "build, make it writable by this user"
                if os.path.isdir(folder)
                else "Create that folder and make it writable by this user"
            )
            raise WorkspaceUnreachableError(
                f"workspace {self.url!r} is not writable ({cause}). {fix}, or choose another "
                "workspace (a local folder, s3://bucket/prefix, gs://bucket/prefix or "
                "memory://name).",
                url=self.url,
                cause=cause,
            ) from exc
        self._check_redis()

    def lease(self, key: str) -> Lease:
        """A lease on ``key``: one byte of ``.tasuki/locks/leases``, a lease file on a shared
        disk (``lease="disk"``, or ``"auto"`` on a network file system), or Redis if set."""
        check_key(key)
        shared = self._redis_lease(key)
        if shared is not None:
            return shared
        if self.lease_kind == "auto":
            kind = network_file_system(self.root)
            if kind is not None:
                logger.debug("workspace %s is on %s: lease files", self.root, kind)
            self.lease_kind = "disk" if kind is not None else "range"
        if self.lease_kind == "disk":
            from tasuki.storage._disk_lease import DiskLease

            return DiskLease(
                f"{self._prefix}{LOCKS_DIR}/{key}.lease",
                key=key,
                url=self.url,
                default_timeout=self.lock_timeout,
                ttl=self.lease_ttl,
            )
        if RangeLease is None:
            lock_path = f"{self._prefix}{LOCKS_DIR}/{key}.lock"
            return FileLease(lock_path, key=key, url=self.url, default_timeout=self.lock_timeout)
        lock_path = f"{self._prefix}{LOCKS_DIR}/leases"
        return RangeLease(lock_path, key=key, url=self.url, default_timeout=self.lock_timeout)


class _AtomicFile:
    """Context manager behind ``LocalStore.open_atomic`` (a class: cheaper than a generator)."""

    __slots__ = ("_file", "_head", "_path", "_store", "_tmp")

    def __init__(self, store: LocalStore, path: str) -> None:
        self._store = store
        self._path = path
        self._tmp = ""
        self._head = ""
        self._file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        try:
            self._head, self._tmp, fd = self._store._open_temp(self._path)
        except OSError as exc:
            self._store._raise_disk_error(exc, self._path)
            raise
        self._file = cast("BinaryIO", open(fd, "wb", closefd=True))
        return self._file

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        f = self._file
        if f is None:
            return
        self._file = None
        if exc_type is not None:
            with contextlib.suppress(OSError, ValueError):
                f.close()
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            if exc is not None:
                # A format's write into the file met a full disk: say which file, which
                # workspace, and what to do (raised from the original error).
                self._store._raise_disk_error(exc, self._path)
            return
        try:
            f.close()  # the caller may already have closed it; close() is then a no-op
            if self._store.fsync:
                fd = os.open(self._tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._store._publish(self._tmp, self._path, self._head)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._store._raise_disk_error(error, self._path)
            raise
        if self._store.fsync:
            _fsync_dir(self._path.rpartition("/")[0])
