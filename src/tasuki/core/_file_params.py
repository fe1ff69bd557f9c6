"""A warning for parameters that name a file: they say where the data is, not what it is.

``Clean(raw="data/raw.csv")`` keeps its unique id when a new export replaces the file, so
the build hands back the output made from the old one, and nothing in the id or the
records can tell. The build cannot know whether the task reads the file (a path may name an
output elsewhere, a config for a tool), so it says so once per task class and parameter,
with the two ways to make the bytes count: require the file as :class:`tasuki.FileInput`,
or list it in ``data_files``. Silence it with a :mod:`logging` filter on this module's
logger (``tasuki.core._file_params``).

It costs one dictionary lookup per task of a class without text or path parameters, and
one ``stat`` per distinct value that looks like a path.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import types
import typing
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasuki.core.graph import Graph

__all__ = ["forget_file_params", "warn_file_params"]

logger = logging.getLogger(__name__)

_NAMES: dict[type[Any], tuple[str, ...]] = {}  # a class's significant text / path parameters
_IS_FILE: dict[str, bool] = {}
_WARNED: set[tuple[str, str]] = set()


def warn_file_params(graph: Graph) -> None:
    """Warn once per task class and parameter whose value in ``graph`` names a file that
    the class does not declare in ``data_files``."""
    for node in graph.nodes.values():
        task = node.task
        cls = type(task)
        names = _NAMES.get(cls)
        if names is None:
            names = _NAMES[cls] = _path_params(cls)
        for name in names:
            value = task.__dict__[name]
            if isinstance(value, str | PurePath) and _names_a_file(os.fspath(value)):
                _warn(cls, name, os.fspath(value))


def _path_params(cls: type[Any]) -> tuple[str, ...]:
    if cls.__module__.startswith("tasuki."):
        return ()  # tasuki's own tasks: their text parameters are SQL, tables, references
    return tuple(
        name
        for name, spec in cls.param_specs().items()
        if spec.significant and _may_be_path(spec.annotation)
    )


def _may_be_path(annotation: Any) -> bool:
    if annotation is str or (isinstance(annotation, type) and issubclass(annotation, PurePath)):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return any(_may_be_path(arg) for arg in typing.get_args(annotation))
    return False


def _names_a_file(text: str) -> bool:
    if not text or len(text) > 4096 or "\n" in text or "://" in text:
        return False
    if os.sep not in text and "." not in text:
        return False  # a word, a date: not worth a stat
    known = _IS_FILE.get(text)
    if known is None:
        try:
            known = os.path.isfile(text)
        except (OSError, ValueError):
            known = False
        _IS_FILE[text] = known
    return known


def _warn(cls: type[Any], name: str, value: str) -> None:
    task = cls.task_name()
    if (task, name) in _WARNED:
        return
    _WARNED.add((task, name))
    declared = {os.path.abspath(os.fspath(p)) for p in getattr(cls, "data_files", ()) or ()}
    here = os.path.abspath(value)
    # A pattern (``data/*.csv``) declares every file it matches.
    if here in declared or any(fnmatch.fnmatchcase(here, p) for p in declared):
        return
    logger.warning(
        "%s.%s is %r, a file: its bytes are not part of %s's unique id, so a new file at that "
        "path gets the output made from the old one. If the task reads it, require it as "
        "tasuki.FileInput(path=...) (the id then follows the bytes), or list it in "
        "data_files; if it does not (an output elsewhere), this warning is all it costs.",
        task,
        name,
        value,
        cls.__name__,
    )


def forget_file_params() -> None:
    """Warn again, and look at files again (tests)."""
    _NAMES.clear()
    _IS_FILE.clear()
    _WARNED.clear()
