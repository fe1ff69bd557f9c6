"""Read access to a dataset registry: plain ``os`` calls on a local folder, fsspec elsewhere.

Loading never writes, so it needs only five things of a registry: list one folder, test a
path, read a small file, stat a file, and hand pyarrow a file system for the shards. A local
registry (the default ``./registry``, a shared mount) takes the fast path: no fsspec import,
and pyarrow reads the shards memory-mapped. A remote one (``s3://bucket/registry``) goes
through the same fsspec file system a workspace at that URL would use (its credentials,
``AWS_ENDPOINT_URL``, listings cache off), built by :func:`tasuki.storage.open_store`.
"""

from __future__ import annotations

import os
from typing import Any

from tasuki.errors import ConfigError

__all__ = ["RegistryFiles", "registry_url"]


def registry_url(registry: str | os.PathLike[str] | None) -> str:
    """``registry`` as given, else the ``registry`` setting of the build in effect, else the
    one :func:`tasuki.config.load_settings` resolves (argument > env > file > default)."""
    if registry is not None:
        text = os.fspath(registry)
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"registry must be a folder or a URL such as s3://bucket/registry, got "
                f"{registry!r}",
                registry=repr(registry),
            )
        return text
    from tasuki.config import active_settings, load_settings

    settings = active_settings() or load_settings()
    return settings.registry


def _protocol_of(url: str) -> str | None:
    head, sep, _ = url.partition("://")
    if sep and head and "/" not in head and len(head) > 1:  # C:/x is a drive, not a protocol
        return head.lower()
    return None


class RegistryFiles:
    """The files of one registry, addressed by paths native to its file system.

    ``root`` is the registry's path on that file system (an absolute folder locally,
    ``bucket/prefix`` on S3); :meth:`show` turns a path back into what a person would type.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") or url
        protocol = _protocol_of(url)
        self.local = protocol in (None, "file", "local")
        self.fs: Any = None
        if self.local:
            path = url.split("://", 1)[1] if protocol else url
            self.root = os.path.abspath(os.path.expanduser(path))
        else:
            from tasuki.storage import open_store

            store: Any = open_store(url)
            self.fs = store.fs
            self.root = str(self.fs._strip_protocol(url)).rstrip("/")
            self._shown_root: str = store.url

    def __repr__(self) -> str:
        return f"RegistryFiles({self.url!r})"

    def show(self, path: str) -> str:
        """``path`` as the user knows it: a local path, or the URL under the registry's."""
        if self.local or not path.startswith(self.root):
            return path
        return str(self._shown_root) + path[len(self.root) :]

    def listdir(self, path: str) -> list[str]:
        """Names of the entries directly in folder ``path``; [] when it does not exist."""
        if self.local:
            try:
                return os.listdir(path)
            except (FileNotFoundError, NotADirectoryError):
                return []
        try:
            found = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        prefix = path.rstrip("/") + "/"
        names = []
        for entry in found:
            text = str(entry).rstrip("/")
            if text.startswith(prefix):
                names.append(text[len(prefix) :])
            elif "/" in text:
                names.append(text.rsplit("/", 1)[1])
        return [n for n in names if n]

    def exists(self, path: str) -> bool:
        """Whether a file (or folder) ``path`` exists."""
        if self.local:
            return os.path.exists(path)
        return bool(self.fs.exists(path))

    def read_bytes(self, path: str) -> bytes:
        """The whole file; FileNotFoundError when missing."""
        if self.local:
            with open(path, "rb") as f:
                return f.read()
        return bytes(self.fs.cat_file(path))

    def size(self, path: str) -> int:
        """Bytes of file ``path``; FileNotFoundError when missing."""
        if self.local:
            return os.stat(path).st_size
        return int(self.fs.info(path)["size"])

    def open(self, path: str) -> Any:
        """``path`` opened for binary reading (a context manager)."""
        if self.local:
            return open(path, "rb")
        return self.fs.open(path, "rb")

    def arrow_filesystem(self) -> Any:
        """What ``pyarrow.dataset`` takes as ``filesystem=``: None locally (its own local
        file system, memory-mapped), else the fsspec file system wrapped for pyarrow."""
        if self.local:
            return None
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))
