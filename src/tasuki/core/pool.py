"""Local worker processes for ``workers=N``.

Workers are forked once per build, after the graph is built, so they inherit every task
value: only unique ids cross the pipe (a chain 10,000 deep never gets pickled), and there is
no process per task (gokart and luigi fork one per task, which makes two workers slower
than one on small tasks). Ready tasks go out in batches to keep the pipes quiet.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from tasuki.core.execute import execute
from tasuki.core.results import ErrorInfo, TaskResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasuki.config import Settings
    from tasuki.core.execute import Completeness
    from tasuki.core.graph import Graph
    from tasuki.storage.base import Store

__all__ = ["ProcessPool", "fork_available"]

_FLUSH_SECONDS = 0.05

logger = logging.getLogger(__name__)


def fork_available() -> bool:
    """Whether this platform can fork workers (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _worker_main(
    conn: Connection,
    graph: Graph,
    store: Store,
    settings: Settings,
    completeness: Completeness,
) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what to do, and a task
    # interrupted mid-write leaves only a temporary file behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        # Results go back in groups: a send per task wakes the scheduler (and, on a busy
        # machine, costs a context switch) for every small task. A group is flushed at the
        # end of the batch, or once it is 50 ms old, so dependents are released promptly.
        done: list[TaskResult] = []
        flushed = time.monotonic()
        for uid, forced in batch:
            task = graph.nodes[uid].task
            try:
                result = execute(task, store, settings, completeness, forced=forced)
            except BaseException as exc:  # leases, storage: report, keep the worker alive
                result = TaskResult(
                    uid,
                    type(task).task_name(),
                    "failed",
                    error=ErrorInfo(type(exc).__name__, str(exc), "", False),
                )
            done.append(result)
            if time.monotonic() - flushed > _FLUSH_SECONDS:
                conn.send(done)
                done, flushed = [], time.monotonic()
        if done:
            conn.send(done)


class ProcessPool:
    """N forked workers fed batches of task ids over pipes."""

    def __init__(
        self,
        workers: int,
        graph: Graph,
        store: Store,
        settings: Settings,
        completeness: Completeness,
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self.in_flight: dict[int, int] = {}
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main,
                args=(child, graph, store, settings, completeness),
                daemon=True,
            )
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
            self.in_flight[len(self._conns) - 1] = 0

    @property
    def size(self) -> int:
        """Number of workers."""
        return len(self._conns)

    def submit(self, worker: int, batch: list[tuple[str, bool]]) -> None:
        """Send a batch of ``(uid, forced)`` to ``worker``."""
        self._conns[worker].send(batch)
        self.in_flight[worker] += len(batch)

    def results(self, on_result: Callable[[TaskResult], None]) -> None:
        """Wait for results and pass every available one to ``on_result``."""
        ready = wait(self._conns)
        for item in ready:
            conn: Connection = item  # type: ignore[assignment]
            index = self._conns.index(conn)
            try:
                results: list[TaskResult] = conn.recv()
            except EOFError:
                proc = self._procs[index]
                raise RuntimeError(
                    f"worker process {proc.pid} died (exit code {proc.exitcode}); the tasks it "
                    "held are incomplete and will run again next time"
                ) from None
            self.in_flight[index] -= len(results)
            for result in results:
                on_result(result)

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers: politely, or at once (Ctrl-C)."""
        for conn, proc in zip(self._conns, self._procs, strict=True):
            if kill and proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
            else:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for conn, proc in zip(self._conns, self._procs, strict=True):
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
