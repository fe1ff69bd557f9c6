"""Task parameters: declaration, runtime type checks, and coercion from text and JSON.

Parameters are annotated class attributes. The supported annotation grammar is::

    T := str | int | float | bool | date | datetime | timedelta | Path | <Enum> | Literal[...]
       | T | None | list[T] | tuple[T, ...] | tuple[T, T2, ...] | dict[K, T] | <Task class>

Checking happens once per construction through per-class compiled checkers, so that building
a graph of 100,000 tasks stays cheap; coercion (from CLI strings, TOML/JSON values and run
records) is a separate, slower path used only at the edges.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import enum
import json
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any, Literal, TypeVar, overload

from tasuki.core._base import TaskBase
from tasuki.errors import ParameterError

__all__ = ["MISSING", "ParamSpec", "coerce", "param", "type_name"]

T = TypeVar("T")
MISSING: Any = dataclasses.MISSING

_META_KEY = "tasuki"


@dataclasses.dataclass(frozen=True, slots=True)
class ParamSpec:
    """What tasuki knows about one parameter of a task class."""

    name: str
    annotation: Any
    significant: bool
    description: str
    has_default: bool
    default: Any
    default_factory: Callable[[], Any] | None


@overload
def param(
    *,
    default: T,
    significant: bool = True,
    description: str = "",
) -> T: ...


@overload
def param(
    *,
    significant: bool = True,
    description: str = "",
) -> Any: ...


def param(
    *,
    default: Any = MISSING,
    significant: bool = True,
    description: str = "",
) -> Any:
    """Declare a parameter with options.

    Args:
        default: The default value. Mutable defaults (lists, dicts) are copied per task.
            Keyword-only: type checkers (PEP 681) see a field's default only when it is
            passed as ``default=``.
        significant: When False the parameter does not enter the task's unique id, so
            changing it reuses the cached output (use it for knobs such as batch sizes that
            do not change the result).
        description: Shown by ``tasuki run --help``-style listings and ``tasuki show``.

    Returns:
        A dataclass field specifier; type checkers see the default's type.

    Example:
        >>> class Train(tasuki.Task):
        ...     lr: float = tasuki.param(default=0.1, description="learning rate")
        ...     n_jobs: int = tasuki.param(default=1, significant=False)
    """
    meta = {_META_KEY: {"significant": significant, "description": description}}
    if default is MISSING:
        return dataclasses.field(metadata=meta)
    if isinstance(default, list | dict | set):
        frozen = default
        return dataclasses.field(default_factory=lambda: copy.deepcopy(frozen), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def spec_of(field: dataclasses.Field[Any], annotation: Any) -> ParamSpec:
    """Build a ParamSpec from a dataclass field and its resolved annotation."""
    meta = field.metadata.get(_META_KEY, {})
    has_factory = field.default_factory is not dataclasses.MISSING
    return ParamSpec(
        name=field.name,
        annotation=annotation,
        significant=bool(meta.get("significant", True)),
        description=str(meta.get("description", "")),
        has_default=field.default is not dataclasses.MISSING or has_factory,
        default=field.default,
        default_factory=field.default_factory if has_factory else None,  # type: ignore[arg-type]
    )


def _is_task_class(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, TaskBase)


def type_name(tp: Any) -> str:
    """A readable name of an annotation, for error messages."""
    if tp is type(None):
        return "None"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "").replace("datetime.", "").replace("pathlib.", "")


# --------------------------------------------------------------------------------------------
# Runtime checks (constructor path)
# --------------------------------------------------------------------------------------------

Checker = Callable[[Any], bool]


def compile_checker(tp: Any) -> Checker:
    """A fast predicate telling whether a value fits the annotation ``tp``.

    Raises:
        TypeError: when the annotation is outside the supported grammar.
    """
    if tp is Any:
        return lambda v: True
    if tp is type(None) or tp is None:
        return lambda v: v is None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        checks = [compile_checker(a) for a in args]
        return lambda v: any(c(v) for c in checks)
    if origin is Literal:
        allowed = args
        return lambda v: any(v == a and type(v) is type(a) for a in allowed)
    if origin in (list, tuple, dict) or tp in (list, tuple, dict):
        return _compile_container(origin or tp, args)
    if tp is bool:
        return lambda v: v is True or v is False
    if tp is int:
        return lambda v: type(v) is int or (isinstance(v, int) and not isinstance(v, bool))
    if tp is float:
        return lambda v: type(v) in (float, int)
    if tp is dt.datetime:
        return lambda v: isinstance(v, dt.datetime)
    if tp is dt.date:
        return lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime)
    if tp is Path or tp is PurePath:
        return lambda v: isinstance(v, PurePath)
    if (isinstance(tp, type) and tp in (str, dt.timedelta)) or (
        isinstance(tp, type) and (issubclass(tp, enum.Enum) or _is_task_class(tp))
    ):
        cls = tp
        return lambda v: isinstance(v, cls)
    raise TypeError(f"unsupported parameter type {type_name(tp)}")


def _compile_container(origin: Any, args: tuple[Any, ...]) -> Checker:
    if origin is list:
        item = compile_checker(args[0]) if args else (lambda v: True)
        return lambda v: isinstance(v, list | tuple) and all(item(x) for x in v)
    if origin is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = compile_checker(args[0]) if args else (lambda v: True)
            return lambda v: isinstance(v, tuple | list) and all(item(x) for x in v)
        items = [compile_checker(a) for a in args]
        return lambda v: (
            isinstance(v, tuple | list)
            and len(v) == len(items)
            and all(c(x) for c, x in zip(items, v, strict=True))
        )
    key = compile_checker(args[0]) if args else (lambda v: True)
    val = compile_checker(args[1]) if len(args) > 1 else (lambda v: True)
    return lambda v: isinstance(v, dict) and all(key(k) and val(x) for k, x in v.items())


def compile_float_widener(tp: Any) -> Callable[[Any], Any] | None:
    """For annotations that say ``float`` (alone, optional, or inside a list / tuple / dict),
    a function giving an accepted int as a float; None when the annotation needs none.

    ``Train(lr=1)`` and ``tasuki run Train --lr 1`` (which reads ``1.0``) are one task, so
    they must encode alike in the id: the value is stored as the float it stands for.
    """
    if tp is float:
        return _widen
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if float in args and int not in args and all(a in (float, type(None)) for a in args):
            return _widen
        return None
    if origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        item = compile_float_widener(args[0]) if args else None
        if item is None:
            return None
        kind = list if origin is list else tuple
        return lambda v: kind(item(x) for x in v) if isinstance(v, list | tuple) else v
    if origin is dict and len(args) == 2:
        val = compile_float_widener(args[1])
        if val is None:
            return None
        return lambda v: {k: val(x) for k, x in v.items()} if isinstance(v, dict) else v
    return None


def _widen(value: Any) -> Any:
    return float(value) if type(value) is int else value


# --------------------------------------------------------------------------------------------
# Frozen containers (constructor path)
# --------------------------------------------------------------------------------------------


def _refuse(self: FrozenList | FrozenDict, *args: Any, **kwargs: Any) -> Any:
    kind = "list" if isinstance(self, list) else "dict"
    raise TypeError(
        f"{self._where or 'a task parameter'} cannot change: the task's unique id, and the "
        f"cached output it names, were made from this {kind}. Change a copy instead: "
        f"{kind}(...) of it, then a new task with it"
    )


class FrozenList(list[Any]):
    """The value of a list parameter: a list that refuses changes.

    A task's unique id is made from its parameter values once. A list changed afterwards,
    by the caller who passed it or inside ``run()``, left the id (and the cached output it
    names) describing other values than the task now held. Reads, copies, pickling and
    JSON work as for a list; ``append``, ``sort``, ``x[i] = ...`` and the like raise.
    """

    __slots__ = ("_where",)

    def __init__(self, items: Any = (), where: str = "") -> None:
        super().__init__(items)
        self._where = where

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self), self._where))


class FrozenDict(dict[Any, Any]):
    """The value of a dict parameter: a dict that refuses changes (see :class:`FrozenList`)."""

    __slots__ = ("_where",)

    def __init__(self, items: Any = (), where: str = "") -> None:
        super().__init__(items)
        self._where = where

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self), self._where))


for _name in (
    "__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert",
    "remove", "pop", "clear", "sort", "reverse",
):  # fmt: skip
    setattr(FrozenList, _name, _refuse)
for _name in (
    "__setitem__", "__delitem__", "__ior__", "pop", "popitem", "clear", "setdefault", "update",
):  # fmt: skip
    setattr(FrozenDict, _name, _refuse)


def freeze(value: Any, where: str) -> Any:
    """``value`` with every list and dict in it (at any depth) made a frozen copy; the
    value itself when nothing in it can change."""
    tp = type(value)
    if tp is list:
        return FrozenList([freeze(v, where) for v in value], where)
    if tp is dict:
        return FrozenDict({k: freeze(v, where) for k, v in value.items()}, where)
    if tp is tuple:
        items = [freeze(v, where) for v in value]
        return tuple(items) if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def holds_tuple(value: Any) -> bool:
    """Whether a tuple is in ``value`` (at any depth of lists, tuples and dicts)."""
    tp = type(value)
    if tp is tuple:
        return True
    if tp is list or tp is FrozenList:
        return any(holds_tuple(v) for v in value)
    if tp is dict or tp is FrozenDict:
        return any(holds_tuple(v) for v in value.values())
    return False


def as_recorded(value: Any, annotation: Any) -> Any:
    """``value`` as a task made again from its record holds it (``tasuki rerun``, a Dask or
    Argo worker): a unique id and a record keep a tuple as a list, as JSON has it, and the
    annotation makes a tuple of it again only where it says ``tuple``. A tuple given where
    the annotation does not say so (``Any``, ``dict[str, Any]``, ``list[int] |
    tuple[int, ...]``) is that list from the start: ``run()`` then sees one value wherever
    it runs, as the id says (a tuple here and a list on a worker did not)."""
    lists = _tuples_as_lists(value)
    try:
        again = _coerce(lists, annotation, None)
    except (_CoerceFailure, ValueError, TypeError, KeyError, ParameterError):
        return value  # a value coercion cannot make again (tasks inside): left as given
    return value if again == value else again  # a list never equals a tuple


def _tuples_as_lists(value: Any) -> Any:
    tp = type(value)
    if tp is tuple or tp is list or tp is FrozenList:
        return [_tuples_as_lists(v) for v in value]
    if tp is dict or tp is FrozenDict:
        return {k: _tuples_as_lists(v) for k, v in value.items()}
    return value


def from_numpy(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays (at any depth) made the Python values they
    hold (``np.float64(0.5)`` -> ``0.5``, an array -> a list); ``value`` itself when it
    holds none. Only asked when a value does not fit its annotation, so it costs nothing
    on the common path, and what it returns is checked again."""
    tp = type(value)
    if tp.__module__ == "numpy":
        return value.tolist() if hasattr(value, "tolist") else value
    if tp is list or tp is tuple:
        items = [from_numpy(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if tp is list else tuple(items)
    if tp is dict:
        pairs = [(from_numpy(k), from_numpy(v)) for k, v in value.items()]
        if all(a is k and b is v for (a, b), (k, v) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    return value


def may_hold_container(tp: Any) -> bool:
    """Whether a value of annotation ``tp`` may be (or hold) a list or a dict."""
    if tp is Any or tp in (list, dict, tuple):
        return True
    origin = typing.get_origin(tp)
    if origin in (list, dict):
        return True
    if origin is tuple or origin in (typing.Union, types.UnionType):
        return any(may_hold_container(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return False


# --------------------------------------------------------------------------------------------
# Coercion (CLI strings, TOML and JSON values, run records)
# --------------------------------------------------------------------------------------------

_TD_RE = re.compile(
    r"^\s*(?:(?P<days>\d+(?:\.\d+)?)\s*d(?:ays?)?)?\s*(?:(?P<hours>\d+(?:\.\d+)?)\s*h(?:ours?)?)?"
    r"\s*(?:(?P<minutes>\d+(?:\.\d+)?)\s*m(?:in(?:utes?)?)?)?"
    r"\s*(?:(?P<seconds>\d+(?:\.\d+)?)\s*s(?:ec(?:onds?)?)?)?\s*$"
)


class _CoerceFailure(Exception):
    """Internal: a value does not fit; the caller turns it into a ParameterError."""


def coerce(
    value: Any,
    tp: Any,
    *,
    task: str = "",
    name: str = "",
    task_loader: Callable[[Any, Any], Any] | None = None,
) -> Any:
    """Turn ``value`` (a CLI string, a TOML/JSON value) into a value of annotation ``tp``.

    Args:
        value: The raw value.
        tp: The parameter's annotation.
        task: Task name for error messages.
        name: Parameter name for error messages.
        task_loader: How to turn a raw value into a Task for task-typed parameters
            (``"mypkg:Task"``, ``{"task": ..., "params": {...}}`` or a unique id).

    Returns:
        The coerced value.

    Raises:
        ParameterError: naming the task, parameter, value and the expected type.
    """
    try:
        return _coerce(value, tp, task_loader)
    except ParameterError:
        raise
    except (_CoerceFailure, ValueError, TypeError, KeyError) as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise ParameterError(
            f"{task}: parameter {name!r} got {value!r}, which is not a valid "
            f"{type_name(tp)}{detail}. Pass a {_example(tp)}.",
            task=task,
            parameter=name,
            value=repr(value),
            expected=type_name(tp),
        ) from exc


def _example(tp: Any) -> str:
    examples = {
        int: "whole number such as 3",
        float: "number such as 0.5",
        bool: "boolean: true/false, 1/0, yes/no",
        str: "string",
        dt.date: "date such as 2024-01-31",
        dt.datetime: "date-time such as 2024-01-31T12:00:00",
        dt.timedelta: "duration such as '1d 2h', '30 minutes' or seconds as a number",
        Path: "path",
    }
    if tp in examples:
        return examples[tp]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "value out of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "member of " + ", ".join(m.name for m in tp)
    if origin in (list, tuple, dict):
        return f"JSON {'object' if origin is dict else 'array'} matching {type_name(tp)}"
    if _is_task_class(tp):
        return 'task: \'module:TaskClass\', a JSON object {"task": ..., "params": {...}} or an id'
    return f"value of type {type_name(tp)}"


def _coerce(value: Any, tp: Any, task_loader: Callable[[Any, Any], Any] | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, task_loader)
            except (_CoerceFailure, ValueError, TypeError, KeyError, ParameterError) as exc:
                errors.append(str(exc))
        raise _CoerceFailure("; ".join(e for e in errors if e))
    if tp is type(None):
        if value is None or value in ("none", "null", "None"):
            return None
        raise _CoerceFailure("expected None")
    if origin is Literal:
        for allowed in args:  # the same type first: True == 1, and a record holds true
            if type(value) is type(allowed) and value == allowed:
                return allowed
        for allowed in args:
            if (value == allowed and type(value) is not bool and type(allowed) is not bool) or (
                isinstance(value, str) and str(allowed) == value
            ):
                return allowed
        raise _CoerceFailure("allowed: " + ", ".join(repr(a) for a in args))
    if origin in (list, tuple, dict) or tp in (list, tuple, dict):
        return _coerce_container(value, origin or tp, args, task_loader)
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "y", "on"):
            return True
        if text in ("false", "0", "no", "n", "off"):
            return False
        raise _CoerceFailure("")
    if tp is int:
        if isinstance(value, bool):
            raise _CoerceFailure("a boolean is not an int")
        if isinstance(value, float) and not value.is_integer():
            raise _CoerceFailure("has a fractional part")
        return int(value)
    if tp is float:
        if isinstance(value, bool):
            raise _CoerceFailure("a boolean is not a float")
        return float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _CoerceFailure("")
    if tp is dt.datetime:
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if tp is dt.date:
        if isinstance(value, dt.datetime):
            raise _CoerceFailure("a date-time is not a date")
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if tp is dt.timedelta:
        return _coerce_timedelta(value)
    if tp is Path or tp is PurePath:
        return Path(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        if isinstance(value, str) and value in tp.__members__:
            return tp[value]
        return tp(value)
    if _is_task_class(tp):
        if isinstance(value, tp):
            return value
        if task_loader is None:
            raise _CoerceFailure("no way to build a task from this value here")
        built = task_loader(value, tp)
        if not isinstance(built, tp):
            raise _CoerceFailure(f"{type(built).__name__} is not a {tp.__name__}")
        return built
    raise _CoerceFailure(f"unsupported type {type_name(tp)}")


def _coerce_container(
    value: Any, origin: Any, args: tuple[Any, ...], task_loader: Callable[[Any, Any], Any] | None
) -> Any:
    if isinstance(value, str):
        value = json.loads(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise _CoerceFailure("expected an object")
        kt = args[0] if args else Any
        vt = args[1] if len(args) > 1 else Any
        return {_coerce(k, kt, task_loader): _coerce(v, vt, task_loader) for k, v in value.items()}
    if not isinstance(value, list | tuple):
        raise _CoerceFailure("expected an array")
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(args) != len(value):
            raise _CoerceFailure(f"expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(v, a, task_loader) for v, a in zip(value, args, strict=True))
    item = args[0] if args else Any
    items = [_coerce(v, item, task_loader) for v in value]
    return tuple(items) if origin is tuple else items


def _coerce_timedelta(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if isinstance(value, dict):
        return dt.timedelta(**{str(k): float(v) for k, v in value.items()})
    text = str(value)
    try:
        return dt.timedelta(seconds=float(text))
    except ValueError:
        pass
    match = _TD_RE.match(text)
    if not match or not any(match.groupdict().values()):
        raise _CoerceFailure("not a duration")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return dt.timedelta(**parts)


# --------------------------------------------------------------------------------------------
# JSON form for run records (reversible with coerce)
# --------------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """A JSON-able form of a parameter value that ``coerce`` turns back into the value.

    Tasks become ``{"$task": <unique id>}``.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, TaskBase):
        return {"$task": value.unique_id}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {_key_text(k): to_jsonable(v) for k, v in value.items()}
    return repr(value)


def _key_text(key: Any) -> str:
    """A dict key as JSON object keys must be, text that ``coerce`` reads back: an enum by
    its name, a tuple as a JSON array (``"[1, 2]"``), a date in ISO form, a number as it is
    written (``str()`` gave ``"Colour.RED"`` and ``"(1, 2)"``, which nothing parses)."""
    plain = to_jsonable(key)
    return plain if isinstance(plain, str) else json.dumps(plain)
