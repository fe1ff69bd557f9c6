"""The dependency graph: distinct tasks by unique id, their edges, a dependencies-first order.

Per-task runner state lives here, in the nodes, never on the task values: a node keeps the
structure its task's ``requires()`` returned (what ``load()`` reads while the task runs, and
the ids its run record lists) and, once asked, what ``output()`` returns with the workspace
keys in it. The graph is built without recursion (see :mod:`tasuki.core._identity`): a chain
of 100,000 tasks never meets Python's recursion limit, and ``requires()`` is called once per
distinct task.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki.core._identity import UID, compute_ids, flatten, method_failed, walk
from tasuki.core.targets import Target, targets_of
from tasuki.errors import TaskError, TasukiError

if TYPE_CHECKING:
    from tasuki.core.task import Task

__all__ = ["Graph", "Node", "build_graph", "compute_ids"]

_UNSET: Any = object()


@dataclass(slots=True)
class Node:
    """One distinct task in a graph (slots: a 100,000-task graph holds 100,000 of them).

    Attributes:
        task: The task value (the first of equal ones met).
        uid: Its unique id.
        requires: What its ``requires()`` returned; the tasks in it have their ids.
        deps: Unique ids of its distinct requirements, in ``requires()`` order.
        dependents: Unique ids of the tasks that require it.
    """

    task: Task
    uid: str
    requires: Any = None
    deps: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
    # Filled on first use (a cached task's outputs are never asked for); kept out of repr
    # and equality, which describe the graph, not what a build has looked at yet.
    _outputs: Any = field(default=_UNSET, repr=False, compare=False)
    _keys: list[str] | None = field(default=None, repr=False, compare=False)
    _external: list[Target] | None = field(default=None, repr=False, compare=False)

    @property
    def outputs(self) -> Any:
        """What the task's ``output()`` returns, called once per node (each call builds
        targets and looks formats up, and a build asks several times)."""
        if self._outputs is _UNSET:
            try:
                self._outputs = self.task.output()
            except TasukiError:
                raise
            except Exception as exc:  # the project's code: named, with where it raised
                raise method_failed(self.task, "output", exc) from exc
        return self._outputs

    def output_keys(self) -> list[str]:
        """Workspace keys of the declared outputs."""
        if self._keys is None:
            self._keys, self._external = _split(self.task, self.outputs)
        return self._keys

    def external_targets(self) -> list[Target]:
        """Declared outputs that live outside the workspace (warehouse tables)."""
        if self._external is None:
            self._keys, self._external = _split(self.task, self.outputs)
        return self._external


def _split(task: Task, outputs: Any) -> tuple[list[str], list[Target]]:
    try:
        targets = targets_of(outputs)
    except TaskError as exc:
        name = type(task).task_name()
        raise TaskError(f"{name}.{exc}", task=name) from None
    return [t.key for t in targets if t.in_store], [t for t in targets if not t.in_store]


@dataclass
class Graph:
    """Distinct tasks by id, their edges, and a dependencies-first order."""

    nodes: dict[str, Node]
    roots: list[str]
    order: list[str]

    def __len__(self) -> int:
        return len(self.nodes)

    def outputs_of(self, task: Task) -> Any:
        """What ``task.output()`` returns, from its node when ``task`` is the node's own value
        (computed once), else asked of ``task`` (an equal value met on another branch)."""
        node = self.nodes.get(task.unique_id)
        if node is not None and node.task is task:
            return node.outputs
        return task.output()

    def requires_of(self, task: Task) -> Any:
        """What ``task.requires()`` returned, from its node when ``task`` is the node's own
        value, else asked of ``task``."""
        node = self.nodes.get(task.unique_id)
        if node is not None and node.task is task:
            return node.requires
        return task.requires()

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
    requires_of: dict[int, Any] = {}
    walk(roots, requires_of, every=True)
    nodes: dict[str, Node] = {}
    order: list[str] = []
    root_ids: list[str] = []
    stack: list[tuple[Task, bool]] = []
    for root in reversed(roots):
        stack.append((root, False))
    for root in roots:
        uid = root.__dict__[UID]
        if uid not in root_ids:
            root_ids.append(uid)
    while stack:
        task, leaving = stack.pop()
        uid = task.__dict__[UID]
        if leaving:
            order.append(uid)
            continue
        if uid in nodes:
            if type(nodes[uid].task) is not type(task):
                _check_same_code(nodes[uid].task, task)
            continue
        requires = requires_of[id(task)]
        node = Node(task, uid, requires)
        nodes[uid] = node
        stack.append((task, True))
        deps = flatten(requires)
        seen: set[str] = set()
        for dep in deps:
            dep_id = dep.__dict__[UID]
            if dep_id not in seen:
                seen.add(dep_id)
                node.deps.append(dep_id)
        for dep in reversed(deps):
            if dep.__dict__[UID] not in nodes:
                stack.append((dep, False))
    for node in nodes.values():
        for dep_id in node.deps:
            nodes[dep_id].dependents.append(node.uid)
    return Graph(nodes, root_ids, order)


def _check_same_code(first: Task, second: Task) -> None:
    """Two task classes of one name gave one unique id (a class defined again in a notebook
    cell while a task of the old one is still in use; a class made by a function from
    values with no encoding): one node, one output, stands for both. That is right only
    when their code is the same as far as the fingerprint tells.

    Raises:
        TaskError: their code differs.
    """
    from tasuki.core.code import code_fingerprint

    if code_fingerprint(type(first)) == code_fingerprint(type(second)):
        return
    name = type(first).task_name()
    raise TaskError(
        f"two task classes named {name}, with other code, give {first!r} and {second!r} one "
        f"unique id [{first.unique_id[:10]}], so one cached output would stand for both. "
        "Make the task values again from the class as it is now (after a notebook cell "
        "defined it again), or, for a class made inside a function, pass what tells the "
        "classes apart as a parameter (or define the class at module level)",
        task=name,
    )
