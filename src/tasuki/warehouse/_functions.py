"""Which function calls a warehouse query may make: the allow list applied to one parsed call.

:func:`function_refusal` decides for one ``exp.Func`` node of a checked query (the guard in
:mod:`tasuki.warehouse._safety` walks the tree and raises), in this order:

1. a name in a refused category (:mod:`tasuki.warehouse._denied`), bare or schema-qualified,
   is refused on every dialect with that category's reason;
2. a typed sqlglot class is allowed by its kind, except :data:`~._denied.REFUSED_KINDS`;
3. any other call (``exp.Anonymous``) is allowed only when its name is on the dialect's allow
   list (:mod:`tasuki.warehouse._allowed`) or in the warehouse's ``allow_functions``;
4. ``current_setting`` may read only :data:`~._allowed.SAFE_SETTINGS`, named as a literal.

Verdicts are memoised by (dialect, name) and by class, so a query's calls cost a dict look-up
each once the names have been seen.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

from tasuki.errors import WarehouseError
from tasuki.warehouse._allowed import (
    ALLOWED_FUNCTIONS,
    ALLOWED_PREFIXES,
    BUILTIN_SCHEMAS,
    SAFE_SETTINGS,
)
from tasuki.warehouse._denied import CATEGORIES, REFUSED_KINDS, refusal

__all__ = ["NOT_ALLOWED", "Refusal", "allow_list", "function_refusal"]

NOT_ALLOWED = "not allowed"
"""The category of a call that is simply not on the allow list."""
_NOT_ALLOWED_REASON = "is not on the allow list of read-only functions"

# Calls sqlglot did not recognise: their name is in ``this`` and decides.
_NAMED_CALLS = (exp.Anonymous, exp.AnonymousAggFunc, exp.ParameterizedAgg)


@dataclass(frozen=True)
class Refusal:
    """Why one function call is refused.

    Attributes:
        function: The name as written, lowercase (``pg_catalog.pg_read_file``).
        category: A key of :data:`tasuki.warehouse._denied.CATEGORIES`, or ``"not allowed"``.
        reason: What the function does, as the message says it (``reads or writes ...``).
        message: The whole message: the function, the dialect, why, and how to fix it.
    """

    function: str
    category: str
    reason: str
    message: str


def function_refusal(node: exp.Func, dialect: str, extra: frozenset[str]) -> Refusal | None:
    """Why the call ``node`` may not run in ``dialect``, or None when it may.

    Args:
        node: A function call in a parsed query.
        dialect: The query's dialect.
        extra: Names the warehouse allows beyond the dialect's list (from :func:`allow_list`).
    """
    if isinstance(node, _NAMED_CALLS):
        bare = str(node.name).lower()
        verdict = _name_verdict(dialect, bare, _qualifier(node), extra)
        if verdict is None and bare == "current_setting":
            return _setting_refusal(node, dialect)
    else:
        verdict = _kind_verdict(type(node))
    return None if verdict is None else _refusal(verdict[0], dialect, verdict[1])


def _qualifier(node: exp.Func) -> str:
    """The schema (or BigQuery namespace) a call is qualified with, lowercase, or ``""``."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and node.arg_key == "expression":
        return ".".join(
            str(i.name).lower() for i in parent.this.find_all(exp.Identifier, bfs=False)
        )
    if isinstance(parent, exp.NetFunc):  # BigQuery NET.HOST(...) parses to NetFunc(Host)
        return "net"
    return ""


@functools.lru_cache(maxsize=4096)
def _name_verdict(
    dialect: str, bare: str, qualifier: str, extra: frozenset[str]
) -> tuple[str, str] | None:
    """(name as written, category) refusing a call by name, or None when it is allowed."""
    full = f"{qualifier}.{bare}" if qualifier else bare
    for name in (full, bare):
        category = refusal(name)
        if category is not None:
            return full, category
    if full in extra:
        return None
    # A function in another schema is the warehouse's own: only an exact entry allows it.
    name = bare if not qualifier or qualifier in BUILTIN_SCHEMAS[dialect] else full
    if name in ALLOWED_FUNCTIONS[dialect] or name in extra:
        return None
    if name.startswith(ALLOWED_PREFIXES[dialect]) and name.isidentifier():
        return None
    return full, NOT_ALLOWED


