"""Which format reads and writes a file, chosen by the end of its name.

Shaped like ``fsspec/registry.py``: built-in formats are named by ``"module:Class"``
strings and imported on first use; third-party packages add formats through the
``tasuki.formats`` entry-point group (entry-point name = extension, value =
``module:Class``), read once, on the first lookup rather than at import; ``register``
adds or replaces one at runtime; :func:`known_formats` is a read-only view.

When two sources name the same extension, a runtime ``register`` wins over an entry point,
which wins over the built-in entry, so a plugin may provide a faster ``.parquet``.

Declaring a format in a package's ``pyproject.toml``::

    [project.entry-points."tasuki.formats"]
    yaml = "mypkg.formats:YamlFormat"
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from tasuki.errors import FormatError, UnknownFormatError

if TYPE_CHECKING:
    from tasuki.formats.base import Format

__all__ = [
    "BUILTIN_FORMATS",
    "ENTRY_POINT_GROUP",
    "FormatRegistry",
    "default_registry",
    "format_for",
    "known_formats",
    "register",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tasuki.formats"

_P = "tasuki.formats."
BUILTIN_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        ".pkl": _P + "_pickle:PickleFormat",
        ".pickle": _P + "_pickle:PickleFormat",
        ".pkl.gz": _P + "_pickle:GzipPickleFormat",
        ".json": _P + "_text:JsonFormat",
        ".json.gz": _P + "_text:GzipJsonFormat",
        ".txt": _P + "_text:TextFormat",
        ".txt.gz": _P + "_text:GzipTextFormat",
        ".csv": _P + "_csv:CsvFormat",
        ".csv.gz": _P + "_csv:GzipCsvFormat",
        ".tsv": _P + "_csv:TsvFormat",
        ".tsv.gz": _P + "_csv:GzipTsvFormat",
        ".parquet": _P + "_arrow:ParquetFormat",
        ".feather": _P + "_arrow:FeatherFormat",
        ".arrow": _P + "_arrow:ArrowIpcFormat",
        ".npy": _P + "_numpy:NpyFormat",
        ".npz": _P + "_numpy:NpzFormat",
    }
)
"""Extension -> ``"module:Class"`` of every format shipped with tasuki."""


class _Entry(NamedTuple):
    target: str | type[Any]  # "module:Class" until first use, or the class itself
    origin: str  # where it came from, for messages: built-in, entry point, register()


def _spec(target: str | type[Any]) -> str:
    if isinstance(target, str):
        return target
    return f"{target.__module__}:{target.__qualname__}"


def normalise_extension(extension: str) -> str:
    """``"CSV.gz"`` -> ``".csv.gz"``; raises FormatError for a malformed extension."""
    if not isinstance(extension, str):
        raise FormatError(
            f"a format extension must be a str such as '.parquet', got {extension!r}",
            extension=extension,
        )
    ext = extension.strip().lower()
    if not ext.startswith("."):
        ext = "." + ext
    if ext == "." or ".." in ext or ext.endswith(".") or any(c in ext for c in "/\\ \t\n"):
        raise FormatError(
            f"{extension!r} is not a valid format extension: use dot-separated parts without "
            "slashes or spaces, such as '.parquet' or '.csv.gz'",
            extension=extension,
        )
    return ext


def _import_target(spec: str) -> Any:
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ImportError(f"{spec!r} is not of the form 'module:Class'")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


def _missing_members(instance: Any) -> list[str]:
    return [
        member
        for member in ("name", "extensions", "dump", "load", "is_empty")
        if not hasattr(instance, member)
    ]


class _KnownFormats(Mapping[str, str]):
    """Live, read-only view: extension -> ``"module:Class"``."""

    def __init__(self, registry: FormatRegistry) -> None:
        self._registry = registry

    def __getitem__(self, extension: str) -> str:
        return _spec(self._registry._merged()[extension].target)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._registry._merged()))

    def __len__(self) -> int:
        return len(self._registry._merged())

    def __repr__(self) -> str:
        return f"known_formats({dict(self)!r})"


class FormatRegistry:
    """Maps file-name extensions to formats.

    Most code uses the module-level :func:`format_for`, :func:`register` and
    :func:`known_formats`, which act on :data:`default_registry`. A separate instance is
    useful for tests and for embedding tasuki with a fixed set of formats.

    Args:
        builtins: Extension -> ``"module:Class"`` entries to start from.
        entry_point_group: Entry-point group read on first lookup; None reads none.
    """

    def __init__(
        self,
        builtins: Mapping[str, str] = BUILTIN_FORMATS,
        *,
        entry_point_group: str | None = ENTRY_POINT_GROUP,
    ) -> None:
        self._builtin = {
            normalise_extension(ext): _Entry(spec, "built-in") for ext, spec in builtins.items()
        }
        self._plugins: dict[str, _Entry] = {}
        self._runtime: dict[str, _Entry] = {}
        self._instances: dict[str, Format] = {}
        self._group = entry_point_group
        self._plugins_loaded = entry_point_group is None
        self._longest_first: list[str] | None = None
        self._lock = threading.RLock()

    @property
    def entry_points_loaded(self) -> bool:
        """Whether the entry-point group has been read (it is, on the first lookup)."""
        return self._plugins_loaded

    def _load_entry_points(self) -> None:
        if self._plugins_loaded:
            return
        with self._lock:
            if self._plugins_loaded:
                return
            if not _may_declare(self._group or ""):
                self._plugins_loaded = True
                return
            import importlib.metadata  # not at import: it costs ~10 ms, often for nothing

            for ep in importlib.metadata.entry_points(group=self._group or ""):
                dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
                origin = f"entry point '{ep.name} = {ep.value}' from {dist}"
                try:
                    ext = normalise_extension(ep.name)
                except FormatError:
                    logger.warning("ignoring %s: its name is not a file extension", origin)
                    continue
                if ext in self._plugins:
                    if self._plugins[ext].target == ep.value:
                        continue  # the same distribution seen twice on sys.path
                    logger.warning(
                        "ignoring %s: %s already provides %s",
                        origin,
                        self._plugins[ext].origin,
                        ext,
                    )
                    continue
                self._plugins[ext] = _Entry(ep.value, origin)
            self._plugins_loaded = True
            self._longest_first = None
            self._instances.clear()

    def _merged(self) -> dict[str, _Entry]:
        self._load_entry_points()
        with self._lock:
            return {**self._builtin, **self._plugins, **self._runtime}

    def known(self) -> Mapping[str, str]:
        """A live read-only mapping of extension -> ``"module:Class"``."""
        return _KnownFormats(self)

    def register(self, extension: str, cls: type[Any] | str, clobber: bool = False) -> None:
        """Add a format for ``extension`` (see the module-level :func:`register`)."""
        ext = normalise_extension(extension)
        if isinstance(cls, str):
            if ":" not in cls:
                raise FormatError(
                    f"cannot register {cls!r} for {ext}: a format given as a string must be "
                    "'module:Class'",
                    extension=ext,
                )
        elif not isinstance(cls, type):
            raise FormatError(
                f"cannot register {cls!r} for {ext}: pass the format class (or "
                "'module:Class'), not an instance",
                extension=ext,
            )
        existing = self._merged().get(ext)
        with self._lock:
            if existing is not None and _spec(existing.target) != _spec(cls) and not clobber:
                raise FormatError(
                    f"cannot register {_spec(cls)} for {ext}: {ext} is already handled by "
                    f"{_spec(existing.target)} ({existing.origin}); pass clobber=True to "
                    "replace it",
                    extension=ext,
                    existing=_spec(existing.target),
                )
            self._runtime[ext] = _Entry(cls, "register()")
            self._instances.pop(ext, None)
            self._longest_first = None

    def _extensions_longest_first(self) -> list[str]:
        order = self._longest_first
        if order is None:
            order = sorted(self._merged(), key=lambda ext: (-len(ext), ext))
            self._longest_first = order
        return order

    def _instance(self, ext: str) -> Format:
        cached = self._instances.get(ext)
        if cached is not None:
            return cached
        with self._lock:
            entry = self._merged()[ext]
            try:
                target = (
                    _import_target(entry.target) if isinstance(entry.target, str) else entry.target
                )
                instance = target()
            except Exception as exc:
                raise FormatError(
                    f"the format for {ext} ({_spec(entry.target)}, {entry.origin}) could not be "
                    f"loaded: {type(exc).__name__}: {exc}",
                    extension=ext,
                    target=_spec(entry.target),
                ) from exc
            missing = _missing_members(instance)
            if missing:
                raise FormatError(
                    f"the format for {ext} ({_spec(entry.target)}, {entry.origin}) is not a "
                    f"tasuki Format: it lacks {', '.join(missing)}",
                    extension=ext,
                    target=_spec(entry.target),
                )
            fmt: Format = instance
            self._instances[ext] = fmt
            return fmt

    def format_for(self, path: str) -> Format:
        """The format for ``path`` (see the module-level :func:`format_for`)."""
        name = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        lowered = name.lower()
        for ext in self._extensions_longest_first():
            if lowered.endswith(ext):
                return self._instance(ext)
        raise self._unknown(name)

    def _unknown(self, name: str) -> UnknownFormatError:
        known = sorted(self._merged())
        suffixes = [s.lower() for s in PurePosixPath(name).suffixes]
        candidates = ["".join(suffixes[-2:]), *suffixes[-1:]] if suffixes else []
        suggestions: list[str] = []
        for candidate in candidates:
            for match in difflib.get_close_matches(candidate, known, n=3, cutoff=0.6):
                if match not in suggestions:
                    suggestions.append(match)
        ext = suffixes[-1] if suffixes else ""
        what = f"extension {ext!r} is not registered" if ext else "it has no extension"
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        example = ext or ".ext"
        return UnknownFormatError(
            f"no format for the file name {name!r}: {what}.{hint} Known extensions: "
            f"{', '.join(known)}. Add one with tasuki.formats.register({example!r}, "
            f"MyFormat) or an entry point in the {ENTRY_POINT_GROUP!r} group.",
            name=name,
            extension=ext,
            known=tuple(known),
            suggestions=tuple(suggestions),
        )


def _may_declare(group: str) -> bool:
    """Whether an installed distribution may declare entry points in ``group``.

    ``importlib.metadata.entry_points`` parses the entry points of every installed
    distribution (several milliseconds with a few hundred installed), a cost every build
    would pay for a group that is usually empty. Reading the ``entry_points.txt`` files
    of the folders on ``sys.path`` for the group's header answers "surely none" much
    faster; anything it cannot read (a zip or egg on the path) answers "maybe".
    """
    header = f"[{group}]"
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
                    if header.encode() in f.read():
                        return True
            except NotADirectoryError:  # an .egg-info file (old distutils metadata)
                return True
            except OSError:
                continue
    return False


default_registry = FormatRegistry()
"""The registry behind :func:`format_for`, :func:`register` and :func:`known_formats`."""


def format_for(path: str) -> Format:
    """The format that reads and writes ``path``, chosen by the longest matching extension.

    Matching ignores case and looks only at the file name, so ``s3://b/x.CSV.gz`` gives
    the ``.csv.gz`` format, not the ``.gz`` one.

    Args:
        path: A file name, local path or URL.

    Returns:
        A Format instance (formats are stateless; the instance is shared).

    Raises:
        UnknownFormatError: no registered extension matches; the message lists the known
            extensions and the closest ones.
        FormatError: the matching format could not be imported or is not a Format.

    Example:
        >>> format_for("out/model_3f2a.pkl").name
        'pickle'
    """
    return default_registry.format_for(path)


def register(extension: str, cls: type[Any] | str, clobber: bool = False) -> None:
    """Register the format class ``cls`` for files ending in ``extension``.

    Args:
        extension: ``".yaml"`` or ``"yaml"``; matched case-insensitively.
        cls: The Format class, or ``"module:Class"`` to import it on first use.
        clobber: Replace a format already registered for ``extension``.

    Raises:
        FormatError: ``extension`` is taken and ``clobber`` is False, or the arguments
            are malformed. Registering the same class again is a no-op.

    Example:
        >>> register(".yaml", "mypkg.formats:YamlFormat")  # doctest: +SKIP
    """
    default_registry.register(extension, cls, clobber)


def known_formats() -> Mapping[str, str]:
    """A read-only, live view of extension -> ``"module:Class"`` for every known format.

    Example:
        >>> known_formats()[".parquet"]
        'tasuki.formats._arrow:ParquetFormat'
    """
    return default_registry.known()
