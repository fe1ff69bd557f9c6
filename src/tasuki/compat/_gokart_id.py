"""gokart's unique id of a tasuki task: the ``<id>`` in gokart's ``<name>_<id>.<ext>`` files.

gokart 1.12 (``TaskOnKart._make_hash_id``) names each output after an md5 of::

    str([<gokart id of each significant required task, in luigi.task.flatten order>...,
         <to_str_params(only_significant=True): {param: luigi's text of its value}>,
         <class name>])

Parameters are listed in luigi's ``get_params()`` order (creation order of the parameter
objects) and each value is written as its luigi parameter class serializes it. A required
task whose ``significant`` parameter is False is left out of the list.

Two kinds of tasks are handled:

* **compat** tasks (``tasuki.compat.gokart.TaskOnKart`` subclasses) keep their luigi parameter
  objects in ``cls.__luigi_params__``: each one's ``serialize`` gives luigi's text;
* **native** tasks (plain ``tasuki.Task``, e.g. what ``tasuki upgrade-gokart`` wrote) have only
  annotations: the luigi parameter class each annotation comes from gives the text (see
  :func:`serialize_value`), in dataclass field order.

Task-valued parameters (gokart's ``TaskInstanceParameter`` / ``ListTaskInstanceParameter``)
are serialized here for both kinds, as gokart does: the hex of a bz2-compressed JSON of the
task's own significant parameters, inside a JSON object with its task family.
"""

from __future__ import annotations

import bz2
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import Any

from tasuki.core._identity import UID, freeze_value
from tasuki.core.task import Task
from tasuki.errors import TaskError

__all__ = [
    "GokartIds",
    "gokart_family",
    "gokart_params",
    "gokart_unique_id",
    "serialize_task_list_parameter",
    "serialize_task_parameter",
    "serialize_value",
]

#: luigi's DateSecondParameter format: the text of a native ``datetime`` parameter.
DATETIME_FORMAT = "%Y-%m-%dT%H%M%S"
#: luigi's DateParameter format: the text of a native ``date`` parameter.
DATE_FORMAT = "%Y-%m-%d"
#: luigi's ParameterVisibility.PRIVATE: such parameters never enter to_str_params.
_PRIVATE = 2


def _is_compat(task: Task) -> bool:
    return isinstance(getattr(type(task), "__luigi_params__", None), dict)


def gokart_family(task: Task) -> str:
    """luigi's task family of ``task``: ``task_namespace.ClassName`` or the class name."""
    cls = type(task)
    family = getattr(cls, "get_task_family", None)
    if callable(family):
        return str(family())
    namespace = getattr(cls, "task_namespace", None)
    if isinstance(namespace, str) and namespace:
        return f"{namespace}.{cls.__name__}"
    return cls.__name__


def _timedelta_text(x: dt.timedelta) -> str:
    # luigi.TimeDeltaParameter.serialize (microseconds are dropped there too).
    weeks, days = divmod(x.days, 7)
    hours, rest = divmod(x.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{weeks} w {days} d {hours} h {minutes} m {seconds} s"


def _strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (other unions and plain types unchanged)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _element_type(annotation: Any) -> Any:
    """The element annotation of ``tuple[X, ...]`` / ``list[X]``, else None."""
    annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    if origin is list and len(args) == 1:
        return args[0]
    return None


def _is_enum_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_task_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Task)


_CALL: Any = object()  # _required(): call task.requires()


