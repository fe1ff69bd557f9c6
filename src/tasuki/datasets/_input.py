"""``DatasetInput``: a published dataset split as a task, so pipelines are cached on data.

``DatasetInput(ref="product_a/clicks:1.2.*", split="train")`` resolves the reference when
it is constructed and keeps what it found in two parameters: ``resolved``
(``product_a/clicks#default:1.2.3``, not significant) and ``content_hash`` (significant).
Its unique id is therefore made of the version's content hash, the split, the columns and
the filter, never of the words of the reference: ``:1.2.3`` and ``:1.*`` naming the same
content are one task, and when ``:1.*`` comes to name a version with other rows, the id
moves and every task downstream runs again. A version re-published with the same rows under
a new number keeps the id: the cache survives a release that changes only notes.

Its run checks that the version is there with that content and writes a small JSON marker
naming it (so the run record, ``tasuki show`` and lineage name the dataset version, and the
tasks downstream can be reproduced by id); the rows stay in the registry. A task that
requires it (or takes it as a parameter) gets the loaded split from ``self.load()``, read
from the registry each time. Rebuilt from a definition in another process (``run-one``) or
from its record, it keeps the resolution made when it was first constructed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tasuki.core.params import param
from tasuki.core.targets import FileTarget
from tasuki.core.task import Task
from tasuki.errors import ConfigError, TaskError

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["DatasetInput", "DatasetTarget"]

FilterValue = str | int | float | bool | list[str] | list[int] | list[float]


@dataclass(frozen=True, repr=False)
class DatasetTarget(FileTarget):
    """A small JSON file in the workspace naming the dataset version (what the run record
    and lineage read); loading it loads the split from the registry instead."""

    resolved: str = ""
    split: str = ""
    columns: tuple[str, ...] | None = None
    filter: tuple[tuple[str, str, Any], ...] | None = None
    registry: str | None = None
    as_: str = "arrow"
    verify: str = "once"

    def load(self, store: Store, *, expected: Any = None) -> Any:
        """The split, read from the registry (Arrow, pandas or polars as ``as_`` says)."""
        from tasuki.datasets._load import load

        return load(
            self.resolved,
            self.split,
            columns=list(self.columns) if self.columns is not None else None,
            filter=[tuple(c) for c in self.filter] if self.filter else None,
            registry=self.registry,
            as_=self.as_,  # type: ignore[arg-type]
            verify=self.verify,  # type: ignore[arg-type]
        )


class DatasetInput(Task):
    """A split of a published dataset version, as a task (or a task parameter).

    Example:
        >>> class Train(tasuki.Task):
        ...     data: DatasetInput
        ...     def requires(self):
        ...         return self.data  # as any task parameter: built first, recorded
        ...     def run(self):
        ...         table = self.load()  # the split, a pyarrow.Table
        >>> Train(data=DatasetInput(ref="product_a/clicks:1.*", split="train[:80%]"))
        ... # doctest: +SKIP
    """

    ref: str = param(
        significant=False, description="NAME[#CONFIG][:VERSION], e.g. product_a/clicks:1.2.*"
    )
    split: str = param(description="split expression: train, train[:80%]+test, ...")
    columns: list[str] | None = param(default=None, description="columns to read (all)")
    filter: list[tuple[str, str, FilterValue]] | None = param(
        default=None, description='rows to keep: [("col", ">", 3), ...] (ANDed)'
    )
    as_: Literal["arrow", "pandas", "polars"] = param(
        default="arrow", description="what load() returns"
    )
    config: str | None = param(default=None, significant=False, description="config name")
    registry: str | None = param(
        default=None, significant=False, description="registry URL (the registry setting)"
    )
    verify: Literal["once", "always", "size"] = param(
        default="once", significant=False, description="shard hash checks"
    )
    resolved: str = param(
        default="",
        significant=False,
        description="the version the reference resolved to (filled in when constructed)",
    )
    content_hash: str = param(
        default="",
        description="content hash of that version (filled in when constructed): the identity",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.content_hash and self.resolved:
            return  # rebuilt from a definition: keep the resolution made at planning
        if self.content_hash or self.resolved:
            raise TaskError(
                f"DatasetInput(ref={self.ref!r}): resolved and content_hash come together "
                "(both filled in when the task is constructed); pass neither",
                task=type(self).task_name(),
            )
        from tasuki.datasets._load import _check_columns, _filter_expression
        from tasuki.datasets._splits import resolve_split
        from tasuki.datasets._versions import read_info, resolve

        version = resolve(self.ref, config=self.config, registry=self.registry)
        info = read_info(version)
        # Refuse a bad split, column or filter now, not when a downstream task runs.
        resolve_split(self.split, info.rows)
        _check_columns(self.columns, info, version)
        _filter_expression(self.filter, info, version)
        exact = f"{version.name}#{version.config}:{version.version}"
        object.__setattr__(self, "resolved", exact)
        object.__setattr__(self, "content_hash", info.content_hash)

    def output(self) -> DatasetTarget:
        """A JSON file naming the version; its load() is the split."""
        marker = self.make_target("dataset_input.json")
        return DatasetTarget(
            key=marker.key,
            format=marker.format,
            resolved=self.resolved,
            split=self.split,
            columns=tuple(self.columns) if self.columns is not None else None,
            filter=tuple(tuple(c) for c in self.filter) if self.filter else None,  # type: ignore[misc]
            registry=self.registry,
            as_=self.as_,
            verify=self.verify,
        )

    def run(self) -> None:
        """Check that the version is published with the content this task was made for, and
        write the marker (the run record then names the version, for lineage)."""
        from tasuki.datasets._location import registry_url
        from tasuki.datasets._splits import resolve_split
        from tasuki.datasets._versions import read_info, resolve

        try:
            info = read_info(resolve(self.resolved, registry=self.registry))
        except ConfigError as exc:
            raise TaskError(
                f"dataset version {self.resolved} is not in the registry any more ({exc}). "
                "Published versions are immutable, so it was deleted: re-publish it, or "
                f"reference another version (ref={self.ref!r} resolves again when the task "
                "is constructed anew).",
                task=type(self).task_name(),
                dataset=self.resolved,
            ) from exc
        if info.content_hash != self.content_hash:
            raise TaskError(
                f"dataset version {self.resolved} has content {info.content_hash[:12]} in the "
                f"registry, not {self.content_hash[:12]} as when this task was made: its "
                "dataset_info.json was replaced. Re-publish the original, or construct the "
                "task anew to use what is there now.",
                task=type(self).task_name(),
                dataset=self.resolved,
            )
        selected = sum(b - a for _, a, b in resolve_split(self.split, info.rows))
        self.task_log["rows"] = selected
        self.dump(
            {
                "dataset": self.resolved,
                "content_hash": self.content_hash,
                "registry": registry_url(self.registry),
                "split": self.split,
                "rows": selected,
            }
        )
