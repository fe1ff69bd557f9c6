"""gokart's ``gokart.tree.task_info``: the tree of a task as text."""

from __future__ import annotations

from typing import Any

from tasuki.compat._tree import make_tree_info

__all__ = ["make_task_info_as_tree_str"]


def make_task_info_as_tree_str(
    task: Any, details: bool = False, abbr: bool = True, ignore_task_names: list[str] | None = None
) -> str:
    """The dependency tree of ``task``, each task ``(COMPLETE)`` or ``(PENDING)``, read from
    its workspace (see ``gokart.make_tree_info``)."""
    return make_tree_info(task, details=details, abbr=abbr, ignore_task_names=ignore_task_names)
