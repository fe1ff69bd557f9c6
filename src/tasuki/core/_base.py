"""The root of every task class, at the bottom of ``core``.

``params``, ``fingerprint``, ``code`` and ``_identity`` must recognise a task (a parameter
that is a task, a requirement, a task class among a class's bases) but sit below
:mod:`tasuki.core.task`, which imports them. They test against :class:`TaskBase` instead of
importing ``Task``, which keeps the import graph of ``core`` acyclic (import-linter pins the
order). ``TaskBase`` declares only what identity needs; :class:`tasuki.Task` defines it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from tasuki.errors import TaskError

__all__ = ["UID", "ClassFacts", "TaskBase", "flatten", "param_tasks"]

#: The key of the id cache in a task's ``__dict__``.
UID = "_tasuki_uid"


def flatten(structure: Any, owner: TaskBase | None = None) -> list[Any]:
    """The tasks in a ``requires()`` structure (single task, list, tuple, dict, nested);
    ``owner``: the task whose ``requires()`` returned it, named in the error."""
    if structure is None:
        return []
    if isinstance(structure, TaskBase):
        return [structure]
    out: list[Any] = []
    stack = [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, TaskBase):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif item is not None:
            raise _not_a_task(item, owner)
    return out


def _not_a_task(item: Any, owner: TaskBase | None) -> TaskError:
    name = type(owner).task_name() if owner is not None else None
    where = f"{name}.requires()" if name else "requires()"
    if isinstance(item, type) and issubclass(item, TaskBase):
        hint = f": return a task value, {item.__name__}(...), not the class"
    elif isinstance(item, str):
        hint = f": a task is named by its value (Train(...)), not by a string such as {item!r}"
    elif hasattr(item, "key") and hasattr(item, "in_store"):  # a Target
        hint = ": return the task that writes it (its output() is what load() reads)"
    elif hasattr(item, "__next__"):  # a generator: read once, and ids need it twice
        hint = ": make it a list, [... for ...], rather than a generator"
    else:
        hint = ""
    fields = {"task": name} if name else {}
    return TaskError(
        f"{where} returned a {type(item).__name__} ({item!r}); it may return a Task, None, "
        f"or a list / tuple / dict of Tasks{hint}",
        **fields,
    )


def param_tasks(task: TaskBase, info: ClassFacts | None = None) -> list[Any]:
    """The tasks ``task`` holds in its parameters (tasks as parameters, lists of them);
    ``info``: its class's facts, when the caller has them at hand."""
    if info is None:
        cls = type(task)
        info = cls.__dict__.get("_tasuki_info") or cls._info()
    d = task.__dict__
    out: list[Any] = []
    for name in info.task_params:
        value = d[name]
        if value is not None:
            out.extend(flatten(value))
    return out


class ClassFacts(Protocol):
    """What identity reads from a task class's compiled facts (``task._ClassInfo``)."""

    @property
    def name(self) -> str:
        """``module:QualName``."""
        ...

    @property
    def id_name(self) -> str:
        """The name that enters unique ids: ``name``, with a digest of the values its
        methods read from the function that made the class, when there is one."""
        ...

    @property
    def specs(self) -> Mapping[str, Any]:
        """Parameters by name, in declaration order."""
        ...

    @property
    def significant(self) -> tuple[str, ...]:
        """Names of the parameters that join the id, sorted."""
        ...

    @property
    def task_params(self) -> tuple[str, ...]:
        """Names of the parameters whose annotation mentions a task."""
        ...


class TaskBase:
    """Base of :class:`tasuki.Task`; never subclass it directly."""

    __slots__ = ()

    version: ClassVar[str | None] = None

    @classmethod
    def _info(cls) -> ClassFacts:
        raise NotImplementedError

    @classmethod
    def task_name(cls) -> str:
        """``module:QualName``, the name used by the CLI, records and ids."""
        raise NotImplementedError

    def requires(self) -> Any:
        """What this task needs (see :meth:`tasuki.Task.requires`)."""
        return None

    @property
    def unique_id(self) -> str:
        """The task's unique id (see :attr:`tasuki.Task.unique_id`)."""
        raise NotImplementedError
