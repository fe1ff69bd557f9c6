"""Executors: how the tasks of a build are run (see :class:`Executor`).

Built-in: ``local`` (forked worker processes, the default), ``inline`` (this process) and
``dask`` (a ``dask.distributed`` cluster; the ``tasuki[dask]`` extra).
Third parties add more through the entry-point group ``tasuki.executors``::

    [project.entry-points."tasuki.executors"]
    mine = "mypkg.executors:MyExecutor"

or at runtime with :func:`register_executor`. An entry point never replaces a built-in name.
"""

from __future__ import annotations

from typing import Any

from tasuki._registry import Registry
from tasuki.core.executors.base import Executor
from tasuki.core.executors.inline import InlineExecutor
from tasuki.core.executors.local import LocalExecutor
from tasuki.errors import ConfigError

__all__ = [
    "Executor",
    "InlineExecutor",
    "LocalExecutor",
    "executors",
    "get_executor",
    "register_executor",
]

#: The executors known by name. Its ``known`` mapping is the public, read-only view.
executors: Registry[Any] = Registry(
    "executor",
    "tasuki.executors",
    {
        "inline": "tasuki.core.executors.inline:InlineExecutor",
        "local": "tasuki.core.executors.local:LocalExecutor",
        "dask": "tasuki.core.executors.dask:DaskExecutor",
    },
    hints={"dask": "pip install 'tasuki[dask]'"},
)


def register_executor(name: str, factory: Any, *, clobber: bool = False) -> None:
    """Make ``name`` usable as ``--executor name`` / ``executor = "name"``.

    Args:
        name: The executor's name.
        factory: A class (or any callable) that takes no arguments and returns an
            :class:`Executor`, or its ``"module:attr"`` path.
        clobber: Replace an existing executor of that name (a built-in included).

    Raises:
        ConfigError: the name is taken and ``clobber`` is False.
    """
    executors.register(name, factory, clobber=clobber)


def get_executor(executor: str | Executor) -> Executor:
    """The executor ``executor`` names (an :class:`Executor` is returned as it is).

    Raises:
        ConfigError: unknown name (the message lists the known ones and how to add one), or
            what the name points at does not make an executor.
    """
    if not isinstance(executor, str):
        return executor
    factory = executors.get(executor)
    made = factory() if callable(factory) else factory
    # What isinstance(made, Executor) checks, without its cost: the first isinstance against
    # a runtime-checkable protocol walks the protocol's attributes (~8 ms on Python 3.11).
    if not callable(getattr(made, "run", None)):
        raise ConfigError(
            f"executor {executor!r} is {made!r}, which has no run(schedule) method; an "
            "executor entry point must name a class that takes no arguments and whose "
            "instances have run(schedule)",
            name=executor,
        )
    return made  # type: ignore[no-any-return]
