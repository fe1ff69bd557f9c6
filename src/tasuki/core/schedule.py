"""The schedule of one build: what must run, what is ready, what each task reported.

The runner plans a build (which tasks must run, and why), then hands a :class:`Schedule` to
an executor. The schedule keeps every scheduling decision; executors only move work.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tasuki.core.execute import MIXED, RECHECK, Completeness, execute
from tasuki.core.records import delete_record
from tasuki.core.results import ErrorInfo, TaskResult

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.graph import Graph, Node
    from tasuki.core.hooks import HookCaller
    from tasuki.core.progress import Progress
    from tasuki.storage.base import Store

__all__ = ["Schedule", "WorkItem", "failed_result"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One task to run: its graph node (task, unique id, requirements, outputs) and whether
    it reruns although cached (``--rerun``, a damaged output). Running it takes the task's
    per-id lease (``Schedule.run``)."""

    node: Node
    forced: bool
    fresh: bool = False
    """Read what the run reads from the records, not from what this process read before:
    set once a task ran again in this build after others read it (a damaged output's
    producer), which another worker process may still remember as it was."""

    @property
    def uid(self) -> str:
        """The task's unique id."""
        return self.node.uid


def failed_result(item: WorkItem, exc: BaseException) -> TaskResult:
    """A ``failed`` result for an error raised around a task (not inside its ``run()``)."""
    return TaskResult(
        item.uid,
        type(item.node.task).task_name(),
        "failed",
        error=ErrorInfo(type(exc).__name__, str(exc), "", False),
    )


