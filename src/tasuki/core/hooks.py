"""Runner hooks: how notifications, tracking and lineage attach to a build.

A hook is any object with some of the four event methods of :class:`Hook`; missing ones are
skipped. Every event is called with **keyword arguments only**, and always with the build's
id (:attr:`BuildResult.build_id <tasuki.core.results.BuildResult.build_id>`, sortable by
start time) and its workspace store. A method receives only the arguments it names, unless
it takes ``**kwargs`` (then it receives them all), so an event can gain arguments without
breaking the hooks already written (Hamilton's lifecycle hooks work the same way)::

    class Tracker:
        def on_task_end(self, *, build_id, result, record, **kwargs):
            if result.status == "ran":
                log_run(build_id, record.unique_id, record.outputs)

The events, in the order a build emits them:

- ``on_build_start(build_id, graph, store, settings)``: the graph is built; nothing ran yet.
- ``on_task_end(...)`` with status ``cached`` or ``not_needed`` for every task the plan found
  complete (or below a complete task), before any task starts.
- ``on_task_start(build_id, task, uid, reason, store)``: once per task, when its ``run()``
  begins in whatever process runs it (not when it is queued), whatever the executor.
- ``on_task_end(build_id, task, uid, result, record, store, resume_command)``: once per task
  with its final state: ``ran``, ``cached`` (also: finished meanwhile by another process),
  ``failed``, ``upstream_failed`` (skipped), ``interrupted``. ``record`` is the task's
  :class:`~tasuki.core.records.RunRecord` for ``ran``, ``cached`` and ``failed`` when the
  run wrote one (a ``failed`` record holds the redacted error and the log tail), else None.
  ``resume_command`` is the command that resumes the build, given for ``failed`` and
  ``upstream_failed``. A task whose output is found damaged later in the build runs again
  and gets a second ``on_task_end``: the last one is its final state.
- ``on_build_end(build_id, result, store)``: the build finished or was interrupted.

All events run in the process that schedules the build (never inside worker processes), in
the same order whatever the executor. An exception in a hook is logged, never allowed to
fail the build it observes. The record is read from the workspace only when some
``on_task_end`` asks for it.

Trackers are hooks the runner attaches itself: the ``tracking`` setting names one in
:data:`trackers` (built-in ``mlflow``, the entry-point group ``tasuki.trackers``,
:func:`register_tracker`), and :func:`with_tracker` adds it to the build's hooks.

Hooks written for the first form of these events (one positional argument: the graph, the
task, the task result, the build result) keep working: a parameter named like the
event's argument (``graph``, ``task``, ``result``) is simply passed by name, and any other
single positional parameter gets the old value with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tasuki._registry import Registry
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.graph import Graph
    from tasuki.core.records import RunRecord
    from tasuki.core.results import BuildResult, TaskResult
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = [
    "EVENTS",
    "Hook",
    "HookCaller",
    "register_tracker",
    "trackers",
    "with_catalog_lineage",
    "with_tracker",
]

logger = logging.getLogger(__name__)

#: Each event's keyword arguments, and the argument old one-positional hooks received.
EVENTS: dict[str, tuple[frozenset[str], str]] = {
    "on_build_start": (frozenset({"build_id", "graph", "store", "settings"}), "graph"),
    "on_task_start": (frozenset({"build_id", "task", "uid", "reason", "store"}), "task"),
    "on_task_end": (
        frozenset({"build_id", "task", "uid", "result", "record", "store", "resume_command"}),
        "result",
    ),
    "on_build_end": (frozenset({"build_id", "result", "store"}), "result"),
}

#: Statuses whose ``on_task_end`` carries the command that resumes the build.
_RESUMABLE = ("failed", "upstream_failed")
#: Statuses whose ``on_task_end`` carries the task's run record (when there is one).
_RECORDED = ("ran", "cached", "failed")


@runtime_checkable
class Hook(Protocol):
    """The events a build emits, all keyword-only. Implement any subset; take ``**kwargs``
    so that arguments added later reach you without breaking you."""

    def on_build_start(
        self, *, build_id: str, graph: Graph, store: Store, settings: Settings, **kwargs: Any
    ) -> None:
        """The graph is built and planned, and about to run (a build refused while it is
        planned calls no hook)."""

    def on_task_start(
        self, *, build_id: str, task: Task, uid: str, reason: str, store: Store, **kwargs: Any
    ) -> None:
        """A task's ``run()`` begins (``reason``: why it runs, as the log line says)."""

    def on_task_end(
        self,
        *,
        build_id: str,
        task: Task,
        uid: str,
        result: TaskResult,
        record: RunRecord | None,
        store: Store,
        resume_command: str | None,
        **kwargs: Any,
    ) -> None:
        """A task reached a final state: ``result.status`` is ``ran``, ``cached``,
        ``not_needed``, ``failed``, ``upstream_failed`` or ``interrupted``."""

    def on_build_end(
        self, *, build_id: str, result: BuildResult, store: Store, **kwargs: Any
    ) -> None:
        """The build finished (or was interrupted); ``result`` has the summary and tree."""


