"""A zoo model as a task parameter: ``ZooModel(ref="bert-ja@champion")``.

``ZooModel`` is a task whose output is a model version in the zoo. Its unique id is made of
the model name and the version's **content hash** (the reference itself is not significant),
resolved when the value is made: a fine-tune task that takes ``encoder: ZooModel`` gets a new
id when ``champion`` moves to other weights, and keeps its cache while it points at the same
files. Nothing in ``tasuki.core`` knows about it: its output is a target outside the
workspace (like a warehouse table), present whenever the version is in the registry, so a
build never runs it; ``self.load(self.encoder)`` inside the fine-tune task (which requires it)
returns the model.

A task value written to the workspace and rebuilt elsewhere (``tasuki run-one``) carries the
content hash it was made with, so it names the same files even after the alias moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tasuki.core.params import param
from tasuki.core.targets import OutputInfo, Target
from tasuki.core.task import Task
from tasuki.zoo._version import parse_ref

if TYPE_CHECKING:
    from tasuki.core.targets import Expected
    from tasuki.storage.base import Store
    from tasuki.zoo._version import ModelVersion
    from tasuki.zoo._zoo import Zoo

__all__ = ["ZooModel", "ZooTarget"]


def _zoo(registry: str) -> Zoo:
    from tasuki.zoo._zoo import Zoo

    # Reading the model needs no MLflow: mirroring is for pushes.
    return Zoo(registry or None, tracking_uri="")


@dataclass(frozen=True, repr=False)
class ZooTarget(Target):
    """A model version in the zoo, as a task output outside the workspace."""

    key: str
    model: str
    content_hash: str
    registry: str = ""
    in_store: ClassVar[bool] = False

    def _version(self) -> ModelVersion | None:
        return _zoo(self.registry).by_hash(self.model, self.content_hash)

    def exists(self, store: Store) -> bool:
        """Whether the registry holds a version of the model with this content hash."""
        return self._version() is not None

    def info(self, store: Store) -> OutputInfo:
        """What a run record keeps: ``zoo:<name>/<version>``, its size and kind ``model``."""
        version = self._version()
        size = version.size if version is not None else 0
        return OutputInfo(self.key, size, None, kind="model")

    def load(self, store: Store, *, expected: Expected | None = None) -> Any:
        """The model, every file verified against its version.json."""
        from tasuki.zoo._errors import VersionNotFoundError

        zoo = _zoo(self.registry)
        version = zoo.by_hash(self.model, self.content_hash)
        if version is None:
            raise VersionNotFoundError(
                f"the zoo at {zoo.registry.url} has no version of {self.model!r} with content "
                f"{self.content_hash[:12]} (the one this task was made with)",
                model=self.model,
                version=self.content_hash,
                versions=zoo.versions(self.model),
            )
        return zoo.load_version(version)

    def remove(self, store: Store) -> None:
        """Never removes anything: zoo versions are immutable and outlive any workspace."""


class ZooModel(Task):
    """A model version from the zoo, usable as a task parameter.

    ``ZooModel(ref="bert-ja@champion")`` resolves the reference when it is made (the
    ``registry`` setting in effect, or ``registry=``) and keeps the version's content hash;
    that hash, with the model name, is its identity.

    Example:
        >>> class FineTune(tasuki.Task):
        ...     encoder: ZooModel
        ...     def requires(self):
        ...         return self.encoder
        ...     def run(self):
        ...         base = self.load(self.encoder)
    """

    ref: str = param(significant=False, description="bert-ja, bert-ja/3 or bert-ja@champion")
    model: str = param(default="", description="model name (filled from ref)")
    content_hash: str = param(default="", description="the version's content hash (resolved)")
    registry: str = param(
        default="", significant=False, description="registry URL (default: the setting)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.content_hash:
            # Resolved once, when the value is made: the id must not change under a
            # running build if the alias moves meanwhile.
            version = _zoo(self.registry).resolve(self.ref)
            object.__setattr__(self, "model", version.name)
            object.__setattr__(self, "content_hash", version.content_hash)
        elif not self.model:
            object.__setattr__(self, "model", parse_ref(self.ref).name)

    def output(self) -> ZooTarget:
        """The version in the zoo (outside the workspace: never written by a build)."""
        return ZooTarget(
            f"zoo:{self.model}#{self.content_hash[:12]}",
            self.model,
            self.content_hash,
            self.registry,
        )

    def run(self) -> None:
        """Nothing to compute: the version is complete once pushed (a build never calls
        this while the version exists)."""
