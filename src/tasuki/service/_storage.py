"""The results directory: one folder per query, on a local disk or any fsspec store."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from typing import IO, Any

from tasuki.errors import ConfigError, StorageError
from tasuki.storage._disk import disk_error

__all__ = ["ResultStore"]

logger = logging.getLogger(__name__)

RECORD = "job.json"
RESULT = "result"
LOCK = ".service.lock"


class ResultStore:
    """Reads and writes query folders under ``url``.

    Args:
        url: Local folder or fsspec URL.
        storage_options: fsspec options for the URL.
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        import fsspec

        self.storage_options = dict(storage_options or {})
        self.local = "://" not in url or url.startswith("file://")
        if self.local:
            path = url[len("file://") :] if url.startswith("file://") else url
            self.url = os.path.abspath(os.path.expanduser(path))
        else:
            self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        self.root = self.root.rstrip("/")
        self._lock: Any = None

    def acquire(self) -> None:
        """Create the directory and, when local, lock it against a second service.

        Raises:
            ConfigError: Another service holds the directory.
            StorageError: The directory cannot be created.
        """
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the results directory {self.url}: {exc}", url=self.url
            ) from exc
        if not self.local:
            return
        import filelock

        lock = filelock.FileLock(os.path.join(self.root, LOCK))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout as exc:
            raise ConfigError(
                f"another query service is using the results directory {self.url}; give each "
                "service its own results_dir",
                url=self.url,
            ) from exc
        self._lock = lock

    def release(self) -> None:
        """Let another service use the directory."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def list_ids(self) -> list[str]:
        """Names of the query folders."""
        try:
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return []
        names = []
        for entry in entries:
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            if entry.get("type") == "directory" and not name.startswith("."):
                names.append(name)
        return sorted(names)

    def read_record(self, job_id: str) -> dict[str, Any] | None:
        """A query's record, or None when it is missing or unreadable."""
        path = f"{self.root}/{job_id}/{RECORD}"
        try:
            with self.fs.open(path, "rb") as f:
                data = json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            logger.warning("unreadable query record %s", path, exc_info=True)
            return None
        return data if isinstance(data, dict) and "id" in data else None

    def write_record(self, job_id: str, record: Mapping[str, Any]) -> None:
        """Replace a query's record in one step (readers see the old or the new one)."""
        body = json.dumps(record, indent=1, default=str).encode()
        folder = f"{self.root}/{job_id}"
        path = f"{folder}/{RECORD}"
        if self.local:
            tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                os.makedirs(folder, exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(body)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                error = disk_error(exc, path=path, root=self.url, kind="results folder")
                if error is not None:
                    raise error from exc
                raise
        else:
            # One PUT: object stores make it visible whole or not at all.
            self.fs.pipe_file(path, body)

    def result_url(self, job_id: str) -> str:
        """Where the warehouse writes this query's parts (``parts_dir``)."""
        return f"{self.url}/{job_id}/{RESULT}"

    def remove_result(self, job_id: str) -> None:
        """Delete a query's parts, keeping its record."""
        self._rm(f"{self.root}/{job_id}/{RESULT}")

    def remove(self, job_id: str) -> None:
        """Delete a query's folder."""
        self._rm(f"{self.root}/{job_id}")

    def part_path(self, manifest: Mapping[str, Any], index: int) -> str:
        """The path or URL of one part named in a manifest dict."""
        path = str(manifest["parts"][index]["path"])
        if "://" in path or path.startswith("/"):
            return path
        return f"{str(manifest['location']).rstrip('/')}/{path}"

    def parts_exist(self, manifest: Mapping[str, Any] | None) -> bool:
        """Whether every part of a manifest is still there."""
        if manifest is None:
            return False
        for index in range(len(manifest["parts"])):
            fs, path = self._fs_for(self.part_path(manifest, index))
            if not fs.exists(path):
                return False
        return True

    def open_part(self, path: str) -> IO[bytes]:
        """Open a part for reading (raises FileNotFoundError when it is gone)."""
        fs, inner = self._fs_for(path)
        handle: IO[bytes] = fs.open(inner, "rb")
        return handle

    def _fs_for(self, path: str) -> tuple[Any, str]:
        import fsspec

        if "://" not in path:
            return fsspec.filesystem("file"), path
        fs, inner = fsspec.core.url_to_fs(path, **self.storage_options)
        return fs, inner

    def _rm(self, path: str) -> None:
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        except OSError:
            logger.warning("could not delete %s", path, exc_info=True)
