"""Unique ids, computed without recursion.

The walk uses an explicit stack, so a chain of 100,000 tasks (or tasks nested 100,000 deep
through task parameters) never meets Python's recursion limit, and each walk calls every
task's ``requires()`` once per distinct task: duplicates met on other branches reuse the
first instance's id and requirements (dedupe by value before ids exist, by id after).

A task's id is pure identity (class, version, significant parameters, upstream ids), so it
is kept on the task value once computed (``__dict__["_tasuki_uid"]``; the dataclass is
frozen, the id can never go stale). Everything else a walk learns, the requirement
structure above all, is handed to the caller: the graph keeps it in its nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasuki.core._base import UID, ClassFacts, TaskBase, flatten, param_tasks
from tasuki.core.fingerprint import encode_fast, encoded_text, id_document, unique_id_of
from tasuki.errors import DependencyCycleError, ParameterError, TaskError, TasukiError

__all__ = [
    "UID",
    "compute_ids",
    "flatten",
    "freeze_value",
    "method_failed",
    "param_tasks",
    "walk",
]


_ATOMS = frozenset({str, int, bool, bytes, type(None)})


def freeze_value(value: Any) -> Any:
    """A hashable key for a parameter value that is not a task, list, tuple or dict.

    Two values get one key only when they encode alike into an id. Python's equality is
    coarser than the encoding for some types: ``0.0 == -0.0``, and two aware datetimes
    of one instant in other time zones are equal. Keyed by equality, the second value of
    such a pair took the first one's unique id (and so its cached output) in a walk that
    met both.
    """
    tp = type(value)
    if tp in _ATOMS:  # most parameter values: no isinstance chain, no encoding
        return (tp, value)
    if tp is float:
        return (tp, value.hex())
    try:
        return (tp, encoded_text(value))
    except TasukiError:  # no encoding: the id fails later with the reason; keep it apart
        return (tp, id(value))


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a parameter value, used to spot equal tasks before ids exist.

    It may call two equal values different (only costs a repeated walk) but never calls two
    values that encode differently equal: types are part of it, so ``1``, ``1.0`` and
    ``True`` differ, and so do ``0.0`` and ``-0.0``.
    """
    tp = type(value)
    if tp in _ATOMS:  # most parameter values: no isinstance chain
        return (tp, value)
    if isinstance(value, TaskBase):
        return ("task", id(value))
    if isinstance(value, list | tuple):
        return (type(value), tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple((_freeze(k), _freeze(v)) for k, v in value.items()))
    return freeze_value(value)


def _info(task: TaskBase) -> ClassFacts:
    cls = type(task)
    # The class's own cached facts first: one dict lookup instead of a classmethod call.
    info: ClassFacts | None = cls.__dict__.get("_tasuki_info")
    return info or cls._info()


def _prekey(task: TaskBase) -> tuple[Any, ...]:
    d = task.__dict__
    # A value that is its parameter's default object freezes to a marker: equal tasks still
    # meet (an equal value that is another object only costs a repeated walk).
    return (
        type(task),
        tuple(
            _DEFAULT if d[name] is spec.default else _freeze(d[name])
            for name, spec in _info(task).specs.items()
        ),
    )


_DEFAULT = ("default",)


def _call_requires(task: TaskBase) -> Any:
    try:
        return task.requires()
    except TasukiError:
        raise
    except Exception as exc:
        raise method_failed(task, "requires", exc) from exc


def method_failed(task: TaskBase, method: str, exc: Exception) -> TaskError:
    """The error of ``task.<method>()`` raising ``exc`` while a build plans: the task, the
    exception and where in the project's code it was raised (the CLI prints one line)."""
    from tasuki.core._traceback import raised_at

    return TaskError(
        f"{task!r}.{method}() raised {type(exc).__name__}: {exc}{raised_at(exc)}",
        task=type(task).task_name(),
    )


def _encode_requires(structure: Any) -> Any:
    if structure is None:
        return None
    if isinstance(structure, TaskBase):
        return structure.__dict__[UID]
    if isinstance(structure, dict):
        try:
            items = sorted(structure.items())
        except TypeError:  # keys of several types ({1: A(), "b": B()}): by type, then text
            items = sorted(structure.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0])))
        return {"$dict": [[str(k), _encode_requires(v)] for k, v in items]}
    return [_encode_requires(v) for v in structure]


