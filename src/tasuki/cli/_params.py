"""Turning command-line words into a task value: ``mypkg:TaskB --param world --n 3``."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.core.params import coerce, type_name
from tasuki.core.task import Task, import_task
from tasuki.errors import ParameterError

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = ["make_task", "parse_param_args"]

_HEX = re.compile(r"^[0-9a-f]{6,64}$")


def parse_param_args(task_cls: type[Task], words: Sequence[str]) -> dict[str, str | bool]:
    """``--name value``, ``--name=value``, ``--flag`` / ``--no-flag`` into raw values.

    Raises:
        ParameterError: an unknown option (with a suggestion) or a missing value.
    """
    specs = task_cls.param_specs()
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--"):
            raise ParameterError(
                f"{task_cls.task_name()}: unexpected argument {word!r}; parameters are given "
                "as --name value",
                task=task_cls.task_name(),
                value=word,
            )
        name, eq, value = word[2:].partition("=")
        key = name.replace("-", "_")
        negated = key.startswith("no_") and key[3:] in specs and key not in specs
        if negated:
            key = key[3:]
        if key not in specs:
            options = [f"--{n.replace('_', '-')}" for n in specs]
            hint = difflib.get_close_matches(f"--{name}", options, n=1)
            raise ParameterError(
                f"{task_cls.task_name()}: unknown parameter --{name}. Parameters: "
                f"{', '.join(options) or 'none'}." + (f" Did you mean {hint[0]}?" if hint else ""),
                task=task_cls.task_name(),
                parameter=name,
            )
        is_bool = specs[key].annotation is bool
        if negated:
            out[key] = False
        elif eq:
            out[key] = value
        elif is_bool and (i + 1 >= len(words) or words[i + 1].startswith("--")):
            out[key] = True
        else:
            if i + 1 >= len(words):
                raise ParameterError(
                    f"{task_cls.task_name()}: --{name} needs a value "
                    f"({type_name(specs[key].annotation)})",
                    task=task_cls.task_name(),
                    parameter=key,
                )
            i += 1
            out[key] = words[i]
        i += 1
    return out


def _defaults_for(task_cls: type[Task], settings: Settings) -> Mapping[str, Any]:
    for key in (task_cls.task_name(), task_cls.__qualname__, task_cls.__name__):
        if key in settings.tasks:
            return settings.tasks[key]
    return {}


def make_task(
    path_or_cls: str | type[Task],
    raw: Mapping[str, Any],
    settings: Settings,
    *,
    store: Any = None,
) -> Task:
    """Build a task value from raw (text or JSON) parameter values.

    Per-task defaults from settings (``[tasks."mypkg:TaskB"]``) fill parameters not given.
    Task-typed parameters accept ``module:Task``, a JSON object
    ``{"task": "module:Task", "params": {...}}`` or the unique id of a finished run; a
    :class:`~tasuki.FileInput` parameter takes the file's path.
    """
    task_cls = import_task(path_or_cls) if isinstance(path_or_cls, str) else path_or_cls
    specs = task_cls.param_specs()
    merged: dict[str, Any] = dict(_defaults_for(task_cls, settings))
    unknown = [k for k in merged if k not in specs]
    if unknown:
        raise ParameterError(
            f"settings [tasks.{task_cls.task_name()!r}] name unknown parameters {unknown}; "
            f"parameters: {', '.join(specs)}",
            task=task_cls.task_name(),
            parameter=unknown[0],
        )
    strange = [k for k in raw if k not in specs]
    if strange:
        hint = difflib.get_close_matches(strange[0], list(specs), n=1)
        raise ParameterError(
            f"{task_cls.task_name()} has no parameter {strange[0]!r}; parameters: "
            f"{', '.join(specs) or 'none'}." + (f" Did you mean {hint[0]!r}?" if hint else ""),
            task=task_cls.task_name(),
            parameter=strange[0],
        )
    merged.update(raw)

    def loader_of(name: str) -> Callable[[Any, Any], Task]:
        def loader(value: Any, tp: Any) -> Task:
            return _task_from_value(value, tp, settings, store, task_cls.task_name(), name)

        return loader

    params = {
        name: coerce(
            value,
            specs[name].annotation,
            task=task_cls.task_name(),
            name=name,
            task_loader=loader_of(name),
        )
        for name, value in merged.items()
    }
    return task_cls(**params)


def _task_from_value(
    value: Any, tp: Any, settings: Settings, store: Any, owner: str, name: str
) -> Task:
    """The task a task-typed parameter ``name`` of task ``owner`` is given as ``value``."""
    from tasuki.core.file_input import FileInput

    path_given = isinstance(value, str | Path) and not str(value).strip().startswith("{")
    if path_given and isinstance(tp, type) and issubclass(tp, FileInput):
        return tp(path=str(value))  # --raw data/raw.csv: the file, hashed now
    if isinstance(value, str) and value.strip().startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict):
        path = value.get("task")
        params = value.get("params", {})
        if not isinstance(path, str) or not isinstance(params, dict):
            raise ParameterError(
                f"{owner}: parameter {name!r} got {value!r}: a task given as JSON is "
                '{"task": "module:TaskClass", "params": {...}} (a \'task\' key naming the '
                "class, and the parameters as an object)",
                task=owner,
                parameter=name,
                value=repr(value),
            )
        return make_task(path, params, settings, store=store)
    text = str(value)
    if ":" in text or "." in text:
        return make_task(text, {}, settings, store=store)
    if _HEX.match(text) and store is not None:
        from tasuki.core.loading import task_from_record
        from tasuki.core.records import find_record

        return task_from_record(find_record(store, text), store)
    raise ParameterError(
        f"{owner}: parameter {name!r} got {text!r}, which names no task; give "
        '\'module:TaskClass\', a JSON object {"task": "module:TaskClass", "params": {...}}, '
        "or a unique id from `tasuki ls`",
        task=owner,
        parameter=name,
        value=text,
    )
