"""Query results: a manifest of Parquet parts, read back part by part.

A result is complete when its manifest exists; a manifest names every part with its row
count and size, so readers (and the query service later) never guess from a listing.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import itertools
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from tasuki.errors import WarehouseError
from tasuki.warehouse._fs import filesystem, join_url
from tasuki.warehouse._memory import read_pool

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow.fs as pafs

__all__ = ["MANIFEST_NAME", "Manifest", "PartInfo", "QueryResult", "new_query_id"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "_manifest.json"
MANIFEST_FORMAT = "tasuki.query-manifest"
MANIFEST_VERSION = 1
DEFAULT_BATCH_SIZE = 65_536


def new_query_id() -> str:
    """A unique id that sorts by start time: ``20240101T120000-3f2a9c1b7d4e``."""
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class PartInfo:
    """One Parquet part of a result.

    Attributes:
        path: Local path or URL of the file.
        rows: Rows in the file.
        bytes: Size of the file.
    """

    path: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """What a query produced: schema, parts, counts and times.

    Attributes:
        query_id: Unique id of the run (also the parts' directory name).
        backend: ``"duckdb"``, ``"postgresql"``, ``"redshift"`` or ``"bigquery"``.
        sql: The normalised SQL (placeholders, never values).
        schema: Arrow schema of every part.
        parts: The parts, in result order.
        snapshot_at: When the data was read: the transaction start on the server where
            known (PostgreSQL ``now()``), else when the query was sent. UTC.
        finished_at: When the last part was closed. UTC.
        location: Directory or URL prefix holding the parts.
        params: The parameters as JSON values (dates as ISO text), or None.
    """

    query_id: str
    backend: str
    sql: str
    schema: pa.Schema
    parts: tuple[PartInfo, ...]
    snapshot_at: dt.datetime
    finished_at: dt.datetime
    location: str
    params: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        """Rows over all parts."""
        return sum(p.rows for p in self.parts)

    @property
    def total_bytes(self) -> int:
        """Bytes over all parts."""
        return sum(p.bytes for p in self.parts)

    @property
    def schema_json(self) -> list[dict[str, Any]]:
        """The schema as ``[{"name", "type", "nullable"}, ...]`` with Arrow type names."""
        return [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in self.schema]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; part paths inside :attr:`location` are stored relative to it."""
        prefix = self.location.rstrip("/") + "/"
        parts = [
            {
                "path": p.path[len(prefix) :] if p.path.startswith(prefix) else p.path,
                "rows": p.rows,
                "bytes": p.bytes,
            }
            for p in self.parts
        ]
        return {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "query_id": self.query_id,
            "backend": self.backend,
            "sql": self.sql,
            "params": self.params,
            "snapshot_at": self.snapshot_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "total_rows": self.total_rows,
            "total_bytes": self.total_bytes,
            "location": self.location,
            "schema": {
                "fields": self.schema_json,
                "arrow": base64.b64encode(self.schema.serialize().to_pybytes()).decode(),
            },
            "parts": parts,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, location: str | None = None) -> Manifest:
        """Rebuild a manifest; relative part paths resolve against ``location``.

        Raises:
            WarehouseError: Not a tasuki manifest, or a newer version than this code reads.
        """
        if data.get("format") != MANIFEST_FORMAT:
            raise WarehouseError(
                f"not a tasuki query manifest (format {data.get('format')!r}, expected "
                f"{MANIFEST_FORMAT!r})",
                format=data.get("format"),
            )
        if int(data.get("version", 0)) > MANIFEST_VERSION:
            raise WarehouseError(
                f"manifest version {data['version']} is newer than this tasuki reads "
                f"({MANIFEST_VERSION}); upgrade tasuki",
                version=data["version"],
            )
        base = location or str(data["location"])
        parts = tuple(
            PartInfo(
                path=p["path"] if _is_absolute(p["path"]) else join_url(base, p["path"]),
                rows=int(p["rows"]),
                bytes=int(p["bytes"]),
            )
            for p in data["parts"]
        )
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(data["schema"]["arrow"])))
        return cls(
            query_id=str(data["query_id"]),
            backend=str(data["backend"]),
            sql=str(data["sql"]),
            schema=schema,
            parts=parts,
            snapshot_at=dt.datetime.fromisoformat(data["snapshot_at"]),
            finished_at=dt.datetime.fromisoformat(data["finished_at"]),
            location=base,
            params=data.get("params"),
            extra=dict(data.get("extra") or {}),
        )


