"""One build's logging, off the build's thread: a few background threads run the jobs the
hook hands them (one per task), the first failure stops the rest with one warning, and the
build's end waits for what is left within a bound.

Kept apart from the MLflow calls so that the queueing, the bound and the single warning are
the same whatever a tracker talks to.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from tasuki._redact import redact

__all__ = ["Session", "TrackingStats"]

logger = logging.getLogger("tasuki.tracking")


def _STOP() -> None:
    """The job that tells a background thread to end."""


@dataclass
class TrackingStats:
    """What one build's tracking cost, measured where it was spent.

    Attributes:
        hook_s: Time the hook took on the build's own thread (the critical path), all
            events together.
        hook_calls: How many events that was.
        mlflow_s: Wall time of the logging on the background threads, from the first
            request to the last.
        busy_s: Their time added up (several threads log at once).
        drain_s: How long the build's end waited for the logging to finish.
        jobs_done: Jobs finished (one per task run, link, or build run).
        jobs_skipped: Jobs dropped after a failure or when the bound ran out.
        failure: Why logging stopped, or None.
    """

    hook_s: float = 0.0
    hook_calls: int = 0
    mlflow_s: float = 0.0
    busy_s: float = 0.0
    drain_s: float = 0.0
    jobs_done: int = 0
    jobs_skipped: int = 0
    failure: str | None = None

    @property
    def hook_ms_per_call(self) -> float:
        """Milliseconds on the build's thread per hook event."""
        return 1000 * self.hook_s / self.hook_calls if self.hook_calls else 0.0


class Session:
    """The background side of one build's tracking.

    Args:
        name: What is logged to, for messages (already redacted).
        build_id: The build's id.
        threads: Jobs run at once (each is a few sequential requests for one run).
        on_failure: Called once, on a background thread, with the reason logging stopped.
    """

    def __init__(
        self,
        name: str,
        build_id: str,
        *,
        threads: int,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.build_id = build_id
        self.stats = TrackingStats()
        # Daemon threads, not a ThreadPoolExecutor: the interpreter joins an executor's
        # threads at exit, so a request hanging on a stalled server (MLflow's client waits
        # 120 s per try) would hold the process after the build returned.
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._queue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"tasuki-tracking-{i}", daemon=True)
            for i in range(threads)
        ]
        self._started = False
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._on_failure = on_failure
        self._first_start: float | None = None
        self._last_end: float | None = None

    @property
    def failed(self) -> bool:
        """Whether logging stopped (a failure, or the bound ran out)."""
        return self._stop.is_set()

    def submit(self, job: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``job(*args)`` for a background thread (a few microseconds here)."""
        future: Future[Any] = Future()
        self._futures.append(future)
        self._queue.put((future, job, args))
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            future, job, args = self._queue.get()
            if job is _STOP:
                return
            if not future.set_running_or_notify_cancel():
                continue  # dropped by drain()
            try:
                future.set_result(self._run(job, args))
            except BaseException as exc:  # _run catches Exception; keep the future honest
                future.set_exception(exc)

    def _run(self, job: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        if self._stop.is_set():
            with self._lock:
                self.stats.jobs_skipped += 1
            return None
        t0 = time.perf_counter()
        with self._lock:
            if self._first_start is None:
                self._first_start = t0
        try:
            return job(*args)
        except Exception as exc:
            self.fail(f"{type(exc).__name__}: {exc}")
            return None
        finally:
            t1 = time.perf_counter()
            with self._lock:
                self.stats.busy_s += t1 - t0
                self.stats.jobs_done += 1
                self._last_end = max(t1, self._last_end or t1)

    def fail(self, reason: str) -> None:
        """Stop logging (jobs not started are dropped) and report ``reason`` once."""
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
            self.stats.failure = redact(reason)[:2000]
        if self._on_failure is not None:
            self._on_failure(self.stats.failure)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued job; True when all finished.

        Jobs still queued after the bound are dropped; one still running is left to finish
        on its own (its thread never holds the build), and reported as a failure.
        """
        t0 = time.perf_counter()
        _, pending = wait(list(self._futures), timeout=timeout)
        self.stats.drain_s = time.perf_counter() - t0
        if pending:
            self.fail(
                f"logging did not finish within {timeout:g} s ({len(pending)} of "
                f"{len(self._futures)} jobs left)"
            )
            with self._lock:
                self.stats.jobs_skipped += sum(1 for f in pending if f.cancel())
        for _ in self._threads if self._started else ():
            # Each thread ends after its current job (one hanging on a request ends with it).
            self._queue.put((Future(), _STOP, ()))
        if self._first_start is not None and self._last_end is not None:
            self.stats.mlflow_s = self._last_end - self._first_start
        return not pending
