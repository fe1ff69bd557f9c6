""" "Read by" lineage for the query service: which client read which tables.

When :class:`~tasuki.service.ServiceConfig` names a ``catalog``, each query that succeeds is
handed to a :class:`ReadRecorder`, which parses its tables and records table -[read]->
``client:<name>`` in the catalog (:func:`tasuki.catalog._lineage_sources.record_query_read`).
The recorder works on a thread of its own with a bounded queue: a query never waits for the
catalog, the catalog is opened once per service, and a catalog that is down or a query it
cannot parse is logged and skipped, never turned into a failed query.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact

if TYPE_CHECKING:
    from tasuki.catalog import Catalog

__all__ = ["ReadRecorder"]

logger = logging.getLogger(__name__)

#: Queries waiting to be recorded at most; past it, reads are dropped (and logged), so a
#: slow catalog never holds memory or a query up.
MAX_PENDING = 10_000
#: Seconds between attempts to open a catalog that could not be opened.
REOPEN_AFTER = 60.0


class ReadRecorder:
    """Records the tables each succeeded query read, on a background thread.

    Args:
        catalog_url: SQLAlchemy URL of the catalog.
        warehouse: The warehouse's configured name (the ``table:<warehouse>/...`` keys).
        dialect: The warehouse's sqlglot dialect.
    """

    def __init__(self, catalog_url: str, *, warehouse: str, dialect: str) -> None:
        self.catalog_url = catalog_url
        self.warehouse = warehouse
        self.dialect = dialect
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(MAX_PENDING)
        self._thread: threading.Thread | None = None
        self._catalog: Catalog | None = None
        self._next_open = 0.0
        self.recorded = 0
        self.dropped = 0

    def start(self) -> None:
        """Start the recording thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tasuki-lineage", daemon=True)
            self._thread.start()

    def record(self, client: str, sql: str) -> None:
        """Queue ``sql`` as read by ``client``; returns at once."""
        try:
            self._queue.put_nowait((client, sql))
        except queue.Full:
            self.dropped += 1
            logger.warning("lineage: %d reads waiting; the read by %s is not recorded",
                           MAX_PENDING, client)  # fmt: skip

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued read is recorded (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Record what is queued (for ``timeout`` seconds at most), then stop."""
        if self._thread is not None:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)
            self._thread = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def _open(self) -> Catalog | None:
        if self._catalog is None and time.monotonic() >= self._next_open:
            from tasuki.catalog import Catalog

            try:
                self._catalog = Catalog.open(self.catalog_url)
            except Exception as exc:  # the service keeps answering without lineage
                self._next_open = time.monotonic() + REOPEN_AFTER
                logger.warning("lineage: cannot open the catalog %s (%s); reads are not "
                               "recorded, next try in %.0f s", redact(self.catalog_url),
                               redact(str(exc)), REOPEN_AFTER)  # fmt: skip
        return self._catalog

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._record(*item)
            finally:
                self._queue.task_done()

    def _record(self, client: str, sql: str) -> None:
        from tasuki.catalog._lineage_sources import record_query_read

        catalog = self._open()
        if catalog is None:
            self.dropped += 1
            return
        try:
            record_query_read(catalog, sql, warehouse=self.warehouse, dialect=self.dialect,
                              reader=f"client:{client}")  # fmt: skip
        except Exception as exc:  # lineage is a by-product: the query already succeeded
            self.dropped += 1
            logger.warning("lineage: the read by %s was not recorded: %s", client,
                           redact(str(exc)))  # fmt: skip
        else:
            self.recorded += 1


def recorder_for(config: Any, dialect: str) -> ReadRecorder | None:
    """The recorder a service config asks for (None without ``catalog``).

    Raises:
        ConfigError: ``catalog`` is set but the warehouse has no configured name to key
            its tables by.
    """
    if not config.catalog:
        return None
    from tasuki.errors import ConfigError

    name = config.warehouse if "://" not in config.warehouse else None
    if name is None:
        names = config.warehouses
        if names is None:
            from tasuki.config import load_settings

            names = load_settings().warehouses
        name = next((n for n, url in names.items() if url == config.warehouse), None)
    if name is None:
        raise ConfigError(
            "ServiceConfig.catalog records which tables each client read, keyed by the "
            "warehouse's name, but the warehouse is given as a URL that no name under "
            "[warehouses] has; pass the warehouse by name (warehouse='dwh') or add it to "
            "warehouses",
            key="catalog",
        )
    return ReadRecorder(config.catalog, warehouse=name, dialect=dialect)
