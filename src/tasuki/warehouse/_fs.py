"""Local paths and fsspec URLs as pyarrow file systems."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["filesystem", "is_url", "join_url"]


def is_url(location: str) -> bool:
    """Whether ``location`` is a URL with a scheme other than ``file://``."""
    return "://" in location and not location.startswith("file://")


def filesystem(
    url: str, storage_options: Mapping[str, Any] | None = None
) -> tuple[pafs.FileSystem, str]:
    """A pyarrow file system and the path inside it for a local path or fsspec URL."""
    if "://" not in url or url.startswith("file://"):
        path = url[len("file://") :] if url.startswith("file://") else url
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def join_url(base: str, name: str) -> str:
    """``base`` and ``name`` joined with one slash (works for paths and URLs)."""
    return f"{base.rstrip('/')}/{name}"
