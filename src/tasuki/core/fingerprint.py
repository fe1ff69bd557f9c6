"""Canonical encoding of parameter values, unique ids and code fingerprints.

A unique id is ``sha256`` over a canonical JSON document::

    ["tasuki-id/1", "<module>:<QualName>", <version or null>,
     {<significant param>: <encoded value>, ...},      # keys sorted
     <requires() with every task replaced by its unique id>]

Values are encoded by type through :func:`encode` (a ``functools.singledispatch``), never
through ``str()``: ``1`` and ``"1"`` and ``1.0`` and ``True`` all encode differently, and
dictionaries keep their order (``run()`` sees it). The document depends on nothing of the
process (no ``hash()``, no ids of objects), so ids are stable across processes, machines and
``PYTHONHASHSEED``. The test vectors in ``tests/unit/core/test_identity.py`` pin it.

Code is not part of the id: :mod:`tasuki.core.code` fingerprints it, and the run record
keeps that fingerprint for the runner to compare (``code_fingerprint`` is re-exported here).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from tasuki.core._base import TaskBase
from tasuki.core.code import _const_text, code_fingerprint
from tasuki.errors import ParameterError, TasukiError

__all__ = ["code_fingerprint", "encode", "encoded_text", "id_document", "task_name"]

ID_SCHEMA = "tasuki-id/1"


@functools.singledispatch
def encode(value: Any) -> Any:
    """Encode a parameter value into canonical JSON-able form.

    Register more types with ``@encode.register``.

    Raises:
        ParameterError: for values of a type that has no canonical encoding.
    """
    if isinstance(value, TaskBase):
        return {"$task": value.unique_id}
    hint = ""
    if isinstance(value, set | frozenset):
        # A set has no order that holds across processes; a sorted list does.
        hint = f" (a set: pass sorted({value!r}) as a list)"
    raise ParameterError(
        f"cannot encode a value of type {type(value).__qualname__} ({value!r}) into a task id; "
        "use str, int, float, bool, date, datetime, timedelta, Path, Enum, Literal, lists, "
        f"tuples, dicts of these, or a Task{hint}",
        value=repr(value),
    )


@encode.register(type(None))
def _(value: None) -> Any:
    return None


@encode.register(str)
def _(value: str) -> Any:
    if isinstance(value, enum.Enum):  # StrEnum: the enum, not the string, is the value
        return _encode_enum(value)
    return value


@encode.register(bool)
def _(value: bool) -> Any:
    return value


@encode.register(int)
def _(value: int) -> Any:
    if isinstance(value, enum.Enum):  # IntEnum
        return _encode_enum(value)
    return value


@encode.register(float)
def _(value: float) -> Any:
    # float.hex is exact and platform independent; JSON's repr would also round-trip but
    # cannot hold nan/inf without a non-standard token.
    return {"$f": value.hex()}


@encode.register(dt.datetime)
def _(value: dt.datetime) -> Any:
    return {"$datetime": value.isoformat()}


@encode.register(dt.date)
def _(value: dt.date) -> Any:
    return {"$date": value.isoformat()}


@encode.register(dt.timedelta)
def _(value: dt.timedelta) -> Any:
    return {"$timedelta": [value.days, value.seconds, value.microseconds]}


@encode.register(PurePath)
def _(value: PurePath) -> Any:
    return {"$path": value.as_posix()}


@encode.register(enum.Enum)
def _encode_enum(value: enum.Enum) -> Any:
    return {"$enum": f"{type(value).__module__}:{type(value).__qualname__}.{value.name}"}


@encode.register(list)
@encode.register(tuple)
def _(value: list[Any] | tuple[Any, ...]) -> Any:
    return [encode(v) for v in value]


@encode.register(dict)
def _(value: dict[Any, Any]) -> Any:
    # In its own order: run() iterates a dict as it was given (columns to keep, steps to
    # apply), so two orders are two values, and two tasks (a dict given in sorted order
    # keeps the id it had when the encoding sorted the keys).
    return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}


def decode(value: Any, load_task: Callable[[str], Any]) -> Any:
    """The value :func:`encode` encoded (``load_task`` makes a task from its unique id).

    Raises:
        ValueError: ``value`` is not an encoded value (an unknown tag, an enum that is gone).
    """
    if isinstance(value, list):
        return [decode(v, load_task) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError(f"not an encoded parameter value: {value!r}")
    ((tag, body),) = value.items()
    if tag == "$task":
        return load_task(body)
    if tag == "$f":
        return float.fromhex(body)
    if tag == "$datetime":
        return dt.datetime.fromisoformat(body)
    if tag == "$date":
        return dt.date.fromisoformat(body)
    if tag == "$timedelta":
        return dt.timedelta(days=body[0], seconds=body[1], microseconds=body[2])
    if tag == "$path":
        return Path(body)
    if tag == "$enum":
        from tasuki._registry import import_path

        path, _, member = body.rpartition(".")
        obj = import_path(path)
        if not (isinstance(obj, type) and issubclass(obj, enum.Enum)):
            raise ValueError(f"{path} is not an Enum")
        return obj[member]
    if tag == "$dict":
        # A tuple key comes back a list, which no dict can hold: a tuple again (the
        # annotation, applied next, makes it what it declares).
        return {_hashable(decode(k, load_task)): decode(v, load_task) for k, v in body}
    raise ValueError(f"unknown encoded value tag {tag!r}")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _dumps(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encoded_text(value: Any) -> str:
    """The canonical JSON text of ``encode(value)``: equal exactly when two values would
    enter an id alike.

    Raises:
        ParameterError: for values of a type that has no canonical encoding.
    """
    return _dumps(encode(value))


# Parameters are emitted in sorted order and every nested mapping the encoder produces has a
# single key, so the id document needs no sort_keys pass (a measurable cost at 100k tasks).
_encode_document = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_fast(value: Any) -> Any:
    """``encode`` with a shortcut for the plain types most parameters have."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    return encode(value)


