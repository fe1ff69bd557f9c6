"""Runner hooks: how notifications, tracking and lineage attach to a build.

A hook is any object with some of these methods; missing ones are skipped. Hooks run in the
process that schedules the build (never inside worker processes), and an exception in a hook
is logged, never allowed to fail the build it observes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tasuki.core.graph import Graph
    from tasuki.core.results import BuildResult, TaskResult
    from tasuki.core.task import Task

__all__ = ["Hook", "HookCaller"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Hook(Protocol):
    """The events a build emits. Implement any subset."""

    def on_build_start(self, graph: Graph) -> None:
        """The graph is built and about to be checked and run."""

    def on_task_start(self, task: Task) -> None:
        """A task was handed to a worker."""

    def on_task_end(self, result: TaskResult) -> None:
        """A task ran, was found cached by another process, failed, or was skipped."""

    def on_build_end(self, result: BuildResult) -> None:
        """The build finished (or was interrupted); ``result`` has the summary and tree."""


class HookCaller:
    """Calls each hook's method if it has one, logging (not raising) hook errors."""

    def __init__(self, hooks: Sequence[Any]) -> None:
        self._by_event: dict[str, list[Any]] = {}
        for event in ("on_build_start", "on_task_start", "on_task_end", "on_build_end"):
            self._by_event[event] = [getattr(h, event) for h in hooks if hasattr(h, event)]

    def has(self, event: str) -> bool:
        """Whether any hook listens to ``event`` (lets the runner skip work)."""
        return bool(self._by_event[event])

    def __call__(self, event: str, arg: Any) -> None:
        for method in self._by_event[event]:
            try:
                method(arg)
            except Exception:
                logger.exception("hook %r failed on %s; the build goes on", method, event)
