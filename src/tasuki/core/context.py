"""The context a task's ``run()`` executes in: which workspace, what it has written so far.

Held in a ``contextvars.ContextVar`` for the duration of one ``run()`` call, so that
``self.dump()`` and ``self.load()`` reach the workspace without the task value carrying it
(task values stay pure descriptions of what is computed).
"""

from __future__ import annotations

import contextvars
import math
import numbers
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki.errors import TaskError

if TYPE_CHECKING:
    from tasuki.core.targets import OutputInfo
    from tasuki.storage.base import Store

__all__ = ["RunContext", "current", "metric_entry"]


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
    requires_of: Callable[[Any], Any] | None = None
    """What another task of the build's ``requires()`` returned, from its graph node (its
    tasks have their ids), else asked of the task."""
    required_ids: frozenset[str] | None = None
    """The unique ids of ``requires``, made on the first ``load(task)``: the tasks it may
    read."""
    inputs: dict[str, str] | None = None
    """The state of each requirement's record when this run began (what its record will say
    it read), or None outside a build's run."""
    moved: set[str] = field(default_factory=set)
    """Requirements this run loaded from another record than ``inputs`` says (another build
    ran them again meanwhile): the run is not recorded, and runs again."""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """What ``self.log_metric()`` logged during this run, in order (:func:`metric_entry`):
    the run record keeps it, and hooks (tracking) read it there."""


# The key rule of MLflow and most trackers (letters, digits, ``_ - . / `` and spaces): a key
# refused here is refused while the task runs, not later by a tracker, off the critical path,
# where the value would be lost.
_METRIC_KEY = re.compile(r"[A-Za-z0-9_\-. /]{1,250}")
# NaN and infinities are kept (a diverged loss is worth seeing) and written as these strings:
# JSON has no such numbers, and float() reads them back.
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def metric_entry(task_name: str, key: Any, value: Any, step: Any) -> dict[str, Any]:
    """The JSON-safe record entry of one metric value: ``key``, ``value`` (a float, or
    ``"NaN"`` / ``"Infinity"`` / ``"-Infinity"``), ``step`` (an int or None) and
    ``timestamp`` (milliseconds since the epoch, when it was logged).

    Raises:
        TaskError: ``key``, ``value`` or ``step`` is not allowed (the message names the task,
            the key, the bad value and what is allowed).
    """
    if not isinstance(key, str) or not _METRIC_KEY.fullmatch(key) or ".." in key.split("/"):
        raise TaskError(
            f"{task_name}.log_metric({key!r}, ...): a metric key is 1 to 250 characters of "
            "letters, digits, '_', '-', '.', '/' and spaces (no '..' part); rename it, "
            "e.g. 'val/loss'",
            task=task_name,
            key=repr(key),
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TaskError(
            f"{task_name}.log_metric({key!r}, {value!r}): the value must be a real number "
            f"(int, float, a NumPy scalar), not {type(value).__name__}. Convert it first "
            "(float(x), tensor.item()); keep text and flags in self.task_log instead.",
            task=task_name,
            key=key,
            value=repr(value)[:200],
        )
    if step is not None and (isinstance(step, bool) or not isinstance(step, numbers.Integral)):
        raise TaskError(
            f"{task_name}.log_metric({key!r}, ..., step={step!r}): step must be an int "
            f"(an epoch or iteration number) or None, not {type(step).__name__}",
            task=task_name,
            key=key,
            step=repr(step)[:200],
        )
    number = float(value)
    shown: float | str = number
    if math.isnan(number):
        shown = "NaN"
    elif math.isinf(number):
        shown = _NON_FINITE[number]
    return {
        "key": key,
        "value": shown,
        "step": None if step is None else int(step),
        "timestamp": int(time.time() * 1000),
    }


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
