"""Settings of one query service: which warehouse, where results go, who may query."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tasuki._redact import redact
from tasuki.errors import ConfigError

__all__ = ["ServiceConfig", "resolve_warehouse"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KIB, _MIB, _GIB = 1024, 1024 * 1024, 1024 * 1024 * 1024

#: The most SQL tokens a query may have. sqlglot's check grows linearly with the tokens:
#: 12 to 24 ms per 1,000 tokens on a quiet 2-core development machine (IN lists cheapest,
#: CASE branches and UNIONs dearest; sqlglot 30.3, Python 3.11), 30 to 125 ms with the
#: machine loaded 4x over (``python benchmarks/bench_sql_parse.py --tokens 10000``). So a
#: query at the limit costs 0.12 to 0.25 s of CPU to check, at most about 1 s under heavy
#: load; the worker's second check costs the same again.
DEFAULT_MAX_SQL_TOKENS = 10_000


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """How one query service runs.

    Attributes:
        warehouse: Warehouse URL (``duckdb:///data/dwh.db``, ``postgresql://...``) or a name
            from ``[warehouses]`` in the settings (or from ``warehouses`` below).
        results_dir: Local folder or fsspec URL (``s3://bucket/prefix``) holding one folder per
            query: its record (``job.json``) and its Parquet parts.
        tokens_file: JSON file of client names and sha256 token hashes, written by
            :func:`tasuki.service.add_client`; re-read when it changes.
        clients: Client name -> sha256 hex digest of its token (see
            :func:`tasuki.service.hash_token`); merged with ``tokens_file``.
        warehouses: Name -> URL, for resolving ``warehouse`` without reading settings.
        warehouse_options: Backend options passed to ``tasuki.warehouse.connect`` (for
            example ``{"parallel": 4}`` or ``{"part_rows": 500_000}``).
        storage_options: fsspec options for a ``results_dir`` URL.
        workers: Worker processes running queries, over all clients.
        max_concurrent_per_client: Queries one client may have running at once; the rest
            wait in a first-in, first-out queue.
        max_queued_per_client: Queries one client may have waiting; more are refused (429).
        result_ttl: Seconds a finished result is kept; then its parts are deleted and it
            reports ``expired``.
        statement_timeout: Default and largest statement timeout, seconds.
        cleanup_interval: Seconds between expiry sweeps (default: a quarter of the TTL,
            between 1 s and 5 minutes).
        max_wait: Longest long-poll (``GET /v1/queries/{id}?wait=``) in seconds.
        max_body_bytes: Largest request body, in bytes; a larger one is answered 413 before
            it is read (by its ``Content-Length``, or as soon as a chunked body passes it).
            Must exceed ``max_sql_bytes``: the body holds the SQL (JSON-escaped) and the
            parameters.
        max_sql_bytes: Longest query text, in UTF-8 bytes (400 past it); at most
            :data:`tasuki.warehouse._safety.MAX_SQL_BYTES`, which the worker checks again.
        max_sql_tokens: Most SQL tokens (words, numbers, strings, operators) in a query,
            counted before it is parsed (400 past it); bounds the parse time.
        max_nesting: Deepest nesting of parentheses in a query (400 past it); at most
            :data:`tasuki.warehouse._safety.MAX_NESTING`, which the worker checks again.
        max_result_bytes: Largest result of one query, in bytes of Parquet parts; a query
            that writes more fails (``ResultTooLargeError``) and what it wrote is deleted.
        max_disk_bytes_per_client: Most bytes of kept results one client may hold; past it,
            its results whose TTL has passed are deleted (oldest first), and if it is still
            over, new queries are refused (429 ``QuotaExceeded``) until it deletes some.
        client_warehouses: Client name -> warehouse URL (or a name from ``warehouses`` /
            the settings) that the client's queries run as: one database role per client,
            as Queuery gives each client its own user, so the server itself keeps one
            client from ending or reading another's sessions. Clients not named here use
            ``warehouse``. Every URL must have the same scheme as ``warehouse``.
        catalog: SQLAlchemy URL of a tasuki catalog (``sqlite:///...``,
            ``postgresql+psycopg://...``); with it, the tables each succeeded query read are
            recorded as lineage, table -[read]-> ``client:<name>``, under the warehouse's
            configured name (so ``warehouse`` must be a name, or a URL one of
            ``warehouses`` has). Recording happens off the query path; a catalog that fails
            is logged, never fails a query.
    """

    warehouse: str
    results_dir: str
    tokens_file: str | None = None
    clients: Mapping[str, str] = field(default_factory=dict)
    warehouses: Mapping[str, str] | None = None
    warehouse_options: Mapping[str, Any] = field(default_factory=dict)
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    workers: int = 4
    max_concurrent_per_client: int = 2
    max_queued_per_client: int = 100
    result_ttl: float = 24 * 3600.0
    statement_timeout: float = 3600.0
    cleanup_interval: float | None = None
    max_wait: float = 60.0
    max_body_bytes: int = 1 * _MIB
    max_sql_bytes: int = 256 * _KIB
    max_sql_tokens: int = DEFAULT_MAX_SQL_TOKENS
    max_nesting: int = 32
    max_result_bytes: int = 10 * _GIB
    max_disk_bytes_per_client: int = 50 * _GIB
    client_warehouses: Mapping[str, str] = field(default_factory=dict)
    catalog: str | None = None

    def __repr__(self) -> str:
        # The warehouse URL and storage options may hold passwords and keys.
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return redact(f"{type(self).__name__}({shown})")

    def __post_init__(self) -> None:
        from tasuki.warehouse._common import MAX_TIMEOUT
        from tasuki.warehouse._safety import MAX_NESTING, MAX_SQL_BYTES

        for name in (
            "workers",
            "max_concurrent_per_client",
            "max_queued_per_client",
            "max_body_bytes",
            "max_sql_bytes",
            "max_sql_tokens",
            "max_nesting",
            "max_result_bytes",
            "max_disk_bytes_per_client",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    f"ServiceConfig.{name} must be a whole number >= 1, got {value!r}",
                    key=name,
                    value=value,
                )
        for name in ("result_ttl", "statement_timeout", "max_wait", "cleanup_interval"):
            value = getattr(self, name)
            if value is None and name == "cleanup_interval":
                continue
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(
                    f"ServiceConfig.{name} must be a positive number of seconds, got {value!r}",
                    key=name,
                    value=value,
                )
        if self.statement_timeout > MAX_TIMEOUT:
            raise ConfigError(
                f"ServiceConfig.statement_timeout is {self.statement_timeout!r} s; the largest "
                f"timeout the warehouses accept is {MAX_TIMEOUT} s (about 24.8 days)",
                key="statement_timeout",
                value=self.statement_timeout,
            )
        # The worker's warehouse checks the query again with the library's own limits, so
        # a larger service limit would only move the refusal from the API to the worker.
        for name, ceiling in (("max_sql_bytes", MAX_SQL_BYTES), ("max_nesting", MAX_NESTING)):
            if getattr(self, name) > ceiling:
                raise ConfigError(
                    f"ServiceConfig.{name} is {getattr(self, name)}; at most {ceiling} is "
                    "possible (the warehouse checks every query against that limit again)",
                    key=name,
                    value=getattr(self, name),
                )
        if self.max_body_bytes <= self.max_sql_bytes:
            raise ConfigError(
                f"ServiceConfig.max_body_bytes ({self.max_body_bytes}) must be larger than "
                f"max_sql_bytes ({self.max_sql_bytes}): a request body holds the SQL, "
                "JSON-escaped, and its parameters",
                key="max_body_bytes",
                value=self.max_body_bytes,
            )
        if not self.results_dir:
            raise ConfigError(
                "ServiceConfig.results_dir is empty; give a local folder or an fsspec URL "
                "such as s3://bucket/tasuki-results",
                key="results_dir",
            )
        if not self.tokens_file and not self.clients:
            raise ConfigError(
                "the query service has no clients: give ServiceConfig.tokens_file (make one "
                "with `tasuki.service.add_client(path, name)`) or a clients mapping of "
                "name -> sha256 token hash",
                key="tokens_file",
            )
        for name, digest in self.clients.items():
            if not isinstance(digest, str) or not _HEX64.match(digest):
                raise ConfigError(
                    f"ServiceConfig.clients[{name!r}] must be the sha256 hex digest of the "
                    f"client's token (64 lowercase hex characters), got {digest!r}; compute it "
                    "with tasuki.service.hash_token(token)",
                    key="clients",
                    client=name,
                )

    @property
    def sweep_interval(self) -> float:
        """Seconds between expiry sweeps."""
        if self.cleanup_interval is not None:
            return float(self.cleanup_interval)
        return min(300.0, max(1.0, self.result_ttl / 4))

    def warehouse_url(self) -> str:
        """The warehouse URL, resolving a name through ``warehouses`` or the settings.

        Raises:
            ConfigError: The name is not configured.
        """
        return resolve_warehouse(self.warehouse, self.warehouses)

    def client_warehouse_urls(self) -> dict[str, str]:
        """Client name -> the URL its queries run as, for the clients given their own.

        Raises:
            ConfigError: A name is not configured, or a URL's scheme differs from the
                service's warehouse (the workers load one backend).
        """
        main = self.warehouse_url()
        scheme = _scheme(main)
        urls: dict[str, str] = {}
        for client, warehouse in self.client_warehouses.items():
            if not isinstance(warehouse, str) or not warehouse:
                raise ConfigError(
                    f"ServiceConfig.client_warehouses[{client!r}] must be a warehouse URL or "
                    f"a configured name, got {warehouse!r}",
                    key="client_warehouses",
                    client=client,
                )
            url = resolve_warehouse(warehouse, self.warehouses)
            if _scheme(url) != scheme:
                raise ConfigError(
                    f"ServiceConfig.client_warehouses[{client!r}] is a {_scheme(url)!r} URL "
                    f"but the service's warehouse is {scheme!r}; give every client a role on "
                    f"the same warehouse ({redact(url)})",
                    key="client_warehouses",
                    client=client,
                )
            urls[client] = url
        return urls


def _scheme(url: str) -> str:
    scheme = url.split("://", 1)[0].lower()
    # postgres:// and postgresql:// are one backend
    return "postgresql" if scheme == "postgres" else scheme


def resolve_warehouse(warehouse: str | None, names: Mapping[str, str] | None = None) -> str:
    """A warehouse URL from a URL, a configured name, or the only configured warehouse.

    Args:
        warehouse: A URL (has ``://``), a name, or None for the single configured one.
        names: Name -> URL; when None, ``[warehouses]`` from :func:`tasuki.config.load_settings`.

    Raises:
        ConfigError: Unknown name, or no warehouse given while not exactly one is configured.
    """
    if warehouse is not None and "://" in warehouse:
        return warehouse
    if names is None:
        from tasuki.config import load_settings

        names = load_settings().warehouses
    if warehouse is None:
        if len(names) == 1:
            return next(iter(names.values()))
        known = ", ".join(sorted(names)) or "none"
        raise ConfigError(
            f"no warehouse given and {len(names)} are configured (known: {known}); pass a URL "
            "such as duckdb:///path/to.db or a name from [warehouses] in tasuki.toml",
            known=sorted(names),
        )
    if warehouse in names:
        return names[warehouse]
    known = ", ".join(sorted(names)) or "none"
    raise ConfigError(
        f"warehouse {redact(warehouse)!r} is neither a URL nor a configured name (known: {known}); "
        "pass a URL such as postgresql://user@host/db, or add it under [warehouses] in "
        "tasuki.toml",
        warehouse=redact(warehouse),
        known=sorted(names),
    )
