"""Which module-level statements give a global name its value, read from a module's AST.

A code fingerprint covers the code a task names. For a function or class that is its
``def`` or ``class`` statement, for a constant its last assignment. Neither is the whole
story of what a name holds when the module has been imported:

- a decorator may replace a function with an object that is not one (``functools.cache``,
  ``functools.lru_cache``, a class used as a decorator), so the name is bound by a ``def``
  whose value is no function;
- later statements may change what the name holds: ``ITEMS += [2]`` after ``ITEMS = [1]``,
  ``OPS.append(f)``, ``helper = functools.cache(helper)``, ``@helper.register`` on another
  function, a loop that accumulates into it, a function that assigns it through ``global``
  and is called at import;
- a value imported from a sibling module is bound there, by an assignment this module does
  not hold.

:func:`binding_index` maps every name to the top-level statements that bind or change it,
so that the fingerprint can take every one of them, not only the one it starts from; and
:func:`import_origin` says which module a name was imported from. Imports at module level
are left out of the index: what they bind is followed by its value, in its own module.
"""

from __future__ import annotations

import ast
import importlib.util

__all__ = ["binding_index", "import_origin", "resolve_module"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _root(node: ast.expr) -> str | None:
    """The name at the root of ``a.b[c].d``, or None when the root is not a plain name."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changed_in(stmt: ast.stmt, scan_globals: bool) -> set[str]:
    """The global names a top-level statement binds or changes when the module runs it
    (``scan_globals``: look for ``global`` statements in functions, else skip that walk)."""
    found: set[str] = set()
    # (node, whether it is in a class body, where plain names are the class's, not globals)
    stack: list[tuple[ast.AST, bool]] = [(stmt, False)]
    while stack:
        node, in_class = stack.pop()
        if isinstance(node, _DEFS):
            if not in_class:
                found.add(node.name)
            for decorator in node.decorator_list:  # ``@helper.register`` changes ``helper``
                found.update(_roots_of_attributes(decorator))
            if isinstance(node, ast.ClassDef):
                # A class body runs at import: ``OPS.append(...)`` in it changes ``OPS``.
                stack.extend((child, True) for child in node.body)
            elif scan_globals:
                # A function that assigns a global (``global K``) changes it when called.
                found.update(
                    n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names
                )
            continue
        if isinstance(node, ast.Lambda):
            continue  # runs later, if ever: what it names is followed from where it is used
        if isinstance(node, ast.comprehension):
            # Its target is the comprehension's own variable, not a global.
            stack.extend((child, in_class) for child in (node.iter, *node.ifs))
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            if not in_class:
                found.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(
            node.ctx, ast.Store | ast.Del
        ):
            root = _root(node)
            if root is not None:
                found.add(root)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _root(node.func)  # ``OPS.append(f)``, ``cfg.update(...)``
            if root is not None:
                found.add(root)
        elif isinstance(node, ast.ExceptHandler) and node.name and not in_class:
            found.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom) and not in_class:
            for alias in node.names:  # inside ``try`` / ``if``: a choice between bindings
                if alias.name != "*":
                    found.add(alias.asname or alias.name.partition(".")[0])
        stack.extend((child, in_class) for child in ast.iter_child_nodes(node))
    return found


def _roots_of_attributes(node: ast.expr) -> set[str]:
    return {
        root
        for sub in ast.walk(node)
        if isinstance(sub, ast.Attribute) and (root := _root(sub)) is not None
    }


def binding_index(tree: ast.Module, source: str) -> dict[str, list[int]]:
    """For each global name, the positions in ``tree.body`` of the statements that bind or
    change it (top-level imports left out: see the module doc); ``source`` is the module's
    text (a module without the word ``global`` needs no walk through its functions)."""
    index: dict[str, list[int]] = {}
    scan_globals = "global" in source
    for position, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        for name in _changed_in(stmt, scan_globals):
            index.setdefault(name, []).append(position)
    return index


def import_origin(tree: ast.Module, name: str) -> list[tuple[str, str]]:
    """Where a module-level import binds ``name`` from: ``(module, name there)`` pairs, the
    module as written (relative ones keep their dots); ``(module, "*")`` for star imports,
    which may bind it too. The last explicit import comes first."""
    explicit: list[tuple[str, str]] = []
    stars: list[tuple[str, str]] = []
    for stmt in tree.body:
        for node in ast.walk(stmt) if not isinstance(stmt, _DEFS) else ():
            if not isinstance(node, ast.ImportFrom):
                continue
            source = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    stars.append((source, "*"))
                elif (alias.asname or alias.name) == name:
                    explicit.insert(0, (source, alias.name))
    return explicit + stars


def resolve_module(written: str, package: str | None) -> str | None:
    """The absolute name of a module as an import statement wrote it (``..util``)."""
    if not written.startswith("."):
        return written
    try:
        return importlib.util.resolve_name(written, package)
    except (ImportError, ValueError):
        return None
