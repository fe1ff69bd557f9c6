"""``tasuki.datasets.build``: build a builder's split tasks and publish a version.

One build is a tasuki build: each task the builder names for a split (a partition) gets a
:class:`~tasuki.datasets._shards.WriteShards` task downstream of it, and the runner builds
them all through the configured executor (parallel over ``workers``, cached in the
workspace, each producing task and shard writer run once). Then, in this process:

1. the shard manifests are read (a few KB each) and checked: one schema for every split;
2. every shard they name is checked to be in the registry (a manifest cached in the
   workspace while the registry lost a shard reruns its shard task);
3. the ``dataset_info.json`` is made: schema, columns with their docs, rows and shards per
   split with the producing tasks' ids, the builder's class and code fingerprint, the source
   queries read from the tasks' run records, the release note, the time, tasuki's version;
4. it is published in one conditional create (:mod:`~tasuki.datasets._publish`).

A task that fails fails the build before step 1: nothing is published (shards already
uploaded are content-addressed files no version lists; a later build reuses them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact, redact_json
from tasuki.config import Settings, load_settings, with_overrides
from tasuki.core.loading import load
from tasuki.core.records import RunRecord, now_iso
from tasuki.core.runner import run_build
from tasuki.datasets._builder import DatasetBuilder
from tasuki.datasets._discover import find_builder
from tasuki.datasets._info import (
    ColumnInfo,
    DatasetInfo,
    ShardInfo,
    SplitInfo,
    shard_path,
)
from tasuki.datasets._publish import PublishOutcome, publish_info
from tasuki.datasets._shards import WriteShards, registry_key, schema_from_ipc
from tasuki.errors import ConfigError, TaskFailedError
from tasuki.storage import open_store

if TYPE_CHECKING:
    from tasuki.core.executors import Executor
    from tasuki.core.results import BuildResult
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = ["DatasetBuild", "build", "build_dataset", "builder_fingerprint"]

logger = logging.getLogger(__name__)

_SOURCE_PARAMS = ("sql", "query")


@dataclass(frozen=True)
class DatasetBuild:
    """What :func:`build_dataset` did."""

    info: DatasetInfo
    """The published version's info."""
    created: bool
    """False when the version was published already with the same content (a no-op)."""
    written: int
    """Shards this build uploaded to the registry."""
    reused: int
    """Shards the version lists that were in the registry already (or cached)."""
    registry: str
    result: BuildResult
    """The tasuki build that produced the shards."""
    compared_with: str | None = None
    """The earlier version of the same major the semver rules compared with."""

    def summary(self) -> str:
        """Lines for people: the version, rows per split, shards written and reused."""
        info = self.info
        what = "published" if self.created else "already published with this content (no-op)"
        lines = [f"{info.name}:{info.version} (config {info.config}) {what}"]
        lines.append(f"  registry: {redact(self.registry)}")
        for split, rows in info.rows.items():
            lines.append(f"  {split}: {rows:,} rows, {len(info.splits[split].shards)} shards")
        lines.append(f"  shards: {self.written} written, {self.reused} reused")
        lines.append(f"  content hash: {info.content_hash}")
        return "\n".join(lines)


def builder_fingerprint(cls: type[DatasetBuilder]) -> str:
    """16 hex characters that change when the builder's code (and the code of its package it
    names) changes, normalised like task fingerprints (comments and docstrings do not count)."""
    from tasuki.core.code import class_fingerprint

    return class_fingerprint(cls).digest


def _builder_of(name_or_builder: Any, config: str | None) -> DatasetBuilder:
    if isinstance(name_or_builder, DatasetBuilder):
        if config is not None and config != name_or_builder.config_name:
            raise ConfigError(
                f"build() was given a {type(name_or_builder).__name__} for config "
                f"{name_or_builder.config_name!r} and config={config!r}; pass one of them",
                config=config,
            )
        return name_or_builder
    if isinstance(name_or_builder, type) and issubclass(name_or_builder, DatasetBuilder):
        return name_or_builder(config)
    if isinstance(name_or_builder, str):
        return find_builder(name_or_builder)(config)
    raise ConfigError(
        f"build() takes a dataset name, a DatasetBuilder subclass or instance, not "
        f"{type(name_or_builder).__name__} {name_or_builder!r}",
        value=repr(name_or_builder),
    )


def _registry_url(url: str) -> str:
    # Shard tasks carry the registry as a parameter: a local folder is made absolute so that
    # their ids (and their worker processes) do not depend on the current directory.
    if "://" in url and not url.startswith("file://"):
        return url.rstrip("/")
    path = url[len("file://") :] if url.startswith("file://") else url
    return os.path.abspath(os.path.expanduser(path))


