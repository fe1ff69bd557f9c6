"""The runner: build the graph once, decide what must run, run it in dependency order.

Completeness is checked top-down from the roots, like luigi: a complete task's
requirements are not looked at, so a warm build touches only the roots. What has to run is
then executed inline (``workers=1``) or by forked worker processes, each task under a per-id
lease so that concurrent builds over overlapping graphs compute every task once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.config import Settings, load_settings
from tasuki.core.execute import Completeness, execute
from tasuki.core.graph import Graph, build_graph
from tasuki.core.hooks import HookCaller
from tasuki.core.pool import ProcessPool, fork_available
from tasuki.core.progress import Progress
from tasuki.core.records import environment, now_iso
from tasuki.core.results import BuildResult, ErrorInfo, TaskResult
from tasuki.core.task import Task
from tasuki.errors import TaskFailedError

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["build", "run_build", "open_workspace"]

logger = logging.getLogger(__name__)


def open_workspace(settings: Settings) -> Store:
    """Open (and check once) the workspace the settings name."""
    from tasuki.storage import open_store

    store = open_store(settings.workspace, redis_url=settings.redis_url)
    store.check()
    return store


def _shareable(store: Store) -> bool:
    """Whether worker processes can share this workspace (``memory://`` lives in one process)."""
    if store.url.startswith("memory://"):
        logger.warning("workers > 1 ignored: a memory:// workspace cannot be shared by processes")
        return False
    return fork_available()


def _rerun_targets(graph: Graph, rerun: bool | Iterable[str] | None) -> set[str]:
    if not rerun:
        forced = set()
    elif rerun is True:
        forced = set(graph.nodes)
    else:
        wanted = set(rerun)
        forced = {
            uid
            for uid, node in graph.nodes.items()
            if type(node.task).__name__ in wanted
            or type(node.task).task_name() in wanted
            or uid in wanted
        }
    forced |= {uid for uid, node in graph.nodes.items() if type(node.task).rerun}
    # Whatever depends on a rerun task reads its new output, so it runs again too.
    return graph.ancestors_of(forced) if forced else set()


def _plan(graph: Graph, completeness: Completeness, forced: set[str]) -> tuple[set[str], set[str]]:
    """Ids that must run (incomplete tasks reachable from the roots through incomplete ones),
    and ids found complete on the way."""
    needed: set[str] = set()
    found_complete: set[str] = set()
    seen: set[str] = set(graph.roots)
    frontier = list(graph.roots)
    while frontier:
        unforced = [u for u in frontier if u not in forced]
        done = completeness.check_many([graph.nodes[u].task for u in unforced])
        complete = {u for u, ok in zip(unforced, done, strict=True) if ok}
        found_complete |= complete
        next_frontier = []
        for uid in frontier:
            if uid in complete:
                continue
            needed.add(uid)
            for dep in graph.nodes[uid].deps:
                if dep not in seen:
                    seen.add(dep)
                    next_frontier.append(dep)
        frontier = next_frontier
    return needed, found_complete


def run_build(
    tasks: Task | Sequence[Task],
    *,
    settings: Settings | None = None,
    rerun: bool | Iterable[str] | None = None,
    hooks: Sequence[Any] = (),
    store: Store | None = None,
    **overrides: Any,
) -> BuildResult:
    """Build ``tasks`` and return the full :class:`BuildResult` (never raises on task failure).

    Args:
        tasks: One task or several roots.
        settings: Resolved settings; by default resolved with ``overrides`` on top.
        rerun: ``True`` to rerun everything, or task class names / ``module:Class`` names /
            unique ids to rerun (with everything downstream of them).
        hooks: Objects with any of the :class:`~tasuki.core.hooks.Hook` methods.
        store: An already opened workspace (tests, services).
        **overrides: Settings keys (``workspace``, ``workers``, ``fail_fast``...).
    """
    roots = [tasks] if isinstance(tasks, Task) else list(tasks)
    settings = settings or load_settings(overrides)
    store = store or open_workspace(settings)
    started_at, t0 = now_iso(), time.perf_counter()
    graph = build_graph(roots)
    call = HookCaller(hooks)
    call("on_build_start", graph)
    completeness = Completeness(store, settings.on_code_change)
    forced = _rerun_targets(graph, rerun)
    needed, complete = _plan(graph, completeness, forced)
    results: dict[str, TaskResult] = {}
    for uid, node in graph.nodes.items():
        if uid not in needed:
            status = "cached" if uid in complete else "not_needed"
            results[uid] = TaskResult(uid, type(node.task).task_name(), status)
    progress = Progress.create(settings.progress, total=len(graph), cached=len(results))
    interrupted = False
    try:
        with progress:
            scheduler = _Scheduler(graph, needed, forced, results, settings, call, progress)
            if settings.workers > 1 and len(needed) > 1 and _shareable(store):
                scheduler.run_pool(store, completeness)
            else:
                scheduler.run_inline(store, completeness)
    except KeyboardInterrupt:
        interrupted = True
        for uid in needed:
            if uid not in results:
                node = graph.nodes[uid]
                results[uid] = TaskResult(uid, type(node.task).task_name(), "interrupted")
    result = BuildResult(
        graph,
        results,
        store.url,
        started_at,
        now_iso(),
        time.perf_counter() - t0,
        interrupted=interrupted,
    )
    logger.info("%s", result.summary())
    call("on_build_end", result)
    if interrupted:
        raise KeyboardInterrupt
    return result


def build(
    tasks: Task | Sequence[Task],
    *,
    workspace: str | None = None,
    workers: int | None = None,
    rerun: bool | Iterable[str] | None = None,
    hooks: Sequence[Any] = (),
    settings: Settings | None = None,
    return_value: bool = True,
    **overrides: Any,
) -> Any:
    """Build tasks and return the root's output (gokart's ``build``).

    Args:
        tasks: A task, or several (then a list of their outputs is returned).
        workspace: Folder or URL for outputs; default from settings (``./workspace``).
        workers: Local worker processes.
        rerun: ``True``, or names / ids of tasks to recompute with their dependents.
        hooks: Build observers (notifications, tracking).
        settings: Resolved settings instead of resolving from the environment and files.
        return_value: Return the loaded output (default) or the :class:`BuildResult`.
        **overrides: Other settings keys (``fail_fast=True``, ``progress="off"``...).

    Returns:
        The root's loaded output, a list of them for several roots, or the BuildResult.

    Raises:
        TaskFailedError: a task failed; the message has the summary and the resume command.

    Example:
        >>> tasuki.build(TaskB(param="world"))
        'hello world!!'
    """
    result = run_build(
        tasks,
        settings=settings,
        rerun=rerun,
        hooks=hooks,
        workspace=workspace,
        workers=workers,
        **overrides,
    )
    if not result.ok:
        failed = result.by_status("failed")
        first = failed[0] if failed else None
        raise TaskFailedError(
            f"{len(failed)} task(s) failed"
            + (
                f"; first: {result.graph.nodes[first.uid].task!r}: "
                f"{first.error.type if first.error else ''}: "
                f"{first.error.message if first.error else ''}"
                if first
                else ""
            )
            + f"\n{result.summary()}",
            failed=[r.uid for r in failed],
            cause_type=first.error.type if first and first.error else "",
            cause_message=first.error.message if first and first.error else "",
        )
    if not return_value:
        return result
    from tasuki.core.loading import load

    values = [load(t, store=None, workspace=result.workspace) for t in result.roots]
    return values[0] if isinstance(tasks, Task) else values


class _Scheduler:
    """Runs the needed tasks in dependency order and keeps the bookkeeping in one place."""

    def __init__(
        self,
        graph: Graph,
        needed: set[str],
        forced: set[str],
        results: dict[str, TaskResult],
        settings: Settings,
        call: HookCaller,
        progress: Progress,
    ) -> None:
        self.graph = graph
        self.needed = needed
        self.forced = forced
        self.results = results
        self.settings = settings
        self.call = call
        self.progress = progress
        self.waiting = {uid: sum(1 for d in graph.nodes[uid].deps if d in needed) for uid in needed}
        order = [u for u in graph.order if u in needed]
        self.ready: deque[str] = deque(u for u in order if self.waiting[u] == 0)
        self.stop = False

    def _start(self, uid: str) -> None:
        task = self.graph.nodes[uid].task
        logger.info("running %r", task, extra={"task": type(task).task_name(), "key": uid})
        self.progress.started(uid)
        if self.call.has("on_task_start"):
            self.call("on_task_start", task)

    def _finish(self, result: TaskResult) -> None:
        uid = result.uid
        task = self.graph.nodes[uid].task
        self.results[uid] = result
        extra = {"task": result.name, "key": uid}
        if result.status == "failed":
            err = result.error
            logger.error(
                "failed %r: %s: %s",
                task,
                err.type if err else "",
                err.message if err else "",
                extra=extra,
            )
            self._skip_dependents(uid)
            if self.settings.fail_fast:
                self.stop = True
        else:
            logger.info("%s %r in %.3fs", result.status, task, result.duration_s, extra=extra)
            for parent in self.graph.nodes[uid].dependents:
                if parent in self.waiting:
                    self.waiting[parent] -= 1
                    if self.waiting[parent] == 0 and parent not in self.results:
                        self.ready.append(parent)
        self.progress.finished(uid, result.status)
        if self.call.has("on_task_end"):
            self.call("on_task_end", result)

    def _skip_dependents(self, uid: str) -> None:
        for parent in self.graph.ancestors_of([uid]) - {uid}:
            if parent in self.needed and parent not in self.results:
                node = self.graph.nodes[parent]
                skipped = TaskResult(
                    parent, type(node.task).task_name(), "upstream_failed", note=uid
                )
                self.results[parent] = skipped
                self.progress.finished(parent, "upstream_failed")
                if self.call.has("on_task_end"):
                    self.call("on_task_end", skipped)

    def _mark_stopped(self) -> None:
        for uid in self.needed:
            if uid not in self.results:
                node = self.graph.nodes[uid]
                self.results[uid] = TaskResult(
                    uid, type(node.task).task_name(), "upstream_failed", note="fail_fast"
                )

    def run_inline(self, store: Store, completeness: Completeness) -> None:
        """Run everything in this process."""
        while self.ready and not self.stop:
            uid = self.ready.popleft()
            if uid in self.results:
                continue
            self._start(uid)
            task = self.graph.nodes[uid].task
            try:
                result = execute(
                    task, store, self.settings, completeness, forced=uid in self.forced
                )
            except Exception as exc:  # lease timeouts, storage errors around the task
                result = TaskResult(
                    uid,
                    type(task).task_name(),
                    "failed",
                    error=ErrorInfo(type(exc).__name__, str(exc), "", False),
                )
            self._finish(result)
        self._mark_stopped()

    def run_pool(self, store: Store, completeness: Completeness) -> None:
        """Run in forked worker processes, sending ready tasks in batches."""
        environment()  # computed once here, not once per forked worker (it runs git)
        pool = ProcessPool(self.settings.workers, self.graph, store, self.settings, completeness)
        clean = False
        try:
            pending = sum(1 for u in self.needed if u not in self.results)
            while pending and not self.stop:
                self._dispatch(pool)
                if not any(pool.in_flight.values()):
                    break
                before = len(self.results)
                pool.results(self._finish)
                pending -= len(self.results) - before
            clean = True
        finally:
            pool.close(kill=not clean)
        self._mark_stopped()

    def _dispatch(self, pool: ProcessPool) -> None:
        while self.ready:
            share = max(1, min(64, len(self.ready) // (2 * pool.size)))
            # Up to two batches per worker: one running, one waiting in its pipe.
            idle = [w for w, n in pool.in_flight.items() if n < 2 * share]
            if not idle:
                return
            for worker in idle:
                batch: list[tuple[str, bool]] = []
                while self.ready and len(batch) < share:
                    uid = self.ready.popleft()
                    if uid in self.results:
                        continue
                    self._start(uid)
                    batch.append((uid, uid in self.forced))
                if batch:
                    pool.submit(worker, batch)