@dataclass(frozen=True)
class _Listener:
    """One hook method and how to call it."""

    method: Callable[..., Any]
    names: frozenset[str] | None  # the keyword arguments it takes; None: all of them
    legacy: bool  # the old one-positional form, under another parameter name

    def __call__(self, event: str, args: dict[str, Any]) -> None:
        if self.legacy:
            self.method(args[EVENTS[event][1]])
        elif self.names is None:
            self.method(**args)
        else:
            self.method(**{k: v for k, v in args.items() if k in self.names})


def _listener(hook: Any, event: str) -> _Listener:
    method = getattr(hook, event)
    known, legacy_arg = EVENTS[event]
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: give it everything
        return _Listener(method, None, False)
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return _Listener(method, None, False)
    named = frozenset(p.name for p in params if p.kind is not p.VAR_POSITIONAL)
    required = [p for p in params if p.default is p.empty and p.kind is not p.VAR_POSITIONAL]
    if all(p.name in known and p.kind is not p.POSITIONAL_ONLY for p in required):
        return _Listener(method, named & known, False)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if (len(required) == 1 and required[0] in positional) or (
        not required and any(p.kind is p.VAR_POSITIONAL for p in params)
    ):
        warnings.warn(
            f"{type(hook).__qualname__}.{event} takes one positional argument; hook events "
            f"are keyword-only now: write `def {event}(self, *, {legacy_arg}, **kwargs)` "
            "(see tasuki.core.hooks). The old form is called with the old argument for now.",
            DeprecationWarning,
            stacklevel=4,
        )
        return _Listener(method, None, True)
    unknown = sorted(p.name for p in required if p.name not in known)
    raise TypeError(
        f"hook {hook!r}: {event} requires the argument(s) {unknown}, which the event does not "
        f"give; it gives {sorted(known)} (keyword-only; take **kwargs for the rest)"
    )


class HookCaller:
    """Calls each hook's method if it has one, logging (not raising) hook errors.

    It holds what every event carries (the build id, the store) and the command that resumes
    the build, so the runner and the schedule only say what happened.

    Args:
        hooks: The build's hook objects.
        build_id: The build's id.
        store: The build's workspace.
        resume_command: The command that resumes the build, for failure events.

    Raises:
        TypeError: a hook method requires an argument its event does not give.
    """

    def __init__(
        self,
        hooks: Sequence[Any],
        *,
        build_id: str = "",
        store: Store | None = None,
        resume_command: str | Callable[[], str] | None = None,
    ) -> None:
        self.build_id = build_id
        self.store = store
        # A callable is asked once, when a task first fails: the command holds every
        # root's repr, which a build that succeeds never needs.
        self._resume = resume_command
        self._by_event: dict[str, list[_Listener]] = {
            event: [_listener(h, event) for h in hooks if hasattr(h, event)] for event in EVENTS
        }
        self._record_wanted = any(
            lst.names is None or "record" in lst.names for lst in self._by_event["on_task_end"]
        )

    def resume_command(self) -> str | None:
        """The command that resumes the build (made on first use)."""
        if callable(self._resume):
            self._resume = self._resume()
        return self._resume

    def has(self, event: str) -> bool:
        """Whether any hook listens to ``event`` (lets the runner skip work)."""
        return bool(self._by_event[event])

    def __call__(self, event: str, **args: Any) -> None:
        """Emit ``event`` with ``args`` plus the build id and store."""
        listeners = self._by_event[event]
        if not listeners:
            return
        args = {"build_id": self.build_id, "store": self.store, **args}
        for listener in listeners:
            try:
                listener(event, args)
            except Exception:
                logger.exception("hook %r failed on %s; the build goes on", listener.method, event)

    def build_start(self, graph: Graph, settings: Settings) -> None:
        """Emit ``on_build_start``."""
        self("on_build_start", graph=graph, settings=settings)

    def task_start(self, task: Task, uid: str, reason: str) -> None:
        """Emit ``on_task_start``."""
        if self._by_event["on_task_start"]:
            self("on_task_start", task=task, uid=uid, reason=reason)

    def task_end(self, task: Task, result: TaskResult) -> None:
        """Emit ``on_task_end`` with the task's record when a listener takes one."""
        if not self._by_event["on_task_end"]:
            return
        record = self._record(result) if self._record_wanted else None
        resume = self.resume_command() if result.status in _RESUMABLE else None
        self(
            "on_task_end",
            task=task,
            uid=result.uid,
            result=result,
            record=record,
            resume_command=resume,
        )

    def build_end(self, result: BuildResult) -> None:
        """Emit ``on_build_end``."""
        self("on_build_end", result=result)

    def _record(self, result: TaskResult) -> RunRecord | None:
        """The record this result left, or None: a failure around the task or a dead worker
        writes none, and an older record may be there instead. So for ``ran`` and ``failed``
        the record must say the same status and carry this build's id, or none at all (a
        process that ran the task by id without knowing the build, ``tasuki run-one``)."""
        if result.status not in _RECORDED or self.store is None:
            return None
        from tasuki.core.records import RunRecord

        try:
            record = RunRecord.read(self.store, result.uid)
        except (FileNotFoundError, ValueError):
            return None
        if result.status in ("cached", "ran"):
            if not record.done:
                return None
        elif record.status != "failed":
            return None
        if result.status == "cached" or record.build_id in (None, self.build_id):
            return record
        return None