def _sources(result: BuildResult, store: Store) -> list[dict[str, Any]]:
    """What the rows came from: each upstream task whose record or value names a query."""
    sources = []
    for uid in result.graph.order:
        task = result.graph.nodes[uid].task
        if isinstance(task, WriteShards):
            continue
        try:
            record: RunRecord | None = RunRecord.read(store, uid)
        except (FileNotFoundError, ValueError):
            record = None
        params = dict(record.params) if record is not None else {}
        query = next((params.get(p) for p in _SOURCE_PARAMS if params.get(p)), None)
        if query is None:
            query = next((getattr(task, p, None) for p in _SOURCE_PARAMS), None)
        if not isinstance(query, str):
            continue
        warehouse = params.get("warehouse", getattr(task, "warehouse", None))
        source: dict[str, Any] = {
            "task": uid,
            "task_name": type(task).task_name(),
            "query": query,
            "warehouse": redact(warehouse) if warehouse else None,
            "as_of": params.get("as_of", getattr(task, "as_of", None)) or None,
            # When the query ran: its record's start (a cached pull keeps its first run's).
            "snapshot_at": record.started_at if record is not None else None,
        }
        if params.get("params") is not None:
            source["params"] = redact_json(params["params"])
        if record is not None and "rows" in record.task_log:
            source["rows"] = record.task_log["rows"]
        sources.append(source)
    return sources


def _check_schemas(
    manifests: dict[str, list[tuple[WriteShards, dict[str, Any]]]], builder: DatasetBuilder
) -> Any:
    first: tuple[str, Any, Any] | None = None
    for split, entries in manifests.items():
        for task, manifest in entries:
            schema = schema_from_ipc(manifest["schema_ipc"])
            if first is None:
                first = (split, task.source, schema)
                continue
            if not schema.equals(first[2]):
                old = {f.name: str(f.type) for f in first[2]}
                new = {f.name: str(f.type) for f in schema}
                diff = sorted({c for c in old.keys() | new.keys() if old.get(c) != new.get(c)}) or [
                    "(order or nullability)"
                ]
                raise ConfigError(
                    f"{builder.spec()}: the tasks of one dataset must give one schema, but "
                    f"{task.source!r} (split {split!r}) differs from {first[1]!r} (split "
                    f"{first[0]!r}) in columns {', '.join(diff)}: "
                    + "; ".join(
                        f"{c}: {new.get(c, 'absent')} in it, {old.get(c, 'absent')} in {first[0]!r}"
                        for c in diff
                    )
                    + ". Cast them to the same types in the tasks",
                    builder=builder.spec(),
                    split=split,
                    columns=diff,
                )
    assert first is not None  # split_tasks() refuses an empty split
    return first[2]


def _columns(schema: Any, builder: DatasetBuilder) -> dict[str, ColumnInfo]:
    names = list(schema.names)
    unknown = sorted(set(builder.columns) - set(names))
    if unknown:
        raise ConfigError(
            f"{builder.spec()}.columns documents {', '.join(map(repr, unknown))}, which the "
            f"data does not have (its columns: {', '.join(names)}); fix the name or remove "
            "the entry",
            builder=builder.spec(),
            columns=unknown,
        )
    return {
        f.name: ColumnInfo(str(f.type), f.nullable, builder.columns.get(f.name, "")) for f in schema
    }


def build_dataset(
    name_or_builder: str | type[DatasetBuilder] | DatasetBuilder,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    executor: str | Executor | None = None,
    workspace: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    rerun: bool | Iterable[str] | None = None,
    hooks: Sequence[Any] = (),
    **overrides: Any,
) -> DatasetBuild:
    """:func:`build`, returning what was done (written and reused shards, the build)."""
    builder = _builder_of(name_or_builder, config)
    given = {"registry": registry, "workers": workers, "workspace": workspace, **overrides}
    settings = load_settings(given) if settings is None else with_overrides(settings, given)
    url = _registry_url(settings.registry)
    cls = type(builder)
    splits = builder.split_tasks()
    shard_tasks = {
        split: [
            WriteShards(
                source=task,
                registry=url,
                dataset=cls.name,
                config=builder.config_name,
                shard_rows=cls.SHARD_ROWS,
            )
            for task in tasks
        ]
        for split, tasks in splits.items()
    }
    everything = [t for tasks in shard_tasks.values() for t in tasks]
    what = f"dataset {cls.name!r} version {cls.VERSION} (config {builder.config_name!r})"
    result = _run(everything, settings, executor, hooks, rerun, what)
    store = open_store(result.workspace)
    reg = open_store(url)
    manifests = {
        split: [(t, load(t, store=store)) for t in tasks] for split, tasks in shard_tasks.items()
    }
    lost = _lost_shards(reg, cls.name, builder.config_name, manifests)
    if lost:
        logger.warning(
            "%d shard task(s) of %s are cached but their shards are missing from %s; "
            "writing them again",
            len(lost),
            what,
            redact(url),
        )
        again = _run(lost, settings, executor, hooks, [t.unique_id for t in lost], what)
        result.results.update(again.results)
        manifests = {
            split: [(t, load(t, store=store)) for t in tasks]
            for split, tasks in shard_tasks.items()
        }
    schema = _check_schemas(manifests, builder)
    info = DatasetInfo(
        name=cls.name,
        config=builder.config_name,
        version=cls.VERSION,
        columns=_columns(schema, builder),
        splits={
            split: SplitInfo(
                rows=sum(m["rows"] for _, m in entries),
                shards=[ShardInfo(h, r, b) for _, m in entries for h, r, b in m["shards"]],
                tasks=[t.source.unique_id for t, _ in entries],
            )
            for split, entries in manifests.items()
        },
        description=cls.description,
        release_notes=cls.RELEASE_NOTES[cls.VERSION],
        builder={"class": cls.spec(), "code_fingerprint": builder_fingerprint(cls)},
        sources=_sources(result, store),
        schema_ipc=entries_schema(manifests),
        created_at=now_iso(),
        tasuki_version=_tasuki_version(),
    )
    outcome: PublishOutcome = publish_info(reg, info)
    ran = {uid for uid, r in result.results.items() if r.status == "ran"}
    written = sum(
        m["written"] for entries in manifests.values() for t, m in entries if t.unique_id in ran
    )
    total = sum(len(s.shards) for s in info.splits.values())
    done = DatasetBuild(
        outcome.info,
        outcome.created,
        written,
        total - written,
        url,
        result,
        outcome.compared_with,
    )
    logger.info("%s", done.summary())
    return done


