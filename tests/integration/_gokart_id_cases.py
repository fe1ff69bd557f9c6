"""Equivalent task definitions for gokart (the peer), tasuki.compat and native tasuki tasks.

``GOKART`` is a module of gokart 1.12 code; ``compat_source()`` is the same code with the
import lines changed to tasuki.compat; ``NATIVE`` is what a hand (or the codemod) writes as
native tasuki tasks. ``CASES`` builds the same task values in each: ``{name: task}``.
"""

from __future__ import annotations

GOKART = """
import datetime
import enum
import pathlib

import gokart
import luigi


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Leaf(gokart.TaskOnKart):
    v = luigi.IntParameter(default=1)


class Child(Leaf):
    w = luigi.Parameter(default="w")


class Plain(gokart.TaskOnKart):
    a = luigi.Parameter()
    n = luigi.IntParameter(default=3)
    x = luigi.FloatParameter(default=0.5)
    flag = luigi.BoolParameter(default=False)
    day = luigi.DateParameter(default=datetime.date(2024, 1, 2))
    at = luigi.DateSecondParameter(default=datetime.datetime(2024, 1, 2, 3, 4, 5))
    span = luigi.TimeDeltaParameter(default=datetime.timedelta(days=9, seconds=3725))
    items = luigi.ListParameter(default=(1, "two", (3, 4.5)))
    opts = luigi.DictParameter(default={"b": 1, "a": [1, 2], "c": {"z": None}})
    color = luigi.EnumParameter(enum=Color, default=Color.BLUE)
    colors = luigi.EnumListParameter(enum=Color, default=(Color.RED, Color.BLUE))
    where = luigi.PathParameter(default=pathlib.Path("data/x.csv"))
    maybe = luigi.OptionalParameter(default=None)
    maybe_n = luigi.OptionalIntParameter(default=None)
    quiet = luigi.IntParameter(default=1, significant=False)
    text = luigi.Parameter(default="it's \\"quoted\\" \\u00fc")


class WithInstance(gokart.TaskOnKart):
    up = gokart.TaskInstanceParameter()
    ups = gokart.ListTaskInstanceParameter()
    k = luigi.Parameter(default="z")


class ReqList(gokart.TaskOnKart):
    def requires(self):
        return [Leaf(v=1), Leaf(v=2)]


class ReqDict(gokart.TaskOnKart):
    tag = luigi.Parameter(default="t")

    def requires(self):
        return {"b": Leaf(v=3), "a": [Leaf(v=4), Plain(a="q")]}


class Insignificant(gokart.TaskOnKart):
    def requires(self):
        return {"kept": Leaf(v=5), "dropped": Leaf(v=6, significant=False)}


class Chain(gokart.TaskOnKart):
    depth = luigi.IntParameter()

    def requires(self):
        return Chain(depth=self.depth - 1) if self.depth > 0 else Leaf(v=0)


class MoreKinds(gokart.TaskOnKart):
    hour = luigi.DateHourParameter(default=datetime.datetime(2024, 1, 2, 3))
    minute = luigi.DateMinuteParameter(default=datetime.datetime(2024, 1, 2, 3, 4))
    month = luigi.MonthParameter(default=datetime.date(2024, 2, 1))
    year = luigi.YearParameter(default=datetime.date(2024, 1, 1))
    pair = luigi.TupleParameter(default=((1, 2), ("a", "b")))
    choice = luigi.ChoiceParameter(choices=["a", "b"], default="b")
    number = luigi.NumericalParameter(var_type=float, min_value=0.0, max_value=10.0, default=1.5)
    strict = gokart.ExplicitBoolParameter(default=True)
    maybe_f = luigi.OptionalFloatParameter(default=None)
    maybe_b = luigi.OptionalBoolParameter(default=True)
    maybe_l = luigi.OptionalListParameter(default=None)
    maybe_d = luigi.OptionalDictParameter(default={"k": 1})
    maybe_p = luigi.OptionalPathParameter(default=None)
    plain_int = luigi.Parameter(default=7)


class Override(Leaf):
    v = luigi.IntParameter(default=11)
    u = luigi.Parameter(default="u")
"""

