"""The generic webhook document: one JSON object per finished build.

The schema is documented in ``docs/notifications.md``; bump :data:`SCHEMA_VERSION` when a
field changes meaning or disappears (adding fields does not bump it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.core.results import STATUSES
from tasuki.report.tree import tree_from_result

if TYPE_CHECKING:
    from tasuki.core.results import BuildResult, TaskResult
    from tasuki.report.tree import TreeView

__all__ = ["SCHEMA_VERSION", "build_counts", "webhook_payload"]

SCHEMA_VERSION = 2


def build_counts(result: BuildResult) -> dict[str, int]:
    """``scheduled`` plus one count per status, zeros included (stable keys for consumers)."""
    counts = result.counts()
    out = {"scheduled": len(result.results)}
    out.update({status: counts[status] for status in STATUSES})
    return out


def event_name(result: BuildResult) -> str:
    """``build_succeeded`` or ``build_failed`` (an interrupted build counts as failed)."""
    return "build_succeeded" if result.ok else "build_failed"


def _task_entry(result: BuildResult, r: TaskResult, tree: TreeView) -> dict[str, Any]:
    return {
        "task": r.name,
        "unique_id": r.uid,
        "repr": repr(result.graph.nodes[r.uid].task),
        "params": tree.nodes[r.uid].param_values,
    }


def webhook_payload(result: BuildResult, tree: TreeView | None = None) -> dict[str, Any]:
    """The JSON document the generic webhook receives for ``result``.

    Args:
        result: A finished build.
        tree: The build's tree if already computed (``tree_from_result(result)``).

    Returns:
        A JSON-ready dict: ``event``, ``build_id``, ``ok``, ``counts``, ``failed``, ``tree``,
        ``summary``, ``resume_command`` and more; see ``docs/notifications.md``.

    Example:
        >>> payload = webhook_payload(tasuki.run_build(task))  # doctest: +SKIP
        >>> payload["event"], payload["counts"]["failed"]  # doctest: +SKIP
        ('build_failed', 1)
    """
    tree = tree or tree_from_result(result)
    failed = [
        {
            **_task_entry(result, r, tree),
            "error": r.error.to_json() if r.error else None,
            "log_tail": list(r.log_tail),
            "attempts": r.attempts,
            "duration_s": r.duration_s,
        }
        for r in result.by_status("failed")
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "event": event_name(result),
        "build_id": result.build_id,
        "ok": result.ok,
        "interrupted": result.interrupted,
        "counts": build_counts(result),
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "duration_s": result.duration_s,
        "workspace": result.workspace,
        "roots": [_task_entry(result, result.results[uid], tree) for uid in result.graph.roots],
        "failed": failed,
        "upstream_failed": [
            _task_entry(result, r, tree) for r in result.by_status("upstream_failed")
        ],
        "ran": [_task_entry(result, r, tree) for r in result.by_status("ran")],
        "tree": tree.to_json(),
        "summary": result.summary(),
        "resume_command": None if result.ok else result.resume_command(),
    }
