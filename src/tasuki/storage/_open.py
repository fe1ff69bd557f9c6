"""``open_store``: turn a workspace path or URL into a Store without touching the network."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tasuki.errors import WorkspaceUnreachableError
from tasuki.storage._local import LocalStore
from tasuki.storage._locks import DEFAULT_TTL

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["open_store"]


def _protocol_of(url: str) -> tuple[str | None, str]:
    """``(protocol, rest)``; Windows drive letters (``C:/x``) count as no protocol."""
    head, sep, rest = url.partition("://")
    if sep and head and "/" not in head and len(head) > 1:
        return head.lower(), rest
    return None, url


def open_store(
    url: str | os.PathLike[str],
    *,
    redis_url: str | None = None,
    lock_timeout: float | None = None,
    storage_options: dict[str, Any] | None = None,
    lease: str = "auto",
    lease_ttl: float | None = None,
) -> Store:
    """Open the workspace at ``url``.

    Args:
        url: A local folder (relative, absolute or ``~``), ``file://``, ``memory://name``,
            ``s3://bucket/prefix``, ``gs://bucket/prefix`` or any other fsspec URL.
        redis_url: Use Redis leases (``redis://host:6379/0``) instead of the store's own locks.
        lock_timeout: Default seconds a lease waits before LockTimeoutError; None waits forever.
        storage_options: Options for the fsspec file system (``endpoint_url``, ``anon``...).
            S3 also honours the usual AWS environment variables such as ``AWS_ENDPOINT_URL``.
        lease: For a local folder: ``"auto"``, ``"range"`` or ``"disk"`` (see
            :class:`LocalStore`). Object stores keep leases by conditional writes (S3) or
            as markers; ``redis_url`` overrides both.
        lease_ttl: Seconds a lease outlives a holder that stopped renewing it (a killed
            process): how long others wait before they take its task over. Default 60.

    Returns:
        A LocalStore for local folders, else an FsspecStore. Nothing is read or written yet:
        call ``store.check()`` to find out whether the workspace can be reached.

    Raises:
        WorkspaceUnreachableError: the URL is empty, its protocol is unknown, or the package
            that implements it is not installed (with the ``pip install`` line that fixes it).

    Example:
        >>> store = open_store("memory://demo")
        >>> store.write_bytes("a.txt", b"hi")
        >>> store.read_bytes("a.txt")
        b'hi'
    """
    text = os.fspath(url)
    if not isinstance(text, str) or not text.strip():
        raise WorkspaceUnreachableError(
            f"the workspace must be a folder path or a URL such as s3://bucket/prefix, got {url!r}",
            url=repr(url),
        )
    protocol, rest = _protocol_of(text)
    ttl = DEFAULT_TTL if lease_ttl is None else float(lease_ttl)
    if protocol is None or protocol in ("file", "local"):
        if storage_options:
            raise WorkspaceUnreachableError(
                f"storage_options {sorted(storage_options)} were given for the local workspace "
                f"{text!r}, which takes none; drop them or use a remote URL",
                url=text,
            )
        return LocalStore(
            rest if protocol else text,
            redis_url=redis_url,
            lock_timeout=lock_timeout,
            lease=lease,
            lease_ttl=ttl,
        )
    from tasuki.storage._fsspec import FsspecStore  # fsspec: ~15 ms, remote only

    return FsspecStore(
        text,
        storage_options=storage_options,
        redis_url=redis_url,
        lock_timeout=lock_timeout,
        lease_ttl=ttl,
    )
