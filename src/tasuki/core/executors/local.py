"""The local executor: forked worker processes on this machine (``workers`` in settings).

Workers are forked once per build, after the graph is built, so they inherit every task and
node: only unique ids cross the pipes, in batches (see :mod:`tasuki.core.pool`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tasuki.core.executors.inline import InlineExecutor
from tasuki.core.records import environment
from tasuki.core.results import ErrorInfo, TaskResult

if TYPE_CHECKING:
    from tasuki.core.pool import ProcessPool
    from tasuki.core.schedule import Schedule
    from tasuki.storage.base import Store

__all__ = ["LocalExecutor"]

logger = logging.getLogger(__name__)

#: Most tasks sent to a worker in one message.
_MAX_BATCH = 64


def _shareable(store: Store) -> bool:
    """Whether worker processes can share this workspace (``memory://`` lives in one process)."""
    if store.url.startswith("memory://"):
        logger.warning("workers > 1 ignored: a memory:// workspace cannot be shared by processes")
        return False
    from tasuki.core.pool import fork_available

    return fork_available()


class LocalExecutor:
    """Runs tasks in ``workers`` forked processes (the default executor, ``local``).

    With one worker, fewer than two tasks to run, a ``memory://`` workspace or no ``fork``
    (Windows), it runs them inline instead: forking would cost more than it saves.

    Args:
        workers: Worker processes; by default the build's ``workers`` setting.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def run(self, schedule: Schedule) -> None:
        """Run the schedule's tasks in worker processes (or inline, see the class doc)."""
        workers = self.workers or schedule.settings.workers
        if workers > 1 and len(schedule.needed) > 1 and _shareable(schedule.store):
            self._run_pool(schedule, workers)
        else:
            InlineExecutor().run(schedule)

    def _run_pool(self, schedule: Schedule, workers: int) -> None:
        # Imported here: multiprocessing costs ~15 ms of every `import tasuki` otherwise,
        # and a build with one worker never forks.
        from tasuki.core.pool import ProcessPool

        environment()  # computed once here, not once per forked worker (it runs git)
        pool = ProcessPool(
            workers, schedule.graph, schedule.store, schedule.settings, schedule.completeness
        )
        clean = False
        try:
            while not schedule.done:
                _dispatch(schedule, pool)
                if not pool.busy():
                    break
                pool.results(schedule.started, schedule.finish, schedule.give_back)
            clean = True
        finally:
            pool.close(kill=not clean)
        if not pool.size:
            for uid in schedule.unfinished():
                schedule.finish(
                    TaskResult(
                        uid,
                        type(schedule.graph.nodes[uid].task).task_name(),
                        "failed",
                        error=ErrorInfo(
                            "WorkerDiedError",
                            "every worker process died before this task could start",
                            "",
                            True,
                        ),
                    )
                )


def _dispatch(schedule: Schedule, pool: ProcessPool) -> None:
    while schedule.ready_count and pool.workers() and not schedule.done:
        share = max(1, min(_MAX_BATCH, schedule.ready_count // (2 * pool.size)))
        # Up to two batches per worker: one running, one waiting in its pipe.
        idle = [w for w in pool.workers() if pool.load(w) < 2 * share]
        if not idle:
            return
        for worker in idle:
            batch = [(item.uid, item.forced, item.fresh) for item in schedule.take(share)]
            if batch and not pool.submit(worker, batch):
                schedule.give_back([uid for uid, *_ in batch])
