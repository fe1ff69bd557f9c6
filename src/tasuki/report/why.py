"""``tasuki why``: what a build of a task would run, and the cause of each decision.

The plan is the runner's own (the same completeness checks, top-down from the root), so
``why`` never disagrees with ``run``. Each task that would run is then put in one of two
groups:

- a **cause**: something about the task itself: a parameter or ``version`` differs from the
  closest earlier run (its id moved), its code changed (with a short diff of the normalised
  code), an output is missing or damaged, or it never ran here;
- **affected**: it runs only because something upstream runs.

Causes are explained once each; the affected tasks are listed after them, so a parameter
change at the bottom of a deep pipeline reads as one line plus a list, not one repeated
explanation per task.

The *closest earlier run* of a task whose id moved is the record of the same task class with
the fewest differences, where a task-valued parameter (or requirement) of the same class
counts as closer than one of another class: with three interchangeable models, changing one
model's parameter compares the evaluation with the earlier evaluation of *that* model.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact, redact_json
from tasuki.core._plan_checks import check_plan
from tasuki.core._reads import NO_RECORD_NOW, READ_CHANGED
from tasuki.core.code import code_of
from tasuki.core.execute import RECHECK, Completeness, code_change
from tasuki.core.graph import Graph, Node, build_graph
from tasuki.core.params import to_jsonable
from tasuki.core.records import RunRecord, read_code, read_records
from tasuki.core.runner import plan
from tasuki.core.task import Task, flatten

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["Decision", "Explanation", "explain", "explain_build"]

_DIFF_LINES = 24


@dataclass
class Decision:
    """Why one task will or will not run."""

    uid: str
    task: str
    runs: bool
    cause: bool
    """True when the task runs for a reason of its own (not only because of upstream)."""
    reason: str
    details: list[str] = field(default_factory=list)
    compared_with: str | None = None
    """Unique id of the earlier run it was compared with, when its id moved."""
    maybe: bool = False
    """Complete, with a task below it that runs in this build: checked again once that has
    run, and run only if it made other outputs than this task read (``runs`` is False)."""

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--format json``."""
        return {
            "unique_id": self.uid,
            "task": self.task,
            "runs": self.runs,
            "maybe": self.maybe,
            "cause": self.cause,
            "reason": self.reason,
            "details": self.details,
            "compared_with": self.compared_with,
        }