#: Trackers by the name the ``tracking`` setting gives: hooks the runner attaches itself.
#: Built-in ``mlflow`` by dotted path (core never imports tasuki.tracking nor mlflow); more
#: through the entry-point group ``tasuki.trackers`` or :func:`register_tracker`.
trackers: Registry[Any] = Registry(
    "tracker",
    "tasuki.trackers",
    {"mlflow": "tasuki.tracking.mlflow:MlflowTracker"},
    hints={"mlflow": "pip install 'tasuki[mlflow]'"},
    quick_scan=True,
)


def register_tracker(name: str, factory: Any, *, clobber: bool = False) -> None:
    """Make ``name`` usable as ``tracking = "name"`` in settings.

    Args:
        name: The tracker's name.
        factory: A class (or its ``"module:attr"`` path) with a ``from_settings(settings)``
            class method, or one that takes no arguments; its instances are build hooks.
        clobber: Replace an existing tracker of that name (a built-in included).

    Raises:
        ConfigError: the name is taken and ``clobber`` is False.
    """
    trackers.register(name, factory, clobber=clobber)


def with_tracker(settings: Settings, hooks: Sequence[Any]) -> list[Any]:
    """``hooks`` plus the tracker the ``tracking`` setting names (none for ``"off"``), unless
    ``hooks`` already hold one of its class (``hooks=[MlflowTracker(uri)]`` is not doubled).

    Raises:
        ConfigError: an unknown tracker name (with the known ones), or one whose settings are
            incomplete (``tracking_uri`` missing...).
    """
    name = settings.tracking
    if name == "off":
        return list(hooks)
    factory = trackers.get(name)
    if isinstance(factory, type) and any(isinstance(h, factory) for h in hooks):
        return list(hooks)
    make = getattr(factory, "from_settings", None)
    tracker = make(settings) if callable(make) else factory()
    if not any(hasattr(tracker, event) for event in EVENTS):
        raise ConfigError(
            f"tracker {name!r} made {tracker!r}, which has none of the hook methods "
            f"{sorted(EVENTS)}; a tracker is a build hook (see tasuki.core.hooks)",
            name=name,
        )
    return [*hooks, tracker]


#: The hook ``catalog_lineage = true`` adds, by dotted path: the catalog sits layers above the
#: core, which must not import it (nor SQLAlchemy) unless a build asks for it.
CATALOG_LINEAGE_HOOK = "tasuki.catalog._hook:CatalogLineageHook"


def with_catalog_lineage(settings: Settings, hooks: Sequence[Any]) -> list[Any]:
    """``hooks`` plus the catalog's lineage hook when ``settings.catalog_lineage`` is on
    (not doubled when ``hooks`` hold one already)."""
    if not settings.catalog_lineage:
        return list(hooks)
    import importlib

    module, _, name = CATALOG_LINEAGE_HOOK.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"catalog_lineage = true needs the catalog ({exc}); install tasuki[catalog] or "
            "turn catalog_lineage off",
            setting="catalog_lineage",
        ) from exc
    if any(isinstance(h, factory) for h in hooks):
        return list(hooks)
    return [*hooks, factory(settings)]
