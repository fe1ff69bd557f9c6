"""The worker process: receives one query at a time, unloads it, reports the manifest.

Queries run in separate processes so that cancelling one works with every backend: the
service kills the process, which drops its warehouse connections and stops the part writer.
A PostgreSQL backend would only notice the closed socket at its next write, so every
session of a query is tagged with ``application_name = tasuki-q-<id>`` (see
:mod:`tasuki.service._cancel`) and the service cancels the tagged sessions on the server
after killing the worker.

A worker also exits by itself when the service process disappears (``kill -9``), so no
orphan keeps writing parts nobody will serve; before it exits it stops its query's tagged
sessions on the server itself (for at most :data:`_PARENT_GONE_CANCEL` seconds), since no
service is left to do it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["JobMessage", "error_info", "main"]

logger = logging.getLogger(__name__)

JobMessage = dict[str, Any]
"""``{"id", "url", "backend": (scheme, "module:Class"), "options", "parts_dir", "sql",
"params", "timeout"}``."""

_PARENT_POLL = 0.5  # seconds between checks that the service is still alive
_PARENT_GONE_CANCEL = 2.0  # seconds a worker spends stopping its sessions when orphaned

# (warehouse URL, query id) of the query running now, for _watch_parent.
_running: tuple[str, str] | None = None


# Drivers the built-in backends import on first use; loaded at start so that the first query
# on each worker does not pay seconds of imports.
_DRIVERS = {
    "duckdb": ("duckdb",),
    "postgresql": ("adbc_driver_postgresql.dbapi",),
    "postgres": ("adbc_driver_postgresql.dbapi",),
}
# Imported by every query whatever the backend: the part writer and the SQL checks.
_COMMON = ("pyarrow", "pyarrow.parquet", "tasuki.warehouse._parts", "tasuki.warehouse._safety")


def main(jobs: Connection, replies: Connection, parent_pid: int, scheme: str = "") -> None:
    """Serve jobs from ``jobs`` until it closes or the parent process dies."""
    threading.Thread(
        target=_watch_parent, args=(parent_pid,), name="tasuki-parent-watch", daemon=True
    ).start()
    loaded = preload(scheme)
    replies.send(("ready", os.getpid(), loaded))
    while True:
        try:
            job = jobs.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        replies.send(run_job(job))


def preload(scheme: str) -> list[str]:
    """Import the warehouse layer, the backend and its driver (best effort).

    This is the cold cost of a worker (seconds: pyarrow, sqlglot, the driver's library), paid
    before the worker reports ready, so the service's first query does not pay it.

    Returns:
        The modules imported (the backend's own module included).
    """
    import importlib

    loaded: list[str] = []
    try:
        from tasuki.warehouse.registry import get_warehouse_class

        for module in _COMMON:
            importlib.import_module(module)
            loaded.append(module)
        if scheme:
            loaded.append(get_warehouse_class(scheme).__module__)
        for module in _DRIVERS.get(scheme, ()):
            importlib.import_module(module)
            loaded.append(module)
    except Exception:  # the query reports the real error, with its context
        logger.debug("preloading the %r backend failed", scheme, exc_info=True)
    return loaded


def run_job(job: JobMessage) -> tuple[str, Any]:
    """Run one query; ``("ok", manifest dict)`` or ``("error", error info dict)``."""
    global _running
    from tasuki.service._cancel import tag_url
    from tasuki.warehouse import connect, register
    from tasuki.warehouse._parts import result_byte_limit
    from tasuki.warehouse.registry import registry

    job_id = job.get("id")
    try:
        scheme, backend = job.get("backend") or (None, None)
        if scheme and backend and registry.get(scheme) != backend:
            # Registered at runtime in the service process: make it known here too.
            register(scheme, backend, clobber=True)
        options = dict(job.get("options") or {})
        # Every connection of this query (the parallel unload opens several from the same
        # URL) carries the query's tag, so whoever stops the query can find them on the server.
        url = tag_url(job["url"], job_id)
        if job_id:
            _running = (job["url"], str(job_id))
        # The byte budget covers the connect too: part writers take it when they are made,
        # so a result past max_result_bytes stops at its next row group, not at the end.
        with (
            result_byte_limit(job.get("max_result_bytes")),
            connect(url, parts_dir=job["parts_dir"], **options) as wh,
        ):
            result = wh.query(job["sql"], job.get("params"), timeout=job.get("timeout"))
            return ("ok", result.manifest.to_dict())
    except Exception as exc:
        logger.debug("query %s failed", job_id, exc_info=True)
        return ("error", error_info(exc))
    finally:
        _running = None


def error_info(exc: BaseException) -> dict[str, Any]:
    """An exception as the JSON fields of :class:`tasuki.service._models.ErrorInfo`."""
    from tasuki._redact import redact
    from tasuki.errors import TasukiError

    fields: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": redact(exc) or type(exc).__name__,
        "retryable": bool(getattr(exc, "retryable", False)),
    }
    if not isinstance(exc, TasukiError):
        # Not one of ours: say so, keep the original type in the message.
        fields["type"] = "WarehouseError"
        fields["message"] = f"{type(exc).__name__}: {redact(exc)}"
    for key in ("position", "line", "column"):
        value = getattr(exc, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            fields[key] = value
    return fields


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(_PARENT_POLL)
        if os.getppid() != parent_pid:
            # The service died (or was killed): stop now, mid-query; its restart marks the
            # query failed and deletes what was written. No service is left to stop the
            # query's statements on the server, so do it here first, briefly.
            _stop_own_sessions(_PARENT_GONE_CANCEL)
            os._exit(70)


def _stop_own_sessions(limit: float) -> None:
    """Stop the running query's tagged server sessions, waiting at most ``limit`` s."""
    running = _running
    if running is None:
        return
    from tasuki.service._cancel import stop_sessions

    url, job_id = running
    # Our own connections are still open, so the cancelled sessions stay (idle) until we
    # exit: a short grace, then they are terminated. A thread, so a hung server cannot keep
    # this orphan alive past the limit.
    thread = threading.Thread(
        target=stop_sessions,
        args=(url, job_id),
        kwargs={"grace": limit / 4},
        name="tasuki-orphan-cancel",
        daemon=True,
    )
    thread.start()
    thread.join(limit)


if __name__ == "__main__":
    main(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
        int(sys.argv[3]),
        sys.argv[4] if len(sys.argv) > 4 else "",
    )
