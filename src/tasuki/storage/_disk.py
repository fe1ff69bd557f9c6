"""Disk errors (full, over quota, read-only, forbidden) as a StorageError that names the path.

``OSError: [Errno 28] No space left on device`` says neither which file nor which workspace
or results folder filled up; :func:`disk_error` says both, and what to do.
"""

from __future__ import annotations

import errno

from tasuki.errors import StorageError

__all__ = ["DISK_ERRNOS", "disk_error"]

_ADVICE = {
    errno.ENOSPC: (
        "the disk is full",
        "Free space on that file system (delete old outputs or results) or move the {kind} "
        "to a larger disk, then run again",
    ),
    errno.EDQUOT: (
        "this user's disk quota is used up",
        "Free space under the quota or ask for a larger one, then run again",
    ),
    errno.EROFS: (
        "the file system is read-only",
        "Remount it read-write or choose a writable {kind}",
    ),
    errno.EACCES: (
        "permission denied",
        "Make the {kind} writable by this user (chmod / chown) or choose another one",
    ),
    errno.EPERM: (
        "operation not permitted",
        "Make the {kind} writable by this user (chmod / chown) or choose another one",
    ),
}
DISK_ERRNOS = frozenset(_ADVICE)
"""The ``errno`` values :func:`disk_error` turns into a StorageError."""


def disk_error(
    exc: BaseException, *, path: str, root: str, kind: str = "workspace"
) -> StorageError | None:
    """A StorageError for a disk error met while writing ``path``; None for other errors.

    Args:
        exc: What the write raised.
        path: The file (or folder) being written.
        root: The workspace or results folder it belongs to.
        kind: What ``root`` is, for the message: ``"workspace"`` or ``"results folder"``.

    Returns:
        A StorageError with fields ``path``, ``root``, ``errno_name`` and ``reason``, to
        raise ``from exc``; None when ``exc`` is not an OSError with one of
        :data:`DISK_ERRNOS`.
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if not isinstance(code, int) or code not in _ADVICE:
        return None
    what, advice = _ADVICE[code]
    name = errno.errorcode[code]
    return StorageError(
        f"cannot write {path} in {kind} {root!r}: {what} ({name}). {advice.format(kind=kind)}.",
        path=path,
        root=root,
        errno_name=name,
        reason=what,
    )
