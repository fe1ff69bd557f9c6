"""What a published dataset version is: its ``dataset_info.json``, and where its files live.

The layout inside the registry (``registry`` setting; any fsspec URL)::

    <registry>/datasets/<name>/<config>/<version>/dataset_info.json
    <registry>/datasets/<name>/<config>/shards/<hash[:2]>/<hash>.parquet

A version exists once its ``dataset_info.json`` exists: publishing writes the shards first
and the info last, in one conditional create, so a reader never sees half a version. Shards
are content-addressed and shared by the versions of one config: a version that changes one
shard of eight writes that one. A shard's hash is the xxh3-128 of its Parquet bytes; the
version's ``content_hash`` covers the schema and every split's shard hashes in order, so two
versions with the same rows in the same shards have the same content hash (what
``DatasetInput``'s unique id is made of), whatever their release notes or build time.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tasuki.errors import ConfigError

__all__ = [
    "INFO_FILE",
    "ColumnInfo",
    "DatasetInfo",
    "ShardInfo",
    "SplitInfo",
    "check_config_name",
    "check_name",
    "config_dir",
    "info_path",
    "shard_path",
    "version_dir",
]

INFO_FILE = "dataset_info.json"
#: Version of the ``dataset_info.json`` layout; a reader refuses a newer one by name.
INFO_FORMAT = 1

_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*$")
_CONFIG = re.compile(r"^[a-z][a-z0-9_]*$")


def check_name(name: str) -> str:
    """``name`` when it is a valid dataset name (``product_a/clicks``), else a ConfigError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a dataset name: use lower-case segments of letters, digits and "
            "'_', each starting with a letter, separated by '/' (for example "
            "'product_a/clicks')",
            dataset=name,
        )
    return name


def check_config_name(config: str) -> str:
    """``config`` when it is a valid config name (``default``, ``jp_only``)."""
    if not isinstance(config, str) or not _CONFIG.match(config):
        raise ConfigError(
            f"{config!r} is not a dataset config name: use lower-case letters, digits and "
            "'_', starting with a letter (for example 'default' or 'jp_only')",
            config=config,
        )
    return config


def config_dir(registry: str, name: str, config: str) -> str:
    """``<registry>/datasets/<name>/<config>``: the versions and shards of one config."""
    return f"{registry.rstrip('/')}/datasets/{check_name(name)}/{check_config_name(config)}"


def version_dir(registry: str, name: str, config: str, version: str) -> str:
    """``<registry>/datasets/<name>/<config>/<version>``."""
    return f"{config_dir(registry, name, config)}/{version}"


def info_path(registry: str, name: str, config: str, version: str) -> str:
    """Where the ``dataset_info.json`` of a version lives."""
    return f"{version_dir(registry, name, config, version)}/{INFO_FILE}"


def shard_path(registry: str, name: str, config: str, digest: str) -> str:
    """Where the shard with content hash ``digest`` lives (shared by the config's versions)."""
    return f"{config_dir(registry, name, config)}/shards/{digest[:2]}/{digest}.parquet"


@dataclass(frozen=True)
class ShardInfo:
    """One Parquet file of a split."""

    hash: str
    """xxh3-128 of the file's bytes (hex); also its file name."""
    rows: int
    bytes: int


@dataclass(frozen=True)
class SplitInfo:
    """One split (``train``, ``test``...): its shards in order and their total."""

    rows: int
    shards: list[ShardInfo]
    tasks: list[str] = field(default_factory=list)
    """Unique ids of the tasks that produced the split's rows."""

    @property
    def hash(self) -> str:
        """sha256 over the shard hashes in order: the split's content."""
        return hashlib.sha256("\n".join(s.hash for s in self.shards).encode()).hexdigest()