class GokartIds:
    """gokart ids and parameter texts of tasks, each computed once per instance.

    Keep one instance for a walk over a graph: upstream ids are reused by every task that
    requires them, memoised by the task's class and parameter values (what its id and its
    ``requires()`` follow from). Not by tasuki unique id: a task that ``requires()`` just made
    has none yet, and computing it walks the whole upstream again, every time.
    """

    def __init__(self) -> None:
        self._ids: dict[Any, str] = {}
        self._params: dict[Any, dict[str, str]] = {}

    def _key(self, task: Task) -> Any:
        # The task's class and parameter values (what its id and requires() follow from), and
        # gokart's `significant` setting (a task made insignificant leaves its dependants' ids).
        values = task.__dict__
        uid = values.get(UID)
        if uid is not None:  # a task of the build's graph: its tasuki id says all of that
            return (uid, values.get("significant", True))
        params = tuple(self._freeze(values[n]) for n in type(task)._info().specs)
        return (type(task), params, values.get("significant", True))

    def _freeze(self, value: Any) -> Any:
        if isinstance(value, Task):
            return self._key(value)
        if isinstance(value, list | tuple):
            return (tuple, tuple(self._freeze(v) for v in value))
        if isinstance(value, dict):
            return (dict, tuple((self._freeze(k), self._freeze(v)) for k, v in value.items()))
        return freeze_value(value)  # 1, 1.0 and True stay apart, and so do 0.0 and -0.0

    # ------------------------------------------------------------------ parameters

    def params(self, task: Task) -> dict[str, str]:
        """luigi's ``to_str_params(only_significant=True)`` of ``task``, in luigi's order.

        Raises:
            TaskError: a value luigi could not serialize either (a date inside a list...).
        """
        uid = self._key(task)
        found = self._params.get(uid)
        if found is None:
            found = self._compat_params(task) if _is_compat(task) else self._native_params(task)
            self._params[uid] = found
        return dict(found)

    def _compat_params(self, task: Task) -> dict[str, str]:
        out: dict[str, str] = {}
        luigi_params: dict[str, Any] = type(task).__luigi_params__  # type: ignore[attr-defined]
        for name, param in luigi_params.items():
            if not getattr(param, "significant", True):
                continue
            if _visibility(param) == _PRIVATE:
                continue
            value = getattr(task, name)
            # Task values are serialized here for both kinds of task: gokart's text embeds
            # the required task's own parameter texts, which this walk already knows.
            if isinstance(value, Task) or _all_tasks(value):
                out[name] = self._task_values_text(value)
            else:
                out[name] = self._guard(task, name, lambda p=param, v=value: p.serialize(v))
        return out

    def _native_params(self, task: Task) -> dict[str, str]:
        out: dict[str, str] = {}
        specs = type(task).param_specs()
        for f in dataclasses.fields(task):  # type: ignore[arg-type]
            spec = specs[f.name]
            if not spec.significant:
                continue
            value = getattr(task, f.name)
            annotation = spec.annotation
            out[f.name] = self._guard(
                task, f.name, lambda v=value, a=annotation: self.serialize(v, a)
            )
        return out

    def _guard(self, task: Task, name: str, make: Any) -> str:
        try:
            text = make()
        except TaskError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:
            raise TaskError(
                f"{type(task).task_name()}: cannot write parameter {name!r} "
                f"({getattr(task, name)!r}) as luigi text for its gokart id: {exc}. gokart "
                "could not have run this value either; check the parameter.",
                task=type(task).task_name(),
                parameter=name,
            ) from exc
        if not isinstance(text, str):
            raise TaskError(
                f"{type(task).task_name()}: parameter {name!r} serialized to "
                f"{type(text).__name__} {text!r}, not a str; its luigi parameter class must "
                "return text from serialize()",
                task=type(task).task_name(),
                parameter=name,
            )
        return text

    def serialize(self, value: Any, annotation: Any = Any) -> str:
        """luigi's text of a native parameter value (see :func:`serialize_value`)."""
        if value is None:
            return ""  # luigi's Optional*Parameter
        if isinstance(value, Task):
            return self._task_text(value)
        element = _element_type(annotation)
        if isinstance(value, tuple | list):
            if _all_tasks(value) or _is_task_type(element):
                return self._task_values_text(value)
            if (value and all(isinstance(v, enum.Enum) for v in value)) or _is_enum_type(element):
                return ",".join(v.name for v in value)  # luigi.EnumListParameter
            return json.dumps(value)  # luigi.ListParameter / TupleParameter
        if isinstance(value, dict):
            return json.dumps(value)  # luigi.DictParameter
        if isinstance(value, bool | int | float | str):
            return str(value)
        if isinstance(value, dt.datetime):
            return value.strftime(DATETIME_FORMAT)
        if isinstance(value, dt.date):
            return value.strftime(DATE_FORMAT)
        if isinstance(value, dt.timedelta):
            return _timedelta_text(value)
        if isinstance(value, enum.Enum):
            return value.name
        if isinstance(value, PurePath):
            return str(value)
        raise TypeError(f"no luigi parameter class writes a {type(value).__name__}")

    def _task_values_text(self, value: Any) -> str:
        if isinstance(value, Task):
            return self._task_text(value)
        # gokart.ListTaskInstanceParameter: a JSON list of TaskInstanceParameter texts.
        return json.dumps([self._task_text(v) for v in value])

    def _task_text(self, task: Task) -> str:
        # gokart.TaskInstanceParameter.serialize
        packed = bz2.compress(json.dumps(self.params(task)).encode()).hex()
        return json.dumps({"type": gokart_family(task), "params": packed})

    # ------------------------------------------------------------------ ids

    def unique_id(
        self, task: Task, requires: Any = _CALL, requires_of: Callable[[Task], Any] | None = None
    ) -> str:
        """gokart's unique id of ``task`` (``TaskOnKart.make_unique_id()``).

        Raises:
            TaskError: a parameter value luigi cannot serialize, or a compat task with
                ``serialized_task_definition_check`` on (that id hashes gokart's own source).
        """
        # Dependencies first, without recursion: a chain of thousands of tasks is fine. Each
        # task's requires() is called once (its deps ride on the stack to the hashing step).
        stack: list[tuple[Task, list[Task] | None]] = [(task, None)]
        while stack:
            current, deps = stack.pop()
            uid = self._key(current)
            if uid in self._ids:
                continue
            if deps is not None:
                self._ids[uid] = self._hash(current, deps)
                continue
            if current is task and requires is not _CALL:
                given = requires
            else:
                given = requires_of(current) if requires_of is not None else _CALL
            deps = [d for d in _required(current, given) if _significant(d)]
            stack.append((current, deps))
            stack.extend((d, None) for d in reversed(deps) if self._key(d) not in self._ids)
        return self._ids[self._key(task)]

    def _hash(self, task: Task, deps: list[Task]) -> str:
        if getattr(task, "serialized_task_definition_check", False) is True:
            raise TaskError(
                f"{type(task).task_name()}: serialized_task_definition_check=True adds the "
                "source code of the class (as gokart's inspect saw it) to gokart's unique id; "
                "tasuki cannot recompute that id, so these outputs cannot be adopted. Rebuild "
                "them with tasuki, or adopt them from a gokart run without that option.",
                task=type(task).task_name(),
            )
        parts: list[Any] = [self._ids[self._key(d)] for d in deps]
        parts.append(self.params(task))
        parts.append(type(task).__name__)
        return hashlib.md5(str(parts).encode()).hexdigest()  # gokart's own hash


