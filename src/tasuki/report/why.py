"""``tasuki why``: explain why a task will or will not run.

When the task's own record is present, the answer is about that record (outputs present?
code changed?). When it is not, the closest record of the same task family says what
differs: a parameter, the version, an upstream id (and then, one level down, why that
upstream's id moved), or the code fingerprint.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tasuki.core.execute import output_keys
from tasuki.core.fingerprint import code_fingerprint
from tasuki.core.graph import build_graph
from tasuki.core.params import to_jsonable
from tasuki.core.records import RECORDS_PREFIX, RunRecord, record_key
from tasuki.core.task import Task, flatten

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["explain"]

_MAX_DEPTH = 6


def _records_of(store: Store, name: str) -> list[RunRecord]:
    out = []
    for key in store.list(RECORDS_PREFIX):
        if not key.endswith(".json"):
            continue
        try:
            record = RunRecord.from_bytes(store.read_bytes(key))
        except (FileNotFoundError, ValueError):
            continue
        if record.task == name:
            out.append(record)
    return out


def _differences(task: Task, record: RunRecord) -> list[str]:
    diffs = []
    significant = type(task)._info().significant
    current = {n: to_jsonable(task.param_values[n]) for n in significant}
    old = {n: record.params.get(n) for n in record.significant}
    for name in sorted(set(current) | set(old)):
        if name not in old:
            diffs.append(f"parameter {name!r} is new (now {json.dumps(current[name])})")
        elif name not in current:
            diffs.append(f"parameter {name!r} was removed (was {json.dumps(old[name])})")
        elif current[name] != old[name]:
            diffs.append(
                f"parameter {name!r}: {json.dumps(old[name])} -> {json.dumps(current[name])}"
            )
    if (type(task).version or None) != (record.version or None):
        diffs.append(f"version: {record.version!r} -> {type(task).version!r}")
    upstream = [t.unique_id for t in flatten(task.__dict__.get("_tasuki_requires"))]
    if upstream != record.requires:
        diffs.append(
            "upstream ids: "
            + ", ".join(u[:10] for u in record.requires)
            + " -> "
            + ", ".join(u[:10] for u in upstream)
        )
    return diffs


def explain(task: Task, store: Store, *, on_code_change: str = "warn") -> list[str]:
    """Lines saying whether ``task`` will run in ``store`` and why.

    Example:
        >>> for line in explain(TaskB(param="earth"), store): print(line)
        TaskB[1f2e...] will run: no output for this id
          closest record 9a8b... differs in: parameter 'param': "world" -> "earth"
    """
    build_graph([task])
    lines: list[str] = []
    stack: list[tuple[Task, int]] = [(task, 0)]
    while stack:
        current, depth = stack.pop()
        pad = "  " * depth
        head = f"{pad}{type(current).__qualname__}[{current.unique_id[:10]}]"
        record = None
        if store.exists(record_key(current.unique_id)):
            record = RunRecord.read(store, current.unique_id)
        if record is not None:
            missing = [k for k in output_keys(current) if not store.exists(k)]
            fingerprint = code_fingerprint(type(current))
            if missing:
                lines.append(
                    f"{head} will run: its record exists but outputs are missing: {missing}"
                )
            elif record.code_fingerprint != fingerprint:
                verdict = "will run" if on_code_change == "rerun" else "will not run"
                lines.append(
                    f"{head} {verdict}: cached, but its code changed since the output was made "
                    f"(fingerprint {record.code_fingerprint} -> {fingerprint}; "
                    f"on_code_change = {on_code_change!r})"
                )
            else:
                lines.append(f"{head} will not run: complete (made {record.finished_at})")
            continue
        same_family = _records_of(store, type(current).task_name())
        if not same_family:
            lines.append(
                f"{head} will run: it has never run in this workspace "
                f"(no record of {type(current).task_name()})"
            )
            continue
        scored = sorted(
            ((len(_differences(current, r)), r.finished_at, r) for r in same_family),
            key=lambda x: (x[0], x[1]),
        )
        closest = scored[0][2]
        diffs = _differences(current, closest)
        lines.append(
            f"{head} will run: no output for this id; the closest record "
            f"{closest.unique_id[:10]} (made {closest.finished_at}) differs in:"
        )
        lines.extend(f"{pad}  - {d}" for d in diffs or ["(nothing visible: the code changed?)"])
        if depth < _MAX_DEPTH:
            for dep in reversed(flatten(current.__dict__.get("_tasuki_requires"))):
                if dep.unique_id not in closest.requires:
                    stack.append((dep, depth + 1))
    return lines
