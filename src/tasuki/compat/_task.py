"""``TaskOnKart``: gokart's task base class as a real tasuki task.

A subclass's luigi parameter attributes (``x = luigi.IntParameter(default=3)``) become typed
dataclass fields when the class is created (``x: int = 3``), so a gokart task is a tasuki
task: same unique ids, caching, records, ``why``, executors and notifications. What gokart
does at construction is kept: values from ``.ini`` files and ``--Task-param`` flags fill the
parameters not given, luigi's normalisation freezes lists, text given for a typed parameter
is parsed.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tasuki.compat._formats import gokart_format_for
from tasuki.compat._ini import CommandLine, LuigiConfigParser
from tasuki.compat._params import (
    NO_DEFAULT,
    BoolParameter,
    IntParameter,
    ListParameter,
    OptionalIntParameter,
    OptionalParameter,
    Parameter,
)
from tasuki.core import context
from tasuki.core.params import param, type_name
from tasuki.core.targets import FileTarget
from tasuki.core.task import Task
from tasuki.errors import ConfigError, ParameterError, TaskError, UnsupportedError

if TYPE_CHECKING:
    from tasuki.core.targets import ModelTarget

__all__ = [
    "ListTaskInstanceParameter",
    "TaskInstanceParameter",
    "TaskOnKart",
    "families",
]

_TaskT = TypeVar("_TaskT", bound=Task)

#: Task family -> the compat classes of that name (luigi's register; several means ambiguous).
_FAMILIES: dict[str, list[type[TaskOnKart]]] = {}


class TaskInstanceParameter(Parameter[_TaskT]):
    """gokart's parameter holding a task (``expected_type`` / ``bound`` narrow it);
    ``TaskInstanceParameter[TaskOnKart[int]]`` annotations work as in gokart."""

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        *,
        expected_type: type[Task] | None = None,
        bound: type[Task] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(default=default, **kw)
        self.expected_type = expected_type or bound or Task
        self.annotation = self.expected_type

    def from_code(self, x: Any) -> Any:
        return self.check(x)  # a task is never given as text in code

    def parse(self, x: str) -> Any:
        raise ValueError(
            "a task parameter cannot be given as text here; make the task in code "
            "(gokart.build(TaskB(a=TaskA()))) or run it with tasuki run, which takes "
            '{"task": "module:Task", "params": {...}}'
        )

    def serialize(self, x: Any) -> str:
        from tasuki.compat._gokart_id import serialize_task_parameter

        return serialize_task_parameter(x)


class ListTaskInstanceParameter(Parameter[tuple[_TaskT, ...]]):
    """gokart's parameter holding a list of tasks (kept as a tuple)."""

    annotation = tuple[Task, ...]

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        *,
        expected_elements_type: type[Task] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(default=default, **kw)
        if expected_elements_type is not None:
            self.annotation = tuple[expected_elements_type, ...]  # type: ignore[valid-type]

    def parse(self, x: str) -> Any:
        return TaskInstanceParameter.parse(self, x)  # type: ignore[arg-type]

    def normalize(self, x: Any) -> Any:
        return tuple(x) if isinstance(x, list) else x

    def serialize(self, x: Any) -> str:
        from tasuki.compat._gokart_id import serialize_task_list_parameter

        return serialize_task_list_parameter(x)


class ExplicitBoolParameter(BoolParameter):
    """gokart's bool parameter that takes ``true`` / ``false`` on the command line."""

    parsing = BoolParameter.EXPLICIT_PARSING