def _all_tasks(value: Any) -> bool:
    if not isinstance(value, tuple | list) or not value:
        return False
    return all(isinstance(v, Task) for v in value)


def _visibility(param: Any) -> int:
    value = getattr(param, "visibility", None)
    if value is None:
        return 0
    return int(getattr(value, "value", value))


def _significant(task: Task) -> bool:
    # gokart's TaskOnKart.significant parameter: a task built with significant=False does not
    # enter the ids of the tasks that require it.
    flag = task.__dict__.get("significant", True)
    return flag is not False


def _required(task: Task, requires: Any = _CALL) -> list[Task]:
    """``luigi.task.flatten(task.requires())``: dict values in order, lists in order
    (``requires``: that structure when the caller has it already)."""
    out: list[Task] = []
    stack: list[Any] = [task.requires() if requires is _CALL else requires]
    while stack:
        item = stack.pop()
        if item is None:
            continue
        if isinstance(item, Task):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes):
            stack.extend(reversed(list(item)))
        else:
            raise TaskError(
                f"{type(task).task_name()}.requires() returned a {type(item).__name__} "
                f"({item!r}); gokart ids need tasks, lists and dicts of tasks",
                task=type(task).task_name(),
            )
    return out


def gokart_unique_id(task: Task) -> str:
    """gokart's unique id of ``task``: what gokart 1.12 puts in its output file names.

    Example:
        >>> gokart_unique_id(TrainModel(lr=0.1))  # doctest: +SKIP
        'f3b1c0...'

    Raises:
        TaskError: a parameter value luigi cannot serialize, or a compat task with
            ``serialized_task_definition_check`` on.
    """
    return GokartIds().unique_id(task)


