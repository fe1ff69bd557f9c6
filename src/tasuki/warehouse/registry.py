"""URL scheme -> warehouse backend, imported only when first used.

A :class:`tasuki._registry.Registry`, the shape every kind of plug-in shares: built-in backends
map a scheme to ``"module:Class"`` plus what to install; third-party backends arrive through
the ``tasuki.warehouses`` entry-point group (name = scheme, value = ``"module:Class"``; one
naming a built-in scheme is skipped with a warning); :func:`register` adds one at runtime and
replaces one only with ``clobber=True``. :data:`registry` is a live, read-only view of
scheme -> class path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki._registry import Registry
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

    from tasuki.warehouse.base import Warehouse

__all__ = ["ENTRY_POINT_GROUP", "connect", "get_warehouse_class", "register", "registry"]

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

warehouses: Registry[type[Any]] = Registry(
    "warehouse scheme",
    ENTRY_POINT_GROUP,
    {scheme: path for scheme, (path, _) in _BUILTIN.items()},
    hints={scheme: hint for scheme, (_, hint) in _BUILTIN.items()},
    normalise=str.lower,  # URL schemes are case-insensitive (RFC 3986)
    field="scheme",
    quick_scan=True,
)
"""The warehouse backends known by URL scheme."""

registry: Mapping[str, str] = warehouses.known
"""Live, read-only view: scheme -> ``"module:Class"`` of every known backend."""


def register(scheme: str, cls: type[Any] | str, *, clobber: bool = False) -> None:
    """Add a warehouse backend for URLs starting ``<scheme>://``.

    Args:
        scheme: The URL scheme, e.g. ``"snowflake"`` (case-insensitive).
        cls: The class, or ``"module:Class"`` to import on first use.
        clobber: Replace an existing backend for the scheme (a built-in included).

    Raises:
        ConfigError: The scheme is taken by another backend and ``clobber`` is false.

    Example:
        >>> register("mywh", "mypkg.warehouse:MyWarehouse")  # doctest: +SKIP
    """
    warehouses.register(scheme, cls, clobber=clobber)


def get_warehouse_class(scheme: str) -> type[Warehouse]:
    """The backend class for ``scheme``, importing it on first use.

    Raises:
        ConfigError: Unknown scheme (with the known ones and a suggestion), or the backend's
            libraries are not installed (with what to install).
    """
    cls: type[Warehouse] = warehouses.get(scheme)
    return cls


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