def _base_params() -> dict[str, Parameter[Any]]:
    # gokart 1.12's own parameters, every one insignificant: they never enter an id.
    return {
        "workspace_directory": Parameter(default="./resources/", significant=False),
        "local_temporary_directory": Parameter(default="./resources/tmp/", significant=False),
        "rerun": BoolParameter(default=False, significant=False),
        "strict_check": BoolParameter(default=False, significant=False),
        "modification_time_check": BoolParameter(default=False, significant=False),
        "serialized_task_definition_check": BoolParameter(default=False, significant=False),
        "delete_unnecessary_output_files": BoolParameter(default=False, significant=False),
        "significant": BoolParameter(default=True, significant=False),
        "fix_random_seed_methods": ListParameter(
            default=("random.seed", "numpy.random.seed"), significant=False
        ),
        "fix_random_seed_value": IntParameter(default=-42497368, significant=False),
        "redis_host": OptionalParameter(default=None, significant=False),
        "redis_port": OptionalIntParameter(default=None, significant=False),
        "redis_timeout": IntParameter(default=180, significant=False),
        "fail_on_empty_dump": ExplicitBoolParameter(default=False, significant=False),
        "store_index_in_feather": ExplicitBoolParameter(default=True, significant=False),
        "cache_unique_id": ExplicitBoolParameter(default=True, significant=False),
        "should_dump_supplementary_log_files": ExplicitBoolParameter(
            default=True, significant=False
        ),
        "complete_check_at_run": ExplicitBoolParameter(default=True, significant=False),
        "should_lock_run": ExplicitBoolParameter(default=False, significant=False),
    }


_BASE = _base_params()
_BASE_DEFAULTS = {name: p.normalize(p.default) for name, p in _BASE.items()}


