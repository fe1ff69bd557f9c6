"""The imports of a module the gokart codemod converted: the ones its new code needs are
added (standard library ones after the module's own, ``import tasuki`` after all), luigi and
gokart imports nothing uses any more are removed; and the module's code, generated once.
"""

from __future__ import annotations

import ast
import re
import sys

import libcst as cst

from tasuki.compat._codemod_names import FOREIGN, ModuleNames, canonical, import_bindings

__all__ = ["fix_imports", "render", "used_names"]

_DOTTED = r"[A-Za-z_][\w.]*(\[.*\])?"


class _Used(cst.CSTVisitor):
    """Every name the module may refer to (outside imports); a string that is a dotted name
    counts too (``__all__``, string annotations)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        # "gokart.TaskOnKart" (a string annotation) or "name" (in __all__); prose is not
        text = node.evaluated_value
        if isinstance(text, str) and re.fullmatch(_DOTTED, text):
            self.names.add(text.split(".", 1)[0].split("[", 1)[0])


def render(module: cst.Module, done: dict[int, tuple[cst.CSTNode, str]]) -> str:
    """``module.code``, reusing the code of statements rendered before (``done``): the
    import fix-up changes a few lines at the top, and code generation is the dearest step."""
    pieces = [module.code_for_node(h) for h in module.header]
    for stmt in module.body:
        known = done.get(id(stmt))
        if known is None or known[0] is not stmt:
            known = (stmt, module.code_for_node(stmt))
            done[id(stmt)] = known
        pieces.append(known[1])
    pieces += [module.code_for_node(f) for f in module.footer]
    text = "".join(pieces)  # what Module._codegen_impl does with its tokens
    if not module.has_trailing_newline:
        return text.removesuffix(module.default_newline)
    return text or module.default_newline


def used_names(module: cst.Module, code: str) -> set[str]:
    """The names the module refers to outside its imports (see :class:`_Used`)."""
    try:  # Python's parser and ast.walk: far faster than a libcst visit of the module
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        used = _Used()
        module.visit(used)
        return used.names
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(_DOTTED, node.value)
        ):
            out.add(node.value.split(".", 1)[0].split("[", 1)[0])
    return out


def fix_imports(module: cst.Module, names: ModuleNames, used_names: set[str]) -> cst.Module:
    """``module`` with the imports ``names`` asked for added and the luigi / gokart ones
    outside ``used_names`` removed (a removed line's comments stay above what follows)."""
    body = list(module.body)
    out: list[cst.BaseStatement] = []
    carried: list[cst.EmptyLine] = []
    for stmt in body:
        if carried:
            if any(ln.comment is None for ln in stmt.leading_lines):
                carried = [ln for ln in carried if ln.comment is not None]  # blank enough
            stmt = stmt.with_changes(leading_lines=[*carried, *stmt.leading_lines])
            carried = []
        if not (
            isinstance(stmt, cst.SimpleStatementLine)
            and all(isinstance(p, cst.Import | cst.ImportFrom) for p in stmt.body)
        ):
            out.append(stmt)
            continue
        parts: list[cst.BaseSmallStatement] = []
        for part in stmt.body:
            assert isinstance(part, cst.Import | cst.ImportFrom)
            kept = _unused_foreign_removed(part, used_names)
            if kept is not None:
                parts.append(kept)
        if parts:
            out.append(stmt.with_changes(body=parts))
        else:  # the line goes; blank lines and comments above it stay, above what follows
            carried = [*carried, *stmt.leading_lines]
    at = _import_position(out)
    stdlib_at = _last_stdlib_import(out[:at])
    wanted = [line for line in sorted(names.to_add) if _bound_by(line) in used_names]
    # The standard library ones (datetime, pathlib, typing) after the module's own standard
    # library imports when it has some, `import tasuki` after all imports.
    early = [cst.parse_statement(ln + "\n") for ln in wanted if not ln.endswith(" tasuki")]
    late = [cst.parse_statement(ln + "\n") for ln in wanted if ln.endswith(" tasuki")]
    if stdlib_at is None:
        return module.with_changes(body=[*out[:at], *early, *late, *out[at:]])
    return module.with_changes(
        body=[*out[:stdlib_at], *early, *out[stdlib_at:at], *late, *out[at:]]
    )


def _last_stdlib_import(body: list[cst.BaseStatement]) -> int | None:
    """The position after the last standard-library import (``__future__`` aside)."""
    found = None
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine):
            for part in stmt.body:
                if isinstance(part, cst.Import | cst.ImportFrom):
                    roots = {t.split(".", 1)[0] for _, t in import_bindings(part)}
                    if roots and roots <= sys.stdlib_module_names - {"__future__"}:
                        found = i + 1
    return found


def _bound_by(line: str) -> str:
    return line.split()[-1].split(".")[0]


def _unused_foreign_removed(
    part: cst.Import | cst.ImportFrom, used: set[str]
) -> cst.Import | cst.ImportFrom | None:
    if isinstance(part, cst.ImportFrom) and isinstance(part.names, cst.ImportStar):
        return part
    bindings = import_bindings(part)
    if not bindings:
        return part
    aliases = list(part.names) if not isinstance(part.names, cst.ImportStar) else []
    keep = []
    for alias, (bound, target) in zip(aliases, bindings, strict=True):
        if canonical(target).split(".", 1)[0] in FOREIGN and bound not in used:
            continue
        keep.append(alias)
    if len(keep) == len(aliases):
        return part
    if not keep:
        return None
    keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    if isinstance(part, cst.ImportFrom):
        return part.with_changes(names=keep, lpar=part.lpar if len(keep) > 1 else None,
                                 rpar=part.rpar if len(keep) > 1 else None)  # fmt: skip
    return part.with_changes(names=keep)


def _import_position(body: list[cst.BaseStatement]) -> int:
    """After the module's leading imports (or after its docstring when it has none)."""
    at = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine):
            first = stmt.body[0]
            if isinstance(first, cst.Import | cst.ImportFrom):
                at = i + 1
                continue
            if i == 0 and isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString):
                at = 1
                continue
        if isinstance(stmt, cst.If | cst.Try) and at:
            continue  # `if TYPE_CHECKING:` / `try: import x` among the imports
        break
    return at
