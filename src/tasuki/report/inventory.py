"""What the workspace holds (``tasuki ls``) and what no root reaches (``tasuki gc``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki.core.records import RECORDS_PREFIX, RunRecord, find_record, record_key

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["Inventory", "collect_garbage", "read_inventory"]


@dataclass
class Inventory:
    """Records by id, and files that no record claims."""

    records: dict[str, RunRecord] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per output: task, id, key, size, finished time."""
        rows = []
        for uid, rec in sorted(self.records.items(), key=lambda kv: kv[1].finished_at):
            for out in rec.outputs:
                rows.append(
                    {
                        "task": rec.task,
                        "unique_id": uid,
                        "key": out["key"],
                        "size": out.get("size"),
                        "finished_at": rec.finished_at,
                    }
                )
        return rows


def read_inventory(store: Store) -> Inventory:
    """Read every record, and find files no record lists (left by crashed or old runs)."""
    inv = Inventory()
    for key in store.list(RECORDS_PREFIX):
        if key.endswith(".json"):
            try:
                rec = RunRecord.from_bytes(store.read_bytes(key))
            except (FileNotFoundError, ValueError):
                continue
            inv.records[rec.unique_id] = rec
    claimed = {o["key"] for r in inv.records.values() for o in r.outputs}
    for key in store.list(""):
        if key.startswith(".tasuki/"):
            continue
        if key in claimed or any(key.startswith(c + "/") for c in _dirs(claimed, key)):
            continue
        inv.stray.append(key)
    return inv


def _dirs(claimed: set[str], key: str) -> list[str]:
    # Directory targets claim every file below them.
    parts = key.split("/")
    return [p for p in ("/".join(parts[:i]) for i in range(1, len(parts))) if p in claimed]


def _reachable(inv: Inventory, roots: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        uid = stack.pop()
        if uid in seen or uid not in inv.records:
            continue
        seen.add(uid)
        rec = inv.records[uid]
        stack.extend(rec.requires)
        stack.extend(_task_refs(rec.params))
    return seen


def _task_refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"$task"}:
            return [value["$task"]]
        return [r for v in value.values() for r in _task_refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _task_refs(v)]
    return []


def collect_garbage(
    store: Store, roots: list[str], *, delete: bool = False
) -> tuple[list[str], int]:
    """Keys of outputs, records and stray files that no root reaches; deleted if asked.

    Args:
        store: The workspace.
        roots: Unique ids (or unambiguous prefixes) of the runs to keep, with everything
            they depend on.
        delete: Really delete; the default is a dry run.

    Returns:
        The keys that are (or would be) removed, and their total size in bytes.
    """
    inv = read_inventory(store)
    root_ids = [find_record(store, r).unique_id for r in roots]
    keep = _reachable(inv, root_ids)
    doomed: list[str] = []
    size = 0
    for uid, rec in inv.records.items():
        if uid in keep:
            continue
        for out in rec.outputs:
            doomed.append(out["key"])
            size += int(out.get("size") or 0)
        doomed.append(record_key(uid))
    doomed.extend(inv.stray)
    if delete:
        # Records go first: a half-finished gc leaves incomplete tasks, never a record
        # pointing at deleted outputs that would be taken as done.
        for key in sorted(doomed, key=lambda k: not k.startswith(".tasuki/")):
            store.remove(key)
    return doomed, size
