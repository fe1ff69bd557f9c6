"""URL scheme -> warehouse backend, imported only when first used.

Built-in backends map a scheme to ``"module:Class"`` plus what to install; third-party
backends arrive through the ``tasuki.warehouses`` entry-point group (name = scheme, value =
``"module:Class"``); :func:`register` adds one at runtime. :data:`registry` is a read-only
view of scheme -> class path.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import logging
import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    import os

    from tasuki.warehouse.base import Warehouse

__all__ = ["ENTRY_POINT_GROUP", "connect", "get_warehouse_class", "register", "registry"]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tasuki.warehouses"

_BUILTIN: dict[str, tuple[str, str]] = {
    "duckdb": ("tasuki.warehouse.duckdb:DuckDBWarehouse", "pip install 'tasuki[warehouse]'"),
    "postgresql": (
        "tasuki.warehouse.postgres:PostgresWarehouse",
        "pip install 'tasuki[warehouse]' (adbc-driver-postgresql)",
    ),
    "postgres": (
        "tasuki.warehouse.postgres:PostgresWarehouse",
        "pip install 'tasuki[warehouse]' (adbc-driver-postgresql)",
    ),
    "redshift": (
        "tasuki.warehouse.redshift:RedshiftWarehouse",
        "pip install 'tasuki[warehouse,s3]' (psycopg or redshift_connector, and s3fs)",
    ),
    "bigquery": (
        "tasuki.warehouse.bigquery:BigQueryWarehouse",
        "pip install google-cloud-bigquery gcsfs",
    ),
}

_known: dict[str, str] = {scheme: path for scheme, (path, _) in _BUILTIN.items()}
_hints: dict[str, str] = {scheme: hint for scheme, (_, hint) in _BUILTIN.items()}
_loaded: dict[str, type[Any]] = {}
_lock = threading.Lock()
_entry_points_read = False

registry = MappingProxyType(_known)
"""Read-only view: scheme -> ``"module:Class"`` of every known backend."""


def register(scheme: str, cls: type[Any] | str, *, clobber: bool = False) -> None:
    """Add a warehouse backend for URLs starting ``<scheme>://``.

    Args:
        scheme: The URL scheme, e.g. ``"snowflake"``.
        cls: The class, or ``"module:Class"`` to import on first use.
        clobber: Replace an existing backend for the scheme.

    Raises:
        ConfigError: The scheme is taken and ``clobber`` is false.

    Example:
        >>> register("mywh", "mypkg.warehouse:MyWarehouse")  # doctest: +SKIP
    """
    scheme = scheme.lower()
    with _lock:
        if scheme in _known and not clobber and _known[scheme] != _path_of(cls):
            raise ConfigError(
                f"warehouse scheme {scheme!r} is already registered to {_known[scheme]}; "
                "pass clobber=True to replace it",
                scheme=scheme,
            )
        _known[scheme] = _path_of(cls)
        _loaded.pop(scheme, None)
        if not isinstance(cls, str):
            _loaded[scheme] = cls


def get_warehouse_class(scheme: str) -> type[Warehouse]:
    """The backend class for ``scheme``, importing it on first use.

    Raises:
        ConfigError: Unknown scheme (with the known ones and a suggestion), or the backend's
            libraries are not installed (with what to install).
    """
    scheme = scheme.lower()
    _read_entry_points()
    with _lock:
        if scheme in _loaded:
            return _loaded[scheme]
        path = _known.get(scheme)
    if path is None:
        known = sorted(_known)
        close = difflib.get_close_matches(scheme, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown warehouse scheme {scheme!r}; known: {', '.join(known)}.{hint} Third-party "
            f"backends register through the {ENTRY_POINT_GROUP!r} entry-point group or "
            "tasuki.warehouse.register().",
            scheme=scheme,
            known=known,
        )
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as exc:
        hint = _hints.get(scheme, f"install the package providing {module_name}")
        raise ConfigError(
            f"the {scheme!r} warehouse backend ({path}) cannot be imported: {exc}. "
            f"Install it with: {hint}",
            scheme=scheme,
            missing=getattr(exc, "name", None),
        ) from exc
    except AttributeError as exc:
        raise ConfigError(
            f"the {scheme!r} warehouse backend path {path!r} names nothing: {exc}",
            scheme=scheme,
        ) from exc
    with _lock:
        _loaded[scheme] = obj
    return obj  # type: ignore[no-any-return]


def connect(
    url: str, *, parts_dir: str | os.PathLike[str] | None = None, **options: Any
) -> Warehouse:
    """Open a warehouse by URL.

    Args:
        url: ``duckdb:///path/to.db`` (``duckdb://`` is in-memory), ``postgresql://user@host
            /db``, ``redshift://user:pw@host:5439/db``, ``bigquery://project/dataset``, or a
            registered third-party scheme.
        parts_dir: Directory or fsspec URL for result parts. Default: a temporary directory
            removed when the warehouse is closed. Redshift and BigQuery write parts to their
            ``s3_staging`` / ``gcs_staging`` instead.
        **options: Backend options (``timeout``, ``s3_staging``, ``iam_role``,
            ``gcs_staging``, ``storage_options``, ...); see docs/warehouse.md.

    Returns:
        The warehouse; use it as a context manager or call ``close()``.

    Raises:
        ConfigError: The URL has no scheme, or the scheme is unknown or not installed.

    Example:
        >>> with connect("duckdb://") as wh:
        ...     wh.query("SELECT 42 AS answer").to_arrow().column("answer").to_pylist()
        [42]
    """
    url = str(url)
    if "://" not in url:
        raise ConfigError(
            f"warehouse URL {redact(url)!r} has no scheme; expected e.g. duckdb:///path/to.db, "
            "postgresql://user@host:5432/db, redshift://..., bigquery://project/dataset",
            url=redact(url),
        )
    scheme = url.split("://", 1)[0]
    cls = get_warehouse_class(scheme)
    return cls.from_url(url, parts_dir=None if parts_dir is None else str(parts_dir), **options)


def _path_of(cls: type[Any] | str) -> str:
    return cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"


def _read_entry_points() -> None:
    global _entry_points_read
    if _entry_points_read:
        return
    with _lock:
        if _entry_points_read:
            return
        _entry_points_read = True
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name.lower() in _known:
                logger.debug("entry point %s ignored: scheme already known", ep.name)
                continue
            _known[ep.name.lower()] = ep.value
