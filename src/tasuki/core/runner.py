"""The runner: build the graph once, decide what must run, run it in dependency order.

Completeness is checked top-down from the roots, like luigi: a complete task's
requirements are not checked for completeness, so a warm build reads the roots' records;
below a complete task only the state of each record is read, to find an upstream output
that changed since the task read it (``Completeness.stale_upstream``). What has to run is
then handed, as a :class:`~tasuki.core.schedule.Schedule`, to an executor (``local``: forked
worker processes, ``inline``, or one a third party registered), which runs each task under a
per-id lease so that concurrent builds over overlapping graphs compute every task once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

# The local workspace and the pickle format serve nearly every build: imported with tasuki,
# so that the first build of a process pays for no import (the Arrow and CSV formats and
# fsspec's remote workspaces stay lazy).
import tasuki.formats._pickle  # noqa: F401
from tasuki.config import Settings, load_settings, settings_in_effect, with_overrides
from tasuki.core._file_params import warn_file_params
from tasuki.core._plan_checks import check_plan
from tasuki.core.code import code_keys, refresh_fingerprints
from tasuki.core.definitions import write_bundle
from tasuki.core.execute import RECHECK, Completeness
from tasuki.core.executors import Executor, get_executor
from tasuki.core.graph import Graph, build_graph
from tasuki.core.hooks import HookCaller, with_catalog_lineage, with_tracker
from tasuki.core.progress import Progress
from tasuki.core.records import forget_environment, now_iso
from tasuki.core.results import BuildResult, TaskResult, new_build_id, resume_command
from tasuki.core.schedule import Schedule
from tasuki.core.task import Task, load_task_outputs
from tasuki.errors import CorruptOutputError, TaskError, TaskFailedError
from tasuki.storage import open_store

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["build", "open_workspace", "plan", "run_build"]

logger = logging.getLogger(__name__)

#: What ``rerun=`` takes: ``True`` (every task), or one or several of a class name, a
#: ``module:Class`` name, a unique id, a task class or a task value.
Rerun = bool | str | type[Task] | Task | Iterable[str | type[Task] | Task] | None


def open_workspace(settings: Settings, *, check: bool = True, writes: bool = True) -> Store:
    """Open the workspace the settings name, and check it once (``check``: a local folder is
    made if it is not there; without, nothing is read or written yet). ``writes=False``: see
    :func:`check_workspace`."""
    store = open_store(
        settings.workspace,
        redis_url=settings.redis_url,
        lease=settings.lease,
        lease_ttl=settings.lease_ttl,
    )
    if check:
        check_workspace(store, writes=writes)
    return store


def check_workspace(store: Store, *, writes: bool = True) -> None:
    """Check that ``store`` can be used: written (a build), or only read (``writes=False``:
    a local workspace this user may read and not write is taken, a teammate's results on a
    read-only mount; one that is not there yet is made, as for a build).

    Raises:
        WorkspaceUnreachableError: naming the workspace, the cause and how to fix it.
    """
    root = getattr(store, "root", None)  # a local folder's
    marker = os.path.join(root, ".tasuki") if isinstance(root, str) else None
    if writes or marker is None or not os.path.isdir(marker):
        store.check()
    elif not os.access(marker, os.R_OK | os.X_OK):
        from tasuki.errors import WorkspaceUnreachableError

        raise WorkspaceUnreachableError(
            f"the workspace {root} cannot be read by this user (its .tasuki folder is not "
            "readable); ask its owner for read access, or choose another workspace",
            url=root,
            cause="not readable",
        )


def _rerun_targets(graph: Graph, rerun: Rerun) -> set[str]:
    forced: set[str] = set()
    if rerun is True:
        forced = set(graph.nodes)
    elif rerun:
        named: Iterable[Any] = (
            rerun
            if isinstance(rerun, Iterable) and not isinstance(rerun, str | type | Task)
            else [rerun]
        )
        forced = _named(graph, named)
    # Read on the value: a class attribute for tasuki tasks, a parameter for gokart ones.
    forced |= {uid for uid, node in graph.nodes.items() if node.task.rerun}
    # Whatever depends on a rerun task reads its new output, so it runs again too.
    return graph.ancestors_of(forced) if forced else set()


def _named(graph: Graph, wanted: Iterable[Any]) -> set[str]:
    """The tasks of ``graph`` that ``rerun=`` names: by class name, ``module:Class`` name,
    unique id, class or task value. A name that matches no task of the build is an error:
    nothing would run again, and the user would take the cached output for a new one."""
    by_name: dict[str, set[str]] = {}
    for uid, node in graph.nodes.items():
        cls = type(node.task)
        for key in (cls.__name__, cls.task_name(), uid):
            by_name.setdefault(key, set()).add(uid)
    forced: set[str] = set()
    for item in wanted:
        if isinstance(item, Task):
            key = item.unique_id
        elif isinstance(item, type) and issubclass(item, Task):
            key = item.task_name()
        elif isinstance(item, str):
            key = item
        else:
            raise TaskError(
                f"rerun={item!r}: name a task to run again by class name ('Train'), "
                "'module:Class', unique id, task class or task value; or rerun=True for all",
                name="rerun",
            )
        found = by_name.get(key)
        if not found:
            names = sorted({type(n.task).task_name() for n in graph.nodes.values()})
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise TaskError(
                f"rerun={key!r} names no task of this build; its tasks are: {shown}. "
                "Name one of them (class name, 'module:Class' or unique id)",
                name="rerun",
            )
        forced |= found
    return forced


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
    # Inputs outside the workspace (tables a query reads) are not in any record this walk
    # compares, and the walk stops at a complete task: ask for them first, for every task.
    outside = completeness.outside_changes(graph)
    while frontier:
        while frontier:
            unforced = [u for u in frontier if u not in forced]
            verdicts = completeness.verdicts([nodes[u] for u in unforced])
            said = dict(zip(unforced, verdicts, strict=True))
            fine = [u for u in unforced if said[u] is None]
            if fine:  # complete, unless made from an upstream output that changed since
                said.update(completeness.stale_upstream(graph, fine))
            for uid in unforced:
                if said[uid] is None and uid in outside:
                    said[uid] = outside[uid]
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
        # A complete task checked again may run: what it reads is checked too (and what
        # runs there may put more complete tasks above it in the same place).
        for uid in _recheck_below_runs(graph, needed, found_complete, completeness):
            for dep in nodes[uid].deps:
                if dep not in seen:
                    seen.add(dep)
                    frontier.append(dep)
    return needed, found_complete


def _recheck_below_runs(
    graph: Graph, needed: dict[str, str], complete: set[str], completeness: Completeness
) -> list[str]:
    """Plan again, after it, each complete task that something of this build reads and
    below which a task runs in this build.

    A complete task was checked against what its upstream tasks hold *now*; a task below it
    that runs in this build (its output deleted or damaged, reached through another branch)
    may make other outputs, and then what the complete task was made from is gone: a task
    reading it would be made from two versions of the same upstream. Planned, it waits for
    what runs below it and is checked again under its lease (``verdict(fresh=True)``, the
    state of each requirement read again): cached if that run made the bytes it read, run
    otherwise. A task nothing of this build reads is left alone, as before. Returns the
    tasks planned here.
    """
    added: list[str] = []
    nodes = graph.nodes
    if not needed or len(needed) == len(nodes):  # a warm build, a cold one: nothing to do
        return added
    # Complete tasks with a task that runs below them (a root deleted: none, at the cost of
    # walking up from the root alone).
    candidates = graph.ancestors_of(needed).difference(needed)
    if candidates:
        # Only a record that says what its run read can be found out of date by it: a task
        # complete without one (a write-back's table, from another workspace) or with an
        # older record stays as it is, and so does what reads it through it alone.
        states = completeness.reads.states(sorted(candidates))
        candidates = {u for u in candidates if (i := states[u]) is not None and i[1] is not None}
    if not candidates:
        return added
    below: dict[str, str] = {}  # task -> a task below it that runs (for the reason)
    for uid in graph.order:  # dependencies first
        if uid in candidates:
            for dep in nodes[uid].deps:
                runs = dep if dep in needed else below.get(dep)
                if runs is not None:
                    below[uid] = runs
                    break
    read = set(graph.roots)
    for uid in reversed(graph.order):  # what reads a task comes before it
        if uid not in needed:
            if uid not in read or uid not in below:
                continue
            first = nodes[below[uid]].task
            needed[uid] = (
                f"{RECHECK} ({type(first).__qualname__}[{below[uid][:10]}]): it runs only if "
                "that changed what it read"
            )
            complete.discard(uid)
            added.append(uid)
        read.update(nodes[uid].deps)
    return added


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


def run_build(
    tasks: Task | Sequence[Task],
    *,
    settings: Settings | None = None,
    rerun: Rerun = None,
    hooks: Sequence[Any] = (),
    store: Store | None = None,
    executor: str | Executor | None = None,
    **overrides: Any,
) -> BuildResult:
    """Build ``tasks`` and return the full :class:`BuildResult` (never raises on task failure).

    Args:
        tasks: One task or several roots.
        settings: Resolved settings; by default resolved with ``overrides`` on top.
        rerun: ``True`` to rerun everything, or the tasks to rerun (with everything
            downstream of them): class names, ``module:Class`` names, unique ids, task
            classes or task values, one or a list.
        hooks: Objects with any of the :class:`~tasuki.core.hooks.Hook` methods.
        store: An already opened workspace (tests, services).
        executor: An :class:`~tasuki.core.executors.Executor`, or the name of one
            (``"local"``, ``"inline"``, or one registered); default: the ``executor``
            setting (``"local"``).
        **overrides: Settings keys (``workspace``, ``workers``, ``fail_fast``...).

    Raises:
        TaskError: ``rerun`` names no task of the build (nothing ran).
        ConfigError: ``executor`` names no known executor.
    """
    roots = _roots(tasks)
    given = settings
    settings = load_settings(overrides) if given is None else with_overrides(given, overrides)
    # The one read of the settings is above; whatever runs under the build and was not handed
    # them (a task's output() or run() resolving a warehouse name) finds them in effect.
    # The tracker the settings name (``tracking = "mlflow"``) is one more hook.
    hooks = with_catalog_lineage(settings, with_tracker(settings, hooks))
    with settings_in_effect(settings):
        return _run_build(roots, settings, rerun, hooks, store, executor)


def _roots(tasks: Any) -> list[Task]:
    """The tasks to build, or a TaskError saying what was given instead and what to give."""
    if isinstance(tasks, Task):
        return [tasks]
    given = tasks if isinstance(tasks, list | tuple | set | frozenset) else [tasks]
    roots = list(given)
    for item in roots:
        if isinstance(item, Task):
            continue
        if isinstance(item, type) and issubclass(item, Task):
            hint = f"make a task value: {item.__name__}(...) (a class is not a task)"
        elif isinstance(item, str):
            hint = (
                "make the task value in Python (Train(...)); a 'module:Class' name is for "
                f"the command line: tasuki run {item}"
            )
        else:
            hint = "pass a task value, or a list of them"
        raise TaskError(f"tasuki.build({item!r}): not a task; {hint}", name="tasks")
    return roots


def _run_build(
    roots: list[Task],
    settings: Settings,
    rerun: Rerun,
    hooks: Sequence[Any],
    store: Store | None,
    executor: str | Executor | None,
) -> BuildResult:
    runs = get_executor(settings.executor if executor is None else executor)
    store = store or open_workspace(settings)
    started_at, t0, build_id = now_iso(), time.perf_counter(), new_build_id()
    forget_environment()  # the commit as it is at this build, not at the process's first
    graph = build_graph(roots)
    forced = _rerun_targets(graph, rerun)  # a bad name fails before anything starts
    warn_file_params(graph)  # Clean(raw="data/raw.csv"): the bytes are not in the id
    refresh_fingerprints()  # what an earlier build in this process saw may have changed
    completeness = Completeness(store, settings.on_code_change, code_keys(graph), build_id=build_id)
    needed, complete = plan(graph, completeness, forced)
    check_plan(graph, needed, complete)
    completeness.forget(needed)  # their records change in this build: read them again
    _explain_plan(graph, needed)
    # Hooks hear of the build once it is planned: a build refused while planning (a bad
    # output(), a declared file that is not there) leaves no started run without an end.
    call = HookCaller(
        hooks,
        build_id=build_id,
        store=store,
        resume_command=lambda: resume_command(roots, store.url),
    )
    call.build_start(graph, settings)
    bundle = None
    if getattr(runs, "travels_by_id", False) and needed:  # workers run tasks by id
        bundle = write_bundle(store, graph, needed, completeness.code_keys)
    results: dict[str, TaskResult] = {}
    for uid, node in graph.nodes.items():
        if uid not in needed:
            status = "cached" if uid in complete else "not_needed"
            results[uid] = TaskResult(uid, type(node.task).task_name(), status)
    progress = Progress.create(settings.progress, total=len(graph), cached=len(results))
    interrupted = False
    try:
        with progress:
            schedule = Schedule(
                graph,
                needed,
                forced,
                results,
                settings,
                call,
                progress,
                store,
                completeness,
                bundle=bundle,
            )
            schedule.report_planned()
            runs.run(schedule)
            schedule.close()
    except KeyboardInterrupt:
        interrupted = True
        for uid in needed:
            if uid not in results:
                node = graph.nodes[uid]
                results[uid] = TaskResult(uid, type(node.task).task_name(), "interrupted")
                call.task_end(node.task, results[uid])
    result = BuildResult(
        graph,
        results,
        store.url,
        started_at,
        now_iso(),
        time.perf_counter() - t0,
        interrupted=interrupted,
        build_id=build_id,
    )
    logger.info("%s", result.summary())
    call.build_end(result)
    if interrupted:
        raise KeyboardInterrupt
    return result


def build(
    tasks: Task | Sequence[Task],
    *,
    workspace: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    rerun: Rerun = None,
    hooks: Sequence[Any] = (),
    settings: Settings | None = None,
    return_value: bool = True,
    executor: str | Executor | None = None,
    **overrides: Any,
) -> Any:
    """Build tasks and return the root's output (gokart's ``build``).

    Args:
        tasks: A task, or several (then a list of their outputs is returned).
        workspace: Folder or URL for outputs; default from settings (``./workspace``).
        workers: Local worker processes.
        rerun: ``True``, or the tasks to recompute with their dependents: class names,
            ``module:Class`` names, unique ids, task classes or task values.
        hooks: Build observers (notifications, tracking).
        settings: Resolved settings instead of resolving from the environment and files.
        return_value: Return the loaded output (default) or the :class:`BuildResult`.
        executor: What runs the tasks: ``"local"`` (worker processes; the default, from the
            ``executor`` setting), ``"inline"`` (this process), the name of a registered
            executor, or an :class:`~tasuki.core.executors.Executor` instance.
        **overrides: Other settings keys (``fail_fast=True``, ``progress="off"``...).

    Returns:
        The root's loaded output, a list of them for several roots, or the BuildResult.

    Raises:
        TaskFailedError: a task failed; the message has the summary and the resume command.
        TaskError: ``rerun`` names no task of the build (nothing ran).
        ConfigError: ``executor`` names no known executor.

    Example:
        >>> tasuki.build(TaskB(param="world"))
        'hello world!!'
    """
    result = run_build(
        tasks,
        settings=settings,
        rerun=rerun,
        hooks=hooks,
        executor=executor,
        workspace=workspace,
        workers=workers,
        **overrides,
    )
    if not result.ok:
        import textwrap  # on this error path only

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
            # The task's own traceback, indented: this exception's is the runner's.
            + (
                "\n" + textwrap.indent(first.error.task_traceback(), "  ")
                if first and first.error
                else ""
            )
            + f"\n{result.summary()}",
            failed=[r.uid for r in failed],
            cause_type=first.error.type if first and first.error else "",
            cause_message=first.error.message if first and first.error else "",
        )
    if not return_value:
        return result
    from tasuki.storage import open_store

    store = open_store(result.workspace)  # once for all roots, with no second settings read
    try:
        # The build just checked each root's code: read them without checking it again.
        values = [load_task_outputs(t, store) for t in result.roots]
    except CorruptOutputError as exc:
        # A root's output matched its record's size but not its bytes (changed outside
        # tasuki): nothing downstream loads it to notice, so rebuild it here, once.
        damaged = getattr(exc, "uid", None)
        if damaged not in {t.unique_id for t in result.roots}:
            raise
        logger.warning("%s; running it again", exc)
        again = build(
            tasks,
            workspace=result.workspace,
            workers=workers,
            rerun=[damaged],
            hooks=hooks,
            settings=settings,
            return_value=False,
            executor=executor,
            **overrides,
        )
        values = [load_task_outputs(t, store) for t in again.roots]
    return values[0] if isinstance(tasks, Task) else values