def _uid(task: TaskBase, info: ClassFacts, requires: Any) -> str:
    d = task.__dict__
    try:
        params = {name: encode_fast(d[name]) for name in info.significant}
    except ParameterError as exc:
        if "task" in exc.fields:
            raise  # a task given as a parameter already named itself
        # A value deep inside a container (a set in a list) passes the type check and only
        # fails here: say which task and parameter hold it.
        name = next(n for n in info.significant if not _encodes(d[n]))
        raise ParameterError(
            f"{type(task).task_name()}: parameter {name!r}: {exc}",
            task=type(task).task_name(),
            parameter=name,
            **exc.fields,
        ) from exc
    document = id_document(info.id_name, type(task).version, params, _encode_requires(requires))
    return unique_id_of(document)


def _encodes(value: Any) -> bool:
    try:
        encode_fast(value)
    except ParameterError:
        return False
    return True


_UNSET: Any = object()


def walk(roots: Iterable[TaskBase], requires_of: dict[int, Any], *, every: bool) -> None:
    """Compute the unique id of every task reachable from ``roots`` through ``requires()``
    and task parameters, and collect requirement structures in ``requires_of``.

    Args:
        roots: Where the walk starts.
        requires_of: ``id(task)`` -> the structure its ``requires()`` returned, for every
            task whose ``requires()`` this walk called (or whose structure the caller gave).
            The structures hold the tasks they name, so no key outlives its task here.
        every: Walk into tasks whose id is already known too, so that ``requires_of`` covers
            everything reachable (a graph needs every edge); otherwise stop at them (an id
            needs only the ids below it).

    Raises:
        DependencyCycleError: a task requires itself, directly or through others.
    """
    memo: dict[tuple[Any, ...], TaskBase] = {}
    on_path: dict[tuple[Any, ...], TaskBase] = {}
    stack: list[tuple[TaskBase, tuple[Any, ...] | None]] = [
        (t, None) for t in reversed(list(roots))
    ]
    pop, push = stack.pop, stack.append
    while stack:
        task, key = pop()
        d = task.__dict__
        if key is not None:  # leaving: every child has its id now
            if UID not in d:
                d[UID] = _uid(task, _info(task), requires_of[id(task)])
            del on_path[key]
            memo[key] = task
            continue
        requires = requires_of.get(id(task), _UNSET)
        if UID in d and (requires is not _UNSET or not every):
            continue
        info = _info(task)
        if requires is _UNSET:
            requires = _call_requires(task)
            requires_of[id(task)] = requires
        children = flatten(requires, task)
        if info.task_params:
            children = param_tasks(task, info) + children
        if every:
            pending = [c for c in children if UID not in c.__dict__ or id(c) not in requires_of]
        else:
            pending = [c for c in children if UID not in c.__dict__]
        if not pending:  # leaves (the bulk of big graphs) need no bookkeeping
            if UID not in d:
                d[UID] = _uid(task, info, requires)
            continue
        key = _prekey(task)
        canon = memo.get(key)
        if canon is not None:
            d[UID] = canon.__dict__[UID]
            requires_of[id(task)] = requires_of[id(canon)]
            continue
        if key in on_path:
            raise _cycle_error(list(on_path.values()), task)
        on_path[key] = task
        push((task, key))
        for child in reversed(pending):
            push((child, None))


def compute_ids(roots: Iterable[TaskBase]) -> None:
    """Compute and keep the unique id of every task reachable from ``roots``.

    Raises:
        DependencyCycleError: a task requires itself, directly or through others.
    """
    walk(roots, {}, every=False)


def _cycle_error(path: list[TaskBase], again: TaskBase) -> DependencyCycleError:
    start = next(i for i, t in enumerate(path) if _prekey(t) == _prekey(again))
    loop = [*path[start:], again]
    shown = " -> ".join(repr(t) for t in loop)
    return DependencyCycleError(
        f"dependency cycle: {shown}. A task cannot require itself; break the loop in one of "
        "these requires() methods.",
        cycle=[type(t).task_name() for t in loop],
    )
