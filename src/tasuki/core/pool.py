"""Local worker processes for ``workers=N``.

Workers are forked once per build, after the graph is built, so they inherit every task
value: only unique ids cross the pipe (a chain 10,000 deep never gets pickled), and there is
no process per task (gokart and luigi fork one per task, which makes two workers slower
than one on small tasks). Ready tasks go out in batches to keep the pipes quiet.
"""

from __future__ import annotations

import logging
import mmap
import multiprocessing
import os
import select
import signal
import threading
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
#: Bytes of shared memory per worker for the id of the task it runs (ids are 64 hex digits).
_SLOT = 64
#: Most seconds a worker holds a task's start before telling the parent.
_START_DELAY = 0.01

logger = logging.getLogger(__name__)


def fork_available() -> bool:
    """Whether this platform can fork workers (not on Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


class _Outbox:
    """What a worker has to tell the parent, sent in few messages.

    Messages are lists of started ids (str) and finished results. A start is sent within
    :data:`_START_DELAY` seconds, by a flusher thread while the task runs (so the parent logs
    and emits it while the task is running, however long it takes), together with whatever
    else is pending; results of tasks found cached (no start) wait up to
    :data:`_FLUSH_SECONDS`. A message per task start cost the parent a wake-up, a poll and
    two reads per task: ~60 us of its CPU per task dispatched, three times issue 12's budget.
    """

    def __init__(self, conn: Connection, slot: memoryview) -> None:
        self.conn = conn
        self.slot = slot
        self.pending: list[TaskResult | _Compact | str] = []
        self.flushed = time.monotonic()
        self.lock = threading.Lock()
        self.started = threading.Event()
        threading.Thread(target=self._flusher, name="tasuki-outbox", daemon=True).start()

    def start(self, uid: str) -> None:
        # Said at once through shared memory (no message, no wake-up): if this process dies
        # in the task, the parent knows which task it was running, fails that one and
        # requeues the rest, before the start's message could have been sent.
        self.slot[:] = uid.encode().ljust(_SLOT, b"\0")[:_SLOT]
        with self.lock:
            self.pending.append(uid)
        self.started.set()

    def finish(self, result: TaskResult) -> None:
        self.slot[:] = bytes(_SLOT)
        with self.lock:
            self.pending.append(_compact(result))
            if time.monotonic() - self.flushed > _FLUSH_SECONDS:
                self._send()

    def flush(self) -> None:
        with self.lock:
            if self.pending:
                self._send()

    def _send(self) -> None:  # with the lock held
        self.conn.send(self.pending)
        self.pending, self.flushed = [], time.monotonic()

    def _flusher(self) -> None:
        while True:
            self.started.wait()
            time.sleep(_START_DELAY)  # let the starts and results of quick tasks gather
            self.started.clear()
            try:
                self.flush()
            except OSError:  # the parent is gone: the main loop sees it too
                return


def _worker_main(
    conn: Connection,
    graph: Graph,
    store: Store,
    settings: Settings,
    completeness: Completeness,
    slots: mmap.mmap,
    index: int,
) -> None:
    # Ctrl-C reaches the whole process group; the parent decides what to do, and a task
    # interrupted mid-write leaves only a temporary file behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = _Outbox(conn, memoryview(slots)[index * _SLOT : (index + 1) * _SLOT])
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for uid, forced, fresh in batch:
            node = graph.nodes[uid]
            try:
                result = execute(
                    node,
                    store,
                    settings,
                    completeness,
                    forced=forced,
                    on_start=outbox.start,
                    graph=graph,
                    fresh_inputs=fresh,
                )
            except BaseException as exc:  # leases, storage: report, keep the worker alive
                result = TaskResult(
                    uid,
                    type(node.task).task_name(),
                    "failed",
                    error=ErrorInfo(type(exc).__name__, str(exc), "", False),
                )
            outbox.finish(result)
        outbox.flush()


# A result that is only its status and timings travels as a tuple: the parent knows the
# task's name, and unpickling a TaskResult costs several times a tuple's (~9 us each, a
# sizeable part of the parent's CPU per task it dispatches).
_Compact = tuple[str, str, str | None, str | None, float, int, str]


def _compact(result: TaskResult) -> TaskResult | _Compact:
    if result.error is not None or result.log_tail or result.damaged is not None:
        return result
    return (
        result.uid,
        result.status,
        result.started_at,
        result.finished_at,
        result.duration_s,
        result.attempts,
        result.note,
    )


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
        # One poll object for the pool's life: multiprocessing's wait() builds a selector
        # and registers every pipe again on each call, once per message received.
        self._poll = select.poll() if hasattr(select, "poll") else None
        self._fds: dict[int, int] = {}
        # Per worker, the id of the task it is running (shared memory, see _Outbox.start).
        self._slots = mmap.mmap(-1, _SLOT * workers)
        for index in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main,
                args=(child, graph, store, settings, completeness, self._slots, index),
                daemon=True,
            )
            proc.start()
            child.close()
            self._conns[index] = parent
            self._fds[parent.fileno()] = index
            if self._poll is not None:
                self._poll.register(parent.fileno(), select.POLLIN)
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

    def submit(self, worker: int, batch: list[tuple[str, bool, bool]]) -> bool:
        """Send a batch of ``(uid, forced, fresh)`` (``WorkItem``'s fields) to ``worker``;
        False when it has died (its pipe
        is broken): the batch was not taken, and the worker gets no more work."""
        try:
            self._conns[worker].send(batch)
        except OSError:  # BrokenPipeError: it died before we read its end of the pipe
            self._broken.add(worker)
            return False
        self._assigned[worker].update(dict.fromkeys(uid for uid, *_ in batch))
        return True

    def results(
        self,
        on_start: Callable[[str], None],
        on_result: Callable[[TaskResult], None],
        on_requeue: Callable[[list[str]], None],
    ) -> None:
        """Wait for messages and pass every start and result in them on."""
        if self._poll is not None:
            ready = [self._fds[fd] for fd, _ in self._poll.poll() if fd in self._fds]
        else:  # no poll() on this platform
            by_conn = {conn: index for index, conn in self._conns.items()}
            ready = [by_conn[c] for c in wait(list(by_conn))]  # type: ignore[index]
        for index in ready:
            if index not in self._conns:
                continue
            try:
                messages: list[TaskResult | _Compact | str] = self._conns[index].recv()
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
                    if isinstance(message, tuple):
                        uid, status, started, finished, duration, attempts, note = message
                        message = TaskResult(  # positional: a third of keywords' cost
                            uid, self._names[uid], status, started, finished, duration, attempts
                        )
                        message.note = note
                    self._assigned[index].pop(message.uid, None)
                    self._running[index].discard(message.uid)
                    on_result(message)

    def _drop(self, index: int) -> tuple[list[TaskResult], list[str]]:
        """Forget a dead worker: failures for what it ran, ids of what it had not started."""
        proc = self._procs.pop(index)
        conn = self._conns.pop(index)
        fd = conn.fileno()
        if self._poll is not None:
            self._poll.unregister(fd)
        self._fds.pop(fd, None)
        conn.close()
        self._broken.discard(index)
        proc.join(timeout=5)
        held = self._assigned.pop(index)
        running = self._running.pop(index)
        said = (
            self._slots[index * _SLOT : (index + 1) * _SLOT]
            .rstrip(b"\0")
            .decode("ascii", "replace")
        )
        if said in held:
            running.add(said)
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
