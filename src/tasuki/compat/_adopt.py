"""Adopting a gokart workspace: reuse the outputs gokart computed instead of recomputing them.

:func:`adopt_gokart` walks the graph of the given tasks, computes each task's gokart unique id
(:mod:`tasuki.compat._gokart_id`) and looks for its outputs where gokart writes them:
``<gokart workspace>/<relative path without ext>_<gokart id><ext>``. A task is adopted when
every one of its outputs is there and, where gokart left ``log/task_params/<Class>_<id>.pkl``,
the parameters in it equal the task's exactly. Adopting writes each output to the tasuki
workspace at the target's key (read as gokart wrote it, written through the tasuki target, so
the record's sizes and hashes are tasuki's) and then a run record marked ``adopted``, under the
task's lease and in the order a run uses: outputs first, the record last. A process killed in
between leaves the task incomplete, never half done.

The gokart workspace is only read. Its files that belong to no task of the graph are listed
in the report and left alone.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tasuki.compat._adopt_readers import import_output, unpickle_gokart
from tasuki.compat._adopt_report import AdoptReport, TaskAdoption
from tasuki.compat._gokart_id import GokartIds
from tasuki.config import Settings, load_settings
from tasuki.core.code import code_keys, code_of
from tasuki.core.execute import Completeness, record_identity
from tasuki.core.graph import Node, build_graph
from tasuki.core.records import (
    RunRecord,
    delete_record,
    environment,
    now_iso,
    remember_outputs,
    save_code,
)
from tasuki.core.runner import open_workspace
from tasuki.core.targets import DirectoryTarget, Target, targets_of
from tasuki.core.task import Task
from tasuki.errors import ConfigError, TasukiError
from tasuki.storage import open_store

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["AdoptReport", "TaskAdoption", "adopt_gokart"]

logger = logging.getLogger(__name__)

#: Where gokart keeps each task's significant parameters (``to_str_params``).
PARAMS_LOG = "log/task_params"
_LOG_FILE = re.compile(r"log/[^/]+/(?P<cls>[^/]+)_(?P<id>[0-9a-f]{32})\.[a-z]+")
_GOKART_NAME = re.compile(r"(?P<stem>.*)_(?P<id>[0-9a-f]{32})(?P<ext>\.[^./]*)?")


def gokart_file(relative_path: str, gokart_id: str) -> str:
    """Where gokart writes an output declared at ``relative_path`` for a task of that id
    (``gokart.target._make_file_path``)."""
    base, ext = os.path.splitext(posixpath.normpath(relative_path))
    return f"{base}_{gokart_id}{ext}"


def candidate_paths(task: Task, target: Target) -> list[str]:
    """gokart's relative paths an output of ``task`` may have been declared at.

    A compat target knows it (``gokart_path``). A native target's key is
    ``<module path>/<name with the tasuki id>``: without the id, with and without the module
    path (gokart's ``make_target("x.pkl")`` is relative to the workspace, its default output
    ``<module path>/<Class>.pkl``).
    """
    known = getattr(target, "gokart_path", None)
    if isinstance(known, str):
        return [known]
    key = target.key.replace(f"_{task.unique_id}", "", 1)
    module = type(task).__module__.replace(".", "/") + "/"
    paths = [key]
    if key.startswith(module):
        paths.insert(0, key[len(module) :])
    return paths


def _significant_params_match(
    params_file: str | None, source: Store, ours: dict[str, str]
) -> str | None:
    """None when gokart's params log (if any) equals ``ours``, else how they differ."""
    if params_file is None:
        return None
    try:
        theirs = unpickle_gokart(source.read_bytes(params_file))
    except Exception as exc:
        return f"its parameters log {params_file} is unreadable ({type(exc).__name__}: {exc})"
    if not isinstance(theirs, dict):
        return f"its parameters log {params_file} holds a {type(theirs).__name__}, not a dict"
    if theirs == ours:
        return None
    names = sorted(set(theirs) | set(ours))
    diffs = [f"{n}: gokart {theirs.get(n)!r}, here {ours.get(n)!r}" for n in names]
    diffs = [d for d, n in zip(diffs, names, strict=True) if theirs.get(n) != ours.get(n)]
    return f"parameters differ from gokart's log {params_file}: " + "; ".join(diffs)


class _Index:
    """The gokart workspace's files, with gokart's log files grouped by task id."""

    def __init__(self, source: Store) -> None:
        self.source = source
        self.files = sorted(k for k in source.list("") if not k.startswith(".tasuki/"))
        self.present = set(self.files)
        self.logs: dict[str, list[str]] = {}
        for key in self.files:
            match = _LOG_FILE.fullmatch(key)
            if match is not None:
                self.logs.setdefault(match.group("id"), []).append(key)


