"""Publishing a version: immutability, the semver rules, and the one atomic step.

A version exists once its ``dataset_info.json`` exists, and that file is written last, in
one conditional create (a local hard link that refuses an existing name; S3 ``PutObject``
with ``If-None-Match: *``; GCS ``ifGenerationMatch=0``; ``open(..., "xb")`` on other fsspec
file systems). Of two builds publishing the same version at once exactly one creates it; the
other then compares contents like any later build would:

- the same content (same ``content_hash``: schema and shards) is a no-op that says so;
- other content is refused, naming the version and both hashes: published versions are
  immutable, publish a new version instead.

Semver is enforced where it can be checked: against the version it follows in the same
major (the greatest published below it), a minor or patch release must keep the schema and the
rows per split (a change in either needs a new major version).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasuki.datasets._builder import parse_semver
from tasuki.datasets._info import INFO_FILE, DatasetInfo, config_dir, info_path
from tasuki.datasets._shards import registry_key, schema_from_ipc
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = [
    "PublishOutcome",
    "check_semver",
    "create_exclusive",
    "publish_info",
    "published_versions",
    "read_info",
]


def published_versions(registry: Store, name: str, config: str) -> list[str]:
    """The published versions of a config (those whose ``dataset_info.json`` exists),
    oldest first by semver; folders that are not versions are ignored."""
    prefix = registry_key(registry.url, config_dir(registry.url, name, config))
    found: list[str] = []
    if registry.is_local:
        try:
            entries = os.listdir(registry.full_path(prefix))
        except FileNotFoundError:
            return []
        for entry in entries:
            if os.path.exists(registry.full_path(f"{prefix}/{entry}/{INFO_FILE}")):
                found.append(entry)
    else:
        for key in registry.list(prefix):
            rest = key[len(prefix) + 1 :]
            version, _, file = rest.partition("/")
            if file == INFO_FILE:
                found.append(version)
    versions = []
    for version in found:
        try:
            versions.append((parse_semver(version), version))
        except ConfigError:
            continue  # not a version folder (``shards``, a stray folder)
    return [v for _, v in sorted(versions)]


def read_info(registry: Store, name: str, config: str, version: str) -> DatasetInfo:
    """The ``dataset_info.json`` of a published version (FileNotFoundError when absent)."""
    path = info_path(registry.url, name, config, version)
    return DatasetInfo.from_json(registry.read_bytes(registry_key(registry.url, path)), where=path)


def create_exclusive(registry: Store, key: str, data: bytes) -> bool:
    """Create ``key`` holding ``data`` unless it exists, in one atomic step.

    Returns:
        True when this call created it, False when it existed (nothing is written then).
    """
    if registry.is_local:
        path = registry.full_path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link() refuses an existing name: the whole file appears at once, or not at all.
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True
    fs = registry.fs  # type: ignore[attr-defined]
    path = fs._strip_protocol(registry.full_path(key))
    protocol = getattr(registry, "protocol", "")
    if protocol in ("s3", "s3a", "gs", "gcs"):
        from tasuki.storage._object_lease import GcsOps, S3Ops

        ops = S3Ops(fs) if protocol.startswith("s3") else GcsOps(fs)
        return ops.create(path, data) is not None
    try:
        with fs.open(path, "xb") as f:
            f.write(data)
    except FileExistsError:
        return False
    return True


def _order(info: DatasetInfo) -> list[str]:
    if not info.schema_ipc:
        return sorted(info.columns)
    return list(schema_from_ipc(info.schema_ipc).names)


def _schema_changes(old: DatasetInfo, new: DatasetInfo) -> list[str]:
    changes = []
    for column in old.columns:
        if column not in new.columns:
            changes.append(f"column {column!r} was removed")
        elif old.columns[column].type != new.columns[column].type:
            changes.append(
                f"column {column!r} changed type {old.columns[column].type} -> "
                f"{new.columns[column].type}"
            )
        elif old.columns[column].nullable != new.columns[column].nullable:
            changes.append(f"column {column!r} changed nullability")
    changes += [f"column {c!r} was added" for c in new.columns if c not in old.columns]
    # Column order from the schemas: ``columns`` comes back from the JSON with sorted keys.
    if not changes and _order(old) != _order(new):
        changes.append("the columns were reordered")
    if not changes and old.schema_ipc != new.schema_ipc:
        changes.append("the Arrow schema changed (field metadata or exact types)")
    return changes


def check_semver(registry: Store, info: DatasetInfo, versions: list[str]) -> str | None:
    """Refuse a minor or patch release that changes the schema or the rows per split.

    Returns:
        The published version compared with, or None (a new major, or the first version).

    Raises:
        ConfigError: the schema or rows per split differ from the version it follows in the
            same major (naming the columns or splits, and a major version not yet taken).
    """
    new = parse_semver(info.version)
    major = new[0]
    same_major = [v for v in versions if parse_semver(v)[0] == major and v != info.version]
    if not same_major:
        return None
    # The version this one follows: the greatest below it (a backport 1.0.1 published after
    # 1.2.0 follows 1.0.0), else the lowest of its major. ``versions`` is in semver order.
    below = [v for v in same_major if parse_semver(v) < new]
    base = below[-1] if below else same_major[0]
    old = read_info(registry, info.name, info.config, base)
    where = f"dataset {info.name!r} (config {info.config!r}) version {info.version}"
    # A major that is not taken yet (2.0.0 may exist when 1.0.1 is being published).
    bump = f"{max(parse_semver(v)[0] for v in [*versions, info.version]) + 1}.0.0"
    changes = _schema_changes(old, info)
    if changes:
        raise ConfigError(
            f"{where} changes the schema of {base}: {'; '.join(changes)}. A schema change "
            f"needs a new major version: set VERSION = {bump!r} (with a release note)",
            dataset=info.name,
            version=info.version,
            compared_with=base,
        )
    split_changes = [
        f"split {split!r}: {old.rows.get(split, 0)} -> {info.rows.get(split, 0)} rows"
        for split in sorted(set(old.rows) | set(info.rows))
        if old.rows.get(split) != info.rows.get(split)
    ]
    if split_changes:
        raise ConfigError(
            f"{where} gives other rows per split than {base}: {'; '.join(split_changes)}. A "
            "minor or patch release must keep the rows per split; different data needs a new "
            f"major version: set VERSION = {bump!r} (with a release note)",
            dataset=info.name,
            version=info.version,
            compared_with=base,
        )
    return base


@dataclass(frozen=True)
class PublishOutcome:
    """What :func:`publish_info` did."""

    info: DatasetInfo
    """The version's info: the one written, or the one already published (same content)."""
    created: bool
    """False when the same content was published already (nothing written)."""
    compared_with: str | None = None
    """The earlier version of the same major the semver rules were checked against."""