class Schedule:
    """The planned work of one build, handed to an :class:`~tasuki.core.executors.Executor`.

    It keeps all the bookkeeping in one place: which needed tasks are ready (every needed
    requirement finished), what each reported, what a failure skips (its dependents; the
    rest with ``fail_fast``), and the repair of damaged outputs (the producer reruns once,
    then its consumer). Executors only move work: they :meth:`take` ready items, run each
    with :meth:`run` (in this process or any process forked from it), and report back
    through :meth:`started` and :meth:`finish` in the scheduling process, where hooks and
    the progress display live.

    Attributes:
        graph: The build's graph.
        needed: Unique id -> why that task must run, for every task the build runs.
        store: The workspace.
        settings: The build's settings (``workers``, ``lock_timeout``...).
        completeness: The cache check :meth:`run` repeats under each lease.
    """

    def __init__(
        self,
        graph: Graph,
        needed: dict[str, str],
        forced: set[str],
        results: dict[str, TaskResult],
        settings: Settings,
        call: HookCaller,
        progress: Progress,
        store: Store,
        completeness: Completeness,
        *,
        bundle: str | None = None,
    ) -> None:
        self.graph = graph
        #: The definitions bundle written for an executor whose tasks travel by id.
        self.bundle = bundle
        self.completeness = completeness
        self.needed = needed
        self.forced = forced
        self.results = results
        self.settings = settings
        self.call = call
        self.progress = progress
        self.store = store
        self.waiting = {uid: sum(1 for d in graph.nodes[uid].deps if d in needed) for uid in needed}
        order = [u for u in graph.order if u in needed]
        self.ready: deque[str] = deque(u for u in order if self.waiting[u] == 0)
        self.open = len(needed)  # needed tasks without a final result yet
        self.stop = False
        # Damaged upstream outputs found while loading: producer id -> consumers waiting for
        # its rerun, the producers rerun once, and each consumer retried once per producer (a
        # consumer that
        # finds the output damaged again after its retry fails).
        self.blocked: dict[str, set[str]] = {}
        self.repaired: set[str] = set()
        # (consumer, producer) retried once after a repair: a consumer may find several of its
        # inputs damaged, one after the other
        self.retried: set[tuple[str, str]] = set()
        # Tasks being checked when a producer below them was found damaged: a "cached"
        # answer was made from its old record, so they are checked again after its rerun.
        self.recheck_on_finish: dict[str, str] = {}

    def _set_result(self, result: TaskResult) -> None:
        if result.uid in self.needed and result.uid not in self.results:
            self.open -= 1
        self.results[result.uid] = result

    def started(self, uid: str) -> None:
        """The task's ``run()`` is about to begin (called from the worker's report)."""
        task = self.graph.nodes[uid].task
        reason = self.needed.get(uid, "")
        if logger.isEnabledFor(logging.INFO):  # the arguments cost more than the call
            logger.info(
                "running %r%s",
                task,
                f": {reason}" if reason else "",
                extra={"task": type(task).task_name(), "key": uid},
            )
        self.progress.started(uid)
        self.call.task_start(task, uid, reason)

    def finish(self, result: TaskResult) -> None:
        """Take one task's final result (or a damaged upstream to repair first)."""
        uid = result.uid
        if result.status == "failed" and result.damaged and self._repair(result):
            return
        producer = self.recheck_on_finish.pop(uid, None)
        if producer is not None and result.status == "cached":
            self.progress.requeued(uid)
            if producer in self.results:  # its rerun ended meanwhile
                self.waiting[uid] = 0
                self.ready.append(uid)
            else:
                self.waiting[uid] = 1
                self.blocked.setdefault(producer, set()).add(uid)
            return
        task = self.graph.nodes[uid].task
        self._set_result(result)
        if result.status == "failed":
            err = result.error
            # The traceback from the task's own code: where to look, in the build's log.
            where = err.task_traceback() if err is not None else ""
            logger.error(
                "failed %r: %s: %s%s",
                task,
                err.type if err else "",
                err.message if err else "",
                "\n" + where if where else "",
                extra={"task": result.name, "key": uid},
            )
            self._skip_dependents(uid)
            if self.settings.fail_fast:
                self.stop = True
        else:
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "%s %r in %.3fs",
                    result.status,
                    task,
                    result.duration_s,
                    extra={"task": result.name, "key": uid},
                )
            blocked = self.blocked.pop(uid, None)
            for parent in self.graph.nodes[uid].dependents if blocked is None else blocked:
                if parent in self.waiting:
                    self.waiting[parent] -= 1
                    if self.waiting[parent] == 0 and parent not in self.results:
                        self.ready.append(parent)
        self.progress.finished(uid, result.status)
        self.call.task_end(task, result)

    def _repair(self, result: TaskResult) -> bool:
        """Rerun the task whose output ``result``'s task found damaged (or gone), then
        retry it."""
        producer, consumer = result.damaged or "", result.uid
        if producer not in self.graph.nodes or producer == consumer:
            return False
        if (consumer, producer) in self.retried:
            return False  # damaged again after the producer's rerun: a real failure
        self.retried.add((consumer, producer))
        self.progress.requeued(consumer)
        if producer in self.repaired:
            # Another consumer reported it first. This one may have read the old bytes
            # before the rerun ended (a parallel worker): retry it once the rerun is done.
            done = self.results.get(producer)
            if done is None:
                self.waiting[consumer] = 1
                self.blocked.setdefault(producer, set()).add(consumer)
            elif done.status == "failed":
                return False
            else:
                self.waiting[consumer] = 0
                self.ready.append(consumer)
            return True
        self.repaired.add(producer)
        self.waiting[consumer] = 1
        self.blocked.setdefault(producer, set()).add(consumer)
        node = self.graph.nodes[producer]
        kind = result.error.type if result.error is not None else ""
        state = {"OutputGoneError": "gone", MIXED: "out of date"}.get(kind, "damaged")
        logger.warning(
            "%r found the output of %r %s: %s; running %r again, then %r",
            self.graph.nodes[consumer].task,
            node.task,
            state,
            result.error.message if result.error else "",
            node.task,
            self.graph.nodes[consumer].task,
        )
        delete_record(self.store, producer)
        old = self.results.pop(producer, None)
        if old is not None and producer in self.needed:
            self.open += 1
        if producer not in self.needed:
            self.open += 1
        self.needed[producer] = f"its output was found {state}"
        self.progress.reopened(producer, old.status if old else None)
        self.forced.add(producer)
        self._plan_below(producer)
        self._recheck_above(producer, state)
        return True

    def _recheck_above(self, producer: str, state: str) -> None:
        """Plan again, after the producer's rerun, the tasks judged complete from its old
        record (directly, or through other such tasks) that a task still to run reads, or
        that are roots: the rerun may make other bytes (a run with its own randomness), and
        a task reading one of them and another made from the new bytes would mix two
        versions of the producer. Each is checked again under its lease, as the plan does
        for what runs below a complete task (``execute.RECHECK``): one taken as complete
        (not planned), one found cached in this build, and one being checked right now
        (sent back once its answer comes, :meth:`finish`)."""
        nodes = self.graph.nodes
        above: set[str] = {producer}
        chain: list[str] = []
        for uid in self.graph.order:  # dependencies first
            if self._judged_from_records(uid) and any(d in above for d in nodes[uid].deps):
                above.add(uid)
                chain.append(uid)
        if not chain:
            return
        roots = set(self.graph.roots)
        keep: set[str] = set()
        for uid in reversed(chain):  # what reads a task comes before it
            if uid in roots or any(
                r in keep or self._not_started(r) for r in nodes[uid].dependents
            ):
                keep.add(uid)
        name = type(nodes[producer].task).__qualname__
        for uid in (u for u in chain if u in keep):  # dependencies first
            if uid in self.needed and uid not in self.results:  # being checked now
                self.recheck_on_finish[uid] = producer
                continue
            self.needed[uid] = (
                f"{RECHECK} ({name}[{producer[:10]}], found {state}): it runs only if that "
                "changed what it read"
            )
            self.open += 1
            old = self.results.pop(uid, None)
            self.progress.reopened(uid, old.status if old else None)
            waits = [d for d in nodes[uid].deps if d in self.needed and d not in self.results]
            self.waiting[uid] = len(waits)
            if producer in waits:  # the producer's end releases only what it blocks
                self.blocked.setdefault(producer, set()).add(uid)
            for reader in nodes[uid].dependents:
                if reader not in keep and self._not_started(reader):
                    self.waiting[reader] += 1
                    if reader in self.ready:
                        self.ready.remove(reader)

    def _judged_from_records(self, uid: str) -> bool:
        """Whether ``uid`` was (or is being) judged complete from the records alone in this
        build: not planned, found cached, or planned and being checked now."""
        if uid not in self.needed:
            return True
        done = self.results.get(uid)
        if done is not None:
            return done.status == "cached"
        return self.waiting.get(uid, 0) == 0 and uid not in self.ready

    def _not_started(self, uid: str) -> bool:
        """A task this build runs that has not been handed out yet (waiting, or ready)."""
        if uid not in self.needed or uid in self.results:
            return False
        return self.waiting.get(uid, 0) > 0 or uid in self.ready

    def _plan_below(self, uid: str) -> None:
        """Make ``uid`` (a producer to run again) wait for what its run needs that this build
        was not running: requirements found incomplete (an output deleted while what read it
        was complete, so the plan never looked below it), and theirs. Without them the
        producer's run would fail to load its input, and the build with it."""
        nodes = self.graph.nodes
        added: list[str] = []
        frontier = [d for d in nodes[uid].deps if d not in self.needed]
        seen = set(frontier)
        while frontier:
            verdicts = self.completeness.verdicts([nodes[u] for u in frontier])
            next_frontier = []
            for dep, reason in zip(frontier, verdicts, strict=True):
                if reason is None:
                    continue
                self.needed[dep] = reason
                self.open += 1
                added.append(dep)
                old = self.results.pop(dep, None)  # planned as cached / not needed
                self.progress.reopened(dep, old.status if old else None)
                for below in nodes[dep].deps:
                    if below not in seen and below not in self.needed:
                        seen.add(below)
                        next_frontier.append(below)
            frontier = next_frontier
        planned = set(added)
        for u in [v for v in self.graph.order if v in planned] + [uid]:  # dependencies first
            waits = sum(1 for d in nodes[u].deps if d in self.needed and d not in self.results)
            self.waiting[u] = waits
            if waits == 0:
                self.ready.appendleft(u) if u == uid else self.ready.append(u)

    def _skip_dependents(self, uid: str) -> None:
        for parent in self.graph.ancestors_of([uid]) - {uid}:
            if parent in self.needed and parent not in self.results:
                node = self.graph.nodes[parent]
                skipped = TaskResult(
                    parent, type(node.task).task_name(), "upstream_failed", note=uid
                )
                self._set_result(skipped)
                self.progress.finished(parent, "upstream_failed")
                self.call.task_end(node.task, skipped)

    # ------------------------------------------------------------ what executors call

    @property
    def done(self) -> bool:
        """Nothing more will be handed out: every needed task has its result, or a failure
        stopped the build (``fail_fast``)."""
        return self.stop or not self.open

    @property
    def ready_count(self) -> int:
        """How many tasks are ready to run now (an upper bound for :meth:`take`)."""
        return len(self.ready)

    def take(self, limit: int) -> list[WorkItem]:
        """Up to ``limit`` ready tasks, dependencies first; none once :attr:`done`.

        An empty list with :attr:`done` False means: wait for the results of the tasks
        already handed out, then ask again.
        """
        items: list[WorkItem] = []
        if self.stop:
            return items
        nodes = self.graph.nodes
        while self.ready and len(items) < limit:
            uid = self.ready.popleft()
            if uid not in self.results:
                items.append(WorkItem(nodes[uid], uid in self.forced, bool(self.repaired)))
        return items

    def item(self, uid: str, forced: bool) -> WorkItem:
        """The work item of ``uid`` (for executors that send ids between processes)."""
        return WorkItem(self.graph.nodes[uid], forced)

    def run(self, item: WorkItem, on_start: Callable[[str], None] | None = None) -> TaskResult:
        """Run one item in this process: under the task's lease, skipped as ``cached`` when
        another process finished it meanwhile, its record written last.

        ``on_start(uid)`` is called when the task's ``run()`` begins. Errors around the
        task (a lease timeout, the workspace) become a ``failed`` result.
        """
        try:
            return execute(
                item.node,
                self.store,
                self.settings,
                self.completeness,
                forced=item.forced,
                on_start=on_start,
                graph=self.graph,
                fresh_inputs=item.fresh,
            )
        except Exception as exc:
            return failed_result(item, exc)

    def give_back(self, uids: list[str]) -> None:
        """Tasks taken but never started (a worker died holding them): they are ready
        again, ahead of the rest."""
        self.ready.extendleft(reversed([u for u in uids if u not in self.results]))

    def unfinished(self) -> list[str]:
        """Needed tasks without a final result yet."""
        return [uid for uid in self.needed if uid not in self.results]

    def close(self) -> None:
        """Give every needed task still without a result one (``upstream_failed``): the
        build stopped before them."""
        self._mark_stopped()

    def _mark_stopped(self, note: str = "fail_fast") -> None:
        for uid in self.needed:
            if uid not in self.results:
                node = self.graph.nodes[uid]
                stopped = TaskResult(uid, type(node.task).task_name(), "upstream_failed", note=note)
                self._set_result(stopped)
                self.progress.finished(uid, stopped.status)
                self.call.task_end(node.task, stopped)

    def report_planned(self) -> None:
        """Emit ``on_task_end`` for the tasks the plan settled (``cached``, ``not_needed``),
        dependencies first, before any task starts: every executor sees the same events."""
        if not self.call.has("on_task_end"):
            return
        nodes = self.graph.nodes
        for uid in self.graph.order:
            result = self.results.get(uid)
            if result is not None and uid not in self.needed:
                self.call.task_end(nodes[uid].task, result)
