"""Parameter values as a task made again from its run record holds them.

A record keeps parameters as JSON, and ``tasuki rerun``, a Dask or Argo worker and
``load_output`` make the task again from it through the annotation. A value of a subclass of
the annotated type passed the type check as it was, and came back from the record as the
plain base value: a ``StrEnum`` member given for ``str`` (or an ``IntEnum`` for ``int``) had
another unique id than the text it came back as, so ``tasuki rerun ID`` refused the task it
made ("got id ..."); ``np.str_``, ``pd.Timestamp``, ``pd.Timedelta`` and ``PurePosixPath``
kept their id, and ``run()`` saw another type on a rerun than on the first run (and pickled
other bytes). Such a value is made the plain value at construction, through the record's own
round trip, so every run of the task sees what the record gives back.

Only annotations made of ``str``, ``int``, ``float``, ``bool``, ``None``, ``date``,
``datetime``, ``timedelta`` and ``Path`` (alone, in ``Optional`` / unions of these, or in
``list`` / ``tuple`` / ``dict``) are handled: an ``Enum`` or a task keeps its own value, and
``Any`` says nothing of what the value should be.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from tasuki.core.params import FrozenDict, FrozenList, coerce, to_jsonable

__all__ = ["compile_exact"]

_SCALARS = (str, int, float, bool, type(None), dt.date, dt.datetime, dt.timedelta, Path, PurePath)
# The types a record gives back (a Path comes back as this platform's concrete path).
_PLAIN = frozenset(
    {str, int, float, bool, type(None), dt.date, dt.datetime, dt.timedelta, type(Path())}
)


def compile_exact(tp: Any) -> tuple[type | None, Callable[[Any], Any]] | None:
    """For an annotation made of plain scalars (see the module doc), ``(fast, fix)``: a value
    whose type is ``fast`` is plain already (None: look inside), and ``fix(value)`` gives
    the value as the record gives it back (``value`` itself when it is already). None for an
    annotation that needs no fixing."""
    if not _plain_only(tp):
        return None

    def fix(value: Any) -> Any:
        if _is_plain(value):
            return value
        try:
            again = json.loads(json.dumps(to_jsonable(value)))
            return coerce(again, tp)
        except (ValueError, TypeError):  # ParameterError is a ValueError
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


def _is_plain(value: Any) -> bool:
    tp = type(value)
    if tp in _PLAIN:
        return True
    if tp is list or tp is tuple or tp is FrozenList:
        return all(_is_plain(v) for v in value)
    if tp is dict or tp is FrozenDict:
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False