def gokart_params(task: Task) -> dict[str, str]:
    """luigi's ``to_str_params(only_significant=True)`` of ``task``: what gokart writes to
    ``log/task_params/<Class>_<id>.pkl``."""
    return GokartIds().params(task)


def serialize_value(value: Any, annotation: Any = Any) -> str:
    """luigi's text of the value of a native tasuki parameter.

    The luigi parameter class is the one ``tasuki upgrade-gokart`` maps to the annotation:
    str/int/float/bool -> ``str(x)``; ``date`` -> ``%Y-%m-%d`` (DateParameter); ``datetime`` ->
    ``%Y-%m-%dT%H%M%S`` (DateSecondParameter); ``timedelta`` -> ``"W w D d H h M m S s"``;
    tuple/list -> JSON (ListParameter), of Enums -> names joined by commas (EnumListParameter),
    of tasks -> ListTaskInstanceParameter; dict -> JSON; Enum -> its name; Path -> ``str``;
    a task -> TaskInstanceParameter; None -> ``""`` (the Optional*Parameter classes).

    Raises:
        TypeError: a value no luigi parameter class writes.
    """
    return GokartIds().serialize(value, annotation)


def serialize_task_parameter(task: Task) -> str:
    """gokart's ``TaskInstanceParameter.serialize(task)``: JSON of the task family and the
    hex of a bz2-compressed JSON of the task's significant parameter texts."""
    return GokartIds().serialize(task)


def serialize_task_list_parameter(tasks: Iterable[Task]) -> str:
    """gokart's ``ListTaskInstanceParameter.serialize(tasks)``: a JSON list whose items are
    :func:`serialize_task_parameter` texts (JSON strings, so quoted and escaped)."""
    ids = GokartIds()
    return json.dumps([ids.serialize(t) for t in tasks])


_SHARED: list[GokartIds] = []


def shared_unique_id(
    task: Task, requires: Any = _CALL, recorded: Callable[[Task], str | None] | None = None
) -> str:
    """:func:`gokart_unique_id` with one memo for the process: a build's runs seed their
    random generators with it, each run finding its upstream's ids already known.

    ``requires``: the task's requirement structure as the build's graph holds it (so a run
    need not call ``requires()`` again and hash its fresh values). ``recorded``: the gokart id
    a finished task's run record keeps, if any (a root rebuilt over a cached upstream reads its
    direct requirements' ids instead of hashing the whole upstream).
    """
    if not _SHARED or len(_SHARED[0]._ids) > 100_000:  # bounded: a fresh memo now and then
        _SHARED[:] = [GokartIds()]
    ids = _SHARED[0]
    key = ids._key(task)
    found = ids._ids.get(key)
    if found is not None:
        return found
    if requires is not _CALL:
        from tasuki.core import context

        ctx = context._CURRENT.get()
        requires_of = ctx.requires_of if ctx is not None else None
        deps = [d for d in _required(task, requires) if _significant(d)]
        for dep in deps:
            dep_key = ids._key(dep)
            if dep_key in ids._ids:
                continue
            # A requirement that needs nothing is hashed on the spot (cheaper than reading its
            # record: a fan-in over 1,000 of them); one with an upstream is read from its
            # record, which saves hashing all of that upstream.
            if requires_of is not None and not any(
                _significant(d) for d in _required(dep, requires_of(dep))
            ):
                ids._ids[dep_key] = ids._hash(dep, [])
            elif recorded is not None:
                found = recorded(dep)
                if found is not None:
                    ids._ids[dep_key] = found
        if all(ids._key(d) in ids._ids for d in deps):
            ids._ids[key] = ids._hash(task, deps)
            return ids._ids[key]
        return ids.unique_id(task, requires, requires_of)
    return ids.unique_id(task)