def _plan(
    node: Node, ids: GokartIds, index: _Index, completeness: Completeness
) -> tuple[TaskAdoption, list[tuple[Target, str]], set[str]]:
    """Decide one task: its entry, (target, gokart file) pairs to import, files it owns."""
    task = node.task
    name = type(task).task_name()
    try:
        gid = ids.unique_id(task)
        ours = ids.params(task)
    except TasukiError as exc:
        return TaskAdoption(name, node.uid, None, "unsupported", reason=str(exc)), [], set()
    owned = set(index.logs.get(gid, []))
    entry = TaskAdoption(name, node.uid, gid, "not_found")
    targets = targets_of(node.outputs)
    pairs: list[tuple[Target, str]] = []
    missing: list[str] = []
    for target in targets:
        if not target.in_store or isinstance(target, DirectoryTarget):
            entry.status = "unsupported"
            entry.reason = (
                f"its output {target!r} is a {type(target).__name__}; gokart has no such output"
            )
            return entry, [], owned
        found = [gokart_file(c, gid) for c in candidate_paths(task, target)]
        present = [p for p in found if p in index.present]
        owned.update(present)
        if len(present) > 1:
            entry.status = "ambiguous"
            entry.reason = f"gokart has two files for {target.key}: {', '.join(present)}"
            return entry, [], owned
        if present:
            pairs.append((target, present[0]))
        else:
            missing.append(" or ".join(found))
    entry.files = [p for _, p in pairs]
    entry.keys = [t.key for t, _ in pairs]
    if not targets:
        entry.reason = "it declares no output: nothing to adopt (it runs on the next build)"
        return entry, [], owned
    if missing:
        entry.status = "partial" if pairs else "not_found"
        entry.reason = "gokart's workspace has no " + "; no ".join(missing)
        return entry, [], owned
    params_file = f"{PARAMS_LOG}/{type(task).__name__}_{gid}.pkl"
    differ = _significant_params_match(
        params_file if params_file in index.present else None, index.source, ours
    )
    if differ is not None:
        entry.status = "params_differ"
        entry.reason = differ
        return entry, [], owned
    verdict = completeness.verdict(node)
    if verdict is None:
        entry.status = "already_complete"
        entry.reason = "the tasuki workspace has its output already (left as it is)"
        return entry, [], owned
    entry.status = "ready"
    return entry, pairs, owned


def _adopt_one(
    node: Node,
    entry: TaskAdoption,
    pairs: list[tuple[Target, str]],
    source: Store,
    store: Store,
    settings: Settings,
    completeness: Completeness,
) -> None:
    """Import the outputs of one planned task and write its record, under its lease."""
    task = node.task
    lease = store.lease(node.uid)
    lease.acquire(timeout=settings.lock_timeout)
    try:
        if completeness.check(node):  # another process finished it meanwhile
            entry.status = "already_complete"
            entry.reason = "the tasuki workspace got its output while adopting (left as it is)"
            return
        # Until the new record is written the task is incomplete: a crash in the middle
        # cannot leave an old record vouching for new bytes.
        delete_record(store, node.uid)
        started_at = now_iso()
        infos = []
        try:
            for target, path in pairs:
                infos.append(import_output(target, task, source, path, store).stamped(store))
        except TasukiError as exc:
            for target, _ in pairs:
                try:
                    target.remove(store)
                except OSError:
                    logger.debug("could not remove %s after a failed adoption", target.key)
            entry.status = "unreadable"
            entry.reason = str(exc)
            return
        record = _record(node, infos, entry, source, started_at)
        record.code_key = completeness.code_key(task)
        record.write(store)
        remember_outputs(store, record)
        code = code_of(type(task))
        save_code(store, code.digest, code.text)
        entry.status = "adopted"
        logger.info(
            "adopted %r from gokart (%s)",
            task,
            entry.gokart_id,
            extra={"task": entry.task, "key": node.uid},
        )
    finally:
        lease.release()


def _gokart_log(source: Store, task: Task, kind: str, gokart_id: str) -> Any:
    try:
        data = source.read_bytes(f"log/{kind}/{type(task).__name__}_{gokart_id}.pkl")
        return unpickle_gokart(data)
    except Exception:
        return None


