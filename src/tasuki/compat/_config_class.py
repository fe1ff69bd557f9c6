"""luigi's ``Config``, gokart's ``inherits_config_params``, ``PandasTypeConfig`` and
``SerializableParameter``: the configuration-shaped parts of gokart code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from tasuki.compat._params import NO_DEFAULT, Parameter
from tasuki.compat._task import TaskOnKart
from tasuki.errors import ParameterError, UnsupportedError

__all__ = [
    "Config",
    "PandasTypeConfig",
    "PandasTypeError",
    "SerializableParameter",
    "check_pandas_types",
    "inherits_config_params",
]

C = TypeVar("C", bound=type[TaskOnKart])


class Config(TaskOnKart):
    """luigi's ``Config``: a class of parameters read from its ``[ClassName]`` section.

    ``MasterConfig().param`` is the value from the configuration (or the default); it is
    never built.
    """

    def run(self) -> None:
        """A configuration class is not a task to build."""
        raise UnsupportedError(
            f"{type(self).task_name()} is a luigi.Config: it holds parameters, it is not a "
            "task to build. Read its values with MasterConfig().param.",
            construct="luigi.Config as a task",
        )


class inherits_config_params:
    """gokart's decorator: a task's parameters not given in code take the values of the
    same-named (or ``parameter_alias``-mapped) parameters of ``config_class``."""

    def __init__(
        self, config_class: type[TaskOnKart], parameter_alias: Mapping[str, str] | None = None
    ) -> None:
        self.config_class = config_class
        self.parameter_alias = dict(parameter_alias or {})

    def __call__(self, task_class: C) -> C:
        sources = list(task_class.__dict__.get("__config_sources__", ()))
        sources.append((self.config_class, self.parameter_alias))
        task_class.__config_sources__ = tuple(sources)  # type: ignore[attr-defined]
        return task_class


class PandasTypeError(Exception):
    """A dumped data frame has a value of another type than its PandasTypeConfig says."""


_TYPE_CONFIGS: dict[str | None, type[PandasTypeConfig]] = {}


class PandasTypeConfig(Config):
    """gokart's column type check: subclasses set ``task_namespace`` and return
    ``{column: type}`` from ``type_dict()``; every data frame a task of that namespace
    dumps is checked value by value."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _TYPE_CONFIGS[cls.__dict__.get("task_namespace")] = cls

    @classmethod
    def type_dict(cls) -> dict[str, Any]:
        """``{column name: type}``; override it."""
        return {}

    @classmethod
    def check(cls, df: Any) -> None:
        """Raise PandasTypeError naming the first column with a value of another type."""
        for column, expected in cls.type_dict().items():
            if column not in df.columns:
                continue
            for value in df[column]:
                if not isinstance(value, expected):
                    raise PandasTypeError(
                        f'expected type is "{expected}", but "{type(value)}" is passed in '
                        f'column "{column}".'
                    )


def check_pandas_types(obj: Any, task_namespace: str | None) -> None:
    """Check a data frame against the PandasTypeConfig of ``task_namespace``, if any."""
    config = _TYPE_CONFIGS.get(task_namespace)
    if config is None or type(obj).__name__ != "DataFrame":
        return
    config.check(obj)


class SerializableParameter(Parameter[Any]):
    """gokart's parameter for an object of ``object_type`` with ``gokart_serialize()`` and
    ``gokart_deserialize(text)``; its serialized text is what enters the unique id."""

    def __init__(self, object_type: type, default: Any = NO_DEFAULT, **kw: Any) -> None:
        for method in ("gokart_serialize", "gokart_deserialize"):
            if not callable(getattr(object_type, method, None)):
                raise ParameterError(
                    f"SerializableParameter(object_type={object_type.__name__}): the class has "
                    f"no {method}() method; define gokart_serialize(self) -> str and "
                    "classmethod gokart_deserialize(cls, text)",
                    value=object_type.__name__,
                )
        super().__init__(default=default, **kw)
        self.object_type = object_type
        _register_encoder(object_type)

    def parse(self, x: str) -> Any:
        return self.object_type.gokart_deserialize(x)  # type: ignore[attr-defined]

    def from_code(self, x: Any) -> Any:
        return self.parse(x) if isinstance(x, str) else self.check(x)

    def check(self, x: Any) -> Any:
        if not isinstance(x, self.object_type):
            raise TypeError(f"expected a {self.object_type.__name__}")
        return x

    def serialize(self, x: Any) -> str:
        return str(x.gokart_serialize())


_ENCODED: set[type] = set()


def _register_encoder(object_type: type) -> None:
    # tasuki ids encode values by type; these objects are encoded by their own text.
    if object_type in _ENCODED:
        return
    from tasuki.core.fingerprint import encode

    def _encode(value: Any) -> Any:
        return {"$gokart_serializable": [object_type.__qualname__, value.gokart_serialize()]}

    encode.register(object_type)(_encode)
    _ENCODED.add(object_type)
