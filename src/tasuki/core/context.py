"""The context a task's ``run()`` executes in: which workspace, what it has written so far.

Held in a ``contextvars.ContextVar`` for the duration of one ``run()`` call, so that
``self.dump()`` and ``self.load()`` reach the workspace without the task value carrying it
(task values stay pure descriptions of what is computed).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki.errors import TaskError

if TYPE_CHECKING:
    from tasuki.core.targets import OutputInfo
    from tasuki.storage.base import Store

__all__ = ["RunContext", "current"]


@dataclass
class RunContext:
    """Per-run state of one task."""

    store: Store
    fail_on_empty_dump: bool = False
    written: dict[str, OutputInfo] = field(default_factory=dict)
    task_log: dict[str, Any] = field(default_factory=dict)
    code_key: str | None = None
    """The running task's code key (what its record will keep)."""
    task: object = None
    """The running task; ``requires`` and ``outputs`` are its own, from its graph node."""
    requires: Any = None
    """What the running task's ``requires()`` returned when the graph was built: ``load()``
    reads these very values (their ids are known) instead of calling ``requires()`` again."""
    outputs: Any = None
    """What the running task's ``output()`` returned (computed once per graph node)."""
    outputs_of: Callable[[Any], Any] | None = None
    """The outputs of another task of the build (what ``load()`` reads), from its graph node:
    a fan-in over 1,000 cached tasks asks ``output()`` of none of them again."""


_CURRENT: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "tasuki_run_context", default=None
)


def current(what: str, task: object) -> RunContext:
    """The active run context, or a TaskError explaining where ``what`` may be called."""
    ctx = _CURRENT.get()
    if ctx is None:
        raise TaskError(
            f"{task!r}.{what}() was called outside a run. Tasks read and write the workspace "
            "only while tasuki runs them: call tasuki.build(task), or use "
            "tasuki.load(task) / tasuki.load_output(unique_id) to read a finished output.",
            call=what,
        )
    return ctx


def activate(ctx: RunContext) -> contextvars.Token[RunContext | None]:
    """Make ``ctx`` current; pass the token to :func:`deactivate`."""
    return _CURRENT.set(ctx)


def deactivate(token: contextvars.Token[RunContext | None]) -> None:
    """Restore the previous context."""
    _CURRENT.reset(token)