class TaskOnKart(Task):
    """gokart's ``TaskOnKart``, running on tasuki (``TaskOnKart[T]`` names what it dumps, as in
    gokart; the type argument is for type checkers only).

    Declare parameters as in gokart (``x = luigi.IntParameter(default=3)``); each becomes a
    typed tasuki parameter. ``requires()`` defaults to the task-valued parameters (as gokart),
    ``output()`` to ``<module path>/<ClassName>.pkl``.
    """

    # gokart's own parameters (all insignificant) are plain attributes, not dataclass fields:
    # given ones are set on the task after construction. Nineteen more fields on every task
    # cost a third more CPU per cached task (construction, checks, graph keys), for values
    # that never enter an id.
    # luigi's normalisation (every list a tuple, at any depth) runs on each construction,
    # a task made again from its record included: values are held as it leaves them.
    _values_as_recorded: ClassVar[bool] = False
    workspace_directory: ClassVar[str] = "./resources/"
    local_temporary_directory: ClassVar[str] = "./resources/tmp/"
    rerun: ClassVar[bool] = False
    strict_check: ClassVar[bool] = False
    modification_time_check: ClassVar[bool] = False
    serialized_task_definition_check: ClassVar[bool] = False
    delete_unnecessary_output_files: ClassVar[bool] = False
    significant: ClassVar[bool] = True
    fix_random_seed_methods: ClassVar[tuple[str, ...]] = ("random.seed", "numpy.random.seed")
    fix_random_seed_value: ClassVar[int] = -42497368
    redis_host: ClassVar[str | None] = None
    redis_port: ClassVar[int | None] = None
    redis_timeout: ClassVar[int] = 180
    fail_on_empty_dump: ClassVar[bool | None] = False
    store_index_in_feather: ClassVar[bool] = True
    cache_unique_id: ClassVar[bool] = True
    should_dump_supplementary_log_files: ClassVar[bool] = True
    complete_check_at_run: ClassVar[bool] = True
    should_lock_run: ClassVar[bool] = False

    __luigi_params__: ClassVar[dict[str, Parameter[Any]]] = _BASE
    task_namespace: ClassVar[str | None] = None
    _config_cache: ClassVar[tuple[tuple[int, int], dict[str, Any]] | None] = None

    def __class_getitem__(cls, item: Any) -> Any:
        # gokart's TaskOnKart[T] (T: what the task dumps) is for type checkers only.
        return cls

    def __init_subclass__(cls, **kwargs: Any) -> None:
        _declare(cls)
        super().__init_subclass__(**kwargs)
        _wrap_init(cls)
        if "run" in cls.__dict__:
            cls.run = _seeded(cls.__dict__["run"])  # type: ignore[method-assign,assignment]
        # gokart tasks may keep scratch attributes on self; parameters stay frozen.
        cls.__setattr__ = _setattr  # type: ignore[method-assign]
        cls.__delattr__ = _delattr  # type: ignore[method-assign]
        _FAMILIES.setdefault(cls.get_task_family(), []).append(cls)

    @classmethod
    def get_task_family(cls) -> str:
        """luigi's task family: the class name, after ``task_namespace.`` when set."""
        ns = cls.__dict__.get("task_namespace") or cls.task_namespace
        return f"{ns}.{cls.__name__}" if ns else cls.__name__

    @classmethod
    def get_params(cls) -> list[tuple[str, Parameter[Any]]]:
        """``(name, luigi parameter)`` pairs in luigi's order."""
        return list(cls.__luigi_params__.items())

    def get_task_params(self) -> dict[str, Any]:
        """The values of every parameter, by name (gokart's helper)."""
        return {name: self.__dict__[name] for name in type(self)._info().specs}

    def to_str_params(
        self, only_significant: bool = False, only_public: bool = False
    ) -> dict[str, str]:
        """luigi's text form of the parameters (what gokart hashes and dumps)."""
        return {
            name: p.serialize(getattr(self, name))
            for name, p in type(self).__luigi_params__.items()
            if p.significant or not only_significant
        }

    @property
    def param_values(self) -> dict[str, Any]:
        """The parameter values by name, and gokart's own parameters given a value other than
        their defaults (records, summaries and ``tasuki show`` stay about the task's own)."""
        values = self.__dict__
        out = {name: values[name] for name in type(self)._info().specs}
        if len(values) > len(out):  # something beyond the fields (the cached id, a setting)
            for name, default in _BASE_DEFAULTS.items():
                if name in values and name not in out and values[name] != default:
                    out[name] = values[name]
        return out

    def make_unique_id(self) -> str:
        """This task's tasuki unique id (gokart's method name)."""
        return self.unique_id

    # ------------------------------------------------------------------ requires / output

    def requires(self) -> Any:
        """The task-valued parameters by name (gokart's default), or nothing."""
        values = self.__dict__
        out = {}
        for name in type(self)._info().task_params:
            value = values[name]
            if isinstance(value, Task) or (
                isinstance(value, tuple) and value and all(isinstance(v, Task) for v in value)
            ):
                out[name] = value
        return out or None

    def run(self) -> None:
        """Nothing, as luigi's ``Task.run``: a task with no run() of its own only requires
        others (gokart's tutorial ``Main``) and writes no output."""

    def output(self) -> Any:
        """``<module path>/<ClassName>.pkl`` (gokart's default); none for a task with no
        ``run()`` of its own."""
        if type(self).run is TaskOnKart.run:
            return None
        return self.make_target()

    def make_target(
        self,
        relative_file_path: str | None = None,
        use_unique_id: bool = True,
        processor: Any = None,
    ) -> FileTarget:
        """gokart's ``make_target``: the extension picks the format; the id is in the name."""
        where = f"{type(self).task_name()}.make_target({relative_file_path!r})"
        if not use_unique_id:
            raise UnsupportedError(
                f"{where}: use_unique_id=False writes one file for every parameter value, so "
                "a cached output could be another parameter's. tasuki always puts the id in "
                "the name; remove use_unique_id=False (a fixed path for other tools: write a "
                "copy in run(), or read the output with tasuki.load_output).",
                construct="make_target(use_unique_id=False)",
            )
        if processor is not None:
            raise UnsupportedError(
                f"{where}: processor= is gokart's file processor; tasuki picks the format by "
                "the extension. Remove processor= (register a format for a new extension "
                "with tasuki.formats.register).",
                construct="make_target(processor=...)",
            )
        gokart_path = relative_file_path
        if gokart_path is None:
            module = type(self).__module__.replace(".", "/")
            gokart_path = f"{module}/{type(self).__name__}.pkl"
            relative_file_path = f"{type(self).__name__}.pkl"
        name = relative_file_path or gokart_path
        gokart_format = gokart_format_for(name)
        if gokart_format is None:
            target = Task.make_target(self, name)
        else:  # gokart reads this extension otherwise than tasuki: keep gokart's meaning
            target = FileTarget(self._key_for(name), gokart_format)
        object.__setattr__(target, "gokart_path", gokart_path)
        return target

    def make_model_target(  # type: ignore[override]
        self,
        relative_file_path: str,
        save_function: Callable[[Any, str], Any],
        load_function: Callable[[str], Any],
        use_unique_id: bool = True,
    ) -> ModelTarget:
        """gokart's model target: ``save_function(model, file_path)`` and
        ``load_function(file_path)`` get a file path inside a folder zipped as the output."""
        if not use_unique_id:
            self.make_target(relative_file_path, use_unique_id=False)  # raises, names it
        io = _ModelFileIO(save_function, load_function)
        target = Task.make_model_target(
            self, relative_file_path, save_function=io.save, load_function=io.load
        )
        object.__setattr__(target, "gokart_path", relative_file_path)
        return target

    def make_large_data_frame_target(
        self,
        relative_file_path: str | None = None,
        use_unique_id: bool = True,
        max_byte: int = 2**26,
    ) -> ModelTarget:
        """A data frame kept as Parquet inside a zip (gokart keeps pickled chunks)."""
        if not use_unique_id:
            self.make_target(relative_file_path, use_unique_id=False)  # raises, names it
        name = relative_file_path or f"{type(self).__name__}.zip"
        target = Task.make_model_target(
            self, name, save_function=_save_frame, load_function=_load_frame
        )
        module = type(self).__module__.replace(".", "/")
        object.__setattr__(target, "gokart_path", relative_file_path or f"{module}/{name}")
        return target

    # ------------------------------------------------------------------ load / dump

    def load(self, target: Any = None) -> Any:
        """``load()``, ``load("name")``, ``load(task)`` or ``load([task, ...])``."""
        if isinstance(target, list | tuple):
            return [self.load(t) for t in target]
        return super().load(target)

    def load_generator(self, target: Any = None) -> Iterator[Any]:
        """The values ``load(target)`` gives, one at a time (lists flattened)."""
        value = self.load(target)
        if isinstance(value, list):
            yield from value
        elif isinstance(value, dict):
            yield from ({k: v} for k, v in value.items())
        else:
            yield value

    def load_data_frame(
        self,
        target: Any = None,
        required_columns: Any = None,
        drop_columns: bool = False,
    ) -> Any:
        """gokart's ``load_data_frame`` (``required_columns`` may be a set)."""
        columns = required_columns
        if isinstance(columns, set | frozenset):
            columns = sorted(columns)  # a set has no order; sorted names are repeatable
        return super().load_data_frame(target, required_columns=columns, drop_columns=drop_columns)

    def dump(self, obj: Any, target: Any = None, custom_labels: Any = None) -> None:
        """``dump(obj)`` or ``dump(obj, "name")`` for a dict of outputs."""
        if target is not None and not isinstance(target, str):
            raise UnsupportedError(
                f"{type(self).task_name()}.dump(obj, <target object>): dump to one of this "
                "task's outputs by its name in output()'s dict: self.dump(obj, 'name')",
                construct="dump(obj, target)",
            )
        from tasuki.compat._config_class import check_pandas_types

        check_pandas_types(obj, type(self).task_namespace)
        super().dump(obj, target)

    def input(self) -> Any:
        """Not supported: read requirements with ``self.load()``."""
        raise UnsupportedError(
            f"{type(self).task_name()}.input(): luigi targets are not tasuki's; read what "
            "this task requires with self.load() / self.load('name') / self.load_data_frame()",
            construct="input()",
        )


