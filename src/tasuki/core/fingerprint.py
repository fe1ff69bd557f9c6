"""Canonical encoding of parameter values, unique ids and code fingerprints.

A unique id is ``sha256`` over a canonical JSON document::

    ["tasuki-id/1", "<module>:<QualName>", <version or null>,
     {<significant param>: <encoded value>, ...},      # keys sorted
     <requires() with every task replaced by its unique id>]

Values are encoded by type through :func:`encode` (a ``functools.singledispatch``), never
through ``str()``: ``1`` and ``"1"`` and ``1.0`` and ``True`` all encode differently, and
dictionaries are ordered by their encoded keys. The document depends on nothing of the
process (no ``hash()``, no ids of objects), so ids are stable across processes, machines and
``PYTHONHASHSEED``. The test vectors in ``tests/unit/core/test_identity.py`` pin it.
"""

from __future__ import annotations

import ast
import datetime as dt
import enum
import functools
import hashlib
import json
import linecache
import sys
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from tasuki.errors import ParameterError

if TYPE_CHECKING:
    from tasuki.core.task import Task

__all__ = ["code_fingerprint", "encode", "id_document", "task_name"]

ID_SCHEMA = "tasuki-id/1"


@functools.singledispatch
def encode(value: Any) -> Any:
    """Encode a parameter value into canonical JSON-able form.

    Register more types with ``@encode.register``.

    Raises:
        ParameterError: for values of a type that has no canonical encoding.
    """
    from tasuki.core.task import Task

    if isinstance(value, Task):
        return {"$task": value.unique_id}
    raise ParameterError(
        f"cannot encode a value of type {type(value).__qualname__} ({value!r}) into a task id; "
        "use str, int, float, bool, date, datetime, timedelta, Path, Enum, Literal, lists, "
        "tuples, dicts of these, or a Task",
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
    items = [(encode(k), encode(v)) for k, v in value.items()]
    items.sort(key=lambda kv: _dumps(kv[0]))
    return {"$dict": [[k, v] for k, v in items]}


def _dumps(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Parameters are emitted in sorted order and every nested mapping the encoder produces has a
# single key, so the id document needs no sort_keys pass (a measurable cost at 100k tasks).
_encode_document = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_fast(value: Any) -> Any:
    """``encode`` with a shortcut for the plain types most parameters have."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    return encode(value)


def task_name(cls: type[Task]) -> str:
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


_CODE_FINGERPRINTS: dict[type[Any], str] = {}


def code_fingerprint(cls: type[Task]) -> str:
    """A short hash of the source of a task class and its task bases.

    Recorded beside each output so that ``tasuki why`` and the ``on_code_change`` setting
    can tell when a cached output was made by different code. Falls back to the bytecode
    when the source is not available (a REPL, a zip import).
    """
    cached = _CODE_FINGERPRINTS.get(cls)
    if cached is not None:
        return cached
    from tasuki.core.task import Task

    digest = hashlib.sha256()
    for klass in cls.__mro__:
        if klass is Task or not (isinstance(klass, type) and issubclass(klass, Task)):
            continue
        source = _class_source(klass)
        if source is not None:
            digest.update(source.encode())
        else:
            for attr in sorted(vars(klass)):
                code = getattr(vars(klass)[attr], "__code__", None)
                if code is not None:
                    digest.update(attr.encode() + code.co_code + repr(code.co_consts).encode())
    result = digest.hexdigest()[:16]
    _CODE_FINGERPRINTS[cls] = result
    return result


# Parsed modules by file name: one parse per module however many task classes it holds.
_TREES: dict[str, tuple[list[str], ast.Module] | None] = {}


def _class_source(klass: type[Any]) -> str | None:
    """The source lines of ``klass`` (decorators included), or None when not available.

    The same text as ``inspect.getsource`` for a class, found through ``ast`` line numbers
    instead of ``inspect``'s tokenizer pass, whose first use costs a build several
    milliseconds of regular-expression compilation.
    """
    module = sys.modules.get(klass.__module__)
    filename = getattr(module, "__file__", None)
    if not filename:
        return None
    if filename not in _TREES:
        lines = linecache.getlines(filename, module.__dict__)
        try:
            _TREES[filename] = (lines, ast.parse("".join(lines))) if lines else None
        except (SyntaxError, ValueError):
            _TREES[filename] = None
    parsed = _TREES[filename]
    if parsed is None:
        return None
    lines, tree = parsed
    node = _find_class(tree, klass.__qualname__)
    if node is None:
        return None
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    last = node.end_lineno or node.lineno
    return "".join(lines[first - 1 : last])


def _find_class(tree: ast.Module, qualname: str) -> ast.ClassDef | None:
    """The last class statement whose qualified name is ``qualname`` (the one bound)."""
    found: ast.ClassDef | None = None
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = prefix + child.name
                if name == qualname and (found is None or child.lineno > found.lineno):
                    found = child
                if qualname.startswith(name + "."):
                    stack.append((child, name + "."))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}.<locals>."
                if qualname.startswith(name):
                    stack.append((child, name))
            elif not isinstance(child, ast.expr):
                stack.append((child, prefix))  # if/with/try blocks keep the same prefix
    return found
