"""What a project's named values hold when a build starts, where that is not what their
source says.

A fingerprint is made of source text, so a value given at run time (``config.THRESH = 0.9``
in a notebook cell, ``Train.lr = 0.7`` in a script's main block before ``build``) left the
text, and so the cached output made with the old value, as they were. For a constant or a
class attribute whose statement is a literal (a number, text, flag, ``None``, or a list,
tuple, dict or set of them), the value it holds now is compared with the literal; when they
differ, the value it holds counts too.

Left out, because their values change at run time by design: names starting with ``_``
(private caches and counters) and names whose literal is an empty container (``CACHE =
{}``, filled as a helper runs). A value computed by its statement (``N = 7 * 2``) has no
literal to compare with.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
from typing import Any

__all__ = [
    "NOT_LITERAL",
    "changed_text",
    "class_literals",
    "defined_in",
    "function_of",
    "plain_text",
    "statement_literal",
    "unbound_text",
]

NOT_LITERAL: Any = object()
_UNSEEN: Any = object()

_STATEMENTS: dict[str, Any] = {}
_CLASSES: dict[str, tuple[dict[str, Any], frozenset[str]]] = {}
_LONGEST = 2000  # longer texts go into a section as a digest, for ``tasuki why`` to show


def statement_literal(text: str) -> Any:
    """The literal value of ``text``, one assignment of one name (``N = 5``, ``N: int =
    5``); :data:`NOT_LITERAL` for anything else."""
    found = _STATEMENTS.get(text, _UNSEEN)
    if found is _UNSEEN:
        found = NOT_LITERAL
        try:
            body = ast.parse(text).body
        except (SyntaxError, ValueError):
            body = []
        if len(body) == 1:
            found = _assigned(body[0])[1]
        _STATEMENTS[text] = found
    return found


def class_literals(text: str) -> tuple[dict[str, Any], frozenset[str]]:
    """The names a class statement's body binds to literals, with their values, and every
    name its body binds (methods, computed attributes)."""
    found = _CLASSES.get(text)
    if found is None:
        literals: dict[str, Any] = {}
        bound: set[str] = set()
        try:
            body = ast.parse(text).body
        except (SyntaxError, ValueError):
            body = []
        if len(body) == 1 and isinstance(body[0], ast.ClassDef):
            for stmt in body[0].body:
                name, value = _assigned(stmt)
                if name is None:
                    bound.update(_names_bound(stmt))
                    continue
                bound.add(name)
                if value is not NOT_LITERAL:
                    literals[name] = value
        found = (literals, frozenset(bound))
        _CLASSES[text] = found
    return found


def changed_text(name: str, live: Any, literal: Any) -> str | None:
    """``name = <value>`` when ``live`` is plain data other than ``literal`` (for a section
    of the fingerprint; a secret-looking name is masked where the text is kept); None when
    it is the same, when there is no literal to compare with, or when the name is left out
    (see the module doc)."""
    if name.startswith("_") or literal is NOT_LITERAL or _empty_container(literal):
        return None
    try:
        if type(live) is type(literal) and live == literal:
            return None
    except Exception:  # an == that raises (arrays in a list) is not "equal"
        pass
    text = plain_text(live)
    if text is None or text == plain_text(literal):
        return None
    return _section(name, text)


def unbound_text(name: str, live: Any) -> str | None:
    """``name = <value>`` for a class attribute its statement does not bind (set from
    outside: ``Train.lr = 0.7``), under the rules of :func:`changed_text`."""
    if name.startswith("_") or live is None or _empty_container(live):
        return None
    text = plain_text(live)
    return None if text is None else _section(name, text)


def _section(name: str, text: str) -> str:
    if len(text) > _LONGEST:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        text = f"<{len(text)} characters, sha256 {digest}>"
    return f"{name} = {text}"


def plain_text(value: Any, depth: int = 0) -> str | None:
    """A text of plain data that is the same in every process (sets sorted: their order
    follows string hashing); None for anything else."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return repr(value)
    if depth > 20:
        return None
    if kind in (list, tuple, set, frozenset):
        items = [plain_text(v, depth + 1) for v in value]
        if any(item is None for item in items):
            return None
        texts: list[str] = items  # type: ignore[assignment]
        if kind is list:
            return f"[{', '.join(texts)}]"
        if kind is tuple:
            return f"({', '.join(texts)},)"
        return f"{kind.__name__}({{{', '.join(sorted(texts))}}})"
    if kind is dict:
        pairs = [(plain_text(k, depth + 1), plain_text(v, depth + 1)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


def function_of(value: Any) -> Any:
    """The function a class attribute holds as a method (plain, static, class, property,
    cached property); None for anything else."""
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    elif isinstance(value, functools.cached_property):
        value = value.func
    return value if inspect.isfunction(value) else None


def defined_in(function: Any, klass: type[Any], name: str) -> bool:
    """Whether ``function`` is the one the class statement defines as ``name`` (decorators
    that keep the name, as ``functools.wraps`` does, included)."""
    return bool(
        function.__qualname__ == f"{klass.__qualname__}.{name}"
        and function.__module__ == klass.__module__
    )


def _assigned(stmt: ast.stmt) -> tuple[str | None, Any]:
    """The name one assignment binds and its literal value (or :data:`NOT_LITERAL`)."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None, NOT_LITERAL
    if not isinstance(target, ast.Name):
        return None, NOT_LITERAL
    try:
        return target.id, ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return target.id, NOT_LITERAL


def _names_bound(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt.name]
    return [
        node.id
        for node in ast.walk(stmt)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    ]


def _empty_container(value: Any) -> bool:
    return type(value) in (list, tuple, dict, set, frozenset) and not value