def _refuse_other(published: DatasetInfo, info: DatasetInfo) -> ConfigError:
    return ConfigError(
        f"dataset {info.name!r} (config {info.config!r}) version {info.version} is already "
        f"published with other content: published content hash {published.content_hash}, "
        f"this build's {info.content_hash}. Published versions are immutable: bump VERSION "
        "(and add a release note) to publish this content",
        dataset=info.name,
        version=info.version,
        published_hash=published.content_hash,
        new_hash=info.content_hash,
    )


def publish_info(registry: Store, info: DatasetInfo) -> PublishOutcome:
    """Check immutability and semver, then create the version's ``dataset_info.json``.

    The shards it lists must be in the registry already (they are written first).

    Raises:
        ConfigError: the version exists with other content, or the semver rules refuse it.
    """
    path = info_path(registry.url, info.name, info.config, info.version)
    key = registry_key(registry.url, path)
    versions = published_versions(registry, info.name, info.config)
    if info.version in versions:
        published = read_info(registry, info.name, info.config, info.version)
        if published.content_hash != info.content_hash:
            raise _refuse_other(published, info)
        return PublishOutcome(published, created=False)
    base = check_semver(registry, info, versions)
    if create_exclusive(registry, key, info.to_json()):
        return PublishOutcome(info, created=True, compared_with=base)
    # Another build created it between our look and our create: compare with what it wrote.
    published = read_info(registry, info.name, info.config, info.version)
    if published.content_hash != info.content_hash:
        raise _refuse_other(published, info)
    return PublishOutcome(published, created=False, compared_with=base)