class _ModelFileIO:
    """gokart's file-path model functions adapted to tasuki's folder-based ones (picklable
    when the user's functions are, so worker processes can use them)."""

    def __init__(self, save: Callable[[Any, str], Any], load: Callable[[str], Any]) -> None:
        self._save, self._load = save, load

    def save(self, model: Any, directory: Path) -> None:
        self._save(model, str(directory / "model.pkl"))

    def load(self, directory: Path) -> Any:
        return self._load(str(directory / "model.pkl"))


def _save_frame(frame: Any, directory: Path) -> None:
    frame.to_parquet(directory / "data.parquet")


def _load_frame(directory: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(directory / "data.parquet")


# --------------------------------------------------------------------------- class creation


def _declare(cls: type[TaskOnKart]) -> None:
    """Turn the luigi parameter attributes of ``cls`` into annotated dataclass fields."""
    inherited: dict[str, Parameter[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        inherited.update(base.__dict__.get("__luigi_params__", {}))
    for name, value in list(cls.__dict__.items()):
        if name in inherited and not isinstance(value, Parameter) and not _is_code(value):
            # luigi: a plain value hides the base's parameter (gokart's tutorial writes
            # `rerun = True`); here it becomes that parameter's default: it reads the same.
            redeclared = copy.copy(inherited[name])
            redeclared.default = value
            setattr(cls, name, redeclared)
    own = {n: v for n, v in cls.__dict__.items() if isinstance(v, Parameter)}
    # The class's own annotations only (cls.__annotations__ may be a base's on 3.11).
    annotations = dict(inspect.get_annotations(cls))
    for name, p in own.items():
        if p.has_default:
            default = p.normalize(p.default)
            field = param(
                default=default, significant=p.significant, description=p.description or ""
            )
        else:
            field = param(significant=p.significant, description=p.description or "")
        # The annotation users wrote (luigi.Parameter[str], a string) is luigi's, not a type.
        # luigi takes None for any parameter; `DateParameter(default=None)` is common.
        optional = p.has_default and p.default is None and p.annotation is not Any
        annotations[name] = p.annotation | None if optional else p.annotation
        setattr(cls, name, field)
    for name in [n for n in inherited if n not in own and n in cls.__dict__]:
        # A subclass giving a parameter a plain value: luigi then has no parameter of that name.
        raise TaskError(
            f"{cls.__module__}:{cls.__qualname__}: {name} = {cls.__dict__[name]!r} hides the "
            f"parameter {name} of a base class. Declare it again as a parameter with that "
            f"default ({type(inherited[name]).__name__}(default=...)).",
            task=f"{cls.__module__}:{cls.__qualname__}",
            parameter=name,
        )
    cls.__annotations__ = annotations
    merged = dict(inherited)
    merged.update(own)
    cls.__luigi_params__ = dict(sorted(merged.items(), key=lambda kv: kv[1]._counter))
    cls._config_cache = None


def _is_code(value: Any) -> bool:
    return callable(value) or isinstance(value, property | classmethod | staticmethod)


def _wrap_init(cls: type[TaskOnKart]) -> None:
    init = cls.__init__
    luigi_params = cls.__luigi_params__
    # gokart's own parameters that this class did not declare again as its own.
    attributes_only = frozenset(_BASE) - {f.name for f in dataclasses.fields(cls)}

    @functools.wraps(init)
    def __init__(self: TaskOnKart, *args: Any, **kw: Any) -> None:
        if args:
            raise ParameterError(
                f"{cls.task_name()}: give parameters by name, e.g. "
                f"{cls.__qualname__}({', '.join(f'{n}=...' for n in _user_params(cls))}); "
                f"got positional {args!r}",
                task=cls.task_name(),
            )
        for config_class, alias in cls.__dict__.get("__config_sources__", ()):
            # @inherits_config_params: the config class's values come before the files'.
            for name, value in config_class().param_values.items():
                if name in _BASE:
                    continue
                key = alias.get(name, name)
                if key in luigi_params and key not in kw:
                    kw[key] = value
        for name, value in _config_defaults(cls).items():
            if name not in kw:
                kw[name] = value
        attributes = {}
        for name, value in kw.items():
            p = luigi_params.get(name)
            if p is not None:
                value = kw[name] = _given(cls, name, p, value)
                if name in attributes_only:
                    attributes[name] = value
        for name in attributes:
            del kw[name]
        init(self, **kw)
        for name, value in attributes.items():
            object.__setattr__(self, name, value)

    cls.__init__ = __init__  # type: ignore[method-assign,assignment]


def _user_params(cls: type[TaskOnKart]) -> list[str]:
    return [n for n in cls.__luigi_params__ if n not in _BASE]


def _given(cls: type[TaskOnKart], name: str, p: Parameter[Any], value: Any) -> Any:
    """A value given in code, normalised as luigi does; text for a typed parameter is parsed
    (luigi kept the text and warned)."""
    try:
        return p.from_code(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            f"{cls.task_name()}: parameter {name!r} ({type(p).__name__}) got {value!r}: {exc}. "
            f"Pass a {type_name(p.annotation)}.",
            task=cls.task_name(),
            parameter=name,
            value=repr(value),
            expected=type_name(p.annotation),
        ) from None


def _config_defaults(cls: type[TaskOnKart]) -> dict[str, Any]:
    """Parameter values from ``[TaskOnKart]``, ``--Family-param`` flags and ``[Family]``
    (gokart's order), parsed once per change of the configuration."""
    config = LuigiConfigParser.instance()
    key = (config.generation, CommandLine.generation)
    cached = cls.__dict__.get("_config_cache")
    if cached is not None and cached[0] == key:
        values: dict[str, Any] = cached[1]
        return values
    out: dict[str, Any] = {}
    family = cls.get_task_family()
    own = set(cls.__dict__.get("__luigi_params__", {})) - set(
        c for base in cls.__mro__[1:] for c in base.__dict__.get("__luigi_params__", {})
    )
    for name, p in cls.__luigi_params__.items():
        found = None
        # gokart fills [TaskOnKart] values first, for its own parameters and those the class
        # itself declares; then luigi: command line, then the task's section.
        if name in _BASE or name in own:
            found = _from_config(config, "TaskOnKart", name)
        if found is None and (family, name) in CommandLine.values:
            found = (
                "--" + family + "-" + name.replace("_", "-"),
                family,
                name,
                CommandLine.values[(family, name)],
            )
        if found is None:
            found = _from_config(config, family, name)
        if found is not None:
            out[name] = _parse_config(cls, p, *found)
    cls._config_cache = (key, out)
    return out


def _from_config(
    config: LuigiConfigParser, section: str, name: str
) -> tuple[str, str, str, str] | None:
    if not config.has_section(section):
        return None
    for key in (name, name.replace("_", "-")):
        if config.has_option(section, key):
            return (config.where(section, key), section, key, config.get(section, key))
    return None


def _parse_config(
    cls: type[TaskOnKart], p: Parameter[Any], where: str, section: str, key: str, text: str
) -> Any:
    try:
        return p.check(p.parse(text))
    except (ValueError, TypeError, ParameterError) as exc:
        raise ConfigError(
            f"{where}: [{section}] {key} = {text!r} is not a valid {type(p).__name__} for "
            f"{cls.task_name()}.{key.replace('-', '_')} ({exc}). Write a "
            f"{type_name(p.annotation)}" + _example(p) + ".",
            path=where,
            section=section,
            key=key,
            value=text,
        ) from None


def _example(p: Parameter[Any]) -> str:
    if isinstance(p, ListParameter):
        return ', as JSON: ["a", 1]'
    date_format = getattr(p, "date_format", None)
    if date_format:
        return f" as {date_format}"
    return ""


_NO_SEED = -42497368  # gokart's "no fixed seed" value


def _seeded(run: Callable[[Any], None]) -> Callable[[Any], None]:
    """gokart seeds ``random`` and ``numpy.random`` before every run(): with
    ``fix_random_seed_value`` when set, else from its own unique id. The same seed here gives
    the same "random" results as on gokart."""

    @functools.wraps(run)
    def wrapped(self: TaskOnKart) -> None:
        if _SEEDED.get():  # a subclass's run() calling super().run(): seeded once, as gokart
            run(self)
            return
        token = _SEEDED.set(True)
        try:
            _seed(self)
            run(self)
        finally:
            _SEEDED.reset(token)

    return wrapped


_SEEDED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tasuki_compat_seeded", default=False
)


def _seed(task: TaskOnKart) -> None:
    if not (task.should_dump_supplementary_log_files and task.fix_random_seed_methods):
        return
    if task.fix_random_seed_value and task.fix_random_seed_value != _NO_SEED:
        seed = task.fix_random_seed_value
    else:
        seed = int(_gokart_id_of(task), 16) % (2**32 - 1)
    _set_seeds(task.fix_random_seed_methods, seed)


#: The key of a compat task's gokart unique id in its run record's task_log.
GOKART_ID_KEY = "gokart_unique_id"


def _gokart_id_of(task: TaskOnKart) -> str:
    """gokart's unique id of the running task, kept in its record's task_log: a later run of a
    task downstream reads its upstream's there instead of walking the whole graph again."""
    from tasuki.compat._gokart_id import shared_unique_id

    ctx = context._CURRENT.get()
    if ctx is None or ctx.task is not task:
        return shared_unique_id(task)

    def recorded(dep: Task) -> str | None:
        from tasuki.core.records import RunRecord

        try:
            found = RunRecord.read(ctx.store, dep.unique_id).task_log.get(GOKART_ID_KEY)
        except (FileNotFoundError, ValueError):
            return None
        return found if isinstance(found, str) else None

    gokart_id = shared_unique_id(task, ctx.requires, recorded)
    ctx.task_log[GOKART_ID_KEY] = gokart_id
    return gokart_id


_SEED_FUNCTIONS: dict[str, Callable[[int], Any]] = {}


def _set_seeds(methods: tuple[str, ...], seed: int) -> None:
    for method in methods:
        fn = _SEED_FUNCTIONS.get(method)
        if fn is None:
            fn = _seed_function(method)
            if fn is None:
                continue  # asked again next time: its module may be imported by then
            _SEED_FUNCTIONS[method] = fn
        fn(seed)


def _seed_function(method: str) -> Callable[[int], Any] | None:
    import importlib

    module_name, _, func = method.rpartition(".")
    if module_name.partition(".")[0] not in sys.modules:
        # Code that draws from numpy.random imported numpy already; importing it here would
        # cost every gokart task a third of a second. (gokart imports numpy itself.)
        return None
    try:
        fn: Callable[[int], Any] = getattr(importlib.import_module(module_name), func)
    except (ImportError, AttributeError, ValueError):
        return None  # gokart skips the methods it cannot find (numpy not installed...)
    return fn


def _setattr(self: Any, name: str, value: Any) -> None:
    if name in type(self)._info().specs:
        raise dataclasses.FrozenInstanceError(
            f"cannot assign to parameter {name!r} of {type(self).task_name()}: a task's "
            "parameters are its identity; make a new task with the other value"
        )
    object.__setattr__(self, name, value)


def _delattr(self: Any, name: str) -> None:
    if name in type(self)._info().specs:
        raise dataclasses.FrozenInstanceError(f"cannot delete parameter {name!r}")
    object.__delattr__(self, name)


def families() -> Mapping[str, list[type[TaskOnKart]]]:
    """Every compat task class made so far, by luigi task family."""
    return _FAMILIES