def _record(
    node: Node, infos: list[Any], entry: TaskAdoption, source: Store, started_at: str
) -> RunRecord:
    task = node.task
    gid = entry.gokart_id or ""
    task_log = _gokart_log(source, task, "task_log", gid)
    seconds = _gokart_log(source, task, "processing_time", gid)
    return RunRecord(
        **record_identity(node),
        outputs=[o.to_json() for o in infos],
        status="done",
        started_at=started_at,
        finished_at=now_iso(),
        duration_s=round(float(seconds), 6) if isinstance(seconds, int | float) else 0.0,
        task_log=dict(task_log) if isinstance(task_log, dict) else {},
        environment=environment(),
        adopted={
            "from": "gokart",
            "gokart_unique_id": gid,
            "gokart_workspace": source.url,
            "files": list(entry.files),
        },
    )


def _nothing_matched(
    roots: Sequence[Task], source: Store, index: _Index, tasks: list[TaskAdoption]
) -> ConfigError:
    expected = [
        p
        for t in tasks
        for p in t.reason.removeprefix("gokart's workspace has no ").split("; no ")
        if t.status == "not_found" and t.reason
    ][:5]
    wanted_stems = {
        m.group("stem") + (m.group("ext") or "")
        for p in expected
        for alt in p.split(" or ")
        if (m := _GOKART_NAME.fullmatch(alt)) is not None
    }
    near = [
        k
        for k in index.files
        if (m := _GOKART_NAME.fullmatch(k)) is not None
        and m.group("stem") + (m.group("ext") or "") in wanted_stems
    ][:5]
    shown = ", ".join(repr(r) for r in roots)
    message = (
        f"no file of the gokart workspace {source.url} ({len(index.files)} file(s) seen) "
        f"belongs to {shown} or the tasks it requires. "
    )
    if expected:
        message += f"Looked for e.g. {'; '.join(expected)}. "
    if near:
        message += (
            f"Files with the same names but other gokart ids (other parameters): "
            f"{', '.join(near)}. "
        )
    unsupported = [t for t in tasks if t.status == "unsupported"]
    if unsupported:
        message += (
            f"{len(unsupported)} task(s) could not be looked for: "
            + "; ".join(f"{t.task}: {t.reason}" for t in unsupported[:3])
            + ". "
        )
    message += (
        "Check that the parameters are the ones gokart ran with (--param value; .ini "
        "defaults) and that --workspace is gokart's workspace_directory (default ./resources)."
    )
    return ConfigError(message, workspace=source.url, files_seen=len(index.files), task=shown)


def adopt_gokart(
    roots: Task | Iterable[Task],
    gokart_workspace: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    dry_run: bool = False,
) -> AdoptReport:
    """Adopt the outputs gokart computed for ``roots`` and their requirements.

    Args:
        roots: The task (or tasks) whose pipeline to adopt, with the parameters gokart ran.
        gokart_workspace: gokart's ``workspace_directory`` (a folder or an fsspec URL); only
            read.
        settings: tasuki settings (the workspace to adopt into); default: resolved as
            ``tasuki.build`` does.
        dry_run: Say what would be adopted, write nothing.

    Returns:
        What was found and done, per task; gokart files that match no task.

    Raises:
        ConfigError: no file of the gokart workspace belongs to any task of the graph (the
            message names the workspace, the files seen and the task, and what to check).

    Example:
        >>> report = adopt_gokart(Train(lr=0.1), "./resources")  # doctest: +SKIP
        >>> [t.task for t in report.adopted]  # doctest: +SKIP
        ['pipeline.tasks:Prepare', 'pipeline.tasks:Train']
    """
    root_list = [roots] if isinstance(roots, Task) else list(roots)
    settings = settings if settings is not None else load_settings()
    store = open_workspace(settings)
    source = open_store(gokart_workspace)
    index = _Index(source)
    graph = build_graph(root_list)
    completeness = Completeness(store, settings.on_code_change, code_keys(graph))
    ids = GokartIds()
    owned: set[str] = set()
    entries: list[TaskAdoption] = []
    planned: list[tuple[Node, TaskAdoption, list[tuple[Target, str]]]] = []
    for uid in graph.order:
        node = graph.nodes[uid]
        entry, pairs, files = _plan(node, ids, index, completeness)
        owned |= files
        entries.append(entry)
        if entry.status == "ready":
            planned.append((node, entry, pairs))
    if not owned:
        raise _nothing_matched(root_list, source, index, entries)
    for node, entry, pairs in planned:
        if dry_run:
            entry.status = "would_adopt"
            continue
        _adopt_one(node, entry, pairs, source, store, settings, completeness)
    return AdoptReport(
        gokart_workspace=source.url,
        workspace=store.url,
        dry_run=dry_run,
        files_seen=len(index.files),
        tasks=entries,
        unmatched=[k for k in index.files if k not in owned],
    )
