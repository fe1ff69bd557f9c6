"""gokart's names for code running on tasuki: ``import tasuki.compat.gokart as gokart``.

``TaskOnKart`` subclasses are real :class:`tasuki.Task` classes; ``build`` and ``run`` build
them with tasuki's runner (records, ``why``, executors, notifications). What gokart has and
tasuki cannot mirror raises :class:`~tasuki.errors.UnsupportedError` naming the tasuki way.
"""

from __future__ import annotations

import os
from typing import Any

from tasuki.compat._build import GokartBuildError, build, run
from tasuki.compat._config_class import (
    PandasTypeConfig,
    PandasTypeError,
    SerializableParameter,
    inherits_config_params,
)
from tasuki.compat._ini import LuigiConfigParser
from tasuki.compat._params import DateSecondParameter
from tasuki.compat._task import (
    ExplicitBoolParameter,
    ListTaskInstanceParameter,
    TaskInstanceParameter,
    TaskOnKart,
)
from tasuki.compat._tree import make_tree_info
from tasuki.compat.gokart.tree.task_info import make_task_info_as_tree_str
from tasuki.errors import UnsupportedError

__all__ = [
    "ExplicitBoolParameter",
    "GokartBuildError",
    "ListTaskInstanceParameter",
    "PandasTypeConfig",
    "PandasTypeError",
    "SerializableParameter",
    "TaskInstanceParameter",
    "TaskOnKart",
    "ZonedDateSecondParameter",
    "add_config",
    "build",
    "inherits_config_params",
    "make_task_info_as_tree_str",
    "make_tree_info",
    "run",
]


class ZonedDateSecondParameter(DateSecondParameter):
    """A time-zone aware ``datetime.datetime`` to the second (``%Y-%m-%dT%H%M%S%z``)."""

    date_format = "%Y-%m-%dT%H%M%S%z"


def add_config(file_path: str | os.PathLike[str]) -> None:
    """Read an ``.ini`` / ``.cfg`` file of parameter defaults (``[TaskName] param = value``).

    Raises:
        ConfigError: the file does not exist or is not an ``.ini`` file (TOML included: move
            those defaults to tasuki.toml ``[tasks]``).
    """
    from tasuki.errors import ConfigError

    if not LuigiConfigParser.add_config_path(file_path):
        raise ConfigError(
            f"gokart.add_config({os.fspath(file_path)!r}): no such file (from {os.getcwd()})",
            path=os.fspath(file_path),
        )


_TASUKI_WAY = {
    "tree_info": "gokart.make_tree_info(task) or `tasuki tree`; gokart.run() takes "
    "--tree-info-mode=simple|all",
    "test_run": "pytest with tasuki.testing (run tasks in a temporary workspace)",
    "delete_local_unnecessary_outputs": "`tasuki gc` (outputs no root needs, dry run first)",
    "TaskOnKartWithRedis": "tasuki's workspace leases (two builds compute each task once)",
    "run_with_lock": "tasuki's workspace leases (two builds compute each task once)",
    "WorkerSchedulerFactory": "tasuki's executors (executor='local' with workers=N, "
    "'inline', 'dask'); there is no luigi scheduler to configure",
}


def __getattr__(name: str) -> Any:
    way = _TASUKI_WAY.get(name)
    if way is None:
        raise AttributeError(f"module 'tasuki.compat.gokart' has no attribute {name!r}")
    raise UnsupportedError(
        f"gokart.{name} is not supported by tasuki.compat; use {way}.",
        construct=f"gokart.{name}",
    )