class QueryResult:
    """The parts of one query result, read back lazily.

    Nothing is read until asked for; :meth:`iter_batches` and :meth:`iter_rows` hold one row
    group at a time, so memory stays bounded however large the result is. :meth:`to_arrow`,
    :meth:`to_pandas` and :meth:`to_polars` load everything.

    Args:
        manifest: The result's manifest.
        storage_options: fsspec options for reading parts from URLs (credentials,
            ``endpoint_url``); never written to the manifest.
    """

    def __init__(
        self, manifest: Manifest, *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        self.manifest = manifest
        self.storage_options = dict(storage_options or {})

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"QueryResult(query_id={m.query_id!r}, backend={m.backend!r}, rows={m.total_rows}, "
            f"parts={len(m.parts)}, bytes={m.total_bytes})"
        )

    @property
    def query_id(self) -> str:
        """The run's unique id."""
        return self.manifest.query_id

    @property
    def schema(self) -> pa.Schema:
        """Arrow schema of the result."""
        return self.manifest.schema

    @property
    def num_rows(self) -> int:
        """Rows in the result."""
        return self.manifest.total_rows

    @property
    def parts(self) -> tuple[PartInfo, ...]:
        """The Parquet parts, in order."""
        return self.manifest.parts

    def iter_batches(
        self, batch_size: int = DEFAULT_BATCH_SIZE, *, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``batch_size`` rows, part by part.

        Args:
            batch_size: Largest batch to yield.
            columns: Read only these columns.
        """
        for part in self.manifest.parts:
            if part.rows == 0:
                continue
            fs, path = self._filesystem(part.path)
            with fs.open_input_file(path) as file:
                reader = pq.ParquetFile(file)
                yield from reader.iter_batches(
                    batch_size=batch_size,
                    columns=list(columns) if columns is not None else None,
                    use_threads=True,
                )

    def iter_rows(self, *, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts of column name to Python value, part by part."""
        for batch in self.iter_batches(columns=columns):
            yield from batch.to_pylist()

    def to_arrow(self, *, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole result as one Arrow table."""
        import pyarrow.dataset as ds  # pulls in pandas: only where a result is read whole

        wanted = list(columns) if columns is not None else None
        located = [self._filesystem(part.path) for part in self.manifest.parts if part.rows]
        if not located:
            schema = self.schema
            if wanted is not None:
                schema = pa.schema([schema.field(c) for c in wanted])
            return schema.empty_table()
        # One dataset over all parts, so the next part is decoded while this one finishes;
        # a scan keeps the parts' order. Parts on different file systems (a manifest moved
        # by hand) are read one run of file system at a time.
        tables = [
            ds.dataset([path for _, path in run], filesystem=fs, format="parquet").to_table(
                columns=wanted, memory_pool=read_pool()
            )
            for fs, run in itertools.groupby(located, key=lambda item: item[0])
        ]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def to_pandas(self, **kwargs: Any) -> pd.DataFrame:
        """The whole result as a pandas DataFrame (``kwargs`` go to ``Table.to_pandas``).

        The conversion allocates from the read pool too (see :mod:`._memory`; 5 M rows took
        1.25 s instead of 1.5 s), unless ``memory_pool`` is given.
        """
        kwargs.setdefault("memory_pool", read_pool())
        frame: pd.DataFrame = self.to_arrow().to_pandas(**kwargs)
        return frame

    def to_polars(self) -> pl.DataFrame:
        """The whole result as a polars DataFrame."""
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        if not isinstance(frame, pl.DataFrame):  # from_arrow gives a Series for arrays only
            raise WarehouseError("polars returned a Series for a table", type=type(frame))
        return frame

    def save_manifest(self, path: str | None = None) -> str:
        """Write the manifest as JSON (default: ``<location>/_manifest.json``).

        Saved in the result's own directory, part paths are relative to it, so the folder
        can be moved whole. Saved anywhere else, part paths (and the location) are written
        absolute, so :meth:`from_manifest` finds the parts from the new place.

        Returns:
            The path or URL written.
        """
        target = path or join_url(self.manifest.location, MANIFEST_NAME)
        fs, fs_path = filesystem(target, self.storage_options)
        parent = fs_path.rsplit("/", 1)[0]
        if parent:
            fs.create_dir(parent, recursive=True)
        data = self.manifest.to_dict()
        if not _same_place(_parent(target), self.manifest.location):
            data["location"] = _absolute(self.manifest.location)
            data["parts"] = [
                {"path": _absolute(p.path), "rows": p.rows, "bytes": p.bytes}
                for p in self.manifest.parts
            ]
        body = json.dumps(data, indent=2).encode()
        tmp = f"{fs_path}.tmp-{uuid.uuid4().hex[:8]}"
        with fs.open_output_stream(tmp) as out:
            out.write(body)
        fs.move(tmp, fs_path)
        return target

    @classmethod
    def from_manifest(
        cls, path: str, *, storage_options: Mapping[str, Any] | None = None
    ) -> QueryResult:
        """Open a result from its saved manifest.

        Relative part paths resolve against the manifest's directory, so a result folder can
        be moved or copied as a whole.

        Raises:
            FileNotFoundError: No manifest at ``path``.
            WarehouseError: The file is not a tasuki manifest.
        """
        fs, fs_path = filesystem(path, storage_options)
        with fs.open_input_stream(fs_path) as stream:
            try:
                data = json.loads(stream.read())
            except json.JSONDecodeError as exc:
                raise WarehouseError(
                    f"{path} is not a JSON query manifest: {exc}", path=path
                ) from exc
        manifest = Manifest.from_dict(data, location=_parent(path))
        return cls(manifest, storage_options=storage_options)

    def remove(self) -> None:
        """Delete the parts and the manifest (the directory, when it holds nothing else)."""
        fs, path = self._filesystem(self.manifest.location)
        try:
            fs.delete_dir(path)
        except (FileNotFoundError, OSError):
            logger.debug("removing %s failed", self.manifest.location, exc_info=True)

    def _filesystem(self, location: str) -> tuple[pafs.FileSystem, str]:
        # fsspec caches file system instances, so this is cheap per part.
        return filesystem(location, self.storage_options)


def jsonable(value: Any) -> Any:
    """Parameters as JSON values: dates and times as ISO text, Decimal and UUID as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return repr(value)


def _is_absolute(path: str) -> bool:
    return "://" in path or path.startswith("/")


def _parent(path: str) -> str:
    """The directory (or URL prefix) holding ``path``."""
    return path.rstrip("/").rsplit("/", 1)[0] if "/" in path else "."


def _absolute(path: str) -> str:
    """``path`` as an absolute local path; URLs are returned as they are."""
    if "://" in path and not path.startswith("file://"):
        return path
    local = path[len("file://") :] if path.startswith("file://") else path
    return os.path.abspath(os.path.expanduser(local))


def _same_place(a: str, b: str) -> bool:
    """Whether two directories or URL prefixes are the same (local paths normalised)."""
    return _absolute(a).rstrip("/") == _absolute(b).rstrip("/")
