"""Method bodies of a class the gokart codemod converts: the gokart calls with a different
tasuki form are rewritten, and what has none is collected as reasons to leave the class alone.

Rewritten: ``self.make_target(...)`` (no name: gokart's ``<ClassName>.pkl``;
``use_unique_id=True`` dropped), ``self.make_model_target(...)`` (gokart's functions take a
file path ``<tmp>/model.pkl``, tasuki's a folder: adapters), ``self.load_data_frame(...)``
(``required_columns`` as a list), ``self.dump(obj, target=...)`` and the gokart / luigi types
in annotations (``TaskOnKart[T]`` -> ``tasuki.Task``, ``TargetOnKart`` -> ``tasuki.Target``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import libcst as cst

from tasuki.compat._formats import gokart_format_for

if TYPE_CHECKING:
    from tasuki.compat._codemod_names import ModuleNames

__all__ = ["BodyRewriter", "GOKART_ONLY", "expression"]

#: Members of gokart's TaskOnKart / luigi's Task that tasuki.Task has no counterpart for.
GOKART_ONLY = frozenset(
    {
        "input",
        "make_large_data_frame_target",
        "load_generator",
        "make_unique_id",
        "get_own_code",
        "get_info",
        "get_task_log",
        "get_task_params",
        "get_processing_time",
        "restore",
        "clone",
        "make_task_instance_dictionary",
        "complete",
        "task_id",
        "task_family",
        "get_task_family",
        "param_kwargs",
        "param_args",
        "to_str_params",
        "get_params",
        "get_param_values",
        "get_param_names",
        "from_str_params",
        "deps",
        "workspace_directory",
        "local_temporary_directory",
        "strict_check",
        "modification_time_check",
        "serialized_task_definition_check",
        "delete_unnecessary_output_files",
        "significant",
        "fix_random_seed_methods",
        "fix_random_seed_value",
        "redis_host",
        "redis_port",
        "redis_timeout",
        "store_index_in_feather",
        "cache_unique_id",
        "should_dump_supplementary_log_files",
        "complete_check_at_run",
        "should_lock_run",
    }
)
# Methods of gokart / luigi targets that tasuki's targets do not have (they need a store).
_TARGET_METHODS = frozenset({"path", "exists", "remove", "open", "makedirs"})
_TYPES = {
    "gokart.TaskOnKart": "Task",
    "luigi.Task": "Task",
    "gokart.TargetOnKart": "Target",
}
# gokart's ModelTarget hands its functions this file inside its temporary folder.
_MODEL_FILE = "model.pkl"


@functools.lru_cache(maxsize=1024)
def expression(code: str) -> cst.BaseExpression:
    """``code`` parsed (nodes are immutable: one parse serves every use)."""
    return cst.parse_expression(code)


def _arg_map(args: Sequence[cst.Arg], positions: Sequence[str]) -> dict[str, cst.Arg] | None:
    """Arguments by parameter name (positional ones named by ``positions``); None for
    ``*args`` / ``**kwargs`` or more positional arguments than ``positions`` has."""
    out: dict[str, cst.Arg] = {}
    for i, arg in enumerate(args):
        if arg.star:
            return None
        if arg.keyword is None:
            if i >= len(positions):
                return None
            out[positions[i]] = arg
        else:
            out[arg.keyword.value] = arg
    return out


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


def _join(args: list[cst.Arg]) -> list[cst.Arg]:
    """The arguments with ``, `` between them and no trailing comma."""
    out = []
    for i, arg in enumerate(args):
        comma: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
        if i < len(args) - 1:
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        out.append(arg.with_changes(comma=comma))
    return out


def _calls_self(node: cst.CSTNode, methods: frozenset[str]) -> bool:
    """Whether ``node`` contains ``self.<one of methods>(...)``."""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            func = node.func
            if (
                isinstance(func, cst.Attribute)
                and isinstance(func.value, cst.Name)
                and func.value.value == "self"
                and func.attr.value in methods
            ):
                found = True

    node.visit(Finder())
    return found


def _literal_tail(node: cst.BaseExpression) -> str | None:
    """The text a string expression ends with, when it ends with literal text."""
    if isinstance(node, cst.ConcatenatedString):
        return _literal_tail(node.right)
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(node, cst.FormattedString) and node.parts:
        last = node.parts[-1]
        return last.value if isinstance(last, cst.FormattedStringText) else None
    return None


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


class BodyRewriter(cst.CSTTransformer):
    """Rewrites one converted class's methods and decorators; ``reasons`` collects what it
    cannot convert (the class is then left untouched)."""

    def __init__(self, names: ModuleNames, code: cst.Module) -> None:
        super().__init__()
        self.names = names
        self.code = code
        self.reasons: list[str] = []
        #: What converts but behaves otherwise on tasuki (a comment above the class).
        self.notes: list[str] = []
        #: The luigi / gokart names the class still uses (it must use none to convert).
        self.foreign: list[str] = []
        # Name nodes that name no variable: attributes, def / parameter / keyword names.
        self._attr_names: set[int] = set()
        self._annotation_depth = 0
        self._functions: list[str] = []

    def _reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # ------------------------------------------------------------------ where we are

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node.name.value)
        self._attr_names.add(id(node.name))  # `def requires` names no imported `requires`

    def visit_Param(self, node: cst.Param) -> None:
        self._attr_names.add(id(node.name))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._attr_names.add(id(node.keyword))

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._functions.pop()
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._functions.append("<lambda>")

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda) -> cst.Lambda:
        self._functions.pop()
        return updated_node

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._functions and self._functions[-1] in ("run", "requires"):
            what = "dynamic dependencies" if self._functions[-1] == "run" else "a generator"
            self._reason(f"{self._functions[-1]}() yields ({what}); tasuki has no such form")

    # ------------------------------------------------------------------ annotations

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self._annotation_depth += 1

    def leave_Annotation(
        self, original_node: cst.Annotation, updated_node: cst.Annotation
    ) -> cst.Annotation:
        self._annotation_depth -= 1
        return updated_node

    def _type_for(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        if not self._annotation_depth:
            return None
        name = self.names.is_foreign(node)
        if name is None or name not in _TYPES:
            return None
        return expression(f"{self.names.tasuki()}.{_TYPES[name]}")

    def _check_foreign(self, node: cst.Attribute | cst.Name) -> bool:
        """Note a luigi / gokart name the class still uses; whether ``node`` is one."""
        name = self.names.is_foreign(node)
        if name is None:
            return False
        if not (self._annotation_depth and name in _TYPES) and name not in self.foreign:
            self.foreign.append(name)
        return True

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self._attr_names.add(id(node.attr))  # `x.luigi` does not name the luigi module
        return not self._check_foreign(node)  # one report for `luigi.a.b`, not three

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._attr_names:
            self._check_foreign(node)

    def leave_Subscript(
        self, original_node: cst.Subscript, updated_node: cst.Subscript
    ) -> cst.BaseExpression:
        new = self._type_for(original_node.value)
        return new if new is not None else updated_node  # TaskOnKart[T]: tasuki.Task

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if (
            isinstance(original_node.value, cst.Name)
            and original_node.value.value == "self"
            and original_node.attr.value in GOKART_ONLY
        ):
            self._reason(f"self.{original_node.attr.value} (gokart only)")
        new = self._type_for(original_node)
        return new if new is not None else updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        new = self._type_for(original_node)
        return new if new is not None else updated_node

    # ------------------------------------------------------------------ calls

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = updated_node.func
        if not isinstance(func, cst.Attribute):
            return updated_node
        method = func.attr.value
        if method in _TARGET_METHODS and (
            (method == "path" and not updated_node.args)
            or _calls_self(func.value, frozenset({"output", "input"}))
        ):
            self._reason(f"{method}() on a target (tasuki targets live in a store)")
            return updated_node
        if not (isinstance(func.value, cst.Name) and func.value.value == "self"):
            return updated_node
        handler = {
            "make_target": self._make_target,
            "make_model_target": self._make_model_target,
            "load_data_frame": self._load_data_frame,
            "dump": self._dump,
            "load": self._load,
        }.get(method)
        return handler(updated_node) if handler is not None else updated_node

    def _make_target(self, call: cst.Call) -> cst.Call:
        args = _arg_map(call.args, ("relative_file_path", "use_unique_id", "processor"))
        if args is None:
            self._reason("make_target() with *args / **kwargs")
            return call
        if "processor" in args:
            self._reason("make_target(processor=...): tasuki picks the format by extension")
            return call
        unique = args.get("use_unique_id")
        if unique is not None and not _is_true(unique.value):
            self._reason("make_target(use_unique_id=False): tasuki keys every output by id")
            return call
        path = args.get("relative_file_path")
        tail = _literal_tail(path.value) if path is not None else None
        if tail is not None and gokart_format_for(tail) is not None:
            ext = os.path.splitext(tail)[1]
            self._note(
                f"make_target(...{ext}): tasuki's {ext} format replaces gokart's "
                f"(see docs/gokart.md, formats); check what load() returns"
            )
        value = path.value if path is not None else expression('f"{type(self).__name__}.pkl"')
        if path is not None and path.keyword is None and unique is None:
            return call  # already tasuki's make_target(name)
        return call.with_changes(args=[cst.Arg(value)])

    def _make_model_target(self, call: cst.Call) -> cst.Call:
        args = _arg_map(
            call.args, ("relative_file_path", "save_function", "load_function", "use_unique_id")
        )
        if args is None or not {"relative_file_path", "save_function", "load_function"} <= set(
            args
        ):
            self._reason("make_model_target() without its three arguments")
            return call
        unique = args.get("use_unique_id")
        if unique is not None and not _is_true(unique.value):
            self._reason("make_model_target(use_unique_id=False)")
            return call
        if len(args) > 4 - (unique is None):
            self._reason("make_model_target() with options tasuki does not have")
            return call
        # Each argument keeps its place and layout; the functions get adapters.
        positions = ("relative_file_path", "save_function", "load_function")
        new: list[cst.Arg] = []
        for i, arg in enumerate(call.args):
            key = arg.keyword.value if arg.keyword is not None else positions[i]
            if key == "use_unique_id":
                continue
            if key == "relative_file_path":
                keyword = cst.Name("name") if arg.keyword is not None else None
                new.append(arg.with_changes(keyword=keyword))
                continue
            adapter = self._adapter(arg.value, save=key == "save_function")
            new.append(_kw(key, adapter).with_changes(comma=arg.comma))
        new[-1] = new[-1].with_changes(comma=call.args[-1].comma)
        return call.with_changes(args=new)

    def _adapter(self, fn: cst.BaseExpression, *, save: bool) -> cst.BaseExpression:
        """``lambda obj, folder: fn(obj, str(folder / "model.pkl"))`` (or the load form):
        gokart calls its functions with a file path, tasuki with the model's folder."""
        code = self.code.code_for_node(fn)
        if not isinstance(fn, cst.Name | cst.Attribute | cst.Call | cst.Subscript):
            code = f"({code})"
        taken = code
        obj, folder = "obj", "folder"
        while obj in taken or folder in taken:
            obj, folder = obj + "_", folder + "_"
        file = f'str({folder} / "{_MODEL_FILE}")'
        text = (
            f"lambda {obj}, {folder}: {code}({obj}, {file})"
            if save
            else f"lambda {folder}: {code}({file})"
        )
        return cst.parse_expression(text)

    def _load_data_frame(self, call: cst.Call) -> cst.Call:
        args = _arg_map(call.args, ("target", "required_columns", "drop_columns"))
        if args is None:
            self._reason("load_data_frame() with *args / **kwargs")
            return call
        new: list[cst.Arg] = []
        if "target" in args:
            new.append(cst.Arg(args["target"].value))
        required = args.get("required_columns")
        if required is not None:
            value = required.value
            if isinstance(value, cst.Set):
                value = cst.List(
                    elements=value.elements,
                    lbracket=cst.LeftSquareBracket(whitespace_after=value.lbrace.whitespace_after),
                    rbracket=cst.RightSquareBracket(
                        whitespace_before=value.rbrace.whitespace_before
                    ),
                )
            elif not isinstance(value, cst.List | cst.Tuple) and not (
                isinstance(value, cst.Name) and value.value == "None"
            ):
                value = cst.Call(func=cst.Name("list"), args=[cst.Arg(value)])
            new.append(_kw("required_columns", value))
        if "drop_columns" in args:
            new.append(_kw("drop_columns", args["drop_columns"].value))
        if [a.value for a in new] == [a.value for a in call.args] and all(
            (a.keyword is None) == (n.keyword is None) for a, n in zip(call.args, new, strict=True)
        ):
            return call  # nothing changed: keep its layout
        return call.with_changes(args=_join(new))

    def _dump(self, call: cst.Call) -> cst.Call:
        args = _arg_map(call.args, ("obj", "target", "custom_labels"))
        if args is None:
            self._reason("dump() with *args / **kwargs")
            return call
        if "custom_labels" in args:
            self._reason("dump(custom_labels=...)")
            return call
        target = args.get("target")
        if target is not None and _calls_self(target.value, frozenset({"output", "input"})):
            self._reason("dump() given a target object; tasuki takes the output's name")
            return call
        if target is not None and target.keyword is not None:
            return call.with_changes(
                args=_join([cst.Arg(args["obj"].value), cst.Arg(target.value)])
            )
        return call

    def _load(self, call: cst.Call) -> cst.Call:
        if any(_calls_self(a.value, frozenset({"output", "input"})) for a in call.args):
            self._reason("load() given a target object; tasuki takes a name or a task")
        return call
