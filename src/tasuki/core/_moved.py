"""What a run read that another build ran again meanwhile: found, waited for, run again.

A build keeps what it plans consistent; another build on the same workspace may run a
requirement again while a task reads it. :func:`~tasuki.core.execute.execute` then writes no
record (it would say the run read the requirement's first run, while ``run()`` may have
loaded the next, or one output of each), waits for that requirement's run to end (its lease)
and runs the task again; :data:`MOVED_TRIES` such runs in a row fail it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasuki.core._reads import requirement_name
from tasuki.core.graph import Node
from tasuki.core.results import ErrorInfo
from tasuki.core.task import flatten
from tasuki.errors import CorruptOutputError, OutputGoneError

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.execute import Completeness
    from tasuki.storage.base import Store

__all__ = [
    "GONE",
    "MOVED",
    "MOVED_TRIES",
    "await_requirements",
    "damaged_requirement",
    "moved_error",
    "moved_inputs",
    "moved_under_load",
]

#: The error type of a task whose requirements another build kept running again while it
#: ran (:data:`MOVED_TRIES` runs in a row, each read what may be a mix of two runs).
MOVED = "InputsMovedError"
#: The error type of a load that found a requirement's output gone: the build repairs it.
GONE = "OutputGoneError"
MOVED_TRIES = 3


def moved_inputs(
    node: Node, inputs: dict[str, str], completeness: Completeness, read: set[str]
) -> list[str]:
    """The requirements of ``node`` whose record, read fresh, is not the one its run began
    with (``inputs``), or says it is not complete now (its run in another build failed, or
    began: the record is dropped first), or that its run loaded from another record
    (``read``: run again, maybe back to the bytes it began with, while it ran)."""
    now = completeness.reads.states(node.deps, fresh=True)
    moved = []
    for dep in node.deps:
        info = now[dep]
        if dep in read or (info and info[0]) != inputs.get(dep) or _not_complete(node, dep, info):
            moved.append(dep)
    return moved


def _not_complete(node: Node, dep: str, info: tuple[str, str | None] | None) -> bool:
    if info is not None:
        return info[0].startswith("f")  # a run that failed or did not finish
    task = next(t for t in flatten(node.requires) if t.unique_id == dep)
    return bool(Node(task, dep).output_keys())  # no record, though its outputs need one


def await_requirements(
    node: Node, moved: list[str], store: Store, settings: Settings, completeness: Completeness
) -> tuple[str, str] | None:
    """Wait for the runs of ``moved`` (requirements another build ran again while ``node``'s
    task ran) to end: their leases. ``(requirement, why)`` for one that is not complete
    then (its run failed, or its record is gone): the build runs it again."""
    for dep in moved:
        lease = store.lease(dep)
        lease.acquire(timeout=settings.lock_timeout)
        lease.release()
    now = completeness.reads.states(moved, fresh=True)
    for dep in moved:
        if _not_complete(node, dep, now.get(dep)):
            what = (
                "its last run failed"
                if now.get(dep) is not None
                else "it has no run record now (removed, or a run of it stopped before writing one)"
            )
            return dep, (
                f"{requirement_name(node, dep)}[{dep[:10]}] changed while "
                f"{type(node.task).task_name()} ran, and {what}"
            )
    return None


def moved_error(node: Node, moved: list[str]) -> ErrorInfo:
    """The failure of ``node``'s task once ``moved`` moved under it :data:`MOVED_TRIES`
    times in a row."""
    name = type(node.task).task_name()
    deps = ", ".join(f"{requirement_name(node, dep)}[{dep[:10]}]" for dep in moved)
    return ErrorInfo(
        MOVED,
        f"{name}: {deps} ran again in another build while {name} ran, {MOVED_TRIES} times "
        f"in a row, so each run may have read outputs of two of its runs; no run of {name} "
        "was kept. Build again once the other build is done (`tasuki why` says what runs)",
        "",
        False,
    )


def moved_under_load(
    exc: BaseException, node: Node, inputs: dict[str, str], completeness: Completeness
) -> list[str]:
    """``[requirement]`` when ``exc`` is a load that found a requirement's output damaged
    or gone because another build ran it again since this run began, or is running it: the
    caller waits for that run and runs the task again, rather than running the requirement
    once more itself. Else ``[]``."""
    dep = damaged_requirement(exc, node)
    if dep is None:
        return []
    now = completeness.reads.states([dep], fresh=True).get(dep)
    state = now and now[0]
    # Its record moved since this run began (a rerun under way drops it first): another
    # build's doing. No record then and none now: maybe a rerun that began before this run
    # (the wait for its lease tells). The same record as then: the output itself is damaged
    # or gone, or its last run failed.
    return [dep] if state != inputs.get(dep) or state is None else []


def damaged_requirement(exc: BaseException, node: Node) -> str | None:
    """The requirement whose output ``exc`` found damaged or gone while ``node``'s task
    loaded it (the build runs that one again, then this one), or None."""
    if not isinstance(exc, CorruptOutputError | OutputGoneError):
        return None
    uid = getattr(exc, "uid", None)
    return uid if isinstance(uid, str) and uid != node.uid else None
