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
from tasuki.core.code import code_keys
from tasuki.core.execute import Completeness, execute
from tasuki.core.graph import Graph, build_graph
from tasuki.core.hooks import HookCaller
from tasuki.core.pool import ProcessPool, fork_available
from tasuki.core.progress import Progress
from tasuki.core.records import environment, now_iso, record_key
from tasuki.core.results import BuildResult, ErrorInfo, TaskResult
from tasuki.core.task import Task
from tasuki.errors import TaskFailedError

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["build", "open_workspace", "plan", "run_build"]

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


def plan(
    graph: Graph, completeness: Completeness, forced: set[str]
) -> tuple[dict[str, str], set[str]]:
    """Tasks that must run, each with the reason its own check gave (incomplete tasks
    reachable from the roots through incomplete ones), and the ids found complete."""
    needed: dict[str, str] = {}
    found_complete: set[str] = set()
    seen: set[str] = set(graph.roots)
    frontier = list(graph.roots)
    nodes = graph.nodes
    while frontier:
        unforced = [u for u in frontier if u not in forced]
        verdicts = completeness.verdicts([nodes[u] for u in unforced])
        said = dict(zip(unforced, verdicts, strict=True))
        next_frontier = []
        for uid in frontier:
            reason = said.get(uid, "forced by --rerun")
            if reason is None:
                found_complete.add(uid)
                continue
            needed[uid] = reason
            for dep in nodes[uid].deps:
                if dep not in seen:
                    seen.add(dep)
                    next_frontier.append(dep)
        frontier = next_frontier
    return needed, found_complete


def _explain_plan(graph: Graph, needed: dict[str, str]) -> None:
    """Say "upstream runs" where that is the whole reason (a code change upstream; no record
    because an upstream id moved is the task's own state and stays as it is)."""
    for uid in graph.order:  # dependencies first
        reason = needed.get(uid)
        if reason is None or not reason.startswith("the code of a task upstream"):
            continue
        upstream = next((d for d in graph.nodes[uid].deps if d in needed), None)
        if upstream is not None:
            up = graph.nodes[upstream].task
            needed[uid] = f"{type(up).__qualname__}[{upstream[:10]}] upstream runs"


