"""Split a single-table scan into ctid ranges read over several connections.

A query qualifies when it is ``SELECT <columns> FROM <one table> [WHERE ...]``: no joins,
CTEs, subqueries, grouping, aggregates, window functions, DISTINCT, ORDER BY, LIMIT or
OFFSET. Each range adds ``ctid >= '(a,0)' AND ctid < '(b,0)'`` to the WHERE clause, which
PostgreSQL 14+ answers with a TID range scan reading only those pages. All connections run
in REPEATABLE READ transactions that share one exported snapshot, so together they see
exactly what one connection would.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

__all__ = ["page_ranges", "range_query", "scan_table"]

_REFUSED_ARGS = (
    "with",
    "with_",
    "joins",
    "laterals",
    "group",
    "having",
    "order",
    "limit",
    "offset",
    "distinct",
    "qualify",
    "windows",
    "connect",
    "sample",
    "into",
    "locks",
)


def scan_table(expression: exp.Expression) -> tuple[exp.Table | None, str]:
    """The table a simple scan reads, or None and the reason it is not one."""
    if not isinstance(expression, exp.Select):
        return None, f"it is a {type(expression).__name__.upper()}, not a plain SELECT"
    for arg in _REFUSED_ARGS:
        if expression.args.get(arg):
            return None, f"it uses {arg.rstrip('_').upper()}"
    source = expression.args.get("from_") or expression.args.get("from")
    table = source.this if isinstance(source, exp.From) else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        return None, "it does not read from one plain table"
    if table.args.get("catalog"):
        return None, "the table is qualified with a database name"
    for node in expression.walk():
        if node is not expression and isinstance(node, exp.Select | exp.Subquery):
            return None, "it has a subquery"
        if isinstance(node, exp.AggFunc | exp.Window):
            return None, "it aggregates or uses window functions"
    return table, ""


def page_ranges(pages: int, parts: int) -> list[tuple[int, int | None]]:
    """``parts`` page ranges covering ``[0, pages)``; the last one is open-ended."""
    parts = max(1, min(parts, max(pages, 1)))
    step = max(pages, 1) / parts
    bounds = [round(i * step) for i in range(parts)]
    return [(start, bounds[i + 1] if i + 1 < parts else None) for i, start in enumerate(bounds)]


def range_query(
    expression: exp.Select, table: exp.Table, start: int, end: int | None
) -> exp.Select:
    """``expression`` restricted to the pages ``[start, end)`` of ``table``."""
    column = exp.column("ctid", table=exp.to_identifier(table.alias_or_name)).sql("postgres")
    text = f"{column} >= '({int(start)},0)'::tid"
    if end is not None:
        text += f" AND {column} < '({int(end)},0)'::tid"
    condition = sqlglot.parse_one(text, read="postgres")
    copy = expression.copy()
    where = copy.args.get("where")
    if isinstance(where, exp.Where):
        condition = exp.and_(exp.paren(where.this, copy=False), exp.paren(condition, copy=False))
    copy.set("where", exp.Where(this=condition))
    return copy
