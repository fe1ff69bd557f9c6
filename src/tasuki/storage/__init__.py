"""Workspaces: where task outputs and run records live.

``open_store(url)`` returns a :class:`Store`: a :class:`LocalStore` for a folder on this
machine (the fast path, plain ``os`` calls) or an :class:`FsspecStore` for ``s3://``, ``gs://``,
``memory://`` and any other fsspec URL. Every store writes atomically, lists without
temporaries, and hands out per-key leases (:class:`Lease`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.storage._local import LocalStore
from tasuki.storage._open import open_store
from tasuki.storage.base import Lease, Store

if TYPE_CHECKING:
    from tasuki.storage._fsspec import FsspecStore

__all__ = ["FsspecStore", "Lease", "LocalStore", "Store", "open_store"]


def __getattr__(name: str) -> Any:
    # FsspecStore imports fsspec (~15 ms): only remote workspaces need it.
    if name == "FsspecStore":
        from tasuki.storage._fsspec import FsspecStore

        return FsspecStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