_KIND_VERDICTS: dict[type[exp.Func], tuple[str, str] | None] = {}


def _kind_verdict(kind: type[exp.Func]) -> tuple[str, str] | None:
    """(SQL name, category) refusing a typed sqlglot function class, or None (memoised)."""
    try:
        return _KIND_VERDICTS[kind]
    except KeyError:
        pass
    names = [n.lower() for n in kind.sql_names()]
    verdict: tuple[str, str] | None = None
    category = REFUSED_KINDS.get(kind)
    if category is not None:
        verdict = names[0], category
    for name in names:  # a typed class carrying a refused name (READ_CSV) is refused too
        category = refusal(name)
        if verdict is None and category is not None:
            verdict = name, category
    _KIND_VERDICTS[kind] = verdict
    return verdict


def _setting_refusal(node: exp.Func, dialect: str) -> Refusal | None:
    args = node.expressions
    first = args[0] if args else None
    if isinstance(first, exp.Literal) and first.is_string:
        if first.name.lower() in SAFE_SETTINGS:
            return None
        shown = repr(first.name)
    else:
        shown = "a computed name"
    reason = CATEGORIES["configuration"]
    return Refusal(
        function="current_setting",
        category="configuration",
        reason=reason,
        message=(
            f"refused current_setting({shown}) in {dialect}: it {reason} (some settings hold "
            "server paths or secrets). A query may read only these settings, named as a "
            f"string literal: {', '.join(sorted(SAFE_SETTINGS))}."
        ),
    )


def _refusal(name: str, dialect: str, category: str) -> Refusal:
    if category == NOT_ALLOWED:
        reason = _NOT_ALLOWED_REASON
        fix = (
            "If it only computes on its arguments (no files, network, sessions, sequences, "
            "locks, statistics or configuration), the warehouse's admin can allow it with "
            f"allow_functions=({name!r},); see 'Safety rules' in docs/warehouse.md."
        )
    else:
        reason = CATEGORIES[category]
        fix = (
            "Functions of this kind are refused on every warehouse and cannot be allowed; "
            "functions that only compute on the query's rows are allowed."
        )
    return Refusal(
        function=name,
        category=category,
        reason=reason,
        message=f"refused function {name}() in {dialect}: it {reason}. {fix}",
    )


_ALLOWED_NAME = re.compile(r"[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)*")


def allow_list(names: Iterable[str]) -> frozenset[str]:
    """Check an ``allow_functions`` setting and return its names, lowercase.

    Run it where a warehouse is configured, so a bad setting fails at start-up rather than
    at the first query.

    Raises:
        WarehouseError: A name is not a (schema-qualified) SQL name, or names a function
            refused on every warehouse (``fields["category"]`` says why).

    Example:
        >>> sorted(allow_list(["My_Func", "analytics.clean"]))
        ['analytics.clean', 'my_func']
    """
    if isinstance(names, str | bytes):
        raise WarehouseError(
            f"allow_functions must be a list of function names, not the string {names!r}; "
            f"write ({names!r},)",
            parameter="allow_functions",
        )
    return _allow_list(tuple(names))


@functools.lru_cache(maxsize=64)
def _allow_list(names: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for raw in names:
        name = raw.strip().lower() if isinstance(raw, str) else ""
        if not _ALLOWED_NAME.fullmatch(name):
            raise WarehouseError(
                f"allow_functions: {raw!r} is not a function name (letters, digits and _, "
                "optionally schema.name)",
                parameter="allow_functions",
                function=repr(raw),
            )
        category = refusal(name) or refusal(name.rsplit(".", 1)[-1])
        if category is not None:
            raise WarehouseError(
                f"allow_functions cannot allow {name}(): it {CATEGORIES[category]}, and "
                "functions of that kind are refused on every warehouse. Remove it from the "
                "setting.",
                parameter="allow_functions",
                function=name,
                category=category,
            )
        out.add(name)
    return frozenset(out)
