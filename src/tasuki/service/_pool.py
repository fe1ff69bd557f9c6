"""Worker processes and the queue in front of them.

``workers`` threads each own one worker process (spawned at start, respawned after it is
killed or dies). A thread takes the oldest queued query whose client is under its
concurrency limit, so every client's queries start in the order they were sent and a busy
client does not hold back the others. Cancelling a running query kills its process.

Killing the process does not stop what it started on a PostgreSQL server, so after a worker
was killed or died mid-query (cancel, the service's deadline, shutdown, a crash) its thread
cancels the query's tagged sessions on the server (:mod:`tasuki.service._cancel`), and only
then frees the client's concurrency slot: a client repeating a query it cancels cannot pile
up server backends.
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from tasuki.service import _cancel, _worker

__all__ = ["Outcome", "Scheduler"]

logger = logging.getLogger(__name__)

Outcome = tuple[str, Any]
"""``("ok", manifest dict)``, ``("error", error info)``, ``("cancelled", None)`` or
``("stopped", None)`` (the service shut down while it ran)."""

SPAWN_TIMEOUT = 120.0  # seconds for a new worker to import tasuki and report ready
# Seconds past the statement timeout before a worker is killed and its sessions are stopped
# on the server. The server's statement_timeout ends the statement itself; this only catches
# a worker that hangs past it (or a server that ignored it).
TIMEOUT_GRACE = 5.0
# Seconds between cancelling a killed query's server sessions and terminating those left.
CANCEL_GRACE = 2.0


@dataclass
class _Queued:
    id: str
    client: str
    message: _worker.JobMessage


@dataclass
class _Slot:
    job: _Queued
    process: subprocess.Popen[bytes] | None = None
    cancelled: bool = False
    # The worker was killed or died while it held the query: the server may still run it.
    dirty: bool = False


@dataclass
class _Handle:
    process: subprocess.Popen[bytes]
    send: Connection
    recv: Connection
    preloaded: tuple[str, ...] = ()


class Scheduler:
    """Runs queued queries on worker processes under per-client limits.

    Args:
        workers: Worker processes (and threads driving them).
        per_client: Queries one client may have running at once.
        on_start: Called with a query id when a worker takes it; returning False skips it
            (it was cancelled in between) and reports ``("cancelled", None)``.
        on_finish: Called with the query id and its outcome.
        scheme: Warehouse URL scheme, so workers load its backend before the first query.
    """

    def __init__(
        self,
        *,
        workers: int,
        per_client: int,
        on_start: Callable[[str], bool],
        on_finish: Callable[[str, Outcome], None],
        scheme: str = "",
    ) -> None:
        self.workers = workers
        self.scheme = scheme
        self.per_client = per_client
        self._on_start = on_start
        self._on_finish = on_finish
        self._cond = threading.Condition()
        self._queue: collections.deque[_Queued] = collections.deque()
        self._running: dict[str, _Slot] = {}
        self._per_client: collections.Counter[str] = collections.Counter()
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._handles: dict[int, _Handle] = {}
        self._first_spawns = 0  # worker threads whose first spawn has succeeded or failed

    def start(self) -> None:
        """Start the worker threads; each spawns its process in the background.

        Call :meth:`wait_ready` to wait until the processes have started and imported the
        backend (the seconds a cold first query would otherwise pay).
        """
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._serve, args=(index,), name=f"tasuki-query-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, timeout: float = SPAWN_TIMEOUT + 5) -> int:
        """Wait until every worker's first start has succeeded or failed; the number ready.

        A worker that could not start is retried with its first query, as before.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._first_spawns < self.workers and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return len(self._handles)

    def warm_workers(self) -> dict[int, tuple[str, ...]]:
        """Live worker processes by pid, with the modules each imported before its first
        query."""
        with self._cond:
            return {
                h.process.pid: h.preloaded
                for h in self._handles.values()
                if h.process.poll() is None
            }

    def submit(self, job_id: str, client: str, message: _worker.JobMessage) -> None:
        """Queue a query."""
        with self._cond:
            self._queue.append(_Queued(job_id, client, message))
            self._cond.notify_all()

    def queue_position(self, job_id: str) -> int | None:
        """How many of the same client's queries are queued before this one (None: not
        queued)."""
        with self._cond:
            client = None
            for job in self._queue:
                if job.id == job_id:
                    client = job.client
                    break
            if client is None:
                return None
            ahead = 0
            for job in self._queue:
                if job.id == job_id:
                    return ahead
                ahead += job.client == client
        return None

    def queued_count(self, client: str | None = None) -> int:
        """Queries waiting (for one client, or in all)."""
        with self._cond:
            return sum(1 for job in self._queue if client is None or job.client == client)

    def cancel(self, job_id: str) -> str:
        """Take a query out of the queue, or kill the process running it.

        Returns:
            ``"dequeued"``, ``"killed"`` (its outcome arrives as ``("cancelled", None)``),
            or ``"unknown"``.
        """
        with self._cond:
            for job in self._queue:
                if job.id == job_id:
                    self._queue.remove(job)
                    return "dequeued"
            slot = self._running.get(job_id)
            if slot is None:
                return "unknown"
            slot.cancelled = True
            process = slot.process
        if process is not None:
            _kill(process)
        return "killed"

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking queries, kill running ones (reported ``("stopped", None)``), stop
        the workers."""
        with self._cond:
            self._closing = True
            running = [s.process for s in self._running.values() if s.process is not None]
            self._cond.notify_all()
        for process in running:
            _kill(process)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        for handle in list(self._handles.values()):
            _stop(handle)

    # -- worker threads -----------------------------------------------------------------

    def _serve(self, index: int) -> None:
        handle: _Handle | None = None
        try:
            handle = self._spawn(index)
        except Exception:
            logger.warning(
                "worker %d could not start; retrying with its first query", index, exc_info=True
            )
        finally:
            with self._cond:
                self._first_spawns += 1
                self._cond.notify_all()
        while True:
            with self._cond:
                job = self._take()
                if job is None:
                    break
                slot = _Slot(job)
                self._running[job.id] = slot
                self._per_client[job.client] += 1
            try:
                outcome, handle = self._run(index, slot, handle)
            except Exception as exc:  # never lose a query: report it failed
                logger.exception("worker %d failed to run query %s", index, job.id)
                outcome = ("error", _worker.error_info(exc))
                slot.dirty = slot.process is not None
            if slot.dirty:
                # Before the slot is freed (and without holding the lock): the client's next
                # query must not start while this one's backends still run on the server.
                self._stop_on_server(job)
            with self._cond:
                del self._running[job.id]
                self._per_client[job.client] -= 1
                if self._per_client[job.client] <= 0:
                    del self._per_client[job.client]
                self._cond.notify_all()
            try:
                self._on_finish(job.id, outcome)
            except Exception:
                logger.exception("recording the outcome of query %s failed", job.id)
            if (handle is None or handle.process.poll() is not None) and not self._closing:
                # Replace a killed worker now, not when the next query is already waiting.
                handle = self._respawn(index, handle)
        if handle is not None:
            _stop(handle)
            self._handles.pop(index, None)

    def _respawn(self, index: int, handle: _Handle | None) -> _Handle | None:
        if handle is not None:
            _stop(handle)
            self._handles.pop(index, None)
        try:
            return self._spawn(index)
        except Exception:
            logger.warning(
                "worker %d could not restart; retrying with its next query", index, exc_info=True
            )
            return None

    def _take(self) -> _Queued | None:
        """The oldest queued query whose client is under its limit (waits for one)."""
        while not self._closing:
            for job in self._queue:
                if self._per_client[job.client] < self.per_client:
                    self._queue.remove(job)
                    return job
            self._cond.wait()
        return None

    def _run(
        self, index: int, slot: _Slot, handle: _Handle | None
    ) -> tuple[Outcome, _Handle | None]:
        job = slot.job
        if not self._on_start(job.id):
            return ("cancelled", None), handle
        if handle is None or handle.process.poll() is not None:
            if handle is not None:
                _stop(handle)
            handle = self._spawn(index)
        with self._cond:
            if slot.cancelled or self._closing:
                return (("cancelled" if slot.cancelled else "stopped"), None), handle
            slot.process = handle.process
        timeout = float(job.message.get("timeout") or 0) or None
        deadline = None if timeout is None else time.monotonic() + timeout + TIMEOUT_GRACE
        try:
            handle.send.send(job.message)
            while True:
                wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
                if handle.recv.poll(wait):
                    reply: Outcome = handle.recv.recv()
                    return reply, handle
                if deadline is not None and time.monotonic() >= deadline:
                    _kill(handle.process)
                    slot.dirty = True
                    return (
                        "error",
                        {
                            "type": "QueryTimeoutError",
                            "message": f"the query did not finish within its timeout of "
                            f"{timeout:g} s (plus {TIMEOUT_GRACE:g} s grace) and was "
                            "stopped; raise the timeout or narrow the query",
                            "retryable": True,
                        },
                    ), None
        except (EOFError, OSError):
            pass  # the process died: killed by cancel()/close(), or crashed
        slot.dirty = True
        try:
            code: int | None = handle.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        _stop(handle)
        self._handles.pop(index, None)
        with self._cond:
            cancelled, closing = slot.cancelled, self._closing
        if cancelled:
            return ("cancelled", None), None
        if closing:
            return ("stopped", None), None
        return (
            "error",
            {
                "type": "WarehouseError",
                "message": f"the worker process running the query died (exit code {code}); "
                "it may have run out of memory. Nothing was kept; try again or narrow the query",
                "retryable": True,
            },
        ), None

    def _stop_on_server(self, job: _Queued) -> None:
        """Stop what the killed query still runs on the warehouse server (never raises)."""
        url = job.message.get("url")
        if not isinstance(url, str):
            return
        try:
            stopped = _cancel.stop_sessions(url, job.id, grace=CANCEL_GRACE)
        except Exception:  # a slot must be freed whatever happens here
            logger.exception("stopping query %s on the server failed", job.id)
            return
        if not stopped.confirmed:
            logger.warning(
                "query %s: could not confirm that the server stopped it; freeing its slot",
                job.id,
            )

    def _spawn(self, index: int) -> _Handle:
        # A fresh interpreter through subprocess, not multiprocessing's spawn: that would
        # re-run the caller's __main__ script in every worker.
        from_parent, to_child = os.pipe()  # (read end, write end)
        from_child, to_parent = os.pipe()
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(_worker.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tasuki.service._worker",
                    str(from_parent),
                    str(to_parent),
                    str(os.getpid()),
                    self.scheme,
                ],
                pass_fds=(from_parent, to_parent),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(from_parent)
            os.close(to_parent)
        handle = _Handle(
            process, Connection(to_child, readable=False), Connection(from_child, writable=False)
        )
        try:
            ready = handle.recv.poll(SPAWN_TIMEOUT)
            if ready:
                message = handle.recv.recv()  # ("ready", pid, modules preloaded)
                handle.preloaded = tuple(message[2]) if len(message) > 2 else ()
        except (EOFError, OSError):
            ready = False
        if not ready:
            _stop(handle)
            raise OSError(
                f"query worker {index} did not start within {SPAWN_TIMEOUT:g} s "
                f"(exit code {process.poll()}); see the service's standard error"
            )
        with self._cond:
            self._handles[index] = handle
        logger.debug("query worker %d started (pid %s)", index, process.pid)
        return handle


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.kill()
    except OSError:
        logger.debug("killing worker %s failed", process.pid, exc_info=True)


def _stop(handle: _Handle) -> None:
    """Ask a worker to exit, then make sure it did."""
    try:
        handle.send.send(None)
    except (OSError, ValueError):
        pass
    try:
        handle.process.wait(2)
    except subprocess.TimeoutExpired:
        _kill(handle.process)
        handle.process.wait(5)
    handle.send.close()
    handle.recv.close()
