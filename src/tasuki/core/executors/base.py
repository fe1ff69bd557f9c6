"""The executor seam: what the runner hands the planned work to.

An executor receives the :class:`~tasuki.core.schedule.Schedule` of a build (the tasks that
must run, each a :class:`~tasuki.core.schedule.WorkItem` with its graph node, handed out in
dependency order as their requirements finish) and runs them, reporting each start and each
:class:`~tasuki.core.results.TaskResult` back to it. Everything else (the plan, what a failure
skips, the repair of damaged outputs, hooks, progress, the summary, run records) stays with
the runner and the schedule, so it behaves the same whatever the executor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tasuki.core.schedule import Schedule

__all__ = ["Executor"]


@runtime_checkable
class Executor(Protocol):
    """Runs the tasks of a build.

    ``run`` returns when ``schedule.done`` is True or nothing more can run. The loop of an
    executor that runs one task at a time is the whole contract::

        class InlineExecutor:
            def run(self, schedule):
                while items := schedule.take(1):
                    schedule.finish(schedule.run(items[0], on_start=schedule.started))

    Rules:
        - take work only through ``schedule.take(limit)``; an empty list while
          ``schedule.done`` is False means: report what is running, then take again;
        - run each item with ``schedule.run(item, on_start=...)``, in this process or in one
          forked from it (it holds the task's lease, checks the cache again under it, and
          writes the outputs and the record last);
        - call ``schedule.started(uid)`` when a task's ``run()`` begins and
          ``schedule.finish(result)`` with its result, both in this process (hooks and the
          progress display live here); ``schedule.give_back(uids)`` for items taken but
          never started;
        - let ``KeyboardInterrupt`` through, after stopping what it started.

    An executor whose workers run tasks in processes that did not plan the build (another
    machine, a cluster) sets the class attribute ``travels_by_id = True``: the runner then
    writes the definitions of the tasks it must run to the workspace before ``run``, as one
    bundle named by ``schedule.bundle``, and a worker runs one with
    :func:`tasuki.core.definitions.run_one` (``tasuki run-one ID --bundle NAME``), from its
    unique id alone.

    Register one for ``tasuki run --executor NAME`` and ``executor = "NAME"`` in settings with
    an entry point in the group ``tasuki.executors`` naming a class that takes no arguments.
    """

    def run(self, schedule: Schedule) -> None:
        """Run the schedule's tasks, reporting each start and result to it."""
        ...
