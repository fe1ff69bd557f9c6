"""Reading finished outputs outside a run: by task value, or by unique id (notebooks)."""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from tasuki._redact import MASK
from tasuki.core.records import RunRecord, find_record
from tasuki.core.task import Task, check_read, load_task_outputs
from tasuki.errors import RecordNotFoundError

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.storage.base import Store

__all__ = ["load", "load_output", "task_from_record", "task_refs"]

logger = logging.getLogger(__name__)


def _store(
    store: Store | None, workspace: str | os.PathLike[str] | None, settings: Settings | None
) -> Store:
    """The workspace to read: ``store``, else the one ``settings`` name (``workspace`` on top).

    These functions are an edge of their own (a notebook calls them, not a build): without
    ``settings`` they resolve them here, once per call. Inside a task's ``run()`` with
    nothing given, they read the workspace the build writes.
    """
    if store is not None:
        return store
    if workspace is None and settings is None:
        from tasuki.core import context

        ctx = context._CURRENT.get()
        if ctx is not None:  # inside a task's run(): the workspace the build writes
            return ctx.store
    from tasuki.storage import open_store

    if settings is None:
        from tasuki.config import load_settings

        settings = load_settings({"workspace": workspace})
    elif workspace is not None:
        return open_store(workspace)
    return open_store(settings.workspace)


def load(
    task: Task,
    *,
    store: Store | None = None,
    workspace: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
) -> Any:
    """The output of a finished ``task`` (a dict / list when it declares several).

    Args:
        task: The task whose output to read.
        store: An opened workspace; wins over ``workspace`` and ``settings``.
        workspace: Folder or URL of the workspace; wins over the one in ``settings``.
        settings: Resolved settings; by default they are read (files, environment) once.

    A warning names the task when its code changed since the output was made (the run
    record's code key is not the task's code key now): the output is what an older version
    of the code made, and ``tasuki.build`` would make it again (``tasuki why`` says what
    changed). Another names it when an upstream task ran again since and made other
    outputs than the ones this output was made from. :func:`load_output` reads a record by
    id and never warns: it asks for that run.

    Raises:
        FileNotFoundError: the task has not been built in this workspace.
        CorruptOutputError: an output's size or content differs from its run record.
        TaskError: called inside a task's ``run()`` for a task it does not require.
        TypeError: ``task`` is not a task value (an id goes to :func:`load_output`).
    """
    if not isinstance(task, Task):
        raise TypeError(
            f"tasuki.load() takes a task value such as MyTask(n=1), not {_kind(task)}; "
            + (
                f"to load the output of a run by its unique id, use tasuki.load_output({task!r})"
                if isinstance(task, str)
                else "build the task's value and pass it"
            )
        )
    _check_running_task_reads(task)
    store = _store(store, workspace, settings)
    _warn_if_out_of_date(task, store)
    return load_task_outputs(task, store, fresh=True)


def _check_running_task_reads(task: Task) -> None:
    """Inside a task's ``run()``, what it reads must be one of its requirements, as with
    ``self.load(task)`` (see :func:`~tasuki.core.task.check_read`)."""
    from tasuki.core import context

    ctx = context._CURRENT.get()
    if ctx is not None and isinstance(ctx.task, Task):
        check_read(ctx.task, task, ctx)


def _warn_if_out_of_date(task: Task, store: Store) -> None:
    try:
        record = RunRecord.read(store, task.unique_id)
    except (FileNotFoundError, ValueError):
        return  # load_task_outputs says what is missing
    from tasuki.core import context

    if context._CURRENT.get() is not None:
        return  # inside a task's run: the build checks code, and its fingerprints must stay
    from tasuki.core.code import code_keys, refresh_fingerprints
    from tasuki.core.execute import Completeness
    from tasuki.core.graph import build_graph

    refresh_fingerprints()  # a notebook cell may have changed the code since the last build
    graph = build_graph([task])
    now = code_keys(graph)[task.unique_id]
    if record.code_key and now != record.code_key:  # records before code keys: no compare
        logger.warning(
            "the output of %r was made by other code than the code of this task now (code key "
            "%s in its run record, %s now): it is what the older code made. tasuki.build() "
            "makes it again; `tasuki why` says what changed",
            task,
            record.code_key[:12],
            now[:12],
        )
        return
    changed = Completeness(store).stale_upstream(graph, [task.unique_id])
    if changed:
        logger.warning(
            "the output of %r was made from upstream outputs that have changed since (%s): "
            "it is what the older ones made. tasuki.build() makes it again",
            task,
            changed[task.unique_id],
        )