NATIVE = """
from __future__ import annotations

import datetime
import enum
import pathlib
from typing import Any

import tasuki


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Leaf(tasuki.Task):
    v: int = 1
    # gokart's TaskOnKart.significant, kept where a pipeline builds significant=False tasks
    significant: bool = tasuki.param(default=True, significant=False)


class Child(Leaf):
    w: str = "w"


class Plain(tasuki.Task):
    a: str
    n: int = 3
    x: float = 0.5
    flag: bool = False
    day: datetime.date = datetime.date(2024, 1, 2)
    at: datetime.datetime = datetime.datetime(2024, 1, 2, 3, 4, 5)
    span: datetime.timedelta = datetime.timedelta(days=9, seconds=3725)
    items: tuple[Any, ...] = (1, "two", (3, 4.5))
    opts: dict[str, Any] = tasuki.param(default={"b": 1, "a": [1, 2], "c": {"z": None}})
    color: Color = Color.BLUE
    colors: tuple[Color, ...] = (Color.RED, Color.BLUE)
    where: pathlib.Path = pathlib.Path("data/x.csv")
    maybe: str | None = None
    maybe_n: int | None = None
    quiet: int = tasuki.param(default=1, significant=False)
    text: str = "it's \\"quoted\\" \\u00fc"


class WithInstance(tasuki.Task):
    up: tasuki.Task
    ups: tuple[tasuki.Task, ...]
    k: str = "z"

    def requires(self):
        return {"up": self.up, "ups": self.ups}


class ReqList(tasuki.Task):
    def requires(self):
        return [Leaf(v=1), Leaf(v=2)]


class ReqDict(tasuki.Task):
    tag: str = "t"

    def requires(self):
        return {"b": Leaf(v=3), "a": [Leaf(v=4), Plain(a="q")]}


class Insignificant(tasuki.Task):
    def requires(self):
        return {"kept": Leaf(v=5), "dropped": Leaf(v=6, significant=False)}


class Chain(tasuki.Task):
    depth: int

    def requires(self):
        return Chain(depth=self.depth - 1) if self.depth > 0 else Leaf(v=0)
"""

#: Builds the same values in any of the three modules (``m``); evaluated there.
CASES = """{
    "leaf": m.Leaf(),
    "leaf_v7": m.Leaf(v=7),
    "child": m.Child(v=2, w="x"),
    "plain_defaults": m.Plain(a="hello"),
    "plain_values": m.Plain(
        a="b", n=-4, x=1e-7, flag=True, day=datetime.date(1999, 12, 31),
        at=datetime.datetime(2000, 2, 29, 23, 59, 58),
        span=datetime.timedelta(weeks=3, hours=5, seconds=1), items=("a", ("b", ("c",))),
        opts={"k": [1, {"n": 2.5}], "u": "\\u3042"}, color=m.Color.RED, colors=(m.Color.BLUE,),
        where=pathlib.Path("/abs/p"), maybe="m", maybe_n=0, quiet=99, text="'",
    ),
    "plain_quiet_differs": m.Plain(a="hello", quiet=5),
    "with_instance": m.WithInstance(up=m.Leaf(v=9), ups=(m.Child(w="a"), m.Leaf(v=8))),
    "nested_instance": m.WithInstance(
        up=m.WithInstance(up=m.Plain(a="deep"), ups=()), ups=(m.Leaf(),), k="kk"
    ),
    "req_list": m.ReqList(),
    "req_dict": m.ReqDict(),
    "insignificant": m.Insignificant(),
    "chain": m.Chain(depth=30),
}"""


#: Values only compat classes can describe exactly (luigi's parameter classes and order).
COMPAT_ONLY = """{
    "more_defaults": m.MoreKinds(),
    "more_values": m.MoreKinds(
        hour=datetime.datetime(1999, 12, 31, 23), minute=datetime.datetime(2000, 1, 1, 0, 59),
        month=datetime.date(2023, 11, 1), year=datetime.date(1990, 1, 1), pair=((3,),),
        choice="a", number=9.25, strict=False, maybe_f=0.5, maybe_b=False, maybe_l=(1, "x"),
        maybe_d=None, maybe_p=pathlib.Path("p/q"), plain_int="text",
    ),
    "override": m.Override(),
    "override_values": m.Override(v=3, u="w"),
}"""


def compat_source() -> str:
    """The gokart module with only its import lines changed."""
    return GOKART.replace("import gokart\n", "import tasuki.compat.gokart as gokart\n").replace(
        "import luigi\n", "import tasuki.compat.luigi as luigi\n"
    )