def closure_suffix(cls: type[Any]) -> str:
    """For a task class made inside a function whose methods read that function's
    variables (``def make(k): class Scale(Task): ... self.x * k``), ``[<digest>]`` of those
    values; else ``""``.

    Every call of the function makes a class of one name (``make.<locals>.Scale``), so the
    values it captured are what tells ``make(2)``'s tasks from ``make(3)``'s: without them
    in the id, the two shared cached outputs. Values are encoded as parameters are
    (classes and functions by name); a value with no encoding counts by its type only.
    """
    if "<locals>" not in cls.__qualname__:
        return ""
    captured: dict[str, Any] = {}
    for attr, member in sorted(vars(cls).items()):
        for fn in _functions_of(member):
            cells = fn.__closure__ or ()
            for var, cell in zip(fn.__code__.co_freevars, cells, strict=True):
                if var == "__class__":  # super()'s cell: the class itself
                    continue
                try:
                    value = cell.cell_contents
                except ValueError:  # not bound yet
                    continue
                captured[f"{attr}.{var}"] = _captured(value)
    if not captured:
        return ""
    return f"[{hashlib.sha256(_dumps(captured).encode()).hexdigest()[:16]}]"


def _functions_of(member: Any) -> list[Any]:
    if isinstance(member, staticmethod | classmethod):
        member = member.__func__
    if isinstance(member, property):
        return [f for f in (member.fget, member.fset, member.fdel) if f is not None]
    return [member] if hasattr(member, "__code__") and hasattr(member, "__closure__") else []


def _captured(value: Any) -> Any:
    if isinstance(value, type):
        return {"$code": f"{value.__module__}:{value.__qualname__}"}
    if callable(value) and hasattr(value, "__qualname__"):
        # Two lambdas (or two functions made by one factory) share a name: their text and
        # the names and constants of their code tell them apart (two lambdas on one line
        # have one text; a notebook cell's have none).
        name = f"{getattr(value, '__module__', '')}:{value.__qualname__}"
        try:
            text = inspect.getsource(value).strip()
        except (OSError, TypeError):
            text = ""
        code = getattr(value, "__code__", None)
        if code is not None:
            text += f"\n{code.co_names!r} {[_const_text(c) for c in code.co_consts]}"
        return {"$code": name, "text": hashlib.sha256(text.encode()).hexdigest()[:16]}
    try:
        return encode(value)
    except TasukiError:
        kind = type(value)
        return {"$type": f"{kind.__module__}:{kind.__qualname__}"}


def task_name(cls: type[TaskBase]) -> str:
    """The qualified task name used in ids, records and the CLI: ``module:QualName``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def id_document(name: str, version: str | None, params: dict[str, Any], requires: Any) -> str:
    """The canonical JSON document hashed into a unique id (see the module docstring).

    ``params`` must be encoded, with keys in sorted order, and ``requires`` encoded (tasks
    replaced by their ids).
    """
    return _encode_document([ID_SCHEMA, name, version, params, requires])


def unique_id_of(document: str) -> str:
    """Hex sha256 of an id document."""
    return hashlib.sha256(document.encode()).hexdigest()
