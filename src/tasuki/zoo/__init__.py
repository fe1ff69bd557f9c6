"""A model zoo in the team's registry: immutable content-addressed model versions, aliases
with an audit log, mirrored into the MLflow Model Registry when tracking is configured.

    from tasuki import zoo

    v = zoo.push("bert-ja", train_task, alias="champion", description="BERT for Japanese")
    model = zoo.load("bert-ja@champion")        # or "bert-ja/3", or "bert-ja" (latest)
    zoo.find(dataset="product_a/clicks:1.2.0", metric=("ndcg", ">", 0.4))
    zoo.alias("bert-ja", "champion", 2, reason="rollback: v3 regressed on mobile")
    zoo.history("bert-ja", "champion")

The module-level functions use the ``registry`` and ``tracking_uri`` settings (those in
effect, else read once per call); :class:`Zoo` takes them explicitly. ``ZooModel`` makes a
zoo model a task parameter. Nothing heavy is imported here: MLflow only when mirroring or
loading an MLflow flavour, and ``tasuki.core`` only for ``ZooModel`` and task pushes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.zoo._aliases import AliasMove
from tasuki.zoo._errors import (
    AliasNotFoundError,
    CorruptModelError,
    MirrorError,
    MirrorWarning,
    ModelLoadError,
    ModelNotFoundError,
    VersionNotFoundError,
    ZooError,
)
from tasuki.zoo._version import ModelVersion
from tasuki.zoo._zoo import Zoo

if TYPE_CHECKING:
    from tasuki.zoo._param import ZooModel

__all__ = [
    "AliasMove",
    "AliasNotFoundError",
    "CorruptModelError",
    "MirrorError",
    "MirrorWarning",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelVersion",
    "VersionNotFoundError",
    "Zoo",
    "ZooError",
    "ZooModel",
    "alias",
    "find",
    "history",
    "load",
    "ls",
    "mirror",
    "pull",
    "push",
    "show",
]


def __getattr__(name: str) -> Any:
    # ZooModel is a Task: importing it imports tasuki.core, which reading the zoo never needs.
    if name == "ZooModel":
        from tasuki.zoo._param import ZooModel

        return ZooModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def push(name: str, model: Any, **options: Any) -> ModelVersion:
    """Push ``model`` as a version of ``name`` (see :meth:`Zoo.push` for the options)."""
    registry = options.pop("registry", None)
    tracking_uri = options.pop("tracking_uri", None)
    return Zoo(registry, tracking_uri=tracking_uri).push(name, model, **options)


def load(ref: str, *, registry: str | None = None) -> Any:
    """The model ``ref`` names (``bert-ja@champion``, ``bert-ja/3``, ``bert-ja``)."""
    return Zoo(registry, tracking_uri="").load(ref)


def show(ref: str, *, registry: str | None = None) -> dict[str, Any]:
    """Everything about the version ``ref`` names (see :meth:`Zoo.show`)."""
    return Zoo(registry, tracking_uri="").show(ref)


def ls(name: str | None = None, *, registry: str | None = None) -> list[dict[str, Any]]:
    """The models, or the versions of ``name`` (see :meth:`Zoo.ls`)."""
    return Zoo(registry, tracking_uri="").ls(name)


def find(*, registry: str | None = None, **filters: Any) -> list[ModelVersion]:
    """Versions by dataset, task, metric, name, owner (see :meth:`Zoo.find`)."""
    return Zoo(registry, tracking_uri="").find(**filters)


def pull(ref: str, dest: str, *, registry: str | None = None) -> ModelVersion:
    """Copy the files of ``ref`` into ``dest`` (see :meth:`Zoo.pull`)."""
    return Zoo(registry, tracking_uri="").pull(ref, dest)


def alias(
    name: str,
    alias: str,
    version: int | None,
    *,
    reason: str = "",
    registry: str | None = None,
    tracking_uri: str | None = None,
) -> AliasMove:
    """Move ``alias`` of ``name`` to ``version`` (see :meth:`Zoo.alias`)."""
    return Zoo(registry, tracking_uri=tracking_uri).alias(name, alias, version, reason=reason)


def history(name: str, alias: str, *, registry: str | None = None) -> list[AliasMove]:
    """Every move of ``alias``, oldest first (see :meth:`Zoo.history`)."""
    return Zoo(registry, tracking_uri="").history(name, alias)


def mirror(
    name: str,
    version: int | None = None,
    *,
    registry: str | None = None,
    tracking_uri: str | None = None,
) -> list[dict[str, Any]]:
    """Mirror ``name``'s versions into MLflow (see :meth:`Zoo.mirror`)."""
    return Zoo(registry, tracking_uri=tracking_uri).mirror(name, version)
