"""One registry shape for every kind of plug-in (executors now; formats, stores, warehouses
and trackers are meant to move onto it).

Shaped like fsspec's ``known_implementations`` + ``register_implementation``:

- **built-ins** map a name to ``"module:attr"`` (plus an install hint for optional extras) and
  are imported only when asked for;
- **entry points** in the kind's group (``tasuki.executors``...) add names; they never replace
  a built-in: one that tries is skipped with a warning naming its distribution;
- **runtime registration** (:meth:`Registry.register`) adds names too, and replaces an existing
  one only with ``clobber=True``: overriding is always explicit.

Lookup order is therefore: registered at runtime, built-in, entry point. An unknown name fails
with the known names, a "did you mean", and how to add one. It lives below ``core`` (beside
``errors``) so that ``formats`` and ``storage`` can adopt it too.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from tasuki.errors import ConfigError

__all__ = ["Registry"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _import_path(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named plug-ins of one kind.

    Args:
        kind: What the entries are, for messages (``"executor"``).
        group: The entry-point group third parties add to (``"tasuki.executors"``).
        builtins: Name -> ``"module:attr"`` of the plug-ins tasuki ships.
        hints: Name -> what to install when a built-in's module cannot be imported.

    Example:
        >>> executors = Registry("executor", "tasuki.executors", {"inline": "pkg.mod:Inline"})
        >>> executors.register("mine", MyExecutor)  # doctest: +SKIP
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, str],
        *,
        hints: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)
        self._hints = dict(hints or {})
        self._registered: dict[str, T | str] = {}
        self._entry_points: dict[str, str] | None = None  # read once, on first need

    @property
    def known(self) -> Mapping[str, str]:
        """Every name, with where it comes from (``module:attr`` or a repr); read-only."""
        found: dict[str, str] = {}
        found.update(self._discover())
        found.update(self._builtins)
        for name, obj in self._registered.items():
            found[name] = obj if isinstance(obj, str) else repr(obj)
        return MappingProxyType(dict(sorted(found.items())))

    def register(self, name: str, obj: T | str, *, clobber: bool = False) -> None:
        """Add ``obj`` (or a ``"module:attr"`` path to it) under ``name``.

        Raises:
            ConfigError: ``name`` is taken (built-in, entry point or registered) and
                ``clobber`` is False.
        """
        taken = name in self._registered or name in self._builtins or name in self._discover()
        if taken and not clobber:
            raise ConfigError(
                f"{self.kind} {name!r} is already registered; pass clobber=True to replace it",
                kind=self.kind,
                name=name,
            )
        self._registered[name] = obj

    def get(self, name: str) -> T:
        """The plug-in called ``name``, imported on first use.

        Raises:
            ConfigError: no such name (the message lists the known ones and how to add one),
                or its module cannot be imported (with the install hint of a built-in).
        """
        source: T | str | None = self._registered.get(name)
        if source is None:
            source = self._builtins.get(name)
        if source is None:
            source = self._discover().get(name)
        if source is None:
            raise self._unknown(name)
        if not isinstance(source, str):
            return source
        try:
            obj: T = _import_path(source)
        except (ImportError, AttributeError) as exc:
            hint = self._hints.get(name)
            raise ConfigError(
                f"{self.kind} {name!r} ({source}) cannot be loaded: {exc}"
                + (f". Install it with: {hint}" if hint else ""),
                kind=self.kind,
                name=name,
                path=source,
            ) from exc
        return obj

    def _discover(self) -> dict[str, str]:
        if self._entry_points is None:
            found: dict[str, str] = {}
            for ep in importlib.metadata.entry_points(group=self.group):
                if ep.name in self._builtins:
                    dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
                    logger.warning(
                        "entry point %r = %r in group %s (from %s) is ignored: %r is a built-in "
                        "%s; register it under another name, or replace the built-in "
                        "explicitly with register(..., clobber=True)",
                        ep.name,
                        ep.value,
                        self.group,
                        dist,
                        ep.name,
                        self.kind,
                    )
                    continue
                found[ep.name] = ep.value
            self._entry_points = found
        return self._entry_points

    def _unknown(self, name: str) -> ConfigError:
        known = list(self.known)
        close = difflib.get_close_matches(name, known, n=1)
        return ConfigError(
            f"unknown {self.kind} {name!r}. Known: {', '.join(known) or 'none'}."
            + (f" Did you mean {close[0]!r}?" if close else "")
            + f" Add one with an entry point in the group {self.group!r} (pyproject.toml: "
            f'[project.entry-points."{self.group}"] {name} = "package.module:Class").',
            kind=self.kind,
            name=name,
            known=known,
            group=self.group,
        )
