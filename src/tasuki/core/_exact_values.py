"""Parameter values as a task made again from its run record holds them.

A record keeps parameters as JSON, and ``tasuki rerun``, a Dask or Argo worker and
``load_output`` make the task again from it through the annotation. A value of a subclass of
the annotated type passed the type check as it was, and came back from the record as the
plain base value: a ``StrEnum`` member given for ``str`` (or an ``IntEnum`` for ``int``) had
another unique id than the text it came back as, so ``tasuki rerun ID`` refused the task it
made ("got id ..."); ``np.str_``, ``pd.Timestamp``, ``pd.Timedelta`` and ``PurePosixPath``
kept their id, and ``run()`` saw another type on a rerun than on the first run (and pickled
other bytes). Such a value is made the plain value at construction, through the record's own
round trip, so every run of the task sees what the record gives back. The same holds for a
``datetime`` in a zone (``ZoneInfo("Asia/Tokyo")``): its id and record keep the offset, not the
zone, so two tasks in two zones of one offset were one id with other ``run()`` arithmetic
across a daylight-saving change; it is held with its fixed offset.

Annotations made of ``str``, ``int``, ``float``, ``bool``, ``None``, ``date``,
``datetime``, ``timedelta`` and ``Path`` (alone, in ``Optional`` / unions of these, or in
``list`` / ``tuple`` / ``dict``) come back through the annotation; a parameter whose
annotation mentions ``Any`` comes back through the id's own encoding (the record's
``exact`` field), which keeps enum members and tasks but gives ``np.float64(0.5)``,
``np.str_`` and ``pd.Timestamp`` back as ``0.5``, ``str`` and ``datetime``: each such value
inside it is made that. An ``Enum``, ``Literal`` or task annotation keeps its value.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from tasuki.core._base import TaskBase
from tasuki.core.fingerprint import decode, encode
from tasuki.core.params import FrozenDict, FrozenList, coerce, to_jsonable
from tasuki.errors import ParameterError

__all__ = ["compile_exact"]

_SCALARS = (str, int, float, bool, type(None), dt.date, dt.datetime, dt.timedelta, Path, PurePath)
# The types a record gives back (a Path comes back as this platform's concrete path). A
# datetime is plain only naive or with a fixed offset (_plain_datetime): its record keeps
# the offset, not a zone's name and rules.
_PLAIN = frozenset({str, int, float, bool, type(None), dt.date, dt.timedelta, type(Path())})


def compile_exact(tp: Any) -> tuple[type | None, Callable[[Any], Any]] | None:
    """For an annotation made of plain scalars or mentioning ``Any`` (see the module doc),
    ``(fast, fix)``: a value whose type is ``fast`` is plain already (None: look inside), and
    ``fix(value)`` gives the value as the record gives it back (``value`` itself when it is
    already). None for an annotation that needs no fixing."""
    if _mentions_any(tp):
        return None, _loose_fix
    if not _plain_only(tp):
        return None

    def fix(value: Any) -> Any:
        if _is_plain(value):
            return value
        try:
            again = json.loads(json.dumps(to_jsonable(value)))
            return coerce(again, tp)
        except (ValueError, TypeError, ParameterError):
            return value  # left as given: the type check has accepted it

    fast = tp if tp in _PLAIN and tp is not type(None) else None
    return fast, fix


def _plain_only(tp: Any) -> bool:
    if tp is Any:
        return False
    if tp in _SCALARS:
        return tp is not bool and tp is not type(None)  # nothing to fix in these alone
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    if origin in (typing.Union, types.UnionType):
        return all(a in _SCALARS or _plain_only(a) for a in args)
    if origin in (list, tuple, dict):
        return bool(args) and all(a in _SCALARS or _plain_only(a) for a in args)
    return False


def _plain_datetime(value: dt.datetime) -> bool:
    return value.tzinfo is None or type(value.tzinfo) is dt.timezone


def _is_plain(value: Any, loose: bool = False) -> bool:
    """Whether ``value`` is (or holds only) what its record gives back; ``loose``: through
    the id's encoding (``Any``), which also gives back enum members and tasks."""
    tp = type(value)
    if tp in _PLAIN:
        return True
    if tp is dt.datetime:
        return _plain_datetime(value)
    if tp is list or tp is tuple or tp is FrozenList:
        return all(_is_plain(v, loose) for v in value)
    if tp is dict or tp is FrozenDict:
        return all(_is_plain(k, loose) and _is_plain(v, loose) for k, v in value.items())
    return loose and isinstance(value, enum.Enum | TaskBase)


def _mentions_any(tp: Any) -> bool:
    return tp is Any or any(_mentions_any(a) for a in typing.get_args(tp))


def _loose_fix(value: Any) -> Any:
    """``value`` as the id's encoding gives it back: each scalar of a subclass of a plain
    type (not an enum member) made the plain value; ``value`` itself when none is."""
    return value if _is_plain(value, loose=True) else _rebuild_loose(value)


def _no_task(uid: str) -> Any:
    raise TypeError(f"no task {uid} here")  # never asked: tasks are plain already


def _rebuild_loose(value: Any) -> Any:
    tp = type(value)
    if tp is list or tp is FrozenList:
        return [_rebuild_loose(v) for v in value]
    if tp is tuple:
        return tuple(_rebuild_loose(v) for v in value)
    if tp is dict or tp is FrozenDict:
        return {_rebuild_loose(k): _rebuild_loose(v) for k, v in value.items()}
    if _is_plain(value, loose=True):
        return value
    try:
        return decode(json.loads(json.dumps(encode(value))), _no_task)
    except (ValueError, TypeError, ParameterError):  # no encoding: the id refuses it, naming
        return value  # the parameter
