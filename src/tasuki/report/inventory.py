"""What the workspace holds (``tasuki ls``) and what no root reaches (``tasuki gc``)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tasuki.core.definitions import bundle_key, bundle_names, definition_key, read_bundle
from tasuki.core.loading import task_refs
from tasuki.core.records import (
    RECORDS_PREFIX,
    RunRecord,
    delete_record,
    find_record,
    read_records,
    record_key,
)
from tasuki.errors import RecordNotFoundError
from tasuki.report._values import output_kind

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = [
    "KEEP_NEWER_THAN_S",
    "Garbage",
    "Inventory",
    "KeptOutput",
    "collect_garbage",
    "is_external",
    "named_by_tasuki",
    "read_inventory",
]

# ``<stem>_<unique id>`` with an optional extension: how Task.make_target and its siblings
# name what a task writes (a folder target's parts lie below such a name).
_TASK_NAME = re.compile(r"[^/]*_[0-9a-f]{64}(\.[^/]*)?")


def named_by_tasuki(key: str) -> bool:
    """Whether a workspace key is named as tasuki names a task's output: a path part
    ``<stem>_<unique id>[.<ext>]`` (a folder target's parts lie below one). What a stopped
    run leaves has such a name; a file named otherwise was put there by someone else."""
    return any(_TASK_NAME.fullmatch(part) for part in key.split("/"))


@dataclass
class Inventory:
    """Records by id, and files that no record claims."""

    records: dict[str, RunRecord] = field(default_factory=dict)
    stray: list[str] = field(default_factory=list)
    """Files named as tasuki names outputs that no record claims (left by stopped runs)."""
    other_files: list[str] = field(default_factory=list)
    """Files no record claims and tasuki does not name: someone else's, never removed."""

    def rows(self) -> list[dict[str, Any]]:
        """One row per output: task, id, kind (``file`` or ``table``), key, size (None for
        a table: it lives outside the workspace), finished time."""
        rows = []
        for uid, rec in sorted(self.records.items(), key=lambda kv: kv[1].finished_at):
            for out in rec.outputs:
                kind = output_kind(out)
                rows.append(
                    {
                        "task": rec.task,
                        "unique_id": uid,
                        "kind": kind,
                        "key": out["key"],
                        "size": None if kind == "table" else out.get("size"),
                        "finished_at": rec.finished_at,
                    }
                )
        return rows


def read_inventory(store: Store) -> Inventory:
    """Read every record, and find files no record lists: left by stopped runs when tasuki
    named them, else someone's own."""
    inv = Inventory()
    for rec in read_records(store):
        inv.records[rec.unique_id] = rec
    claimed = {o["key"] for r in inv.records.values() for o in r.outputs}
    for key in store.list(""):
        if key.startswith(".tasuki/"):
            continue
        if key in claimed or any(key.startswith(c + "/") for c in _dirs(claimed, key)):
            continue
        (inv.stray if named_by_tasuki(key) else inv.other_files).append(key)
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
        stack.extend(task_refs(rec.params))
    return seen


def is_external(output: dict[str, Any]) -> bool:
    """Whether a record's output lives outside the workspace (a warehouse table).

    Records say so with ``kind: "table"``; older ones are told by the key: warehouse tables
    are recorded as ``<scheme>:<table>`` (``postgresql:ml.scores``), while workspace keys are
    paths whose first segment is a module folder, never with a colon. Either is enough:
    gc must never report removing a table it cannot remove.
    """
    key = str(output.get("key", ""))
    return output.get("kind") == "table" or ":" in key.split("/", 1)[0]


@dataclass(frozen=True)
class KeptOutput:
    """An output outside the workspace that gc leaves alone (a warehouse table)."""

    key: str
    task: str
    unique_id: str

    @property
    def drop_hint(self) -> str:
        """How to drop it by hand, with its lineage row."""
        table = self.key.split(":", 1)[1]
        return (
            f"DROP TABLE {table}; DELETE FROM tasuki_lineage WHERE table_name = '{table}' "
            f"AND unique_id = '{self.unique_id}'"
        )


@dataclass
class Garbage:
    """What gc removes (or would): workspace keys and their size, and what it keeps."""

    removed: list[str] = field(default_factory=list)
    size: int = 0
    kept: list[KeptOutput] = field(default_factory=list)
    recent_runs: int = 0
    """Runs no root reaches, kept because they finished within ``keep_newer_than``."""
    recent_files: int = 0
    """Files no record names, kept because they were written within ``keep_newer_than``
    (or their age is unknown)."""
    other_files: list[str] = field(default_factory=list)
    """Files in the workspace that tasuki did not name (a user's own): never removed."""


#: gc's default grace period: what was written in the last hour may belong to a build that
#: is still running (git keeps unreachable objects for two weeks for the same reason).
KEEP_NEWER_THAN_S = 3600.0


def _age_s(stamp: str, now: float) -> float | None:
    try:
        return now - datetime.fromisoformat(stamp).timestamp()
    except (TypeError, ValueError):
        return None


def _recent(age: float | None, keep_newer_than: float) -> bool:
    # An unknown age counts as recent: gc never removes what it cannot date.
    return age is None or age < keep_newer_than


def collect_garbage(
    store: Store,
    roots: list[str],
    *,
    delete: bool = False,
    keep_newer_than: float = KEEP_NEWER_THAN_S,
    now: float | None = None,
) -> Garbage:
    """Outputs, records and stray files in the workspace that no root reaches.

    Only workspace keys are removed. Outputs outside the workspace (warehouse tables
    written by ``WriteTableTask``) are never dropped: they are listed in ``kept``, and their
    lineage rows stay, so the task stays complete wherever it is built. A file no record
    names is removed only when it is named as tasuki names outputs (:func:`named_by_tasuki`):
    anything else in the folder is someone's own, listed in ``other_files`` and left alone.

    Nothing written in the last ``keep_newer_than`` seconds is removed: a run that finished
    then is kept with everything it depends on, as a root would be, and so is a file no
    record names yet (a build that is still running renames its output into place before it
    writes the record, and its next task reads what its last one made).

    Args:
        store: The workspace.
        roots: Unique ids (or unambiguous prefixes) of the runs to keep, with everything
            they depend on.
        delete: Really delete; the default is a dry run.
        keep_newer_than: Grace period in seconds (0: none, for a workspace no build is
            writing to).
        now: The current time (seconds since the epoch; tests pass their own).

    Returns:
        The keys that are (or would be) removed with their total size in bytes, the
        outside outputs of unreached runs that are kept, and how many recent runs and
        files were kept.
    """
    if keep_newer_than < 0:
        raise ValueError(f"keep_newer_than must be 0 or more seconds, got {keep_newer_than}")
    now = time.time() if now is None else now
    inv = read_inventory(store)
    root_ids = [find_record(store, r).unique_id for r in roots]
    reached = _reachable(inv, root_ids)
    recent = [
        uid
        for uid, rec in inv.records.items()
        if uid not in reached
        and _recent(_age_s(rec.finished_at or rec.started_at, now), keep_newer_than)
    ]
    keep = _reachable(inv, root_ids + recent)
    garbage = Garbage(recent_runs=len(recent), other_files=inv.other_files)
    # A key a kept run also names (an output() that does not use the unique id) stays.
    claimed = {o["key"] for uid in keep if uid in inv.records for o in inv.records[uid].outputs}
    gone: set[str] = set()
    for uid, rec in inv.records.items():
        if uid in keep:
            continue
        gone.add(uid)
        for out in rec.outputs:
            if is_external(out):
                garbage.kept.append(KeptOutput(out["key"], rec.task, uid))
                continue
            if out["key"] in claimed:
                continue
            garbage.removed.append(out["key"])
            garbage.size += int(out.get("size") or 0)
        garbage.removed.append(record_key(uid))
        # Its definition (written for `tasuki run-one`) goes with its run. Definitions of tasks
        # that never ran stay: an exported Argo workflow may still be on its way to them.
        if store.exists(definition_key(uid)):
            garbage.removed.append(definition_key(uid))
    # A bundle (the definitions of one build or export) goes when every task in it does.
    for name in bundle_names(store):
        try:
            held = read_bundle(store, name)
        except RecordNotFoundError:
            continue  # unreadable: left for a person to look at, never guessed about
        if held and all(uid in gone for uid in held):
            garbage.removed.append(bundle_key(name))
    # Files no record names that tasuki named (a run stopped before its record). Others are
    # someone's own (a workspace set to a folder that also holds raw data, or the project):
    # gc reports them and never removes them.
    for key in inv.stray:
        try:
            modified = store.modified(key)
        except FileNotFoundError:
            continue  # gone since the listing
        if _recent(None if modified is None else now - modified, keep_newer_than):
            garbage.recent_files += 1
            continue
        garbage.removed.append(key)
        try:
            garbage.size += store.size(key)
        except OSError:  # gone since the listing, or a folder: counted as nothing
            pass
    if delete:
        # Records go first: a half-finished gc leaves incomplete tasks, never a record
        # pointing at deleted outputs that would be taken as done.
        for key in sorted(garbage.removed, key=lambda k: not k.startswith(".tasuki/")):
            if key.startswith(RECORDS_PREFIX + "/") and key.endswith(".json"):
                # A record's name, wherever it is kept (a file, or the records database).
                delete_record(store, key[len(RECORDS_PREFIX) + 1 : -len(".json")])
            else:
                store.remove(key)
    return garbage
