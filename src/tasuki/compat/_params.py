"""luigi's parameter classes, as declarations that become typed tasuki parameters.

A compat parameter is never read at run time: when a ``TaskOnKart`` subclass is created, each
parameter object becomes a dataclass field of that class (:attr:`Parameter.annotation` is its
type, ``significant`` and ``description`` carry over). What the objects keep is luigi's text
forms, needed at the edges: :meth:`Parameter.parse` for ``.ini`` files and ``--Task-param``
flags, :meth:`Parameter.normalize` for values given in code, and :meth:`Parameter.serialize`
(luigi 3.8's exact text) for gokart's unique ids when adopting a gokart workspace.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from tasuki.errors import ParameterError

__all__ = ["NO_DEFAULT", "PARAMETER_CLASSES", "Parameter"]

T = TypeVar("T")


class _NoDefault:
    _instance: ClassVar[_NoDefault | None] = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no default>"


#: The ``default`` of a parameter declared without one (it must then be given).
NO_DEFAULT: Any = _NoDefault()


class Parameter(Generic[T]):
    """luigi's ``Parameter``: a value of any type, given as text on the command line.

    Becomes a tasuki parameter annotated :attr:`annotation` (``Any`` here: luigi never checked
    a plain Parameter's type; the codemod writes ``str``).
    """

    #: The annotation of the tasuki field this parameter becomes.
    annotation: Any = Any
    _counter_next: ClassVar[int] = 0

    def __class_getitem__(cls, item: Any) -> Any:
        # `x: luigi.Parameter[str] = luigi.Parameter()` (gokart's typed style): the
        # subscript is for type checkers; the class is what runs.
        return cls

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        is_global: bool = False,
        significant: bool = True,
        description: str | None = None,
        config_path: Mapping[str, str] | None = None,
        positional: bool = True,
        always_in_help: bool = False,
        batch_method: Callable[..., Any] | None = None,
        visibility: Any = None,
    ) -> None:
        self.default = default
        self.significant = significant
        self.description = description
        self.positional = positional and not is_global
        self.config_path = dict(config_path) if config_path else None
        self.visibility = visibility
        # luigi orders a task's parameters by creation, across the class hierarchy; gokart's
        # unique id lists them in that order.
        self._counter = Parameter._counter_next
        Parameter._counter_next += 1

    @property
    def has_default(self) -> bool:
        """Whether a default was declared."""
        return self.default is not NO_DEFAULT

    def parse(self, x: str) -> Any:
        """The value of the text ``x`` (a config file or command line value)."""
        return x

    def normalize(self, x: Any) -> Any:
        """The canonical form of a value given in code (luigi freezes lists to tuples...)."""
        return x

    def serialize(self, x: Any) -> str:
        """luigi's text form of a value (what gokart hashes into its unique id)."""
        return str(x)

    def check(self, x: Any) -> Any:
        """``normalize`` plus the check luigi makes at construction (choices, ranges)."""
        return self.normalize(x)

    def from_code(self, x: Any) -> Any:
        """A value given in code: text for a typed parameter is parsed (luigi kept the text
        and warned), anything else checked."""
        if isinstance(x, str) and self.annotation is not str and self.annotation is not Any:
            return self.parse(x)
        return self.check(x)

    def __repr__(self) -> str:
        shown = "" if self.default is NO_DEFAULT else f"default={self.default!r}"
        return f"{type(self).__name__}({shown})"


class StrParameter(Parameter[str]):
    """A ``str``."""

    annotation = str

    def parse(self, x: str) -> Any:
        return str(x)


class IntParameter(Parameter[int]):
    """An ``int``."""

    annotation = int

    def parse(self, x: str) -> Any:
        return int(x)


class FloatParameter(Parameter[float]):
    """A ``float``."""

    annotation = float

    def parse(self, x: str) -> Any:
        return float(x)


class BoolParameter(Parameter[bool]):
    """A ``bool``; ``False`` unless given (luigi's implicit default)."""

    annotation = bool
    IMPLICIT_PARSING = "implicit"
    EXPLICIT_PARSING = "explicit"
    parsing = IMPLICIT_PARSING

    def __init__(self, default: Any = NO_DEFAULT, parsing: str | None = None, **kw: Any) -> None:
        super().__init__(default=False if default is NO_DEFAULT else default, **kw)
        self.parsing = type(self).parsing if parsing is None else parsing

    def parse(self, x: str) -> Any:
        s = str(x).lower()
        if s == "true":
            return True
        if s == "false":
            return False
        raise ValueError(f"cannot interpret {x!r} as boolean (write true or false)")

    def normalize(self, x: Any) -> Any:
        if isinstance(x, bool):
            return x
        try:
            return self.parse(x)
        except ValueError:
            return x  # left for the type check to name


class _DateBase(Parameter[dt.date]):
    annotation = dt.date
    date_format = "%Y-%m-%d"

    def __init__(
        self, default: Any = NO_DEFAULT, interval: int = 1, start: Any = None, **kw: Any
    ) -> None:
        super().__init__(default=default, **kw)
        self.interval = interval
        self.start = start

    def parse(self, x: str) -> Any:
        return dt.datetime.strptime(x, self.date_format).date()

    def normalize(self, x: Any) -> Any:
        if isinstance(x, dt.datetime):
            return x.date()
        return x

    def serialize(self, x: Any) -> str:
        return str(x) if x is None else str(x.strftime(self.date_format))


class DateParameter(_DateBase):
    """A ``datetime.date``, ``YYYY-MM-DD`` as text."""


class MonthParameter(_DateBase):
    """A ``datetime.date`` (the first of a month), ``YYYY-MM`` as text."""

    date_format = "%Y-%m"


class YearParameter(_DateBase):
    """A ``datetime.date`` (the first of a year), ``YYYY`` as text."""

    date_format = "%Y"


class _DatetimeBase(Parameter[dt.datetime]):
    annotation = dt.datetime
    date_format = "%Y-%m-%dT%H%M%S"
    _granularity = dt.timedelta(seconds=1)

    def __init__(
        self, default: Any = NO_DEFAULT, interval: int = 1, start: Any = None, **kw: Any
    ) -> None:
        super().__init__(default=default, **kw)
        self.interval = interval
        self.start = start or dt.datetime(1970, 1, 1)

    def parse(self, x: str) -> Any:
        return dt.datetime.strptime(x, self.date_format)

    def normalize(self, x: Any) -> Any:
        if not isinstance(x, dt.datetime):
            if isinstance(x, dt.date):
                x = dt.datetime(x.year, x.month, x.day)
            else:
                return x
        # luigi clamps to the parameter's granularity (an hour, a minute, a second).
        x = x.replace(microsecond=0)
        start = self.start
        if start.tzinfo != x.tzinfo:
            start = start.replace(tzinfo=x.tzinfo)
        delta = (x - start).total_seconds()
        step = (self._granularity * self.interval).total_seconds()
        return x - dt.timedelta(seconds=delta % step)

    def serialize(self, x: Any) -> str:
        return str(x) if x is None else str(x.strftime(self.date_format))


class DateHourParameter(_DatetimeBase):
    """A ``datetime.datetime`` to the hour, ``YYYY-MM-DDTHH`` as text."""

    date_format = "%Y-%m-%dT%H"
    _granularity = dt.timedelta(hours=1)


class DateMinuteParameter(_DatetimeBase):
    """A ``datetime.datetime`` to the minute, ``YYYY-MM-DDTHHMM`` as text."""

    date_format = "%Y-%m-%dT%H%M"
    _granularity = dt.timedelta(minutes=1)

    def parse(self, x: str) -> Any:
        try:
            return dt.datetime.strptime(x, "%Y-%m-%dT%HH%M")  # luigi's older form
        except ValueError:
            return super().parse(x)


class DateSecondParameter(_DatetimeBase):
    """A ``datetime.datetime`` to the second, ``YYYY-MM-DDTHHMMSS`` as text."""


_TD_SIMPLE = re.compile(
    r"^\s*(?:(?P<weeks>\d+)\s*w(?:eeks?)?)?\s*(?:(?P<days>\d+)\s*d(?:ays?)?)?\s*"
    r"(?:(?P<hours>\d+)\s*h(?:ours?)?)?\s*(?:(?P<minutes>\d+)\s*m(?:inutes?)?)?\s*"
    r"(?:(?P<seconds>\d+)\s*s(?:econds?)?)?\s*$"
)
_TD_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class TimeDeltaParameter(Parameter[dt.timedelta]):
    """A ``datetime.timedelta``: seconds, ISO 8601 (``P1DT2H``) or ``1 w 2 d 3 h`` as text."""

    annotation = dt.timedelta

    def parse(self, x: str) -> Any:
        try:
            return dt.timedelta(seconds=float(x))
        except ValueError:
            pass
        for pattern in (_TD_ISO, _TD_SIMPLE):
            m = pattern.match(x)
            if m and any(m.groupdict().values()):
                return dt.timedelta(**{k: int(v) for k, v in m.groupdict().items() if v})
        raise ValueError(f"invalid time delta {x!r} (write seconds, P1DT2H or '1 w 2 d 3 h')")

    def serialize(self, x: Any) -> str:
        weeks, days = divmod(x.days, 7)
        hours, rest = divmod(x.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{weeks} w {days} d {hours} h {minutes} m {seconds} s"


def freeze(value: Any) -> Any:
    """Lists (nested too) as tuples, as luigi freezes list and dict parameters; dicts stay
    dicts (tasuki ids encode dicts canonically, and list and tuple alike)."""
    if isinstance(value, Mapping):
        return {k: freeze(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _dumps(x: Any) -> str:
    return json.dumps(x, default=_json_default)


class ListParameter(Parameter[tuple[Any, ...]]):
    """A list of JSON values, kept as a tuple (luigi freezes lists)."""

    annotation = tuple[Any, ...]

    def __init__(self, default: Any = NO_DEFAULT, schema: Any = None, **kw: Any) -> None:
        super().__init__(default=default, **kw)
        self.schema = schema

    def parse(self, x: str) -> Any:
        if not isinstance(x, str):
            return freeze(x)
        value = json.loads(x)
        return None if value is None else freeze(list(value))

    def normalize(self, x: Any) -> Any:
        return freeze(x)

    def serialize(self, x: Any) -> str:
        return _dumps(x)


class TupleParameter(ListParameter):
    """A tuple of JSON values."""


class DictParameter(Parameter[dict[str, Any]]):
    """A dict of JSON values."""

    annotation = dict[str, Any]

    def __init__(self, default: Any = NO_DEFAULT, schema: Any = None, **kw: Any) -> None:
        super().__init__(default=default, **kw)
        self.schema = schema

    def parse(self, x: str) -> Any:
        return freeze(x if not isinstance(x, str) else json.loads(x))

    def normalize(self, x: Any) -> Any:
        return freeze(x)

    def serialize(self, x: Any) -> str:
        return _dumps(x)


class EnumParameter(Parameter[enum.Enum]):
    """A member of ``enum``, its name as text."""

    def __init__(
        self, default: Any = NO_DEFAULT, *, enum: type[enum.Enum] | None = None, **kw: Any
    ):
        if enum is None:
            raise ParameterError(
                "EnumParameter needs enum=<the Enum class>, e.g. "
                "luigi.EnumParameter(enum=Color, default=Color.RED)"
            )
        super().__init__(default=default, **kw)
        self.enum = enum
        self.annotation = enum

    def parse(self, x: str) -> Any:
        try:
            return self.enum[x]
        except KeyError:
            raise ValueError(
                f"{x!r} is not a member of {self.enum.__name__} "
                f"({', '.join(self.enum.__members__)})"
            ) from None

    def serialize(self, x: Any) -> str:
        return str(x.name)


class EnumListParameter(Parameter[tuple[enum.Enum, ...]]):
    """A tuple of members of ``enum``, comma separated names as text."""

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        *,
        enum: type[enum.Enum] | None = None,
        sep: str = ",",
        **kw: Any,
    ) -> None:
        if enum is None:
            raise ParameterError("EnumListParameter needs enum=<the Enum class>")
        super().__init__(default=default, **kw)
        self.enum = enum
        self.sep = sep
        self.annotation = tuple[enum, ...]  # type: ignore[valid-type]

    def parse(self, x: str) -> Any:
        return tuple(self.enum[v] for v in x.split(self.sep) if v)

    def normalize(self, x: Any) -> Any:
        return tuple(x) if isinstance(x, list) else x

    def serialize(self, x: Any) -> str:
        return self.sep.join(e.name for e in x)


class NumericalParameter(Parameter[Any]):
    """A number of ``var_type`` within ``[min_value, max_value)`` (luigi's default ends)."""

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        *,
        var_type: type | None = None,
        min_value: Any = None,
        max_value: Any = None,
        left_op: Callable[[Any, Any], bool] | None = None,
        right_op: Callable[[Any, Any], bool] | None = None,
        **kw: Any,
    ) -> None:
        import operator

        if var_type is None or min_value is None or max_value is None:
            raise ParameterError(
                "NumericalParameter needs var_type=, min_value= and max_value=, e.g. "
                "luigi.NumericalParameter(var_type=int, min_value=0, max_value=10)"
            )
        super().__init__(default=default, **kw)
        self.var_type = var_type
        self.annotation = var_type
        self.min_value, self.max_value = min_value, max_value
        self.left_op = left_op or operator.le
        self.right_op = right_op or operator.lt

    def parse(self, x: str) -> Any:
        return self.check(self.var_type(x))

    def check(self, x: Any) -> Any:
        if isinstance(x, int | float) and not (
            self.left_op(self.min_value, x) and self.right_op(x, self.max_value)
        ):
            raise ValueError(f"{x!r} is outside {self.min_value}..{self.max_value}")
        return x


class ChoiceParameter(Parameter[Any]):
    """One of ``choices`` (of ``var_type``, ``str`` by default)."""

    def __init__(
        self,
        default: Any = NO_DEFAULT,
        *,
        choices: Sequence[Any] | None = None,
        var_type: type = str,
        **kw: Any,
    ) -> None:
        if choices is None:
            raise ParameterError(
                "ChoiceParameter needs choices=[...], e.g. "
                "luigi.ChoiceParameter(choices=['a', 'b'])"
            )
        super().__init__(default=default, **kw)
        self.choices = tuple(choices)
        self.var_type = var_type
        self.annotation = var_type

    def parse(self, x: str) -> Any:
        return self.check(self.var_type(x))

    def check(self, x: Any) -> Any:
        if x not in self.choices:
            raise ValueError(f"{x!r} is not one of the choices {list(self.choices)}")
        return x


class PathParameter(Parameter[Path]):
    """A ``pathlib.Path``."""

    annotation = Path

    def __init__(
        self, default: Any = NO_DEFAULT, *, absolute: bool = False, exists: bool = False, **kw: Any
    ) -> None:
        super().__init__(default=default, **kw)
        self.absolute = absolute
        self.exists = exists

    def parse(self, x: str) -> Any:
        return self.normalize(x)

    def normalize(self, x: Any) -> Any:
        if not isinstance(x, str | Path):
            return x
        path = Path(x)
        if self.absolute:
            path = path.absolute()
        if self.exists and not path.exists():
            raise ValueError(f"the path {path} does not exist")
        return path


def _optional(base: type[Parameter[Any]], doc: str) -> type[Parameter[Any]]:
    """luigi's ``Optional*Parameter``: ``None`` by default, the empty text is ``None``."""

    def __init__(self: Any, default: Any = None, **kw: Any) -> None:
        base.__init__(self, default=default, **kw)
        # An Enum / Numerical / Choice base sets its annotation per instance.
        self.annotation = self.annotation | None

    def parse(self: Any, x: Any) -> Any:
        if not isinstance(x, str):
            return x
        return base.parse(self, x) if x else None

    def normalize(self: Any, x: Any) -> Any:
        return None if x is None else base.normalize(self, x)

    def serialize(self: Any, x: Any) -> str:
        return "" if x is None else base.serialize(self, x)

    def check(self: Any, x: Any) -> Any:
        return None if x is None else base.check(self, x)

    name = "Optional" + (base.__name__ if base is not Parameter else "Parameter")
    return type(
        name,
        (base,),
        {
            "__init__": __init__,
            "parse": parse,
            "normalize": normalize,
            "serialize": serialize,
            "check": check,
            "__doc__": doc,
            "__module__": __name__,
        },
    )


OptionalParameter = _optional(Parameter, "An optional value (``None`` by default).")
OptionalStrParameter = _optional(StrParameter, "An optional ``str``.")
OptionalIntParameter = _optional(IntParameter, "An optional ``int``.")
OptionalFloatParameter = _optional(FloatParameter, "An optional ``float``.")
OptionalBoolParameter = _optional(BoolParameter, "An optional ``bool``.")
OptionalListParameter = _optional(ListParameter, "An optional list (a tuple).")
OptionalTupleParameter = _optional(TupleParameter, "An optional tuple.")
OptionalDictParameter = _optional(DictParameter, "An optional dict.")
OptionalPathParameter = _optional(PathParameter, "An optional ``pathlib.Path``.")
OptionalChoiceParameter = _optional(ChoiceParameter, "An optional choice.")
OptionalNumericalParameter = _optional(NumericalParameter, "An optional number in a range.")
# luigi's plain Parameter is typed Any here; its Optional form keeps Any (Any | None is Any).
OptionalParameter.annotation = Any
OptionalParameter.__init__ = (  # type: ignore[method-assign]
    lambda self, default=None, **kw: Parameter.__init__(self, default=default, **kw)
)

#: Every parameter class luigi users import, by name.
PARAMETER_CLASSES: dict[str, type[Parameter[Any]]] = {
    cls.__name__: cls
    for cls in (
        Parameter,
        StrParameter,
        IntParameter,
        FloatParameter,
        BoolParameter,
        DateParameter,
        MonthParameter,
        YearParameter,
        DateHourParameter,
        DateMinuteParameter,
        DateSecondParameter,
        TimeDeltaParameter,
        ListParameter,
        TupleParameter,
        DictParameter,
        EnumParameter,
        EnumListParameter,
        NumericalParameter,
        ChoiceParameter,
        PathParameter,
        OptionalParameter,
        OptionalStrParameter,
        OptionalIntParameter,
        OptionalFloatParameter,
        OptionalBoolParameter,
        OptionalListParameter,
        OptionalTupleParameter,
        OptionalDictParameter,
        OptionalPathParameter,
        OptionalChoiceParameter,
        OptionalNumericalParameter,
    )
}
