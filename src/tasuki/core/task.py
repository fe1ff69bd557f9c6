"""The Task base class.

A task is a frozen, keyword-only dataclass of typed parameters plus three methods:
``requires()`` (what it needs), ``output()`` (what it writes) and ``run()`` (how).
Subclassing applies ``dataclasses.dataclass(frozen=True, kw_only=True)``; the base is marked
with :pep:`681` ``dataclass_transform`` so mypy and pyright check ``TaskB(param=1)`` without a
plugin. Nothing else happens behind the user's back: no metaclass, no instance cache, no
wrapped user methods.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, dataclass_transform

from tasuki._redact import redact
from tasuki.core import context
from tasuki.core._base import TaskBase
from tasuki.core._exact_values import compile_exact
from tasuki.core._identity import UID, compute_ids, flatten
from tasuki.core.fingerprint import closure_suffix, task_name
from tasuki.core.params import (
    ParamSpec,
    as_recorded,
    compile_checker,
    compile_float_widener,
    freeze,
    from_numpy,
    holds_tuple,
    may_hold_container,
    param,
    spec_of,
    type_name,
)
from tasuki.core.records import expected_output
from tasuki.core.targets import DirectoryTarget, Expected, FileTarget, ModelTarget, Target
from tasuki.errors import (
    CorruptOutputError,
    FormatError,
    OutputGoneError,
    ParameterError,
    TaskError,
)

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["Task", "check_read", "flatten", "load_task_outputs"]

_RESERVED = frozenset(
    {
        "unique_id",
        "requires",
        "output",
        "run",
        "load",
        "dump",
        "load_data_frame",
        "make_target",
        "make_model_target",
        "make_directory_target",
        "task_log",
        "log_metric",
        "log_metrics",
        "param_values",
        "param_specs",
        "task_name",
        "version",
        "code_dependencies",
        "library_versions",
        "data_files",
    }
)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


_NOT_CHECKED: Any = object()


class _ClassInfo:
    """Per-class facts compiled on first instantiation (annotations may be forward refs)."""

    __slots__ = (
        "checkers", "exact", "frozen", "id_name", "loose", "name", "significant", "specs",
        "task_params", "wideners",
    )  # fmt: skip

    def __init__(self, cls: type[Task]) -> None:
        hints = _resolve_hints(cls)
        self.name = task_name(cls)
        self.id_name = self.name + closure_suffix(cls)
        self.specs: dict[str, ParamSpec] = {}
        self.checkers: list[tuple[str, Callable[[Any], bool], Any, Any]] = []
        self.wideners: list[tuple[str, Callable[[Any], Any]]] = []
        # Parameters whose values may be of a subclass of the annotated type (a StrEnum for
        # str, pd.Timestamp for datetime): made the value the record gives back.
        self.exact: list[tuple[str, type | None, Callable[[Any], Any]]] = []
        # Parameters whose values may be lists or dicts: kept as frozen copies (see
        # params.FrozenList), each with "Class.param" for its error message.
        self.frozen: list[tuple[str, str, Any]] = []
        # Whether a tuple a task holds where its annotation does not say tuple becomes the
        # list a task made from its record holds (params.as_recorded); a class that
        # normalises its values itself on every construction says no (tasuki.compat).
        recorded = getattr(cls, "_values_as_recorded", True)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            annotation = hints.get(f.name, Any)
            self.specs[f.name] = spec_of(f, annotation)
            try:
                checker = compile_checker(annotation)
            except TypeError as exc:
                raise TaskError(
                    f"{self.name}: parameter {f.name!r} is annotated {type_name(annotation)}, "
                    "which tasuki cannot check or hash. Use str, int, float, bool, date, "
                    "datetime, timedelta, Path, an Enum, Literal, Optional, list/tuple/dict of "
                    "these, or a Task.",
                    task=self.name,
                    parameter=f.name,
                ) from exc
            # A default that passes is checked here once; __post_init__ skips that very object.
            default = f.default if f.default is not dataclasses.MISSING else _NOT_CHECKED
            if default is not _NOT_CHECKED and not checker(default):
                default = _NOT_CHECKED
            self.checkers.append((f.name, checker, annotation, default))
            widener = compile_float_widener(annotation)
            if widener is not None:
                self.wideners.append((f.name, widener))
            exact = compile_exact(annotation) if recorded else None
            if exact is not None:
                self.exact.append((f.name, *exact))
            if may_hold_container(annotation):
                where = f"{cls.__qualname__}.{f.name}"
                self.frozen.append((f.name, where, annotation if recorded else None))
        self.significant = tuple(sorted(n for n, s in self.specs.items() if s.significant))
        self.task_params = tuple(n for n, s in self.specs.items() if _mentions_task(s.annotation))
        # Parameters a record's plain JSON cannot give back with their types (a date given
        # for ``Any`` reads back as text): records keep them as the id encodes them too.
        self.loose = tuple(n for n, s in self.specs.items() if _mentions_any(s.annotation))


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _is_classvar(annotation: Any) -> bool:
    """Whether an annotation (maybe a string, under ``from __future__ import annotations``)
    is ``ClassVar[...]``: a class attribute such as ``resources``, never a parameter."""
    if isinstance(annotation, str):
        return annotation.replace(" ", "").split("[", 1)[0].rsplit(".", 1)[-1] == "ClassVar"
    return annotation is ClassVar or typing.get_origin(annotation) is ClassVar


def _mentions_task(annotation: Any) -> bool:
    if isinstance(annotation, type):
        return issubclass(annotation, Task)
    return any(_mentions_task(a) for a in typing.get_args(annotation))


def _mentions_any(annotation: Any) -> bool:
    if annotation is Any:
        return True
    return any(_mentions_any(a) for a in typing.get_args(annotation))


def _resolve_hints(cls: type[Task]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except NameError:
        # Classes defined inside functions refer to each other by names that only exist in
        # the function's locals; resolve those against every known Task subclass by name.
        local = {c.__name__: c for c in _all_task_classes()}
        try:
            return typing.get_type_hints(cls, localns=local)
        except NameError as exc:
            raise TaskError(
                f"{task_name(cls)}: cannot resolve the parameter annotation {exc.name!r}; "
                "define or import it at module level",
                task=task_name(cls),
            ) from exc


def _all_task_classes() -> Iterator[type[Task]]:
    stack: list[type[Task]] = [Task]
    while stack:
        cls = stack.pop()
        yield cls
        stack.extend(cls.__subclasses__())


@dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(param, dataclasses.field)
)
class Task(TaskBase):
    """Base class of every task.

    Class attributes (not parameters):
        version: Bump it to move this task's id (and every downstream id) when its logic
            changes in a way the parameters do not show.
        rerun: Always run this task even when its output is cached.
        fail_on_empty_dump: Refuse to dump empty data frames, arrays, strings or lists.
        code_dependencies: Functions, classes or modules (or dotted names) whose code joins
            this task's code fingerprint, beyond what it names in its own package.
        library_versions: Installed distributions whose versions join the fingerprint.
        data_files: Files whose bytes join the fingerprint.

    Example:
        >>> class TaskA(tasuki.Task):
        ...     param: str
        ...     def output(self):
        ...         return self.make_target("task_a.pkl")
        ...     def run(self):
        ...         self.dump(f"hello {self.param}")
    """

    version: ClassVar[str | None] = None
    rerun: ClassVar[bool] = False
    fail_on_empty_dump: ClassVar[bool | None] = None
    code_dependencies: ClassVar[tuple[Any, ...]] = ()
    library_versions: ClassVar[tuple[str, ...]] = ()
    data_files: ClassVar[tuple[str | Path, ...]] = ()
    _tasuki_info: ClassVar[_ClassInfo | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        annotations = inspect.get_annotations(cls)
        clash = _RESERVED.intersection(annotations)
        if clash:
            raise TaskError(
                f"{task_name(cls)}: {', '.join(sorted(clash))} cannot be a parameter name; "
                f"tasuki.Task uses it. Rename the parameter.",
                task=task_name(cls),
            )
        for name, value in list(cls.__dict__.items()):
            # Let `x: list[int] = [1]` work like tasuki.param([1]) instead of dataclasses'
            # "mutable default" ValueError.
            if (
                name in annotations
                and isinstance(value, list | dict | set)
                and not _is_classvar(annotations[name])
            ):
                setattr(cls, name, param(default=value))
        dataclasses.dataclass(frozen=True, kw_only=True, eq=False, repr=False)(cls)
        cls._tasuki_info = None
        generated_init = cls.__init__

        def __init__(self: Task, *args: Any, **kw: Any) -> None:
            try:
                generated_init(self, *args, **kw)
            except TypeError as exc:
                if exc.__traceback__ is not None and exc.__traceback__.tb_next is None:
                    raise _signature_error(type(self), args, kw) from None
                raise

        __init__.__doc__ = generated_init.__doc__
        __init__.__signature__ = _signature_of(generated_init)  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign,assignment]

    def __post_init__(self) -> None:
        cls = type(self)
        info = cls.__dict__.get("_tasuki_info") or cls._info()
        values = self.__dict__
        for name, check, annotation, default in info.checkers:
            value = values[name]
            if value is not default and not check(value):
                plain = from_numpy(value)  # np.float64(0.5) from a grid or a data frame
                if plain is not value and check(plain):
                    object.__setattr__(self, name, plain)
                    continue
                raise ParameterError(
                    f"{info.name}: parameter {name!r} must be {type_name(annotation)}, got "
                    f"{type(value).__name__} {value!r}. Pass {_a(type_name(annotation))} "
                    "(the command line and settings files convert text for you).",
                    task=info.name,
                    parameter=name,
                    value=repr(value),
                    expected=type_name(annotation),
                )
        for name, widen in info.wideners:  # an int given for a float is that float
            value = values[name]
            wide = widen(value)
            if wide is not value:
                object.__setattr__(self, name, wide)
        for name, fast, fix in info.exact:  # a StrEnum given for a str is that str
            value = values[name]
            if type(value) is not fast:
                fixed = fix(value)
                if fixed is not value:
                    object.__setattr__(self, name, fixed)
        for name, where, annotation in info.frozen:  # its id is made from it: nobody may
            value = values[name]  # change it later
            if annotation is not None and holds_tuple(value):  # as made from its record
                value = as_recorded(value, annotation)
            frozen = freeze(value, where)
            if frozen is not value:
                object.__setattr__(self, name, frozen)

    @classmethod
    def _info(cls) -> _ClassInfo:
        info = cls.__dict__.get("_tasuki_info")
        if info is None:
            info = _ClassInfo(cls)
            cls._tasuki_info = info
        return info

    # ---------------------------------------------------------------- identity

    @classmethod
    def task_name(cls) -> str:
        """``module:QualName``, the name used by the CLI, records and ids."""
        return cls._info().name

    @classmethod
    def param_specs(cls) -> dict[str, ParamSpec]:
        """The parameters of this task class, by name."""
        return dict(cls._info().specs)

    @property
    def param_values(self) -> dict[str, Any]:
        """All parameter values by name."""
        return {name: self.__dict__[name] for name in type(self)._info().specs}

    @property
    def unique_id(self) -> str:
        """Hex sha256 of the task name, version, significant parameters and upstream ids."""
        # Kept on the value once computed: an id is pure identity (class, version,
        # significant parameters, upstream ids) and the value is frozen, so it cannot go
        # stale. Nothing else about a build is kept on task values (see core.graph.Node).
        uid: str | None = self.__dict__.get(UID)
        if uid is None:
            compute_ids([self])
            uid = self.__dict__[UID]
        return uid

    def __hash__(self) -> int:
        return hash(self.unique_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return type(other) is type(self) and other.unique_id == self.unique_id

    def __repr__(self) -> str:
        parts = []
        for name, value in self.param_values.items():
            shown = (
                f"{type(value).__name__}(id={value.unique_id[:10]})"
                if isinstance(value, Task)
                else redact(repr(value))  # reprs reach logs, errors and summaries
            )
            parts.append(f"{name}={shown}")
        return f"{type(self).__qualname__}({', '.join(parts)})"

    # ---------------------------------------------------------------- the three methods

    def requires(self) -> Task | Sequence[Task] | Mapping[str, Task] | None:
        """What this task needs. Override; the default needs nothing."""
        return None

    def output(self) -> Target | Sequence[Target] | Mapping[str, Target] | None:
        """What this task writes. The default is ``<snake_case class name>.pkl``."""
        return self.make_target(_CAMEL.sub("_", type(self).__name__).lower() + ".pkl")

    def run(self) -> None:
        """Compute and ``dump`` the outputs. Override."""
        raise TaskError(
            f"{type(self).task_name()} does not define run(); every task that writes an "
            "output must compute it in run()",
            task=type(self).task_name(),
        )

    # ---------------------------------------------------------------- targets

    def make_target(self, name: str) -> FileTarget:
        """A file in the workspace: ``<module path>/<stem>_<unique id>.<ext>``.

        The extension picks the format (``.pkl``, ``.parquet``, ``.csv.gz``...).
        """
        from tasuki.formats import format_for

        key = self._key_for(name)
        try:
            fmt = format_for(key)
        except FormatError as exc:
            raise type(exc)(
                f"{type(self).task_name()}.output(): {exc}", **getattr(exc, "fields", {})
            ) from exc
        return FileTarget(key, fmt)

    def make_model_target(
        self,
        name: str,
        *,
        save_function: Callable[[Any, Path], Any],
        load_function: Callable[[Path], Any],
    ) -> ModelTarget:
        """A model kept as several files zipped into one ``.zip`` output.

        Args:
            name: File name ending in ``.zip``.
            save_function: ``save_function(model, directory)`` writes the model's files.
            load_function: ``load_function(directory)`` returns the model.
        """
        if not name.endswith(".zip"):
            raise FormatError(
                f"{type(self).task_name()}.make_model_target({name!r}): model targets are zip "
                "files; end the name with .zip",
                name=name,
            )
        return ModelTarget(self._key_for(name), save_function, load_function)

    def make_directory_target(
        self, name: str, *, rows_per_file: int = 1_000_000, as_: str = "arrow"
    ) -> DirectoryTarget:
        """A folder of Parquet parts for data too large for one file.

        Args:
            name: Folder name (no extension needed).
            rows_per_file: Rows per Parquet part.
            as_: What ``load`` returns: ``"arrow"``, ``"pandas"`` or ``"polars"``.
        """
        return DirectoryTarget(self._key_for(name.rstrip("/")), rows_per_file, as_)

    def _key_for(self, name: str) -> str:
        folder, _, base = name.rpartition("/")
        stem, dot, ext = base.partition(".")
        module = type(self).__module__.replace(".", "/")
        prefix = f"{module}/{folder}/" if folder else f"{module}/"
        return f"{prefix}{stem}_{self.unique_id}{dot}{ext}"

    # ---------------------------------------------------------------- load / dump

    def dump(self, obj: Any, name: str | None = None) -> None:
        """Write ``obj`` to this task's output (or to the output called ``name``)."""
        ctx = context.current("dump", self)
        target = _pick_target(self, declared_outputs(self), name, "output")
        where = f"{type(self).task_name()}.dump()"
        fail = self.fail_on_empty_dump
        info = target.dump(
            ctx.store,
            obj,
            fail_on_empty=ctx.fail_on_empty_dump if fail is None else fail,
            where=where,
        )
        ctx.written[target.key] = info

    def load(self, target: str | Task | None = None) -> Any:
        """Read what this task requires.

        ``load()`` reads the single requirement (a list / dict of requirements gives a list /
        dict of values); ``load("name")`` the requirement called ``name`` in a dict;
        ``load(task)`` the output of a task it requires (an equal value will do).
        """
        ctx = context.current("load", self)
        # What the running task reads must be among its requirements, whichever task's
        # load() reads it (``Other().load()`` inside ``run()`` reads Other's requirements).
        reader = ctx.task if isinstance(ctx.task, Task) else None
        if isinstance(target, Task):
            if reader is not None:
                check_read(reader, target, ctx)
            return load_task_outputs(target, ctx.store)
        if target is not None and not isinstance(target, str):
            name = type(self).task_name()
            raise TaskError(
                f"{name}.load({target!r}): load() takes nothing (what requires() returns), "
                "the name of an entry of requires()'s dict, or one task it requires; got a "
                f"{type(target).__name__}",
                task=name,
                name=repr(target)[:200],
            )
        # The running task's requirements as its graph node holds them: those values have
        # their ids already (a fresh requires() call would walk the whole upstream again).
        requires = ctx.requires if ctx.task is self else self.requires()
        if target is not None:
            if not isinstance(requires, dict) or target not in requires:
                known = list(requires) if isinstance(requires, dict) else []
                raise TaskError(
                    f"{type(self).task_name()}.load({target!r}): requires() has no entry "
                    f"{target!r}; entries: {known or 'none (requires() is not a dict)'}",
                    task=type(self).task_name(),
                    name=target,
                )
            requires = requires[target]
        elif requires is None:
            name = type(self).task_name()
            raise TaskError(
                f"{name}.load(): {name} requires nothing (its requires() returns None), so "
                "there is nothing to load; return the task whose output it reads from "
                "requires(), e.g. `def requires(self): return Prepare()`",
                task=name,
            )
        if reader is not None and reader is not self:
            for task in flatten(requires):
                check_read(reader, task, ctx)
        return _map_structure(requires, lambda t: load_task_outputs(t, ctx.store))

    def load_data_frame(
        self,
        target: str | Task | None = None,
        *,
        required_columns: Sequence[str] | None = None,
        drop_columns: bool = False,
    ) -> Any:
        """``load()`` a data frame and check it has ``required_columns``.

        Several data frames (list requirements) are concatenated. With ``drop_columns`` only
        the required columns are kept.
        """
        from tasuki.formats import check_columns, concat_frames

        where = f"{type(self).task_name()}.load_data_frame"
        value = self.load(target)
        if isinstance(value, list):
            value = concat_frames(value, where=where)
        if required_columns:
            check_columns(value, list(required_columns), where=where)
            if drop_columns:
                value = value[list(required_columns)]
        return value

    @property
    def task_log(self) -> dict[str, Any]:
        """A dict kept in this run's record (metrics, notes): ``self.task_log["auc"] = 0.9``."""
        return context.current("task_log", self).task_log

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record a metric of this run: ``self.log_metric("val/loss", 0.31, step=epoch)``.

        The value goes into this run's record (``metrics``) whether or not a tracker is
        configured, and from there to the build's hooks (MLflow tracking logs it as a metric
        of the task's run). NaN and infinities are kept.

        Raises:
            TaskError: called outside ``run()``, or a key that is not 1-250 characters of
                letters, digits, ``_ - . /`` and spaces, a value that is not a real number,
                or a step that is not an int.
        """
        ctx = context.current("log_metric", self)
        ctx.metrics.append(context.metric_entry(type(self).task_name(), key, value, step))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """``log_metric`` for each item of ``metrics`` (all checked before any is kept).

        Raises:
            TaskError: as :meth:`log_metric`, for the first bad item; ``metrics`` is not a
                mapping.
        """
        ctx = context.current("log_metrics", self)
        name = type(self).task_name()
        if not isinstance(metrics, Mapping):
            raise TaskError(
                f"{name}.log_metrics({metrics!r}): pass a mapping of key -> number, e.g. "
                "{'loss': 0.3, 'acc': 0.9}",
                task=name,
            )
        entries = [context.metric_entry(name, k, v, step) for k, v in metrics.items()]
        ctx.metrics.extend(entries)


def declared_outputs(task: Task) -> Any:
    """``task.output()``; while a build runs, from the task's graph node (computed once per
    node and build)."""
    ctx = context._CURRENT.get()
    if ctx is not None:
        if ctx.task is task:
            return ctx.outputs
        if ctx.outputs_of is not None:
            return ctx.outputs_of(task)
    return task.output()


def check_read(reader: Task, task: Task, ctx: context.RunContext) -> None:
    """Refuse ``reader.load(task)`` (or ``tasuki.load(task)`` while ``reader`` runs) of a
    task that ``reader`` does not require: a build
    neither makes it first nor runs ``reader`` again when its output changes (what a run
    read is known by its requirements), so the output would be made from whatever the
    workspace held, and kept after that changed."""
    if ctx.required_ids is None:
        ctx.required_ids = frozenset(t.unique_id for t in flatten(ctx.requires))
    if task.unique_id in ctx.required_ids:
        return
    name, other = type(reader).task_name(), type(task).task_name()
    raise TaskError(
        f"{name}.load({other}[{task.unique_id[:10]}]): {other} with these parameters is not "
        f"among what {name}.requires() returns, so a build would neither make it first nor "
        f"run {name} again when its output changes. Return it from requires() (or from a "
        "dict there, and load it by name); outside a build, tasuki.load(task) reads any "
        "task's output",
        task=name,
        name=other,
    )


def _map_structure(structure: Any, fn: Callable[[Task], Any]) -> Any:
    if isinstance(structure, Task):
        return fn(structure)
    if isinstance(structure, dict):
        return {k: _map_structure(v, fn) for k, v in structure.items()}
    if isinstance(structure, list | tuple):
        return [_map_structure(v, fn) for v in structure]
    return None


def load_task_outputs(task: Task, store: Store, *, fresh: bool = False) -> Any:
    """The outputs of a finished ``task``, each checked against its run record: a size or
    content hash that differs raises CorruptOutputError naming the file and the task.

    ``fresh`` reads the record again rather than what this process remembers of it (outside
    a build: another process may have run the task again since)."""
    uid = task.unique_id
    # In a build's run: the state of each record read here, to compare with what the run
    # began with (another build may have run the task again since, maybe more than once).
    ctx = context._CURRENT.get()
    inputs = ctx.inputs if ctx is not None else None

    def one(target: Target) -> Any:
        if not target.in_store:
            return target.load(store)
        states: list[str] | None = None if inputs is None else []
        known = expected_output(store, target.key, uid, fresh=fresh, states=states)
        if known is None:
            _check_finished(task, store, target)
            return target.load(store)
        name, entry = known
        expected = _expected(uid, name, entry)
        try:
            try:
                value = target.load(store, expected=expected)
            except CorruptOutputError:
                if fresh:
                    raise
                # What this process remembers of the record may be older than the file: the
                # task ran again in another process since (a worker forked before a damaged
                # output's producer was run again). Its record now decides.
                now = expected_output(store, target.key, uid, fresh=True, states=states)
                if now is None or now[1] == entry:
                    raise
                name, entry = now
                expected = _expected(uid, name, entry)
                value = target.load(store, expected=expected)
            if ctx is not None and states and inputs is not None and states[-1] != inputs.get(uid):
                ctx.moved.add(uid)
            return value
        except FileNotFoundError as exc:
            if isinstance(exc, OutputGoneError) or store.exists(target.key):
                raise  # said already, or something the format reads besides the output
            raise OutputGoneError(
                f"{task!r}: its output {target.key} is not in workspace {redact(store.url)} "
                "any more (removed since its run finished). Build the task again "
                "(tasuki.build or `tasuki run`)",
                key=target.key,
                uid=uid,
                task=type(task).task_name(),
            ) from exc

    return _map_targets(declared_outputs(task), one)


def _expected(uid: str, name: str, entry: dict[str, Any]) -> Expected:
    return Expected(uid, name, entry.get("size"), entry.get("xxh3"), entry.get("stamp"))


def _check_finished(task: Task, store: Store, target: Target) -> None:
    """Refuse what no finished run's record names: the build takes such an output as not
    made (its run stopped between writing it and its record, or wrote other files), so a
    load must too."""
    from tasuki.core.records import RunRecord

    try:
        record = RunRecord.read(store, task.unique_id)
    except FileNotFoundError:
        record = None
    except ValueError:
        return  # an unreadable record: the load goes on, and says what is wrong with the file
    where = redact(store.url)
    fields = {"key": target.key, "uid": task.unique_id, "task": type(task).task_name()}
    if record is not None:
        # A finished run that wrote other outputs than output() declares now (an
        # insignificant parameter or the code changed the file name): whatever is at this
        # key is not what that run made, as the build's check says too.
        raise OutputGoneError(
            f"{task!r}: its last run in workspace {where} did not write {target.key} (its "
            f"run record lists {', '.join(str(o.get('key')) for o in record.outputs) or 'none'}"
            "): output() declares other files now. Build the task again (tasuki.build or "
            "`tasuki run`)",
            **fields,
        )
    if store.exists(target.key):
        raise OutputGoneError(
            f"{task!r} has no finished run in workspace {where}: {target.key} is there, but no "
            "run record says the run that wrote it finished (it stopped before its record was "
            "written, or the record was removed), so it is not taken as the task's output. "
            "Build the task again (tasuki.build or `tasuki run`)",
            **fields,
        )
    raise OutputGoneError(
        f"{task!r} has not been built in workspace {where}: no run record and no {target.key}. "
        "Build it first (tasuki.build or `tasuki run`), or point at the workspace that holds "
        "it",
        **fields,
    )


def _map_targets(outputs: Any, fn: Callable[[Target], Any]) -> Any:
    if isinstance(outputs, Target):
        return fn(outputs)
    if isinstance(outputs, dict):
        return {k: _map_targets(v, fn) for k, v in outputs.items()}
    if isinstance(outputs, list | tuple):
        return [_map_targets(v, fn) for v in outputs]
    return None


def _pick_target(task: Task, outputs: Any, name: str | None, what: str) -> Target:
    if name is None:
        if isinstance(outputs, Target):
            return outputs
        raise TaskError(
            f"{type(task).task_name()}.dump(obj) needs a name: output() returns "
            f"{type(outputs).__name__}; call dump(obj, name) with one of "
            f"{list(outputs) if isinstance(outputs, dict) else 'its indexes'}",
            task=type(task).task_name(),
        )
    if isinstance(outputs, dict) and name in outputs:
        return outputs[name]  # type: ignore[no-any-return]
    if isinstance(outputs, list | tuple) and name.isdigit() and int(name) < len(outputs):
        return outputs[int(name)]  # type: ignore[no-any-return]
    known = list(outputs) if isinstance(outputs, dict) else []
    hint = _close_matches(name, [str(k) for k in known], n=1)
    raise TaskError(
        f"{type(task).task_name()}.dump(obj, {name!r}): {what}() has no entry {name!r}; "
        f"entries: {known}" + (f". Did you mean {hint[0]!r}?" if hint else ""),
        task=type(task).task_name(),
        name=name,
    )


def _signature_of(fn: Callable[..., Any]) -> Any:
    return inspect.signature(fn)


def _signature_error(cls: type[Task], args: tuple[Any, ...], kw: dict[str, Any]) -> ParameterError:
    info = cls._info()
    name = info.name
    if args:
        return ParameterError(
            f"{name}: parameters are keyword-only; got positional {args!r}. "
            f"Write {cls.__qualname__}({', '.join(f'{p}=...' for p in info.specs)}).",
            task=name,
        )
    unknown = [k for k in kw if k not in info.specs]
    if unknown:
        hints = [_close_matches(k, list(info.specs), n=1) for k in unknown]
        suggestion = "".join(f" Did you mean {h[0]!r}?" for h in hints if h)
        return ParameterError(
            f"{name}: unknown parameter {', '.join(map(repr, unknown))}. "
            f"Parameters: {', '.join(info.specs) or 'none'}.{suggestion}",
            task=name,
            parameter=unknown[0],
        )
    missing = [s for n, s in info.specs.items() if not s.has_default and n not in kw]
    listed = ", ".join(
        f"{s.name}: {type_name(s.annotation)}" + (f" ({s.description})" if s.description else "")
        for s in missing
    )
    return ParameterError(
        f"{name}: missing required parameter {listed}. Pass it as "
        f"{cls.__qualname__}({missing[0].name if missing else '?'}=...) or on the command line "
        f"as --{(missing[0].name if missing else '?').replace('_', '-')} VALUE.",
        task=name,
        parameter=missing[0].name if missing else "",
    )


def import_task(path: str) -> type[Task]:
    """Import a task class from ``module.path:ClassName`` (or ``module.path.ClassName``)."""
    import importlib

    from tasuki._registry import split_path
    from tasuki.errors import TaskNotFoundError

    try:
        module_name, qualname = split_path(path, dotted=True)
    except ImportError:
        raise TaskNotFoundError(
            f"task path {path!r} is not of the form 'package.module:TaskClass'", path=path
        ) from None
    try:
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskNotFoundError(
            f"cannot import module {module_name!r} for task {path!r}: {exc}. Check the "
            "spelling and that the package is installed or on PYTHONPATH.",
            path=path,
        ) from exc
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            _refuse_a_module(f"{module_name}.{qualname}", path)
            known = sorted(
                n
                for n, v in vars(module).items()
                if isinstance(v, type) and issubclass(v, Task) and v is not Task
            )
            hint = _close_matches(qualname, known, n=1)
            raise TaskNotFoundError(
                f"module {module_name!r} has no task {qualname!r}. Tasks there: "
                f"{', '.join(known) or 'none'}" + (f". Did you mean {hint[0]!r}?" if hint else ""),
                path=path,
            )
    if isinstance(obj, types.ModuleType):
        _refuse_a_module(obj.__name__, path)
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise TaskNotFoundError(f"{path!r} is a {type(obj).__name__}, not a tasuki.Task", path=path)
    return obj


def _refuse_a_module(name: str, path: str) -> None:
    """Raise a TaskNotFoundError naming the tasks of module ``name`` when ``path`` named
    that module rather than a task in it (``tasuki run mypkg.pipeline``); return when
    ``name`` is no module."""
    import importlib

    from tasuki.errors import TaskNotFoundError

    try:
        module = sys.modules.get(name) or importlib.import_module(name)
    except ImportError:
        return
    tasks = sorted(
        f"{name}:{n}"
        for n, v in vars(module).items()
        if isinstance(v, type) and issubclass(v, Task) and v.__module__ == name
    )
    raise TaskNotFoundError(
        f"{path!r} is a module, not a task: name a task in it as 'module:TaskClass'"
        + (f" ({', '.join(tasks)})" if tasks else " (it defines none)"),
        path=path,
    )


def _evaluate_own_annotations() -> None:
    """Keep the annotations of Task and TaskBase evaluated (they are strings here, under
    ``from __future__ import annotations``). The first value of every task class asks
    ``typing.get_type_hints``, which evaluates the annotations of the whole MRO: these eight
    were compiled and evaluated again for each class, about a third of its first value."""
    for klass in (TaskBase, Task):
        own = inspect.get_annotations(klass)
        module = sys.modules[klass.__module__].__dict__
        scope = dict(vars(klass))  # as get_type_hints looks names up for a class
        klass.__annotations__ = {
            name: eval(value, scope, module) if isinstance(value, str) else value
            for name, value in own.items()
        }


_evaluate_own_annotations()


def _close_matches(word: str, possibilities: list[str], n: int) -> list[str]:
    """``difflib.get_close_matches``, imported on this error path only (difflib is a few
    ms of every ``import tasuki`` otherwise)."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n)
