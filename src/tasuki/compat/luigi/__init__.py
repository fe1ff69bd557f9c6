"""luigi's names for gokart code running on tasuki: ``import tasuki.compat.luigi as luigi``.

The parameter classes, ``luigi.configuration`` and ``luigi.build`` / ``luigi.run`` work as in
luigi 3. luigi's own task classes, targets, central scheduler and ``luigi.contrib`` do not: using
one raises :class:`~tasuki.errors.UnsupportedError` naming the construct and the tasuki way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tasuki.compat._build import luigi_build
from tasuki.compat._build import run as _run
from tasuki.compat._config_class import Config
from tasuki.compat._params import (
    BoolParameter,
    ChoiceParameter,
    DateHourParameter,
    DateMinuteParameter,
    DateParameter,
    DateSecondParameter,
    DictParameter,
    EnumListParameter,
    EnumParameter,
    FloatParameter,
    IntParameter,
    ListParameter,
    MonthParameter,
    NumericalParameter,
    OptionalBoolParameter,
    OptionalChoiceParameter,
    OptionalDictParameter,
    OptionalFloatParameter,
    OptionalIntParameter,
    OptionalListParameter,
    OptionalNumericalParameter,
    OptionalParameter,
    OptionalPathParameter,
    OptionalStrParameter,
    OptionalTupleParameter,
    Parameter,
    PathParameter,
    StrParameter,
    TimeDeltaParameter,
    TupleParameter,
    YearParameter,
)
from tasuki.compat.luigi import configuration
from tasuki.errors import UnsupportedError

__all__ = [
    "BoolParameter",
    "ChoiceParameter",
    "Config",
    "DateHourParameter",
    "DateMinuteParameter",
    "DateParameter",
    "DateSecondParameter",
    "DictParameter",
    "EnumListParameter",
    "EnumParameter",
    "FloatParameter",
    "IntParameter",
    "ListParameter",
    "MonthParameter",
    "NumericalParameter",
    "OptionalBoolParameter",
    "OptionalChoiceParameter",
    "OptionalDictParameter",
    "OptionalFloatParameter",
    "OptionalIntParameter",
    "OptionalListParameter",
    "OptionalNumericalParameter",
    "OptionalParameter",
    "OptionalPathParameter",
    "OptionalStrParameter",
    "OptionalTupleParameter",
    "Parameter",
    "PathParameter",
    "StrParameter",
    "TimeDeltaParameter",
    "TupleParameter",
    "YearParameter",
    "build",
    "configuration",
    "run",
]


def build(tasks: Sequence[Any], **env_params: Any) -> bool:
    """luigi's ``build``: run the tasks, True when all succeeded.

    Raises:
        UnsupportedError: ``local_scheduler=False`` (luigi's central scheduler).
    """
    return luigi_build(tasks, **env_params)


def run(cmdline_args: Sequence[str] | None = None, **kwargs: Any) -> None:
    """luigi's ``run``: ``python -m mymodule TaskName --param v`` (see ``gokart.run``)."""
    _run(cmdline_args, set_retcode=bool(kwargs.get("set_retcode", True)))


_TASUKI_WAY = {
    "Task": "subclass gokart.TaskOnKart (import tasuki.compat.gokart as gokart), or tasuki.Task "
    "for new code: tasuki tasks declare output() with self.make_target('name.ext')",
    "WrapperTask": "a gokart.TaskOnKart whose requires() lists the tasks and whose run() dumps "
    "a small marker, or build the tasks together: gokart.build([t1, t2])",
    "ExternalTask": "return tasuki.FileInput(path='...') from requires(): a task whose unique "
    "id is the file's bytes, so what is built from it reruns when the file changes",
    "LocalTarget": "self.make_target('name.ext') in output(); the extension picks the format",
    "Target": "self.make_target('name.ext') in output()",
    "TaskParameter": "gokart.TaskInstanceParameter with a task value (a task class cannot be "
    "part of an id)",
    "DateIntervalParameter": "two DateParameters (start, end)",
    "ChoiceListParameter": "a ListParameter, checking the choices in run()",
    "contrib": "tasuki's workspace URLs (s3://, gs://), tasuki.warehouse and tasuki argo",
    "notifications": "tasuki's Slack notices (notify settings) or a build hook",
    "event_handler": "a build hook (tasuki.Hook: on_task_start, on_task_end, on_build_end)",
    "Event": "a build hook (tasuki.Hook)",
    "scheduler": "tasuki's workspace leases (two builds compute each task once) or "
    "executor='dask' for several machines",
    "server": "tasuki web (runs, graphs and timelines) instead of luigid's visualiser",
    "rpc": "tasuki's workspace leases instead of the central scheduler",
    "worker": "tasuki's executors (executor='local' with workers=N, 'inline', 'dask')",
    "interface": "gokart.build / tasuki.build",
    "util": "explicit parameters and requires() (luigi.util's inherits/requires decorators "
    "copy parameters between classes behind the type checker's back)",
    "mock": "a temporary workspace folder",
    "format": "the output's extension picks tasuki's format",
    "retcodes": "the exit status of gokart.run / tasuki run (0 ok, 1 a task failed)",
}


def __getattr__(name: str) -> Any:
    way = _TASUKI_WAY.get(name)
    if way is None:
        raise AttributeError(f"module 'tasuki.compat.luigi' has no attribute {name!r}")
    raise UnsupportedError(
        f"luigi.{name} is not supported by tasuki.compat; use {way}.",
        construct=f"luigi.{name}",
    )