def entries_schema(manifests: dict[str, list[tuple[WriteShards, dict[str, Any]]]]) -> str:
    """The ``schema_ipc`` the manifests share (checked equal before)."""
    return str(next(iter(next(iter(manifests.values()))))[1]["schema_ipc"])


def _tasuki_version() -> str:
    import tasuki

    return tasuki.__version__


def _lost_shards(
    reg: Store,
    name: str,
    config: str,
    manifests: dict[str, list[tuple[WriteShards, dict[str, Any]]]],
) -> list[WriteShards]:
    tasks = [t for entries in manifests.values() for t, _ in entries]
    keys = [
        [registry_key(reg.url, shard_path(reg.url, name, config, h)) for h, _, _ in m["shards"]]
        for entries in manifests.values()
        for _, m in entries
    ]
    flat = [k for ks in keys for k in ks]
    present = dict(zip(flat, reg.exists_many(flat), strict=True)) if flat else {}
    lost = {
        t.unique_id: t for t, ks in zip(tasks, keys, strict=True) if not all(present[k] for k in ks)
    }
    return list(lost.values())


def _run(
    tasks: list[WriteShards],
    settings: Settings,
    executor: str | Executor | None,
    hooks: Sequence[Any],
    rerun: bool | Iterable[str] | None,
    what: str,
) -> BuildResult:
    roots: list[Task] = list(tasks)
    result = run_build(roots, settings=settings, executor=executor, hooks=hooks, rerun=rerun)
    if result.ok:
        return result
    failed = result.by_status("failed")
    first = failed[0] if failed else None
    cause = f"{first.error.type}: {first.error.message}" if first and first.error else ""
    task = result.graph.nodes[first.uid].task if first else None
    raise TaskFailedError(
        f"{what} was not published: {len(failed)} task(s) failed"
        + (f"; first: {task!r}: {cause}" if first else "")
        + f"\n{result.summary()}",
        failed=[r.uid for r in failed],
        cause_type=first.error.type if first and first.error else "",
        cause_message=first.error.message if first and first.error else "",
    )


def build(
    name_or_builder: str | type[DatasetBuilder] | DatasetBuilder,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    *,
    workers: int | None = None,
    executor: str | Executor | None = None,
    workspace: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    rerun: bool | Iterable[str] | None = None,
    hooks: Sequence[Any] = (),
    **overrides: Any,
) -> DatasetInfo:
    """Build a dataset's splits and publish its ``VERSION`` to the registry.

    Args:
        name_or_builder: A dataset name (``"product_a/clicks"``, found through
            :func:`find_builder`), a builder class, or a builder instance.
        config: The config to build (default: ``"default"``, or the builder's only one).
        registry: Folder or fsspec URL of the registry; default: the ``registry`` setting.
        workers: Worker processes for the split tasks (default: the ``workers`` setting).
        executor: Executor name or instance (default: the ``executor`` setting).
        workspace: Where the tasks' outputs are cached (default: the ``workspace`` setting).
        settings: Resolved settings (the arguments above still win over them).
        rerun: Rerun tasks as :func:`tasuki.build` does (``True``, names or ids).
        hooks: Build observers (notifications, tracking).
        **overrides: Other settings keys (``progress="off"``...).

    Returns:
        The published version's :class:`DatasetInfo` (the existing one when the same content
        was published already: that is a no-op, logged as such).

    Raises:
        ConfigError: unknown dataset or config, a bad builder, a schema that differs between
            tasks, the version published with other content, or a minor / patch release that
            changes the schema or the rows per split.
        TaskFailedError: a split task failed; nothing was published.

    Example:
        >>> info = tasuki.datasets.build("product_a/clicks", registry="s3://team/registry")
        >>> info.rows
        {'train': 8000000, 'test': 2000000}
    """
    return build_dataset(
        name_or_builder,
        config,
        registry,
        workers=workers,
        executor=executor,
        workspace=workspace,
        settings=settings,
        rerun=rerun,
        hooks=hooks,
        **overrides,
    ).info
