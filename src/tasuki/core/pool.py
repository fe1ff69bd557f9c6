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
        # Messages are lists of finished results (TaskResult) and started ids (str). A start
        # is sent at once, so the parent logs and emits it when the task really starts; the
        # results finished since the last message travel with it. Results of tasks found
        # cached (no start) wait up to 50 ms, so a run of cached tasks costs few messages.
        pending: list[TaskResult | str] = []
        flushed = time.monotonic()

        def on_start(uid: str) -> None:
            nonlocal pending, flushed
            pending.append(uid)
            conn.send(pending)
            pending, flushed = [], time.monotonic()

        for uid, forced in batch:
            node = graph.nodes[uid]
            try:
                result = execute(
                    node,
                    store,
                    settings,
                    completeness,
                    forced=forced,
                    on_start=on_start,
                    graph=graph,
                )
            except BaseException as exc:  # leases, storage: report, keep the worker alive
                result = TaskResult(
                    uid,
                    type(node.task).task_name(),
                    "failed",
                    error=ErrorInfo(type(exc).__name__, str(exc), "", False),
                )
            pending.append(result)
            if time.monotonic() - flushed > _FLUSH_SECONDS:
                conn.send(pending)
                pending, flushed = [], time.monotonic()
        if pending:
            conn.send(pending)


class ProcessPool:
    """N forked workers fed batches of task ids over pipes.

    A worker that dies (killed, out of memory) is dropped: the task it was running is
    reported failed, the tasks queued behind it go back to the scheduler, and the build goes
    on with the workers left.
    """

    def __init__(
        self,
        workers: int,
        graph: Graph,
        store: Store,
        settings: Settings,
        completeness: Completeness,
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conns: dict[int, Connection] = {}
        self._procs: dict[int, Any] = {}
        self._assigned: dict[int, dict[str, None]] = {}
        self._running: dict[int, set[str]] = {}
        self._broken: set[int] = set()
        self._names = {uid: type(node.task).task_name() for uid, node in graph.nodes.items()}
        for index in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main,
                args=(child, graph, store, settings, completeness),
                daemon=True,
            )
            proc.start()
            child.close()
            self._conns[index] = parent
            self._procs[index] = proc
            self._assigned[index] = {}
            self._running[index] = set()

    @property
    def size(self) -> int:
        """Number of live workers."""
        return len(self._conns)

    def workers(self) -> list[int]:
        """Indexes of the live workers that take work."""
        return [w for w in self._conns if w not in self._broken]

    def load(self, worker: int) -> int:
        """Tasks sent to ``worker`` and not yet reported finished."""
        return len(self._assigned[worker])

    def busy(self) -> bool:
        """Whether any worker holds tasks (or died and has not been reaped yet)."""
        return any(self._assigned[w] for w in self._conns) or bool(self._broken & set(self._conns))

    def submit(self, worker: int, batch: list[tuple[str, bool]]) -> bool:
        """Send a batch of ``(uid, forced)`` to ``worker``; False when it has died (its pipe
        is broken): the batch was not taken, and the worker gets no more work."""
        try:
            self._conns[worker].send(batch)
        except OSError:  # BrokenPipeError: it died before we read its end of the pipe
            self._broken.add(worker)
            return False
        self._assigned[worker].update(dict.fromkeys(uid for uid, _ in batch))
        return True

    def results(
        self,
        on_start: Callable[[str], None],
        on_result: Callable[[TaskResult], None],
        on_requeue: Callable[[list[str]], None],
    ) -> None:
        """Wait for messages and pass every start and result in them on."""
        by_conn = {conn: index for index, conn in self._conns.items()}
        for item in wait(list(by_conn)):
            index = by_conn[item]  # type: ignore[index]
            try:
                messages: list[TaskResult | str] = self._conns[index].recv()
            except (EOFError, OSError):
                failed, queued = self._drop(index)
                on_requeue(queued)
                for result in failed:
                    on_result(result)
                continue
            for message in messages:
                if isinstance(message, str):
                    self._running[index].add(message)
                    on_start(message)
                else:
                    self._assigned[index].pop(message.uid, None)
                    self._running[index].discard(message.uid)
                    on_result(message)

    def _drop(self, index: int) -> tuple[list[TaskResult], list[str]]:
        """Forget a dead worker: failures for what it ran, ids of what it had not started."""
        proc = self._procs.pop(index)
        self._conns.pop(index).close()
        self._broken.discard(index)
        proc.join(timeout=5)
        held = self._assigned.pop(index)
        running = self._running.pop(index)
        message = (
            f"worker process {proc.pid} died (exit code {proc.exitcode}) while running this "
            "task; it is incomplete and runs again next time"
        )
        logger.error("%s (%d task(s) running)", message, len(running))
        failed = [
            TaskResult(
                uid,
                self._names[uid],
                "failed",
                error=ErrorInfo("WorkerDiedError", message, "", True),
            )
            for uid in held
            if uid in running
        ]
        return failed, [uid for uid in held if uid not in running]

    def close(self, *, kill: bool = False) -> None:
        """Stop the workers: politely, or at once (Ctrl-C)."""
        for index, conn in self._conns.items():
            proc = self._procs[index]
            if kill and proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
            else:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for index, conn in self._conns.items():
            proc = self._procs[index]
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
