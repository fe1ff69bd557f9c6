"""Finding dataset builders by name: entry points, runtime registration.

The registry has the shape of every other tasuki registry (:mod:`tasuki._registry`):
registered at runtime first, then built-ins (none ship), then the entry-point group
``tasuki.datasets``, so ``pip install team-datasets`` makes its builders loadable::

    [project.entry-points."tasuki.datasets"]
    "product_a.clicks" = "team_datasets.clicks:Clicks"

An entry point's name is the dataset name with ``.`` (or ``/``) between its segments; both
spell the same name, since dataset names never contain a dot.
"""

from __future__ import annotations

from typing import Any

from tasuki._registry import Registry, spec_of
from tasuki.datasets._builder import DatasetBuilder, check_builder
from tasuki.datasets._info import check_name
from tasuki.errors import ConfigError

__all__ = ["builder_names", "builders", "find_builder", "register_builder"]


def _normalise(name: str) -> str:
    return check_name(name.replace(".", "/"))


#: The builders known by name; ``builders.known`` is the read-only view.
builders: Registry[Any] = Registry(
    "dataset builder",
    "tasuki.datasets",
    {},
    normalise=_normalise,
    field="dataset",
    quick_scan=True,
)


def register_builder(cls: type[DatasetBuilder], *, clobber: bool = False) -> type[DatasetBuilder]:
    """Make ``cls`` findable by its ``name`` (usable as a class decorator).

    Raises:
        ConfigError: ``cls`` is not a valid builder (naming the attribute), or its name is
            taken by another builder and ``clobber`` is False.
    """
    if not (isinstance(cls, type) and issubclass(cls, DatasetBuilder)):
        raise ConfigError(
            f"register_builder() takes a DatasetBuilder subclass, not {cls!r}",
            value=repr(cls),
        )
    check_builder(cls)
    builders.register(cls.name, cls, clobber=clobber)
    return cls


def find_builder(name: str) -> type[DatasetBuilder]:
    """The builder class of dataset ``name`` (``product_a/clicks``).

    Raises:
        ConfigError: no builder has that name (the message lists the known ones and the
            closest), its module cannot be imported, or what it names is not a valid
            builder for that name.
    """
    found = builders.get(name)
    key = _normalise(name)
    where = f"dataset builder {key!r} ({spec_of(found)}, {builders.origin(key)})"
    if not (isinstance(found, type) and issubclass(found, DatasetBuilder)):
        raise ConfigError(
            f"{where} is not a DatasetBuilder subclass; point the entry point at one",
            dataset=key,
        )
    check_builder(found)
    if found.name != key:
        raise ConfigError(
            f"{where} declares name {found.name!r}; the entry point must carry the same "
            f"name ({found.name.replace('/', '.')!r})",
            dataset=key,
        )
    return found


def builder_names() -> list[str]:
    """Every known dataset name (registered and from installed packages), sorted."""
    return sorted(builders.known)
