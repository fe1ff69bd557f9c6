"""Workspaces: where task outputs and run records live.

``open_store(url)`` returns a :class:`Store`: a :class:`LocalStore` for a folder on this
machine (the fast path, plain ``os`` calls) or an :class:`FsspecStore` for ``s3://``, ``gs://``,
``memory://`` and any other fsspec URL. Every store writes atomically, lists without
temporaries, and hands out per-key leases (:class:`Lease`).
"""

from __future__ import annotations

from tasuki.storage._fsspec import FsspecStore
from tasuki.storage._local import LocalStore
from tasuki.storage._open import open_store
from tasuki.storage.base import Lease, Store

__all__ = ["FsspecStore", "Lease", "LocalStore", "Store", "open_store"]
