"""``gokart.make_tree_info``: the dependency tree with each task complete or pending."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki.core.graph import build_graph

if TYPE_CHECKING:
    from tasuki.core.task import Task

__all__ = ["make_tree_info"]


def make_tree_info(
    task: Task,
    indent: str = "",
    last: bool = True,
    details: bool = False,
    abbr: bool = True,
    visited_tasks: Any = None,
    ignore_task_names: list[str] | None = None,
) -> str:
    """The tree of ``task`` as gokart prints it (``└─-(COMPLETE) TaskB[3d5b7a50a2]``), read
    from the root task's workspace. A subtree met again is printed once (gokart's ``abbr``).

    ``indent``, ``last``, ``visited_tasks`` and ``ignore_task_names`` are accepted for
    gokart's signature; tasuki's tree always starts at the root and shows every task.
    """
    del indent, last, abbr, visited_tasks, ignore_task_names
    from tasuki.report.tree import tree_from_store
    from tasuki.storage import open_store

    graph = build_graph([task])
    store = open_store(getattr(task, "workspace_directory", None) or _workspace())
    return "\n" + tree_from_store(graph, store).text(details=details)


def _workspace() -> str:
    from tasuki.config import load_settings

    return str(load_settings().workspace)