@dataclass
class Explanation:
    """The decisions for every task a build of ``root`` reaches."""

    root: str
    decisions: list[Decision]

    def lines(self) -> list[str]:
        """The text ``tasuki why`` prints."""
        by_uid = {d.uid: d for d in self.decisions}
        root = by_uid[self.root]
        will = "run" if root.runs else "run if what it read changes" if root.maybe else "not run"
        head = f"{_label_of(root)} will {will}"
        causes = [d for d in self.decisions if d.runs and d.cause]
        affected = [d for d in self.decisions if d.runs and not d.cause]
        maybe = [d for d in self.decisions if d.maybe]
        idle = [
            d for d in self.decisions if not d.runs and not d.maybe and d.reason != "not needed"
        ]
        if not root.runs and not maybe:
            out = [f"{head}: {root.reason}"]
            out.extend(f"  {line}" for line in root.details)
            return out
        again = f", {len(maybe)} checked again after them" if maybe else ""
        out = [f"{head}: {len(causes) + len(affected)} task(s) would run{again}."]
        if causes:
            out.append("Causes:")
            # One line per distinct cause: a parameter handed down through every level
            # reads once, with the tasks it touches.
            groups: dict[tuple[str, tuple[str, ...]], list[Decision]] = {}
            for d in causes:
                groups.setdefault((d.reason, tuple(d.details)), []).append(d)
            for (reason, details), members in groups.items():
                out.append(f"  - {', '.join(_label_of(d) for d in members)}: {reason}")
                out.extend(f"      {line}" for line in details)
        if affected:
            out.append("Runs because something upstream runs:")
            out.append("  " + ", ".join(_label_of(d) for d in affected))
        if maybe:
            out.append(
                "Checked again once what runs below them has run (they run only if it makes "
                "other outputs than they read):"
            )
            out.append("  " + ", ".join(_label_of(d) for d in maybe))
        warned = [d for d in idle if d.details]
        for d in warned:
            out.append(f"Will not run: {_label_of(d)}: {d.reason}")
            out.extend(f"      {line}" for line in d.details)
        complete = [d for d in idle if not d.details]
        if complete:
            out.append(f"Cached (complete): {', '.join(_label_of(d) for d in complete)}")
        return out

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--format json`` (full ids, typed values)."""
        return {"root": self.root, "decisions": [d.to_json() for d in self.decisions]}


def _label_of(d: Decision) -> str:
    return f"{d.task.rpartition(':')[2]}[{d.uid[:10]}]"


class _Records:
    """Every record of the workspace, read once (``why`` is interactive, not a hot path)."""

    def __init__(self, store: Store, graph: Graph) -> None:
        # Classes of the tasks being explained, by id: tasks not built yet have no record.
        self.current: dict[str, str] = {}
        for uid, node in graph.nodes.items():
            self.current[uid] = type(node.task).task_name()
            for value in node.task.param_values.values():
                for sub in _tasks_in(value):
                    self.current[sub.unique_id] = type(sub).task_name()
        self.by_uid: dict[str, RunRecord] = {}
        self.by_task: dict[str, list[RunRecord]] = {}
        for record in read_records(store):
            self.by_uid[record.unique_id] = record
            self.by_task.setdefault(record.task, []).append(record)

    def task_of(self, uid: str) -> str | None:
        record = self.by_uid.get(uid)
        return record.task if record else None


def explain_build(
    task: Task, store: Store, *, on_code_change: str = "rerun", graph: Graph | None = None
) -> Explanation:
    """The decision for every task a build of ``task`` reaches, with causes.

    Example:
        >>> print("\\n".join(explain_build(Report(alpha=0.25), store).lines()))
        Report[1f2e3d4c5b] will run: 2 task(s) would run.
        Causes:
          - Train[9a8b7c6d5e]: parameter 'alpha': 0.5 -> 0.25 (compared with 77aa...)
        Runs because something upstream runs:
          Report[1f2e3d4c5b]

    Raises:
        TaskError: a build of ``task`` would be refused once planned (the same error).
    """
    from tasuki.core.code import code_keys, refresh_fingerprints

    graph = graph or build_graph([task])
    refresh_fingerprints()
    completeness = Completeness(store, on_code_change, code_keys(graph))
    needed, complete = plan(graph, completeness, set())
    # A build refused once planned (two tasks writing one output, a query and a write of
    # its table in no order) is refused here too, with the same error: "will run" would
    # be an answer the build never gives.
    check_plan(graph, needed, complete)
    records = _Records(store, graph)
    decisions: dict[str, Decision] = {}
    for uid in graph.order:  # dependencies first
        node = graph.nodes[uid]
        name = type(node.task).task_name()
        if uid not in needed:
            decisions[uid] = _not_running(node, name, store, completeness)
            continue
        if needed[uid].startswith(RECHECK) or _waits_on_reads(node, completeness, needed):
            # Checked again under its lease once what runs below it has: it runs only if
            # that made other bytes than it read.
            decisions[uid] = Decision(uid, name, False, False, needed[uid], maybe=True)
            continue
        upstream = [d for d in node.deps if d in needed]
        decisions[uid] = _running(node, name, store, completeness, records, upstream, needed[uid])
    ordered = [decisions[u] for u in reversed(graph.order)]  # root first
    return Explanation(graph.roots[0], ordered)


def _waits_on_reads(node: Node, completeness: Completeness, needed: dict[str, str]) -> bool:
    """Whether ``node``'s task is planned only for what it read, and every requirement it
    read that changed since runs in this build first: under its lease it is compared with
    their new records, and runs only if they made other bytes than it read."""
    try:
        record = RunRecord.read(completeness.store, node.uid)
    except (FileNotFoundError, ValueError):
        return False
    if not record.done or record.inputs is None:
        return False
    verdict = completeness.verdict(node)
    if verdict is not None and READ_CHANGED not in verdict and NO_RECORD_NOW not in verdict:
        return False  # a reason of its own (code, a missing output...): it runs
    changed = completeness.reads.changed_inputs(node, record.inputs)
    if not changed:  # out of date further down: what it reads runs first
        return any(d in needed for d in node.deps)
    return all(d in needed for d in changed)


def explain(task: Task, store: Store, *, on_code_change: str = "rerun") -> list[str]:
    """Lines saying whether ``task`` will run in ``store`` and why (see :func:`explain_build`)."""
    return explain_build(task, store, on_code_change=on_code_change).lines()


def _not_running(node: Node, name: str, store: Store, completeness: Completeness) -> Decision:
    task, uid = node.task, node.uid
    try:
        record: RunRecord | None = RunRecord.read(store, uid)
    except (FileNotFoundError, ValueError):
        record = None
    if record is None:
        reason = "not needed" if completeness.verdict(node) else "complete (its table is there)"
        return Decision(uid, name, False, False, reason)
    if not record.done:  # a failed run: what needs it is complete, so it is not asked for
        state = "failed" if record.status == "failed" else f"ended {record.status!r}"
        return Decision(
            uid, name, False, False, f"not needed (its last run {state}; what needs it is complete)"
        )
    if record.code_key != completeness.code_key(task) and completeness.on_code_change != "ignore":
        change = code_change(task, record)
        details = _code_diff(task, record, store) if "code of" in change else []
        policy = completeness.on_code_change
        return Decision(
            uid,
            name,
            False,
            False,
            f"cached, although {change} (on_code_change = {policy!r})",
            details or [f"on_code_change = {policy!r} keeps the cached output"],
        )
    if record.adopted:  # outputs taken over from another tool (tasuki adopt-gokart)
        made = f"adopted from {record.adopted.get('from')} {record.adopted.get('gokart_workspace')}"
        return Decision(uid, name, False, False, f"complete ({made} at {record.finished_at})")
    # What the cache rests on where it is not the task's inputs alone (a query's freshness).
    note = getattr(task, "_cache_note", None)
    text = note(record) if note is not None else None
    return Decision(
        uid, name, False, False, f"complete (made {record.finished_at})", [text] if text else []
    )


def _running(
    node: Node,
    name: str,
    store: Store,
    completeness: Completeness,
    records: _Records,
    upstream: list[str],
    planned: str,
) -> Decision:
    task, uid = node.task, node.uid
    record = records.by_uid.get(uid)
    if record is not None:
        verdict = completeness.verdict(node)
        if verdict is None:  # complete itself, made from an upstream output that changed
            return Decision(uid, name, True, not upstream, planned)
        if verdict.startswith("the code of a task upstream") and upstream:
            return Decision(uid, name, True, False, verdict)
        details = _code_diff(task, record, store) if verdict.startswith("the code of") else []
        return Decision(uid, name, True, True, verdict, details)
    family = records.by_task.get(name, [])
    if not family:
        return Decision(
            uid, name, True, True, f"it has never run in this workspace (no record of {name})"
        )
    closest = min(family, key=lambda r: (_distance(node, r, records), _newest_first(r)))
    own = _own_differences(task, record_params=closest, records=records)
    moved = _requires_moved(node, closest)
    if own:
        reason = "; ".join(own)
        return Decision(uid, name, True, True, reason, compared_with=closest.unique_id)
    if moved and upstream:
        return Decision(
            uid, name, True, False, "upstream ids moved", compared_with=closest.unique_id
        )
    if moved:
        return Decision(
            uid,
            name,
            True,
            True,
            "its requirements changed (requires() returns other tasks)",
            compared_with=closest.unique_id,
        )
    return Decision(
        uid,
        name,
        True,
        True,
        f"no record for this id, though {closest.unique_id[:10]} has the same parameters "
        "(its record was deleted, or the task's name or id scheme changed)",
        compared_with=closest.unique_id,
    )


def _newest_first(record: RunRecord) -> str:
    # min() picks the smallest: invert the ISO timestamp's order by mapping digits.
    return record.finished_at.translate(str.maketrans("0123456789", "9876543210"))


def _current_params(task: Task) -> dict[str, Any]:
    significant = type(task)._info().significant
    # as records keep them: secrets masked (see core.execute)
    return {n: redact_json(to_jsonable(task.param_values[n])) for n in significant}


def _task_ref(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"$task"}:
        return str(value["$task"])
    return None


def _param_distance(new: Any, old: Any, records: _Records) -> float:
    if new == old:
        return 0.0
    new_ref, old_ref = _task_ref(new), _task_ref(old)
    if new_ref is not None and old_ref is not None:
        same_class = records.task_of(old_ref) == _class_of_ref(new_ref, records)
        return 0.5 if same_class else 1.0
    return 1.0


def _class_of_ref(uid: str, records: _Records) -> str | None:
    return records.current.get(uid) or records.task_of(uid)


def _distance(node: Node, record: RunRecord, records: _Records) -> float:
    task = node.task
    current = _current_params(task)
    old = {n: record.params.get(n) for n in record.significant}
    score = 0.0
    for name in set(current) | set(old):
        if name not in current or name not in old:
            score += 1
        else:
            score += _param_distance(current[name], old[name], records)
    if (type(task).version or None) != (record.version or None):
        score += 1
    new_deps = [type(t).task_name() for t in flatten(node.requires)]
    old_deps = [records.task_of(u) for u in record.requires]
    if len(new_deps) != len(old_deps):
        score += 1
    score += 0.25 * sum(1 for a, b in zip(new_deps, old_deps, strict=False) if a != b)
    return score


def _tasks_in(value: Any) -> list[Task]:
    if isinstance(value, Task):
        return [value]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _tasks_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tasks_in(v)]
    return []


def _show(value: Any, records: _Records) -> str:
    ref = _task_ref(value)
    if ref is not None:
        cls = _class_of_ref(ref, records)
        return f"{(cls or 'task').rpartition(':')[2]}[{ref[:10]}]"
    return json.dumps(value, ensure_ascii=False)


def _own_differences(task: Task, *, record_params: RunRecord, records: _Records) -> list[str]:
    record = record_params
    current = _current_params(task)
    old = {n: record.params.get(n) for n in record.significant}
    diffs = []
    for name in sorted(set(current) | set(old)):
        if name not in old:
            diffs.append(f"parameter {name!r} is new (now {_show(current[name], records)})")
        elif name not in current:
            diffs.append(f"parameter {name!r} was removed (was {_show(old[name], records)})")
        elif current[name] != old[name]:
            if _task_ref(current[name]) and _task_ref(old[name]):
                same = _param_distance(current[name], old[name], records) < 1
                if same:
                    continue  # the same kind of task with other inputs: explained upstream
            diffs.append(
                f"parameter {name!r}: {_show(old[name], records)} -> "
                f"{_show(current[name], records)}"
            )
    if (type(task).version or None) != (record.version or None):
        diffs.append(f"version: {record.version!r} -> {type(task).version!r}")
    return diffs


def _requires_moved(node: Node, record: RunRecord) -> bool:
    return [t.unique_id for t in flatten(node.requires)] != record.requires


def _code_diff(task: Task, record: RunRecord, store: Store) -> list[str]:
    """A short unified diff of the normalised code the output was made with and today's."""
    now = code_of(type(task))
    if record.code_fingerprint == now.digest:
        return []
    before = read_code(store, record.code_fingerprint)
    if before is None:
        return [
            f"code fingerprint {record.code_fingerprint} -> {now.digest} (the code it was "
            "made with was not saved in this workspace; records from before this tasuki "
            "version keep only the fingerprint)"
        ]
    lines = list(
        difflib.unified_diff(
            before.splitlines(),
            redact(now.text).splitlines(),  # as save_code kept the text it was made with
            f"made with ({record.code_fingerprint})",
            f"now ({now.digest})",
            n=1,
            lineterm="",
        )
    )
    if len(lines) > _DIFF_LINES:
        lines = [*lines[:_DIFF_LINES], f"... ({len(lines) - _DIFF_LINES} more diff lines)"]
    return lines