def _with_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """``settings`` with explicit arguments on top: they win over any settings object."""
    explicit = {k: v for k, v in overrides.items() if v is not None}
    if not explicit:
        return settings
    from pydantic import ValidationError

    from tasuki.errors import ConfigError

    source = {**settings.source, **dict.fromkeys(explicit, "arguments")}
    try:
        return Settings(**{**settings.model_dump(), **explicit}, source=source)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid arguments {explicit!r} on top of the given settings: {exc}",
            arguments=sorted(explicit),
        ) from None


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
    if settings is None:
        settings = load_settings(overrides)
    else:
        settings = _with_overrides(settings, overrides)
    store = store or open_workspace(settings)
    started_at, t0 = now_iso(), time.perf_counter()
    graph = build_graph(roots)
    call = HookCaller(hooks)
    call("on_build_start", graph)
    completeness = Completeness(store, settings.on_code_change, code_keys(graph))
    forced = _rerun_targets(graph, rerun)
    needed, complete = plan(graph, completeness, forced)
    _explain_plan(graph, needed)
    results: dict[str, TaskResult] = {}
    for uid, node in graph.nodes.items():
        if uid not in needed:
            status = "cached" if uid in complete else "not_needed"
            results[uid] = TaskResult(uid, type(node.task).task_name(), status)
    progress = Progress.create(settings.progress, total=len(graph), cached=len(results))
    interrupted = False
    try:
        with progress:
            scheduler = _Scheduler(graph, needed, forced, results, settings, call, progress, store)
            if settings.workers > 1 and len(needed) > 1 and _shareable(store):
                scheduler.run_pool(completeness)
            else:
                scheduler.run_inline(completeness)
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
        needed: dict[str, str],
        forced: set[str],
        results: dict[str, TaskResult],
        settings: Settings,
        call: HookCaller,
        progress: Progress,
        store: Store,
    ) -> None:
        self.graph = graph
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
        # its rerun, the producers rerun once, and the consumers retried once (a consumer that
        # finds the output damaged again after its retry fails).
        self.blocked: dict[str, set[str]] = {}
        self.repaired: set[str] = set()
        self.retried: set[str] = set()  # consumers retried once after a repair

    def _set_result(self, result: TaskResult) -> None:
        if result.uid in self.needed and result.uid not in self.results:
            self.open -= 1
        self.results[result.uid] = result

    def started(self, uid: str) -> None:
        """The task's ``run()`` is about to begin (called from the worker's report)."""
        task = self.graph.nodes[uid].task
        reason = self.needed.get(uid, "")
        logger.info(
            "running %r%s",
            task,
            f": {reason}" if reason else "",
            extra={"task": type(task).task_name(), "key": uid},
        )
        self.progress.started(uid)
        if self.call.has("on_task_start"):
            self.call("on_task_start", task)

    def finish(self, result: TaskResult) -> None:
        """Take one task's final result (or a damaged upstream to repair first)."""
        uid = result.uid
        if result.status == "failed" and result.damaged and self._repair(result):
            return
        task = self.graph.nodes[uid].task
        self._set_result(result)
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
            blocked = self.blocked.pop(uid, None)
            for parent in self.graph.nodes[uid].dependents if blocked is None else blocked:
                if parent in self.waiting:
                    self.waiting[parent] -= 1
                    if self.waiting[parent] == 0 and parent not in self.results:
                        self.ready.append(parent)
        self.progress.finished(uid, result.status)
        if self.call.has("on_task_end"):
            self.call("on_task_end", result)

    def _repair(self, result: TaskResult) -> bool:
        """Rerun the task whose output ``result``'s task found damaged, then retry it."""
        producer, consumer = result.damaged or "", result.uid
        if producer not in self.graph.nodes or producer == consumer:
            return False
        if consumer in self.retried:
            return False  # damaged again after the producer's rerun: a real failure
        self.retried.add(consumer)
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
        logger.warning(
            "%r found the output of %r damaged: %s; running %r again, then %r",
            self.graph.nodes[consumer].task,
            node.task,
            result.error.message if result.error else "",
            node.task,
            self.graph.nodes[consumer].task,
        )
        self.store.remove(record_key(producer))
        old = self.results.pop(producer, None)
        if old is not None and producer in self.needed:
            self.open += 1
        if producer not in self.needed:
            self.open += 1
        self.needed[producer] = "its output was found damaged"
        self.progress.reopened(producer, old.status if old else None)
        self.forced.add(producer)
        self.waiting[producer] = 0
        self.ready.appendleft(producer)
        return True

    def _skip_dependents(self, uid: str) -> None:
        for parent in self.graph.ancestors_of([uid]) - {uid}:
            if parent in self.needed and parent not in self.results:
                node = self.graph.nodes[parent]
                skipped = TaskResult(
                    parent, type(node.task).task_name(), "upstream_failed", note=uid
                )
                self._set_result(skipped)
                self.progress.finished(parent, "upstream_failed")
                if self.call.has("on_task_end"):
                    self.call("on_task_end", skipped)

    def _mark_stopped(self, note: str = "fail_fast") -> None:
        for uid in self.needed:
            if uid not in self.results:
                node = self.graph.nodes[uid]
                self._set_result(
                    TaskResult(uid, type(node.task).task_name(), "upstream_failed", note=note)
                )

    def run_inline(self, completeness: Completeness) -> None:
        """Run everything in this process."""
        while self.ready and not self.stop:
            uid = self.ready.popleft()
            if uid in self.results:
                continue
            node = self.graph.nodes[uid]
            try:
                result = execute(
                    node,
                    self.store,
                    self.settings,
                    completeness,
                    forced=uid in self.forced,
                    on_start=self.started,
                )
            except Exception as exc:  # lease timeouts, storage errors around the task
                result = TaskResult(
                    uid,
                    type(node.task).task_name(),
                    "failed",
                    error=ErrorInfo(type(exc).__name__, str(exc), "", False),
                )
            self.finish(result)
        self._mark_stopped()

    def run_pool(self, completeness: Completeness) -> None:
        """Run in forked worker processes, sending ready tasks in batches."""
        environment()  # computed once here, not once per forked worker (it runs git)
        pool = ProcessPool(
            self.settings.workers, self.graph, self.store, self.settings, completeness
        )
        clean = False
        try:
            while self.open and not self.stop:
                self._dispatch(pool)
                if not pool.busy():
                    break
                pool.results(self.started, self.finish, self._requeue)
            clean = True
        finally:
            pool.close(kill=not clean)
        if not pool.size:
            for uid in self.needed:
                if uid not in self.results:
                    self.finish(
                        TaskResult(
                            uid,
                            type(self.graph.nodes[uid].task).task_name(),
                            "failed",
                            error=ErrorInfo(
                                "WorkerDiedError",
                                "every worker process died before this task could start",
                                "",
                                True,
                            ),
                        )
                    )
        self._mark_stopped()

    def _requeue(self, uids: list[str]) -> None:
        """Tasks a dead worker held but never started: send them to another worker."""
        self.ready.extendleft(reversed([u for u in uids if u not in self.results]))

    def _dispatch(self, pool: ProcessPool) -> None:
        while self.ready and pool.workers():
            share = max(1, min(64, len(self.ready) // (2 * pool.size)))
            # Up to two batches per worker: one running, one waiting in its pipe.
            idle = [w for w in pool.workers() if pool.load(w) < 2 * share]
            if not idle:
                return
            for worker in idle:
                batch: list[tuple[str, bool]] = []
                while self.ready and len(batch) < share:
                    uid = self.ready.popleft()
                    if uid in self.results:
                        continue
                    batch.append((uid, uid in self.forced))
                if batch and not pool.submit(worker, batch):
                    self._requeue([uid for uid, _ in batch])
