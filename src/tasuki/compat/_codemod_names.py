"""What the names of a module refer to, for the gokart codemod: its import table, and the
names the converted code needs (``tasuki``, ``datetime``, ``Any``...) with the imports to add.

Only module-level imports count (also those inside a top-level ``if`` / ``try``): gokart
code imports luigi and gokart at the top, and a local import shadowing them is rare enough
for the safety net (a class that still names luigi or gokart is left untouched) to catch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import libcst as cst

__all__ = ["FOREIGN", "ModuleNames", "canonical", "dotted"]

#: The packages whose names a converted class may no longer use.
FOREIGN = ("luigi", "gokart")

# Submodules whose members gokart and luigi also export from the package: one name each.
_FLATTEN = (
    "luigi.parameter.",
    "luigi.task.",
    "gokart.task.",
    "gokart.parameter.",
    "gokart.target.",
)


def canonical(name: str) -> str:
    """``tasuki.compat.gokart.X`` and ``gokart.task.X`` -> ``gokart.X`` (one name each)."""
    name = name.removeprefix("tasuki.compat.")
    for prefix in _FLATTEN:
        if name.startswith(prefix):
            package = prefix.split(".", 1)[0]
            return f"{package}.{name[len(prefix) :]}"
    return name


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _module_statements(body: Iterable[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            yield from stmt.body
        elif isinstance(stmt, cst.If | cst.Try):
            yield stmt
            yield from _module_statements(_inner_blocks(stmt))
        else:
            yield stmt


def _inner_blocks(stmt: cst.If | cst.Try) -> Iterator[cst.BaseStatement]:
    blocks: list[cst.BaseSuite] = [stmt.body]
    if isinstance(stmt, cst.If):
        orelse = stmt.orelse
        while orelse is not None:
            blocks.append(orelse.body)
            orelse = orelse.orelse if isinstance(orelse, cst.If) else None
    else:
        blocks += [h.body for h in stmt.handlers]
        if stmt.orelse is not None:
            blocks.append(stmt.orelse.body)
    for block in blocks:
        if isinstance(block, cst.IndentedBlock):
            yield from block.body


def import_bindings(
    stmt: cst.Import | cst.ImportFrom, package: str | None = None
) -> list[tuple[str, str]]:
    """``(bound name, what it refers to)`` for each name an import statement binds
    (relative imports only when ``package``, the importing module's package, is known)."""
    out: list[tuple[str, str]] = []
    if isinstance(stmt, cst.Import):
        for alias in stmt.names:
            full = dotted(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                out.append((alias.asname.name.value, full))
            else:
                first = full.split(".", 1)[0]
                out.append((first, first))
        return out
    if isinstance(stmt.names, cst.ImportStar):
        return out
    module = dotted(stmt.module) or "" if stmt.module is not None else ""
    if stmt.relative:
        if package is None:
            return out
        parts = package.split(".") if package else []
        up = len(stmt.relative) - 1
        if up > len(parts):
            return out
        base = ".".join(parts[: len(parts) - up])
        module = ".".join(p for p in (base, module) if p)
    if not module:
        return out
    for alias in stmt.names:
        name = dotted(alias.name) or ""
        bound = name
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            bound = alias.asname.name.value
        out.append((bound, f"{module}.{name}"))
    return out


class ModuleNames:
    """The module's import table and top-level names; hands out references for new code.

    Args:
        module: The parsed module.
        package: Its package (``pkg`` for ``pkg.tasks``), for relative imports.
    """

    def __init__(self, module: cst.Module, package: str | None = None) -> None:
        self.imports: dict[str, str] = {}
        self.bound: set[str] = set()
        self.future_annotations = False
        self.plain_tasuki = False
        for stmt in _module_statements(module.body):
            if isinstance(stmt, cst.Import | cst.ImportFrom):
                for bound, target in import_bindings(stmt, package):
                    self.imports[bound] = target
                    self.bound.add(bound)
                    if target == "__future__.annotations":
                        self.future_annotations = True
                    if isinstance(stmt, cst.Import) and bound == target == "tasuki":
                        self.plain_tasuki = True
            elif isinstance(stmt, cst.ClassDef | cst.FunctionDef):
                self.bound.add(stmt.name.value)
            elif isinstance(stmt, cst.Assign):
                for assigned in stmt.targets:
                    if isinstance(assigned.target, cst.Name):
                        self.bound.add(assigned.target.value)
            elif isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
                self.bound.add(stmt.target.value)
        #: Import lines the converted code needs, in the order first asked for.
        self.to_add: list[str] = []

    def resolve(self, node: cst.BaseExpression) -> str | None:
        """The canonical dotted name an expression refers to through the imports, or None."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        target = self.imports.get(head)
        if target is None:
            return None
        return canonical(f"{target}.{rest}" if rest else target)

    def is_foreign(self, node: cst.BaseExpression) -> str | None:
        """The canonical luigi / gokart name ``node`` refers to, or None."""
        name = self.resolve(node)
        if name is not None and name.split(".", 1)[0] in FOREIGN:
            return name
        return None

    def _need(self, line: str) -> None:
        if line not in self.to_add:
            self.to_add.append(line)

    def tasuki(self) -> str:
        """The name to write ``tasuki.X`` with (adds ``import tasuki`` when missing)."""
        if not self.plain_tasuki:
            self._need("import tasuki")
        return "tasuki"

    def _from(self, module: str, name: str) -> str:
        """A reference to ``module.name``: an existing import of it or of its module, else
        a new ``import module`` (``from module import name`` when the module's name is
        taken)."""
        for bound, target in self.imports.items():
            if target == f"{module}.{name}":
                return bound
        for bound, target in self.imports.items():
            if target == module:
                return f"{bound}.{name}"
        if module not in self.bound:
            self._need(f"import {module}")
            self.imports[module] = module
            self.bound.add(module)
            return f"{module}.{name}"
        alias = f"{module}_"
        self._need(f"import {module} as {alias}")
        self.imports[alias] = module
        self.bound.add(alias)
        return f"{alias}.{name}"

    def any(self) -> str:
        """``Any`` (``from typing import Any`` unless typing is imported already)."""
        for bound, target in self.imports.items():
            if target == "typing.Any":
                return bound
        for bound, target in self.imports.items():
            if target == "typing":
                return f"{bound}.Any"
        if "Any" not in self.bound:
            self._need("from typing import Any")
            self.imports["Any"] = "typing.Any"
            self.bound.add("Any")
            return "Any"
        return self._from("typing", "Any")

    def datetime(self, name: str) -> str:
        """``datetime.date`` / ``datetime.datetime`` / ``datetime.timedelta``."""
        return self._from("datetime", name)

    def path(self) -> str:
        """``pathlib.Path``."""
        return self._from("pathlib", "Path")
