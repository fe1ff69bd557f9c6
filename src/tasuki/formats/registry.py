"""Which format reads and writes a file, chosen by the end of its name.

A :class:`tasuki._registry.Registry` (the shape every kind of plug-in shares) keyed by
extension: built-in formats are named by ``"module:Class"`` strings and imported on first use;
third-party packages add formats through the ``tasuki.formats`` entry-point group
(entry-point name = extension, value = ``module:Class``), read once, on the first lookup
rather than at import, and found without ``importlib.metadata`` when no installed distribution
declares the group; ``register`` adds one at runtime; :func:`known_formats` is a read-only view.

When two sources name the same extension, a runtime ``register(..., clobber=True)`` wins over
the built-in, which wins over an entry point: an entry point for a built-in extension (a
plugin's ``.parquet``) is skipped with a warning naming its distribution, because installing
a package must not silently change how existing outputs are read. To use a plugin's format for
a built-in extension, say so: ``tasuki.formats.register(".parquet", TheirFormat,
clobber=True)``.

Declaring a format in a package's ``pyproject.toml``::

    [project.entry-points."tasuki.formats"]
    yaml = "mypkg.formats:YamlFormat"
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tasuki._registry import Registry, spec_of
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


def _missing_members(instance: Any) -> list[str]:
    return [
        member
        for member in ("name", "extensions", "dump", "load", "is_empty")
        if not hasattr(instance, member)
    ]


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
        self._registry: Registry[type[Any]] = Registry(
            "format",
            entry_point_group,
            builtins,
            normalise=normalise_extension,
            error=FormatError,
            field="extension",
            quick_scan=True,  # the first lookup of every build reads the group
        )
        # Built from the registry at ``_seen``, its version: format_for() is called for every
        # output, so it reads these instead of merging the registry's sources each time.
        self._instances: dict[str, Format] = {}
        self._longest_first: list[str] | None = None
        self._seen = -1
        self._lock = threading.Lock()

    @property
    def entry_points_loaded(self) -> bool:
        """Whether the entry-point group has been read (it is, on the first lookup)."""
        return self._registry.entry_points_loaded

    def known(self) -> Mapping[str, str]:
        """A live read-only mapping of extension -> ``"module:Class"``."""
        return self._registry.known

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
        self._registry.register(ext, cls, clobber=clobber)

    def _sync(self) -> None:
        """Drop what was built from an older state of the registry."""
        if self._seen != self._registry.version:
            with self._lock:
                if self._seen != self._registry.version:
                    self._instances = {}
                    self._longest_first = None
                    self._seen = self._registry.version

    def _extensions_longest_first(self) -> list[str]:
        self._sync()
        order = self._longest_first
        if order is not None:
            return order
        with self._lock:
            seen = self._registry.version  # before reading: a change meanwhile resyncs
            order = sorted(self._registry.known, key=lambda ext: (-len(ext), ext))
            if seen == self._registry.version:
                self._longest_first = order
        return order

    def _instance(self, ext: str) -> Format:
        cached = self._instances.get(ext)
        if cached is not None:
            return cached
        with self._lock:
            target = self._registry.get(ext)  # FormatError naming it and where it came from
            origin = f"{spec_of(target)}, {self._registry.origin(ext)}"
            try:
                instance = target()
            except Exception as exc:
                raise FormatError(
                    f"the format for {ext} ({origin}) could not be loaded: "
                    f"{type(exc).__name__}: {exc}",
                    extension=ext,
                    target=spec_of(target),
                ) from exc
            missing = _missing_members(instance)
            if missing:
                raise FormatError(
                    f"the format for {ext} ({origin}) is not a tasuki Format: it lacks "
                    f"{', '.join(missing)}",
                    extension=ext,
                    target=spec_of(target),
                )
            fmt: Format = instance
            self._instances[ext] = fmt
            return fmt

    def format_for(self, path: str) -> Format:
        """The format for ``path`` (see the module-level :func:`format_for`)."""
        name = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        lowered = name.lower()
        dot = lowered.find(".", 1 if lowered.startswith(".") else 0)
        if dot >= 0 and not self._registry.entry_points_loaded:
            # The name's whole suffix (``.csv.gz`` of ``x.csv.gz``) is the longest extension
            # it can have: when that is built in (or registered), no entry point can win over
            # it, so the installed packages' entry points are not scanned (~10 ms).
            whole = lowered[dot:]
            if self._registry.knows_without_scanning(whole):
                self._sync()
                return self._instance(whole)
        for ext in self._extensions_longest_first():
            if lowered.endswith(ext):
                return self._instance(ext)
        raise self._unknown(name)

    def _unknown(self, name: str) -> UnknownFormatError:
        import difflib  # only on this error path

        known = sorted(self._registry.known)
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