def load_output(
    unique_id: str,
    *,
    workspace: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> Any:
    """Load a finished task's output by its unique id (or an unambiguous prefix).

    Args:
        unique_id: The task's unique id, or a prefix of it that only one record has.
        workspace: Folder or URL of the workspace; wins over the one in ``settings``.
        store: An opened workspace; wins over ``workspace`` and ``settings``.
        settings: Resolved settings; by default they are read (files, environment) once.

    Example:
        >>> model = tasuki.load_output("3d5b7a50a2")

    Raises:
        TypeError: ``unique_id`` is not text (a task value goes to :func:`load`).
    """
    if not isinstance(unique_id, str):
        raise TypeError(
            f"tasuki.load_output() takes a unique id (text, or a prefix of one), not "
            f"{_kind(unique_id)}"
            + (
                "; to load a task value's output, use tasuki.load(task)"
                if isinstance(unique_id, Task)
                else ""
            )
        )
    store = _store(store, workspace, settings)
    record = find_record(store, unique_id)
    task = task_from_record(record, store)
    _check_running_task_reads(task)
    return load_task_outputs(task, store, fresh=True)


def _kind(value: Any) -> str:
    """How an error names a wrong argument: its type, and a short repr."""
    shown = repr(value)
    return f"{type(value).__name__} {shown[:60] + '...' if len(shown) > 60 else shown}"


def task_from_record(record: RunRecord, store: Store) -> Task:
    """Rebuild the task value a record was made by, checking its id matches.

    Task-valued parameters are rebuilt from their own records. Iterative, so long chains of
    tasks held as parameters do not hit the recursion limit.
    """
    from tasuki.core.fingerprint import decode
    from tasuki.core.params import coerce
    from tasuki.core.task import import_task

    records: dict[str, RunRecord] = {record.unique_id: record}
    built: dict[str, Task] = {}
    stack = [record.unique_id]
    while stack:
        uid = stack[-1]
        rec = records[uid]
        missing = [ref for ref in task_refs(rec.params) if ref not in built]
        pending = [ref for ref in missing if ref not in records]
        for ref in pending:
            try:
                records[ref] = RunRecord.read(store, ref)
            except FileNotFoundError as exc:
                raise RecordNotFoundError(
                    f"{rec.task} [{uid[:12]}] takes task {ref[:12]} as a parameter, whose run "
                    "record is missing; it cannot be rebuilt by id",
                    uid=ref,
                ) from exc
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        if uid in built:
            continue
        cls = import_task(rec.task)
        specs = cls.param_specs()

        def loader(value: Any, tp: Any) -> Task:
            return built[value["$task"]]

        exact = {n: decode(v, built.__getitem__) for n, v in rec.exact.items() if n in specs}
        params = {
            name: coerce(
                exact.get(name, value),
                specs[name].annotation,
                task=rec.task,
                name=name,
                task_loader=loader,
            )
            for name, value in rec.params.items()
            if name in specs
        }
        task = cls(**params)
        if task.unique_id != uid:
            masked = [n for n, v in rec.params.items() if MASK in json.dumps(v)]
            if masked:
                raise RecordNotFoundError(
                    f"cannot rebuild {rec.task} [{uid[:12]}] from its record: its parameter(s) "
                    f"{', '.join(repr(n) for n in masked)} held a secret (a password in a "
                    f"URL, a token), which run records never keep (they hold {MASK!r} "
                    "there). Make the task in code with the secret again, or have it read "
                    "the secret from settings or the environment rather than a parameter",
                    uid=uid,
                    parameters=masked,
                )
            raise RecordNotFoundError(
                f"rebuilt {task!r} from its record but got id {task.unique_id[:12]}, not "
                f"{uid[:12]}: {_why_another_id(task, rec)}",
                uid=uid,
            )
        built[uid] = task
    return built[record.unique_id]


def _why_another_id(task: Task, record: RunRecord) -> str:
    """Why ``task``, rebuilt from ``record``'s parameters, has another id: a requirement
    whose id moved (a file it reads has other bytes now), else its code or parameters."""
    from tasuki.core.file_input import FileInput
    from tasuki.core.task import flatten

    try:
        now = flatten(task.requires())
    except Exception:  # requires() itself fails now (a file gone): say the general cause
        now = []
    moved = [t for t in now if isinstance(t, Task) and t.unique_id not in record.requires]
    files = [t for t in moved if isinstance(t, FileInput)]
    if files:
        shown = ", ".join(f"{f.path} (content {f.content_hash[:12]})" for f in files)
        return (
            f"a file it reads has other bytes than when it ran: {shown}. Its output is of the "
            "file as it was; put that file back to rebuild it, or build the task anew"
        )
    if moved:
        shown = ", ".join(f"{t!r}" for t in moved)
        return (
            f"a task it requires has another id now ({shown}): what it reads changed since it ran"
        )
    return "the task's code or parameters changed since it ran"


def task_refs(value: Any) -> list[str]:
    """The unique ids of the tasks an encoded parameter value holds (``{"$task": id}``, at
    any depth of dicts and lists), in order."""
    if isinstance(value, dict):
        if set(value) == {"$task"}:
            return [value["$task"]]
        return [r for v in value.values() for r in task_refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in task_refs(v)]
    return []
