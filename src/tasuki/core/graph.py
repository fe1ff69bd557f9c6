"""Unique ids and the dependency graph, computed without recursion.

Both walks use an explicit stack, so a chain of 100,000 tasks (or tasks nested 100,000 deep
through task parameters) never meets Python's recursion limit, and every task's
``requires()`` is called once per distinct task: duplicates met on other branches reuse the
first instance's id and requirements (dedupe by value before ids exist, by id after).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tasuki.core.fingerprint import encode_fast, id_document, unique_id_of
from tasuki.core.task import Task, _ClassInfo, flatten
from tasuki.errors import DependencyCycleError, TaskError, TasukiError

__all__ = ["Graph", "Node", "build_graph", "compute_ids"]


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a parameter value, used to spot equal tasks before ids exist.

    It may call two equal values different (only costs a repeated walk) but never calls two
    different values equal: types are part of it, so ``1``, ``1.0`` and ``True`` differ.
    """
    if isinstance(value, Task):
        return ("task", id(value))
    if isinstance(value, list | tuple):
        return (type(value), tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple((_freeze(k), _freeze(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return (type(value), repr(value))
    return (type(value), value)


def _info(task: Task) -> _ClassInfo:
    cls = type(task)
    return cls.__dict__.get("_tasuki_info") or cls._info()


def _prekey(task: Task) -> tuple[Any, ...]:
    d = task.__dict__
    return (type(task), tuple(_freeze(d[name]) for name in _info(task).specs))


def _param_tasks(task: Task, info: _ClassInfo) -> list[Task]:
    d = task.__dict__
    out: list[Task] = []
    for name in info.task_params:
        value = d[name]
        if value is not None:
            out.extend(flatten(value))
    return out


def _call_requires(task: Task) -> Any:
    try:
        return task.requires()
    except TasukiError:
        raise
    except Exception as exc:
        raise TaskError(
            f"{task!r}.requires() raised {type(exc).__name__}: {exc}",
            task=type(task).task_name(),
        ) from exc


def _encode_requires(structure: Any) -> Any:
    if structure is None:
        return None
    if isinstance(structure, Task):
        return structure.__dict__["_tasuki_uid"]
    if isinstance(structure, dict):
        return {"$dict": [[str(k), _encode_requires(v)] for k, v in sorted(structure.items())]}
    return [_encode_requires(v) for v in structure]


def _uid(task: Task, info: _ClassInfo, requires: Any) -> str:
    d = task.__dict__
    params = {name: encode_fast(d[name]) for name in info.significant}
    document = id_document(info.name, type(task).version, params, _encode_requires(requires))
    return unique_id_of(document)


_UNSET = object()


def compute_ids(roots: Iterable[Task]) -> None:
    """Compute and store the unique id (and cached requirements) of every task reachable
    from ``roots`` through ``requires()`` and task parameters.

    Raises:
        DependencyCycleError: a task requires itself, directly or through others.
    """
    memo: dict[tuple[Any, ...], Task] = {}
    on_path: dict[tuple[Any, ...], Task] = {}
    stack: list[tuple[Task, tuple[Any, ...] | None]] = [(t, None) for t in reversed(list(roots))]
    pop, push = stack.pop, stack.append
    while stack:
        task, key = pop()
        d = task.__dict__
        if key is not None:  # leaving: every child has its id now
            info = _info(task)
            d["_tasuki_uid"] = _uid(task, info, d["_tasuki_requires"])
            del on_path[key]
            memo[key] = task
            continue
        if "_tasuki_uid" in d:
            continue
        info = _info(task)
        requires = d.get("_tasuki_requires", _UNSET)
        if requires is _UNSET:
            requires = _call_requires(task)
            d["_tasuki_requires"] = requires
        children = flatten(requires)
        if info.task_params:
            children = _param_tasks(task, info) + children
        pending = [c for c in children if "_tasuki_uid" not in c.__dict__]
        if not pending:  # leaves (the bulk of big graphs) need no bookkeeping
            d["_tasuki_uid"] = _uid(task, info, requires)
            continue
        key = _prekey(task)
        canon = memo.get(key)
        if canon is not None:
            d["_tasuki_uid"] = canon.__dict__["_tasuki_uid"]
            d["_tasuki_requires"] = canon.__dict__["_tasuki_requires"]
            continue
        if key in on_path:
            raise _cycle_error(list(on_path.values()), task)
        on_path[key] = task
        push((task, key))
        for child in reversed(pending):
            push((child, None))


def _cycle_error(path: list[Task], again: Task) -> DependencyCycleError:
    start = next(i for i, t in enumerate(path) if _prekey(t) == _prekey(again))
    loop = [*path[start:], again]
    shown = " -> ".join(repr(t) for t in loop)
    return DependencyCycleError(
        f"dependency cycle: {shown}. A task cannot require itself; break the loop in one of "
        "these requires() methods.",
        cycle=[type(t).task_name() for t in loop],
    )


@dataclass(slots=True)
class Node:
    """One distinct task in a graph (slots: a 100,000-task graph holds 100,000 of them)."""

    task: Task
    uid: str
    deps: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)


@dataclass
class Graph:
    """Distinct tasks by id, their edges, and a dependencies-first order."""

    nodes: dict[str, Node]
    roots: list[str]
    order: list[str]

    def __len__(self) -> int:
        return len(self.nodes)

    def ancestors_of(self, uids: Iterable[str]) -> set[str]:
        """Every task that depends, directly or not, on any of ``uids`` (those included)."""
        seen = set(uids)
        stack = list(seen)
        while stack:
            for parent in self.nodes[stack.pop()].dependents:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Keep the cyclic garbage collector out of a burst of allocations.

    Building a graph allocates a few objects per task and frees none; the collector's
    generation-2 passes over them make a 100,000-task build super-linear. The tasks hold no
    reference cycles, so pausing collection loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_graph(roots: Iterable[Task]) -> Graph:
    """Build the graph of everything ``roots`` require, deduplicated by unique id."""
    with no_gc_pauses():
        return _build_graph(list(roots))


def _build_graph(roots: list[Task]) -> Graph:
    compute_ids(roots)
    nodes: dict[str, Node] = {}
    order: list[str] = []
    root_ids: list[str] = []
    stack: list[tuple[Task, bool]] = []
    for root in reversed(roots):
        stack.append((root, False))
    for root in roots:
        uid = root.__dict__["_tasuki_uid"]
        if uid not in root_ids:
            root_ids.append(uid)
    while stack:
        task, leaving = stack.pop()
        uid = task.__dict__["_tasuki_uid"]
        if leaving:
            order.append(uid)
            continue
        if uid in nodes:
            continue
        node = Node(task, uid)
        nodes[uid] = node
        stack.append((task, True))
        deps = flatten(task.__dict__["_tasuki_requires"])
        seen: set[str] = set()
        for dep in deps:
            dep_id = dep.__dict__["_tasuki_uid"]
            if dep_id not in seen:
                seen.add(dep_id)
                node.deps.append(dep_id)
        for dep in reversed(deps):
            if dep.__dict__["_tasuki_uid"] not in nodes:
                stack.append((dep, False))
    for node in nodes.values():
        for dep_id in node.deps:
            nodes[dep_id].dependents.append(node.uid)
    return Graph(nodes, root_ids, order)