@dataclass(frozen=True)
class ColumnInfo:
    """A column: its Arrow type (as ``str(pa.DataType)``), nullability and its documentation."""

    type: str
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """The ``dataset_info.json`` of one published version.

    Args:
        name: ``product_a/clicks``.
        config: The named config built (``default`` when the builder has none).
        version: ``MAJOR.MINOR.PATCH``.
        columns: Column name -> type, nullability and documentation, in schema order.
        splits: Split name -> its shards.
        description: The builder's description (Markdown).
        release_notes: This version's release note.
        builder: ``{"class": "pkg.mod:Builder", "code_fingerprint": ...}``.
        sources: What the rows came from: ``{"task": uid, "query": sql, "warehouse": name,
            "snapshot_at": iso time}`` per source the producing tasks' records name.
        schema_ipc: The Arrow schema, IPC-serialised and base64-encoded (exact types and
            metadata, which ``columns`` renders as text).
        created_at: When it was published (ISO 8601, UTC).
        tasuki_version: The tasuki that published it.
    """

    name: str
    config: str
    version: str
    columns: dict[str, ColumnInfo]
    splits: dict[str, SplitInfo]
    description: str = ""
    release_notes: str = ""
    builder: dict[str, str] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    schema_ipc: str = ""
    created_at: str = ""
    tasuki_version: str = ""

    @property
    def content_hash(self) -> str:
        """sha256 of the schema and every split's shard hashes: equal for equal rows in equal
        shards, whatever the notes or the time (a ``DatasetInput``'s identity)."""
        doc = {
            "schema": self.schema_ipc or [[k, asdict(v)] for k, v in self.columns.items()],
            "splits": {k: [s.hash for s in v.shards] for k, v in sorted(self.splits.items())},
        }
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(body).hexdigest()

    @property
    def rows(self) -> dict[str, int]:
        """Rows per split."""
        return {k: v.rows for k, v in self.splits.items()}

    def to_json(self) -> bytes:
        """The file's bytes (sorted keys, the content hash included for readers' eyes).

        ``columns`` is written as a list, in schema order: as a JSON object under sorted keys
        it would come back in alphabetical order.
        """
        doc = asdict(self)
        doc["columns"] = [{"name": k, **asdict(v)} for k, v in self.columns.items()]
        doc["format"] = INFO_FORMAT
        doc["content_hash"] = self.content_hash
        return json.dumps(doc, sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes | str, *, where: str = "dataset_info.json") -> DatasetInfo:
        """Parse a ``dataset_info.json``.

        Raises:
            ConfigError: not JSON, a newer layout, a missing field, or a ``content_hash``
                that does not match the shards it lists (the message names ``where``).
        """
        try:
            doc = json.loads(data)
            fmt = doc.pop("format", None)
            if fmt != INFO_FORMAT:
                raise ConfigError(
                    f"{where} has layout format {fmt!r}; this tasuki reads format "
                    f"{INFO_FORMAT}. Upgrade tasuki to read it.",
                    path=where,
                )
            stated = doc.pop("content_hash", None)
            info = cls(
                **{
                    **doc,
                    "columns": _columns(doc["columns"]),
                    "splits": {
                        k: SplitInfo(
                            rows=v["rows"],
                            shards=[ShardInfo(**s) for s in v["shards"]],
                            tasks=list(v.get("tasks", [])),
                        )
                        for k, v in doc["splits"].items()
                    },
                }
            )
        except ConfigError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(
                f"{where} is not a valid dataset_info.json ({type(exc).__name__}: {exc})",
                path=where,
            ) from None
        if stated is not None and stated != info.content_hash:
            raise ConfigError(
                f"{where} states content hash {stated[:16]}... but its shards give "
                f"{info.content_hash[:16]}...: the file was edited by hand or damaged",
                path=where,
            )
        return info


def _columns(raw: Any) -> dict[str, ColumnInfo]:
    """Columns as written: a list in schema order (a mapping is read too, in its order)."""
    if isinstance(raw, dict):
        return {k: ColumnInfo(**v) for k, v in raw.items()}
    out: dict[str, ColumnInfo] = {}
    for entry in raw:
        entry = dict(entry)
        name = str(entry.pop("name"))
        out[name] = ColumnInfo(**entry)
    return out
