"""luigi / gokart parameter declarations -> annotated tasuki fields, for the gokart codemod.

``x = luigi.IntParameter(default=3)`` becomes ``x: int = 3``; other options keep the call
(``tasuki.param(default=3, significant=False, description=...)``, its arguments' own
formatting kept); a list default of a ``ListParameter`` becomes a tuple literal (compat
normalizes lists to tuples: same value, same unique id). The annotations are those of
``tasuki.compat`` (its ``Parameter.annotation``), except that a plain ``Parameter`` is ``str``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from tasuki.compat._codemod_body import expression
from tasuki.compat._codemod_names import ModuleNames, dotted

__all__ = ["KINDS", "NotConvertedError", "ParamKind", "ParamOut", "convert_param", "param_class"]


class NotConvertedError(Exception):
    """Internal: why a class is left untouched (becomes the comment above it)."""


@dataclass(frozen=True)
class ParamKind:
    """How one luigi / gokart parameter class converts.

    ``annotation`` uses placeholders: DATE, DATETIME, TIMEDELTA, PATH, ANY, TASK, and
    ``{type}`` for the class given by ``type_arg`` (``enum=``, ``var_type=``,
    ``expected_type=``).
    """

    annotation: str
    implicit_default: str | None = None  # BoolParameter: False, Optional*: None
    tuple_default: bool = False  # a list default is written as a tuple
    type_arg: str | None = None  # the keyword naming the type, e.g. "enum"
    type_fallback: str | None = None  # annotation of {type} when type_arg is absent
    first_positional: str = "default"  # what a positional argument is
    dropped: tuple[str, ...] = ()  # options with no effect on values (checks, CLI parsing)
    is_task: bool = False


_OPT = "None"
_BASE: dict[str, ParamKind] = {
    "Parameter": ParamKind("str"),
    "StrParameter": ParamKind("str"),
    "IntParameter": ParamKind("int"),
    "FloatParameter": ParamKind("float"),
    "BoolParameter": ParamKind("bool", implicit_default="False", dropped=("parsing",)),
    "ExplicitBoolParameter": ParamKind("bool", implicit_default="False"),
    "DateParameter": ParamKind("DATE"),
    "MonthParameter": ParamKind("DATE"),
    "YearParameter": ParamKind("DATE"),
    "DateHourParameter": ParamKind("DATETIME"),
    "DateMinuteParameter": ParamKind("DATETIME"),
    "DateSecondParameter": ParamKind("DATETIME"),
    "TimeDeltaParameter": ParamKind("TIMEDELTA"),
    "PathParameter": ParamKind("PATH"),
    "ListParameter": ParamKind("tuple[ANY, ...]", tuple_default=True, dropped=("schema",)),
    "TupleParameter": ParamKind("tuple[ANY, ...]", tuple_default=True, dropped=("schema",)),
    "DictParameter": ParamKind("dict[str, ANY]", dropped=("schema",)),
    "EnumParameter": ParamKind("{type}", type_arg="enum"),
    "EnumListParameter": ParamKind("tuple[{type}, ...]", type_arg="enum", tuple_default=True),
    "ChoiceParameter": ParamKind(
        "{type}", type_arg="var_type", type_fallback="str", dropped=("choices",)
    ),
    "NumericalParameter": ParamKind(
        "{type}",
        type_arg="var_type",
        dropped=("min_value", "max_value", "left_op", "right_op"),
    ),
}


def _optional(kind: ParamKind) -> ParamKind:
    return ParamKind(
        f"{kind.annotation} | None",
        implicit_default=_OPT,
        tuple_default=kind.tuple_default,
        type_arg=kind.type_arg,
        type_fallback=kind.type_fallback,
        dropped=kind.dropped,
    )


#: Parameter classes by their canonical name (``luigi.IntParameter``).
KINDS: dict[str, ParamKind] = {
    **{f"luigi.{n}": k for n, k in _BASE.items() if n != "ExplicitBoolParameter"},
    "gokart.ExplicitBoolParameter": _BASE["ExplicitBoolParameter"],
    "gokart.ZonedDateSecondParameter": ParamKind("DATETIME"),
    **{
        f"luigi.Optional{n.removesuffix('Parameter')}Parameter": _optional(_BASE[n])
        for n in (
            "StrParameter",
            "IntParameter",
            "FloatParameter",
            "BoolParameter",
            "ListParameter",
            "TupleParameter",
            "DictParameter",
            "PathParameter",
            "ChoiceParameter",
            "NumericalParameter",
        )
    },
    "luigi.OptionalParameter": _optional(_BASE["Parameter"]),
    "gokart.TaskInstanceParameter": ParamKind(
        "{type}",
        type_arg="expected_type",
        type_fallback="TASK",
        first_positional="expected_type",
        is_task=True,
    ),
    "gokart.ListTaskInstanceParameter": ParamKind(
        "tuple[{type}, ...]",
        type_arg="expected_elements_type",
        type_fallback="TASK",
        first_positional="expected_elements_type",
        tuple_default=True,
        is_task=True,
    ),
}

# Options every parameter class takes that only change how luigi's command line shows or
# parses it; a converted field has no use for them.
_CLI_ONLY = ("positional", "always_in_help")
_PLACEHOLDER = re.compile(r"\b(DATE|DATETIME|TIMEDELTA|PATH|ANY|TASK)\b")


def param_class(names: ModuleNames, value: cst.BaseExpression | None) -> str | None:
    """The canonical name of the parameter class ``value`` calls, when it calls one.

    Names ending in ``Parameter`` count (also a user's own subclass, which is unknown to the
    codemod and so not converted); a luigi / gokart name counts only when it is a parameter
    class.
    """
    if not isinstance(value, cst.Call):
        return None
    resolved = names.resolve(value.func)
    if resolved is not None and resolved in KINDS:
        return resolved
    shown = resolved or dotted(value.func)
    if shown is not None and shown.rsplit(".", 1)[-1].endswith("Parameter"):
        return shown
    return None


@dataclass
class ParamOut:
    """A converted parameter: the new statement and what the rest of the codemod needs."""

    name: str
    kind: ParamKind
    statement: cst.AnnAssign
    cls_name: str  # canonical parameter class, e.g. luigi.IntParameter


def _fill(template: str, names: ModuleNames, type_code: str | None) -> str:
    def sub(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "ANY":
            return names.any()
        if token == "TASK":
            return f"{names.tasuki()}.Task"
        if token == "PATH":
            return names.path()
        return names.datetime(token.lower())

    if type_code is not None:
        template = template.replace("{type}", type_code)
    return _PLACEHOLDER.sub(sub, template)


def _tupled(value: cst.BaseExpression, names: ModuleNames) -> cst.BaseExpression:
    """A list literal as a tuple literal (its layout kept); anything else as ``tuple(x)``."""
    if isinstance(value, cst.Tuple) or (isinstance(value, cst.Name) and value.value == "None"):
        return value
    if isinstance(value, cst.List):
        elements = list(value.elements)
        if len(elements) == 1 and elements[0].comma is cst.MaybeSentinel.DEFAULT:
            elements[0] = elements[0].with_changes(comma=cst.Comma())
        return cst.Tuple(
            elements=elements,
            lpar=[cst.LeftParen(whitespace_after=value.lbracket.whitespace_after)],
            rpar=[cst.RightParen(whitespace_before=value.rbracket.whitespace_before)],
        )
    return cst.Call(func=cst.Name("tuple"), args=[cst.Arg(value)])


# Classes whose values luigi never checks or converts when given in code.
_UNTYPED = frozenset({"luigi.Parameter"})


def _typed_by_default(value: cst.BaseExpression) -> str:
    """The annotation of a plain ``Parameter`` from its default's literal: ``str`` for
    text (and ``None``), ``int``, ``float``, ``bool``, ``list`` / ``dict``, else ``Any``."""
    if isinstance(value, cst.SimpleString | cst.FormattedString | cst.ConcatenatedString):
        return "str"
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return "bool"
    if isinstance(value, cst.Name) and value.value == "None":
        return "str"
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus | cst.Plus):
        value = value.expression
    if isinstance(value, cst.Integer):
        return "int"
    if isinstance(value, cst.Float):
        return "float"
    if isinstance(value, cst.List):
        return "list[ANY]"
    if isinstance(value, cst.Tuple):
        return "tuple[ANY, ...]"
    if isinstance(value, cst.Dict):
        return "dict[ANY, ANY]"
    return "ANY"


def _literal(node: cst.BaseExpression, *values: str) -> bool:
    return isinstance(node, cst.Name) and node.value in values


def convert_param(
    *,
    name: str,
    call: cst.Call,
    cls_name: str,
    annotation: cst.Annotation | None,
    names: ModuleNames,
    code: cst.Module,
    forward: set[str],
) -> ParamOut:
    """Convert ``name = <cls_name>(...)`` (``annotation`` when the line was annotated).

    ``forward`` holds the class names not yet defined where this field sits: a type argument
    naming one is written as a string annotation (unless ``from __future__ import
    annotations``).

    Raises:
        NotConvertedError: an option or a parameter class with no tasuki equivalent.
    """
    kind = KINDS.get(cls_name)
    if kind is None:
        raise NotConvertedError(f"parameter {name!r}: unknown Parameter class {cls_name}")
    where = f"parameter {name!r} ({cls_name.rsplit('.', 1)[-1]})"
    kept: list[cst.Arg] = []  # the arguments tasuki.param() keeps
    default: cst.Arg | None = None
    type_code: str | None = None
    for i, arg in enumerate(call.args):
        if arg.star:
            raise NotConvertedError(f"{where}: *args / **kwargs")
        key = arg.keyword.value if arg.keyword is not None else None
        if key is None:
            if i > 0 or (kind.first_positional != "default" and len(call.args) > 1):
                raise NotConvertedError(f"{where}: positional arguments after the first")
            key = kind.first_positional
        if key == "default":
            default = arg
        elif key == kind.type_arg:
            type_code = code.code_for_node(arg.value)
            if type_code in forward and not names.future_annotations:
                type_code = repr(type_code)
        elif key == "significant":
            if not _literal(arg.value, "True"):
                kept.append(arg)
        elif key == "description":
            if not _literal(arg.value, "None"):
                kept.append(arg)
        elif (
            key in _CLI_ONLY
            or key in kind.dropped
            or (key == "visibility" and (dotted(arg.value) or "").endswith(".PUBLIC"))
        ):
            continue
        else:
            raise NotConvertedError(f"{where}: option {key}= has no tasuki equivalent")
    if type_code is None and kind.type_arg is not None:
        if kind.type_fallback is None:
            raise NotConvertedError(f"{where}: {kind.type_arg}= is not given")
        type_code = kind.type_fallback
    template = kind.annotation
    if cls_name in _UNTYPED and default is not None:
        template = _typed_by_default(default.value)  # luigi never checked its type
    ann_code = _fill(template, names, type_code)
    if (
        default is not None
        and _literal(default.value, "None")
        and not ann_code.endswith("| None")
        and ann_code != names.any()
    ):
        ann_code += " | None"  # `IntParameter(default=None)`: None is a value it takes
    if annotation is not None and not _mentions_foreign(annotation.annotation, names):
        new_ann = annotation  # the user's own type, e.g. `x: int = luigi.IntParameter()`
    else:
        new_ann = cst.Annotation(expression(ann_code))
    value: cst.BaseExpression | None = None
    if default is not None:
        value = default.value
        if kind.tuple_default:
            value = _tupled(value, names)
    elif kind.implicit_default is not None:
        value = cst.Name(kind.implicit_default)
    if kept:
        args: list[cst.Arg] = []
        if value is not None:
            args.append(
                cst.Arg(
                    value=value,
                    keyword=cst.Name("default"),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""),
                        whitespace_after=cst.SimpleWhitespace(""),
                    ),
                    comma=(default.comma if default is not None else cst.MaybeSentinel.DEFAULT),
                )
            )
        args += kept
        # The call's own trailing comma (or none) ends the new list; the others need one.
        args[-1] = args[-1].with_changes(comma=call.args[-1].comma)
        for j in range(len(args) - 1):
            if args[j].comma is cst.MaybeSentinel.DEFAULT:
                args[j] = args[j].with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                )
        value = call.with_changes(func=expression(f"{names.tasuki()}.param"), args=args)
    statement = cst.AnnAssign(
        target=cst.Name(name),
        annotation=new_ann,
        value=value,
        equal=cst.AssignEqual() if value is not None else cst.MaybeSentinel.DEFAULT,
    )
    return ParamOut(name=name, kind=kind, statement=statement, cls_name=cls_name)


def _mentions_foreign(node: cst.BaseExpression, names: ModuleNames) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            nonlocal found
            found = found or names.is_foreign(node) is not None
            return True

        def visit_Name(self, node: cst.Name) -> None:
            nonlocal found
            found = found or names.is_foreign(node) is not None

    node.visit(Finder())
    return found
