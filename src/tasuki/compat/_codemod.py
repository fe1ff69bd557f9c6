"""``tasuki upgrade-gokart``: rewrite gokart task classes into native ``tasuki.Task`` classes.

A libcst codemod: everything it does not rewrite keeps its bytes (formatting, comments).
For each top-level class whose base is gokart's ``TaskOnKart`` (any import form, the compat
one included) or a class of the same module it converts:

- luigi / gokart parameters become annotated fields (see :mod:`._codemod_params`);
- gokart calls with another tasuki form are rewritten (see :mod:`._codemod_body`);
- the base becomes ``tasuki.Task``; a class with task parameters and no ``requires()``
  gets the ``requires()`` compat gives it, and a class on ``TaskOnKart`` itself with no
  ``output()`` gets compat's ``output()``: the unique ids and output keys stay those of the
  same code run through ``tasuki.compat.gokart``, so caches carry over.

A class with anything else gokart- or luigi-specific is left untouched, with a comment
``# tasuki upgrade-gokart: not converted: <reason>`` above it. Imports the converted code
needs are added; luigi / gokart imports nothing uses any more are removed.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from tasuki.compat._codemod_body import GOKART_ONLY, BodyRewriter, expression
from tasuki.compat._codemod_imports import fix_imports, render, used_names
from tasuki.compat._codemod_names import FOREIGN, ModuleNames
from tasuki.compat._codemod_params import NotConvertedError, convert_param, param_class
from tasuki.core.task import _RESERVED as RESERVED_NAMES  # the one list of them
from tasuki.errors import ConfigError

__all__ = [
    "COMMENT",
    "NOTE",
    "ClassFacts",
    "Note",
    "UpgradeResult",
    "module_name",
    "upgrade_source",
]

#: The comment put above a class left untouched.
COMMENT = "# tasuki upgrade-gokart: not converted:"
#: The comment put above a converted class that behaves otherwise in some way.
NOTE = "# tasuki upgrade-gokart: note:"
# luigi hooks a tasuki task has no counterpart for.
_LUIGI_HOOKS = frozenset(
    {"__init__", "complete", "on_success", "on_failure", "deps", "input", "process_resources"}
)
# Class attributes gokart reads as settings; tasuki keeps these two as class attributes.
_TASUKI_CLASS_ATTRS = frozenset({"rerun", "fail_on_empty_dump"})
# tasuki.Task's class attributes: a parameter of that name would turn one into a field.
_TASK_CLASS_ATTRS = _TASUKI_CLASS_ATTRS | {
    "code_dependencies",
    "library_versions",
    "data_files",
    "resources",
}


@dataclass(frozen=True)
class Note:
    """A class left untouched and why, or (``converted``) what to check in a converted one."""

    path: str
    line: int
    cls: str
    reason: str
    converted: bool = False

    def __str__(self) -> str:
        what = "converted; check" if self.converted else "not converted"
        return f"{self.path}:{self.line}: {self.cls} {what}: {self.reason}"


@dataclass
class ClassFacts:
    """A gokart class of the module, for the ``.ini`` conversion.

    ``params`` maps each luigi parameter (inherited ones included) to its canonical class
    (``luigi.IntParameter``); ``family`` is luigi's task family (``ns.Name`` with a
    ``task_namespace``).
    """

    name: str
    family: str
    converted: bool
    params: dict[str, str] = field(default_factory=dict)
    task_params: list[str] = field(default_factory=list)
    user_requires: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class UpgradeResult:
    """The codemod's answer for one module."""

    path: str
    original: str
    code: str
    notes: list[Note]
    classes: list[ClassFacts]

    @property
    def changed(self) -> bool:
        """Whether the code differs from the original."""
        return self.code != self.original


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of ``path`` relative to ``root`` (``src/`` layouts stripped).

    ``src/pkg/tasks.py`` -> ``pkg.tasks``; ``pkg/__init__.py`` -> ``pkg``.
    """
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    parts = list(rel.with_suffix("").parts)
    if len(parts) > 1 and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _parse(source: str, path: str) -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = re.sub(r"^(parser error: )?(error at \d+:\d+: )?", "", exc.message)
        raise ConfigError(
            f"{path}:{exc.editor_line}:{exc.editor_column}: cannot parse: {message}",
            path=path,
            line=exc.editor_line,
            column=exc.editor_column,
        ) from None


class _Module:
    """One conversion run over a parsed module."""

    def __init__(
        self,
        module: cst.Module,
        path: str,
        package: str | None,
        known: Mapping[str, ClassFacts],
    ) -> None:
        self.module = module
        self.path = path
        self.names = ModuleNames(module, package)
        self.known = known  # gokart classes of the other modules, by dotted name
        self.facts: dict[str, ClassFacts] = {}
        self.kinds: dict[str, str] = {}  # class name -> "gokart" | "luigi" | "other"
        self.mixin_params: set[str] = set()  # module classes (not tasks) declaring params
        self.notes: list[Note] = []

    # ---------------------------------------------------------------- classification

    def _base_kind(self, arg: cst.Arg) -> str:
        value = arg.value
        if isinstance(value, cst.Subscript):
            value = value.value
        name = self.names.resolve(value)
        if name == "gokart.TaskOnKart":
            return "root"
        if name is not None and name.split(".", 1)[0] in FOREIGN:
            return "luigi"
        if isinstance(value, cst.Name) and value.value in self.kinds:
            return self.kinds[value.value]
        if name is not None and name in self.known:
            return "gokart"
        return "other"

    def _parent(self, value: cst.BaseExpression) -> ClassFacts | None:
        """The facts of a task base: a class of this module or one of another module."""
        if isinstance(value, cst.Subscript):
            value = value.value
        if isinstance(value, cst.Name) and value.value in self.facts:
            return self.facts[value.value]
        name = self.names.resolve(value)
        return self.known.get(name) if name is not None else None

    def run(self, source: str) -> cst.Module:
        body = list(self.module.body)
        # Class names not yet defined at each class: a type argument naming one is quoted.
        forward = {s.name.value for s in body if isinstance(s, cst.ClassDef)}
        lines = iter(self._class_lines(source, body))
        out: list[cst.BaseStatement] = []
        for stmt in body:
            if not isinstance(stmt, cst.ClassDef):
                out.append(stmt)
                continue
            out.append(self._class(stmt, next(lines, 0), set(forward)))
            forward.discard(stmt.name.value)
        return self.module.with_changes(body=out)

    def _class_lines(self, source: str, body: Sequence[cst.BaseStatement]) -> list[int]:
        """The first line (decorators included) of each top-level class."""
        try:  # Python's own parser: a hundred times faster than generating code to count
            tree = ast.parse(source)
        except (SyntaxError, ValueError):  # newer syntax than this Python's
            tree = None
        if tree is not None:
            return [
                min([n.lineno, *(d.lineno for d in n.decorator_list)])
                for n in tree.body
                if isinstance(n, ast.ClassDef)
            ]
        found, line = [], 1 + len(self.module.header)  # each header entry is one line
        for stmt in body:
            if isinstance(stmt, cst.ClassDef):
                found.append(line + len(stmt.leading_lines))
            line += self.module.code_for_node(stmt).count("\n")
        return found

    def _class(self, node: cst.ClassDef, line: int, forward: set[str]) -> cst.ClassDef:
        name = node.name.value
        kinds = [self._base_kind(b) for b in node.bases]
        if "root" in kinds or "gokart" in kinds:
            self.kinds[name] = "gokart"
        elif "luigi" in kinds:
            self.kinds[name] = "luigi"
            return self._leave(node, line, [self._luigi_reason(node)])
        else:
            self.kinds[name] = "other"
            if any(param_class(self.names, _value(s)) for s in _small_statements(node)):
                self.mixin_params.add(name)
            return node
        reasons: list[str] = []
        if "luigi" in kinds:
            reasons.append("a luigi.Task base besides TaskOnKart")
        if node.keywords:
            reasons.append("class keywords (metaclass=...)")
        parents = [b for b, k in zip(node.bases, kinds, strict=True) if k == "gokart"]
        if kinds.count("root") + len(parents) > 1:
            reasons.append("several task bases")
        for base in node.bases:
            if isinstance(base.value, cst.Name) and base.value.value in self.mixin_params:
                reasons.append(f"base {base.value.value} declares luigi parameters")
        parent = self._parent(parents[0].value) if parents else None
        if parent is not None and not parent.converted:
            reasons.append(f"its base {parent.name} is not converted")
        facts = ClassFacts(
            name=name,
            family=name,
            converted=False,
            params=dict(parent.params) if parent else {},
            task_params=list(parent.task_params) if parent else [],
            user_requires=parent.user_requires if parent else False,
        )
        if parent is not None and parent.family != parent.name:
            facts.family = f"{parent.family.rsplit('.', 1)[0]}.{name}"
        self.facts[name] = facts
        new = self._convert(node, facts, reasons, root="root" in kinds, forward=forward)
        if reasons:
            return self._leave(node, line, reasons)
        facts.converted = True
        if facts.notes:
            note = "; ".join(facts.notes)
            self.notes.append(Note(self.path, line, name, note, converted=True))
            comment = cst.EmptyLine(comment=cst.Comment(f"{NOTE} {note}"))
            new = new.with_changes(leading_lines=[*new.leading_lines, comment])
        return new

    def _luigi_reason(self, node: cst.ClassDef) -> str:
        for base in node.bases:
            value = base.value.value if isinstance(base.value, cst.Subscript) else base.value
            name = self.names.resolve(value)
            if name is not None and name.split(".", 1)[0] in FOREIGN:
                return f"base {name} has no tasuki form; convert by hand"
            if isinstance(value, cst.Name) and self.kinds.get(value.value) == "luigi":
                return f"base {value.value} is not converted"
        return "a luigi base"  # unreachable: kinds said so

    def _leave(self, node: cst.ClassDef, line: int, reasons: list[str]) -> cst.ClassDef:
        reason = "; ".join(reasons)
        self.notes.append(Note(self.path, line, node.name.value, reason))
        comment = cst.EmptyLine(comment=cst.Comment(f"{COMMENT} {reason}"))
        kept = [
            ln
            for ln in node.leading_lines
            if ln.comment is None or not ln.comment.value.startswith(COMMENT)
        ]
        return node.with_changes(leading_lines=[*kept, comment])

    # ---------------------------------------------------------------- conversion

    def _convert(
        self,
        node: cst.ClassDef,
        facts: ClassFacts,
        reasons: list[str],
        *,
        root: bool,
        forward: set[str],
    ) -> cst.ClassDef:
        names = self.names
        own_requires = own_output = False
        own_tasks: list[str] = []
        statements: list[cst.BaseStatement] = []
        for stmt in _block(node):
            if isinstance(stmt, cst.SimpleStatementLine):
                small: list[cst.BaseSmallStatement] = []
                for part in stmt.body:
                    small.append(self._statement(part, facts, own_tasks, reasons, forward))
                statements.append(stmt.with_changes(body=small))
                continue
            if isinstance(stmt, cst.FunctionDef):
                fname = stmt.name.value
                if fname in _LUIGI_HOOKS:
                    what = "an __init__ override" if fname == "__init__" else f"{fname}()"
                    reasons.append(f"{what} (luigi); tasuki tasks are frozen dataclasses")
                own_requires |= fname == "requires"
                own_output |= fname == "output"
            statements.append(stmt)
        facts.user_requires |= own_requires
        extra: list[cst.BaseStatement] = []
        if own_tasks and not facts.user_requires:
            extra.append(_requires_method(facts, names))
        if root and not own_output:
            extra.append(_output_method(names))
        statements = _insert_methods(statements, extra)
        bases = [
            b.with_changes(value=expression(f"{names.tasuki()}.Task"))
            if self._base_kind(b) == "root"
            else b
            for b in node.bases
        ]
        new = node.with_changes(bases=bases, body=_with_block(node.body, statements))
        rewriter = BodyRewriter(names, self.module)
        new = new.with_changes(
            body=new.body.visit(rewriter),
            decorators=[d.visit(rewriter) for d in new.decorators],
        )
        reasons += rewriter.reasons
        facts.notes = rewriter.notes
        if rewriter.foreign and not reasons:
            reasons.append("uses " + ", ".join(rewriter.foreign[:3]))
        return new

    def _statement(
        self,
        part: cst.BaseSmallStatement,
        facts: ClassFacts,
        own_tasks: list[str],
        reasons: list[str],
        forward: set[str],
    ) -> cst.BaseSmallStatement:
        value = _value(part)
        cls_name = param_class(self.names, value)
        if isinstance(part, cst.Assign) and len(part.targets) == 1:
            target = part.targets[0].target
            if (
                cls_name is None
                and isinstance(target, cst.Name)
                and target.value in GOKART_ONLY - _TASUKI_CLASS_ATTRS
            ):
                reasons.append(f"sets {target.value} (a gokart setting: tasuki.toml holds it)")
            if (
                cls_name is None
                and isinstance(target, cst.Name)
                and target.value == "task_namespace"
                and isinstance(part.value, cst.SimpleString)
            ):
                facts.family = f"{part.value.evaluated_value!s}.{facts.name}"
        if cls_name is None:
            return part
        assert isinstance(value, cst.Call)  # param_class() saw a call
        annotation = part.annotation if isinstance(part, cst.AnnAssign) else None
        target_node = (
            part.target
            if isinstance(part, cst.AnnAssign)
            else (part.targets[0].target if isinstance(part, cst.Assign) else None)
        )
        if not isinstance(target_node, cst.Name) or (
            isinstance(part, cst.Assign) and len(part.targets) != 1
        ):
            reasons.append(f"{cls_name.rsplit('.', 1)[-1]} assigned to several names")
            return part
        name = target_node.value
        if name in RESERVED_NAMES or name in _TASK_CLASS_ATTRS:
            reasons.append(f"parameter {name!r}: tasuki.Task uses this name (rename the parameter)")
            return part
        if name in GOKART_ONLY:
            reasons.append(
                f"parameter {name!r} redeclares a gokart setting (tasuki.toml holds settings)"
            )
            return part
        try:
            out = convert_param(
                name=name,
                call=value,
                cls_name=cls_name,
                annotation=annotation,
                names=self.names,
                code=self.module,
                forward=forward,
            )
        except NotConvertedError as exc:
            reasons.append(str(exc))
            return part
        facts.params[name] = cls_name
        if out.kind.is_task:
            if name not in facts.task_params:
                facts.task_params.append(name)
            own_tasks.append(name)
        elif name in facts.task_params:
            facts.task_params.remove(name)
        return out.statement


def _value(part: cst.CSTNode) -> cst.BaseExpression | None:
    if isinstance(part, cst.Assign | cst.AnnAssign):
        return part.value
    return None


def _block(node: cst.ClassDef) -> list[cst.BaseStatement]:
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    assert isinstance(body, cst.SimpleStatementSuite)
    return [cst.SimpleStatementLine(body=list(body.body))]


def _small_statements(node: cst.ClassDef) -> list[cst.BaseSmallStatement]:
    out: list[cst.BaseSmallStatement] = []
    for stmt in _block(node):
        if isinstance(stmt, cst.SimpleStatementLine):
            out.extend(stmt.body)
    return out


def _with_block(body: cst.BaseSuite, statements: list[cst.BaseStatement]) -> cst.BaseSuite:
    if isinstance(body, cst.IndentedBlock):
        return body.with_changes(body=statements)
    if len(statements) == 1 and isinstance(statements[0], cst.SimpleStatementLine):
        return body.with_changes(body=statements[0].body)  # `class A(...): pass` stays
    return cst.IndentedBlock(body=statements)


def _requires_method(facts: ClassFacts, names: ModuleNames) -> cst.FunctionDef:
    """compat's default ``requires()``: the task parameters by name (a dict, as compat's),
    leaving out empty task lists (and ``None`` when nothing is left, as compat)."""
    items = ", ".join(f'"{p}": self.{p}' for p in facts.task_params)
    if all(facts.params[p] != "gokart.ListTaskInstanceParameter" for p in facts.task_params):
        code = f"def requires(self) -> dict[str, {names.any()}]:\n    return {{{items}}}\n"
    else:
        code = (
            f"def requires(self) -> dict[str, {names.any()}] | None:\n"
            f"    tasks = {{{items}}}\n"
            "    return {k: v for k, v in tasks.items() if v != ()} or None\n"
        )
    return _function(code)


def _output_method(names: ModuleNames) -> cst.FunctionDef:
    """compat's default ``output()``: gokart's ``<ClassName>.pkl`` keyed by the unique id."""
    code = (
        f"def output(self) -> {names.tasuki()}.FileTarget:\n"
        '    return self.make_target(f"{type(self).__name__}.pkl")\n'
    )
    return _function(code)


@functools.lru_cache(maxsize=256)
def _function(code: str) -> cst.FunctionDef:
    node = cst.parse_statement(code)
    assert isinstance(node, cst.FunctionDef)
    return node


def _insert_methods(
    statements: list[cst.BaseStatement], methods: list[cst.BaseStatement]
) -> list[cst.BaseStatement]:
    """``methods`` before the first method of the class (at the end when it has none), each
    after a blank line."""
    if not methods:
        return statements
    at = next(
        (i for i, s in enumerate(statements) if isinstance(s, cst.FunctionDef)), len(statements)
    )
    blank = [cst.EmptyLine(indent=False)]
    new = [m.with_changes(leading_lines=blank if at or i else []) for i, m in enumerate(methods)]
    after = statements[at:]
    if after and isinstance(after[0], cst.FunctionDef) and not after[0].leading_lines:
        after[0] = after[0].with_changes(leading_lines=blank)
    return [*statements[:at], *new, *after]


def upgrade_source(
    source: str,
    path: str = "<string>",
    *,
    module: str | None = None,
    known: Mapping[str, ClassFacts] | None = None,
) -> UpgradeResult:
    """Convert the gokart tasks of one module's source.

    Args:
        source: The module's text.
        path: Shown in notes and errors.
        module: Its dotted name (``pkg.tasks``), to follow its relative imports.
        known: The gokart classes of other modules by dotted name (``pkg.base.Base``), as
            their conversion found them: a class based on one converts with it.

    Returns:
        The new code (equal to ``source`` when nothing converts), the classes left
        untouched with their reasons, and the gokart classes found (for ``.ini`` files).

    Raises:
        ConfigError: the source does not parse (``FILE:LINE:COL: cannot parse: ...``).

    Example:
        >>> upgrade_source("import gokart\\nclass A(gokart.TaskOnKart): pass\\n").code
        ... # doctest: +SKIP
    """
    package = None
    if module is not None:
        package = module if Path(path).stem == "__init__" else module.rpartition(".")[0]
    tree = _parse(source, path)
    run = _Module(tree, path, package, known or {})
    new = run.run(source)
    rendered: dict[int, tuple[cst.CSTNode, str]] = {}
    code = render(new, rendered)
    if any(f.converted for f in run.facts.values()):
        new = fix_imports(new, run.names, used_names(new, code))
        code = render(new, rendered)
    return UpgradeResult(
        path=path,
        original=source,
        code=code,
        notes=run.notes,
        classes=list(run.facts.values()),
    )
