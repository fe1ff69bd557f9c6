"""The Store protocol: what the core needs from a workspace.

Keys are relative POSIX paths inside the workspace (``mypkg/tasks/task_a_<id>.pkl``).
A store never exposes a half-written object under its final key: writes go to a temporary
name and are moved (local) or uploaded in one PUT (object stores) when the writer closes
without error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from contextlib import AbstractContextManager

__all__ = ["Lease", "Store"]


@runtime_checkable
class Lease(Protocol):
    """A per-key mutual exclusion held while one process computes an output."""

    def acquire(self, timeout: float | None = None) -> None:
        """Block until the lease is held; raise LockTimeoutError after ``timeout`` seconds."""

    def release(self) -> None:
        """Give the lease back. Releasing a lease not held is a no-op."""


@runtime_checkable
class Store(Protocol):
    """A workspace root: local folder, ``s3://``, ``gs://`` or ``memory://``."""

    url: str
    """The workspace root as given (normalised, no trailing slash)."""

    is_local: bool
    """True when keys map to files on this machine's file system."""

    def check(self) -> None:
        """Prove the workspace reachable and writable (the runner calls it once at start);
        raise WorkspaceUnreachableError naming the URL, the cause and the fix otherwise."""

    def full_path(self, key: str) -> str:
        """The absolute path or URL of ``key``."""

    def exists(self, key: str) -> bool:
        """Whether an object (or a directory holding objects) exists under ``key``."""

    def modified(self, key: str) -> float | None:
        """When the file or object ``key`` was last written, in seconds since the epoch; None
        when the backend does not say. FileNotFoundError when missing."""

    def exists_many(self, keys: Sequence[str]) -> list[bool]:
        """``exists`` for many keys; remote stores check them concurrently."""

    def read_bytes(self, key: str) -> bytes:
        """The whole object; ``FileNotFoundError`` when missing."""

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A readable binary file object; ``FileNotFoundError`` when missing."""

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` atomically under ``key`` (replacing any old object)."""

    def open_atomic(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A writable binary file; on clean exit it appears under ``key`` at once, on an
        exception (or kill) nothing appears and the temporary is removed when possible."""

    def directory_atomic(self, key: str) -> AbstractContextManager[str]:
        """A path or URL of an empty temporary directory to fill; on clean exit it replaces
        ``key`` as a whole (local rename; object stores copy then delete the temporary)."""

    def size(self, key: str) -> int:
        """Bytes of an object, or the sum over a directory's objects."""

    def stat(self, key: str) -> tuple[int, str | None]:
        """``(size, stamp)`` of an object or a directory: :meth:`size`, and a short text
        that changes whenever the bytes are rewritten (a local file's modification time and
        inode, an object's ETag), None when the backend gives nothing that does. The cache
        check compares stamps to notice an output rewritten outside tasuki at the same size
        without reading it. FileNotFoundError when missing."""

    def remove(self, key: str) -> None:
        """Delete an object or a directory tree; missing keys are ignored."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys of all objects under ``prefix``, recursively, in no set order."""

    def lease(self, key: str) -> Lease:
        """A lease for ``key`` (file lock locally; a marker object remotely)."""
