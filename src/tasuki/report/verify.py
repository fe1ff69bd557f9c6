"""``tasuki verify``: check every output against what its run record says.

A build already compares sizes (a stat per output of each task it checks) and verifies the
content hash of what it loads. ``verify`` reads every byte of every output a graph reaches
(or of every record in the workspace) and compares size and xxh3 with the record, the way
DVC checks its cache against its hashes: the check to run after a disk or a copy went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki.core.records import RunRecord, record_ids

if TYPE_CHECKING:
    from tasuki.core.graph import Graph
    from tasuki.storage.base import Store

__all__ = ["OutputCheck", "verify_graph", "verify_records"]

#: Statuses that mean an output cannot be trusted.
BAD = ("missing", "wrong size", "wrong content", "unreadable record")


@dataclass(frozen=True)
class OutputCheck:
    """The state of one output (or of a task without a record)."""

    unique_id: str
    task: str
    key: str
    status: str
    """``ok``, ``ok (size only)``, ``missing``, ``wrong size``, ``wrong content``,
    ``not built``, ``last run failed`` (no outputs to check) or ``unreadable record``."""
    expected: str = ""
    found: str = ""

    @property
    def bad(self) -> bool:
        """Whether this output cannot be trusted."""
        return self.status in BAD

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--format json`` (full ids)."""
        return {
            "unique_id": self.unique_id,
            "task": self.task,
            "key": self.key,
            "status": self.status,
            "expected": self.expected,
            "found": self.found,
        }


def _check_record(store: Store, record: RunRecord) -> list[OutputCheck]:
    from tasuki.core.targets import folder_hash, object_hash
    from tasuki.report._values import output_kind

    if record.status == "failed":  # a failed run lists no outputs: say why there are none
        err = record.error or {}
        found = f"{err.get('type', '')}: {err.get('message', '')}" if err else ""
        return [OutputCheck(record.unique_id, record.task, "", "last run failed", found=found)]
    out = []
    for entry in record.outputs:
        if output_kind(entry) == "table":
            continue  # outside the workspace: verify_graph asks the target itself
        key = str(entry.get("key"))
        size, digest = entry.get("size"), entry.get("xxh3")
        want = f"{size} bytes" + (f", xxh3 {digest}" if digest else "")
        common = {"unique_id": record.unique_id, "task": record.task, "key": key}
        try:
            if digest is None:  # outputs written outside dump(), folders of older records
                found_size = store.size(key)
                ok = size is None or found_size == size
                out.append(
                    OutputCheck(
                        **common,
                        status="ok (size only)" if ok else "wrong size",
                        expected=want,
                        found=f"{found_size} bytes",
                    )
                )
                continue
            if output_kind(entry) == "folder":
                found_size, found = folder_hash(store, key)
            else:
                found_size, found = object_hash(store, key)
        except FileNotFoundError:
            out.append(OutputCheck(**common, status="missing", expected=want))
            continue
        got = f"{found_size} bytes, xxh3 {found}"
        if found_size != size:
            status = "wrong size"
        elif found != digest:
            status = "wrong content"
        else:
            status = "ok"
        out.append(OutputCheck(**common, status=status, expected=want, found=got))
    return out


def verify_graph(
    graph: Graph, store: Store, *, on_output: Callable[[OutputCheck], None] | None = None
) -> list[OutputCheck]:
    """Check every output of every task in ``graph`` that has a record in ``store``.

    Tasks without a record are listed as ``not built``; warehouse outputs (write-backs) are
    checked for existence.
    """
    checks: list[OutputCheck] = []
    for uid in reversed(graph.order):  # the root first
        node = graph.nodes[uid]
        name = type(node.task).task_name()
        try:
            record = RunRecord.read(store, uid)
        except FileNotFoundError:
            found = [
                OutputCheck(uid, name, repr(t), "ok" if t.exists(store) else "not built")
                for t in node.external_targets()
            ] or [OutputCheck(uid, name, ", ".join(node.output_keys()), "not built")]
        except ValueError:
            found = [OutputCheck(uid, name, "", "unreadable record")]
        else:
            found = _check_record(store, record)
            for target in node.external_targets():
                found.append(
                    OutputCheck(
                        uid, name, repr(target), "ok" if target.exists(store) else "missing"
                    )
                )
        for check in found:
            checks.append(check)
            if on_output is not None:
                on_output(check)
    return checks


def verify_records(
    store: Store, *, on_output: Callable[[OutputCheck], None] | None = None
) -> list[OutputCheck]:
    """Check the outputs of every run record in the workspace."""
    checks: list[OutputCheck] = []
    for uid in record_ids(store):
        try:
            record = RunRecord.read(store, uid)
        except (FileNotFoundError, ValueError, TypeError):
            found = [OutputCheck(uid, "", "", "unreadable record")]
        else:
            found = _check_record(store, record)
        for check in found:
            checks.append(check)
            if on_output is not None:
                on_output(check)
    return checks
