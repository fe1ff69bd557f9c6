"""One registry shape for every kind of plug-in: executors, formats, warehouses (and the
stores and trackers to come).

Shaped like fsspec's ``known_implementations`` + ``register_implementation``:

- **built-ins** map a name to ``"module:attr"`` (plus an install hint for optional extras) and
  are imported only when asked for;
- **entry points** in the kind's group (``tasuki.executors``...) add names; they never replace
  a built-in: one that tries is skipped with a warning naming its distribution (so installing
  a package cannot silently change what ``.parquet`` or ``local`` means);
- **runtime registration** (:meth:`Registry.register`) adds names too, and replaces an existing
  one only with ``clobber=True``: overriding is always explicit. Registering the very same
  target again is a no-op (a module imported twice, a service re-announcing its backends).

Lookup order is therefore: registered at runtime, built-in, entry point. An unknown name fails
with the known names, a "did you mean", and how to add one. It lives below ``core`` (beside
``errors``) so that ``formats`` and ``storage`` use it too.

Entry points are read once, on the first lookup that needs them (a built-in's name never
does). ``importlib.metadata`` costs ~15 ms to import and parses the entry points of every
installed distribution; a registry made with ``quick_scan=True`` first looks for the group's
header in the ``entry_points.txt`` files on ``sys.path`` (~1 ms), and parses nothing when no
distribution declares the group, which is the usual case.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from tasuki.errors import ConfigError, TasukiError

__all__ = ["Registry", "import_path", "lazy_attribute", "spec_of", "split_path"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def split_path(path: str, *, dotted: bool = False, bare_module: bool = False) -> tuple[str, str]:
    """``("package.module", "a.b")`` of ``"package.module:a.b"``, checking the form.

    Args:
        path: What to split.
        dotted: Also accept ``"package.module.attr"`` (no ``:``): the part after the last dot
            is the attribute.
        bare_module: Also accept ``"package.module"`` (no ``:``), which names the module
            itself: the attribute part is then ``""``.

    Raises:
        ImportError: ``path`` is not of the form (the message names it and the form).
    """
    module_name, sep, attr = path.partition(":")
    if not sep and dotted:
        module_name, _, attr = path.rpartition(".")
    elif not sep and bare_module:
        module_name, attr = path, ""
    names = module_name.split(".") + (attr.split(".") if attr or not bare_module else [])
    if not all(n.isidentifier() for n in names):
        raise ImportError(f"{path!r} is not of the form 'package.module:attr'")
    return module_name, attr


def import_path(path: str, *, dotted: bool = False, bare_module: bool = False) -> Any:
    """The object ``"package.module:attr"`` (or ``"package.module:a.b"``) names, importing
    its module. ``dotted`` and ``bare_module`` accept the other forms :func:`split_path` says.

    Raises:
        ImportError: ``path`` is not of the form, or its module cannot be imported.
        AttributeError: the module has no such attribute (the message names ``path``).
    """
    module_name, attr = split_path(path, dotted=dotted, bare_module=bare_module)
    obj: Any = importlib.import_module(module_name)
    where = module_name
    for part in attr.split(".") if attr else ():
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise AttributeError(
                f"{path!r} names nothing: {where} has no attribute {part!r}", name=part, obj=obj
            ) from exc
        where = f"{where}.{part}"
    return obj


def lazy_attribute(package: str, lazy: Mapping[str, str], name: str) -> Any:
    """A package's ``__getattr__``: ``name`` from the module ``lazy`` maps it to, imported on
    first use (``def __getattr__(name): return lazy_attribute(__name__, _LAZY, name)``).

    Raises:
        AttributeError: ``lazy`` does not list ``name``.
    """
    module = lazy.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}", name=name)
    return import_path(f"{module}:{name}")


def spec_of(obj: object) -> str:
    """``"module:qualname"`` of a class or function (a string is returned as it is)."""
    if isinstance(obj, str):
        return obj
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}:{qualname}"
    return repr(obj)


class _KnownView(Mapping[str, str]):
    """Live, read-only view of a registry: name -> ``"module:attr"``, sorted by name."""

    def __init__(self, registry: Registry[Any]) -> None:
        self._registry = registry

    def __getitem__(self, name: str) -> str:
        return spec_of(self._registry._merged()[name])

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._registry._merged()))

    def __len__(self) -> int:
        return len(self._registry._merged())

    def __contains__(self, name: object) -> bool:
        return name in self._registry._merged()

    def __repr__(self) -> str:
        return f"<known {self._registry.kind}s: {dict(self)!r}>"


class Registry(Generic[T]):
    """Named plug-ins of one kind.

    Args:
        kind: What the entries are, for messages (``"executor"``).
        group: The entry-point group third parties add to (``"tasuki.executors"``); None
            reads no entry points (a registry fixed by the embedding program or a test).
        builtins: Name -> ``"module:attr"`` of the plug-ins tasuki ships.
        hints: Name -> what to install when a built-in's module cannot be imported.
        normalise: Maps every name (built-in, entry point, registered, looked up) to its one
            spelling (``str.lower`` for URL schemes); a name it refuses raises its error, and
            an entry point it refuses is skipped with a warning.
        error: The error raised for a taken name, an unknown one or one that cannot be
            loaded (a :class:`~tasuki.errors.ConfigError` unless the kind has its own).
        field: The name the error carries the entry's name under (``"scheme"``...).
        quick_scan: Look for the group in ``entry_points.txt`` files before asking
            ``importlib.metadata`` (see the module docstring).

    Example:
        >>> executors = Registry("executor", "tasuki.executors", {"inline": "pkg.mod:Inline"})
        >>> executors.register("mine", MyExecutor)  # doctest: +SKIP
    """

    def __init__(
        self,
        kind: str,
        group: str | None,
        builtins: Mapping[str, str],
        *,
        hints: Mapping[str, str] | None = None,
        normalise: Callable[[str], str] | None = None,
        error: type[TasukiError] = ConfigError,
        field: str = "name",
        quick_scan: bool = False,
    ) -> None:
        self.kind = kind
        self.group = group
        self._normalise: Callable[[str], str] = normalise or str
        self._builtins = {self._normalise(name): path for name, path in builtins.items()}
        self._hints = {self._normalise(name): hint for name, hint in (hints or {}).items()}
        self._error = error
        self._field = field
        self._quick_scan = quick_scan
        self._registered: dict[str, T | str] = {}
        self._entry_points: dict[str, str] | None = None if group else {}  # read on first need
        self._entry_point_origins: dict[str, str] = {}
        self._lock = threading.RLock()
        self.version = 0
        """Changes whenever what a name resolves to may have changed (a registration, the
        first read of the entry points): caches built over the registry compare it."""

    @property
    def known(self) -> Mapping[str, str]:
        """Every name, with where it comes from (``module:attr``); a live, read-only view."""
        return _KnownView(self)

    @property
    def entry_points_loaded(self) -> bool:
        """Whether the entry-point group has been read (on the first lookup that needs it)."""
        return self._entry_points is not None

    def register(self, name: str, obj: T | str, *, clobber: bool = False) -> None:
        """Add ``obj`` (or a ``"module:attr"`` path to it) under ``name``.

        Raises:
            ConfigError (or the kind's error): ``name`` is taken (built-in, entry point or
                registered) by something else and ``clobber`` is False.
        """
        name = self._normalise(name)
        with self._lock:
            existing = self._source(name)
            if existing is not None and spec_of(existing) == spec_of(obj):
                return
            if existing is not None and not clobber:
                raise self._error(
                    f"{self.kind} {name!r} is already registered; pass clobber=True to replace "
                    f"it (it is {spec_of(existing)}, {self.origin(name)})",
                    kind=self.kind,
                    existing=spec_of(existing),
                    **{self._field: name},
                )
            self._registered[name] = obj
            self.version += 1

    def get(self, name: str) -> T:
        """The plug-in called ``name``, imported on first use.

        Raises:
            ConfigError (or the kind's error): no such name (the message lists the known
                ones and how to add one), or its module cannot be imported (with the install
                hint of a built-in).
        """
        name = self._normalise(name)
        source = self._source(name)
        if source is None:
            raise self._unknown(name)
        if not isinstance(source, str):
            return source
        try:
            obj: T = import_path(source)
        except ImportError as exc:
            hint = self._hints.get(name)
            raise self._error(
                f"{self.kind} {name!r} ({source}, {self.origin(name)}) cannot be loaded: its "
                f"module cannot be imported: {type(exc).__name__}: {exc}"
                + (f". Install it with: {hint}" if hint else ""),
                kind=self.kind,
                path=source,
                missing=exc.name,
                **{self._field: name},
            ) from exc
        except AttributeError as exc:
            raise self._error(
                f"{self.kind} {name!r} ({source}, {self.origin(name)}) cannot be loaded: {exc}",
                kind=self.kind,
                path=source,
                **{self._field: name},
            ) from exc
        return obj

    def knows_without_scanning(self, name: str) -> bool:
        """Whether ``name`` is built in or registered (never reads the entry points: an entry
        point cannot replace either)."""
        return name in self._registered or name in self._builtins

    def origin(self, name: str) -> str:
        """Where ``name`` comes from, for messages: ``register()``, ``built-in`` or the entry
        point and its distribution."""
        name = self._normalise(name)
        if name in self._registered:
            return "register()"
        if name in self._builtins:
            return "built-in"
        return self._entry_point_origins.get(name, "an entry point")

    def _source(self, name: str) -> T | str | None:
        found = self._registered.get(name)
        if found is None:
            found = self._builtins.get(name)
        if found is None:  # only now: a built-in's name never reads the entry points
            found = self._discover().get(name)
        return found

    def _merged(self) -> dict[str, T | str]:
        return {**self._discover(), **self._builtins, **self._registered}

    def _discover(self) -> dict[str, str]:
        found = self._entry_points
        if found is not None:
            return found
        with self._lock:
            if self._entry_points is not None:
                return self._entry_points
            found = {}
            origins: dict[str, str] = {}
            group = self.group or ""
            if group and (not self._quick_scan or _may_declare(group)):
                # Imported here, not at the top: ~15 ms that most processes never need.
                import importlib.metadata

                for ep in importlib.metadata.entry_points(group=group):
                    dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
                    origin = f"entry point '{ep.name} = {ep.value}' from {dist}"
                    try:
                        name = self._normalise(ep.name)
                    except (TasukiError, ValueError, TypeError) as exc:
                        logger.warning("%s in group %s is ignored: %s", origin, group, exc)
                        continue
                    if name in self._builtins:
                        logger.warning(
                            "%s in group %s is ignored: %r is a built-in %s; register it under "
                            "another name, or replace the built-in explicitly with "
                            "register(..., clobber=True)",
                            origin,
                            group,
                            name,
                            self.kind,
                        )
                        continue
                    if name in found:
                        if found[name] != ep.value:  # not the same distribution seen twice
                            logger.warning(
                                "%s in group %s is ignored: %s already provides %s %r",
                                origin,
                                group,
                                origins[name],
                                self.kind,
                                name,
                            )
                        continue
                    found[name], origins[name] = ep.value, origin
            self._entry_point_origins = origins
            self._entry_points = found
            self.version += 1
        return found

    def _unknown(self, name: str) -> TasukiError:
        import difflib  # only on this error path

        known = sorted(self._merged())
        close = difflib.get_close_matches(name, known, n=1)
        how = (
            f" Add one with an entry point in the group {self.group!r} (pyproject.toml: "
            f'[project.entry-points."{self.group}"] {name} = "package.module:Class").'
            if self.group
            else " Add one with register()."
        )
        return self._error(
            f"unknown {self.kind} {name!r}. Known: {', '.join(known) or 'none'}."
            + (f" Did you mean {close[0]!r}?" if close else "")
            + how,
            kind=self.kind,
            known=known,
            group=self.group,
            **{self._field: name},
        )


def _may_declare(group: str) -> bool:
    """Whether an installed distribution may declare entry points in ``group``.

    ``importlib.metadata.entry_points`` parses the entry points of every installed
    distribution (several milliseconds with a few hundred installed, plus ~15 ms to import
    it), a cost every build would pay for a group that is usually empty. Reading the
    ``entry_points.txt`` files of the folders on ``sys.path`` for the group's header answers
    "surely none" much faster; anything it cannot read (a zip or egg on the path) answers
    "maybe", and then ``importlib.metadata`` decides.
    """
    header = f"[{group}]".encode()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:
            return True
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(entry or ".", name, "entry_points.txt"), "rb") as f:
                    if header in f.read():
                        return True
            except NotADirectoryError:  # an .egg-info file (old distutils metadata)
                return True
            except OSError:
                continue
    return False
