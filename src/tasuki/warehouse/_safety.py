"""The read-only check every query passes before it reaches a warehouse.

A query is accepted when it parses (with sqlglot, in the warehouse's dialect) to exactly one
``SELECT``, ``WITH ... SELECT`` or set operation (``UNION`` / ``INTERSECT`` / ``EXCEPT``) and
nothing inside it writes, locks, or reaches outside the database:

* statements other than a query (DDL, DML, ``COPY``, ``SET``, ``EXPLAIN``, ``CALL``,
  ``ATTACH``, transaction control ...) are refused, also when nested in a ``WITH``;
* ``SELECT ... INTO`` and locking clauses (``FOR UPDATE`` / ``FOR SHARE``) are refused;
* every function call in the tree, wherever it is (subqueries, ``ORDER BY``, window specs,
  lateral joins, ``FROM``), must be allowed. Functions are allowed, not denied: a call
  sqlglot parses to a typed class (``exp.Upper``, ``exp.DateTrunc`` ...) is allowed by its
  kind, and any other call (``exp.Anonymous``) only when its name is on the dialect's allow
  list (:mod:`tasuki.warehouse._allowed`) or in ``allow_functions``. Before either, the
  categorised refusals of :mod:`tasuki.warehouse._denied` apply on every dialect: SQL given
  as text, server files, other databases and the network, sessions, sequences, locks,
  statistics and maintenance, configuration, server control and ML models; the error says
  which, and ``allow_functions`` cannot lift them. ``pg_sleep`` is allowed: the statement
  timeout bounds it. ``current_setting`` may read only the settings in
  :data:`tasuki.warehouse._allowed.SAFE_SETTINGS`. :mod:`tasuki.warehouse._functions` decides
  for each call;
* in DuckDB, a file path used as a table (``FROM 'data.csv'``) is refused.

The warehouses add a second layer: PostgreSQL runs the query in a ``READ ONLY`` transaction
with a ``statement_timeout``, and DuckDB opens the database with external access disabled.

Parameters are never formatted into the SQL text by the backends that can bind them. Named
(``:name``; ``@name`` in BigQuery; ``$name`` in DuckDB) and positional (``?``, or ``$1``
``$2`` ... outside BigQuery) placeholders are found in the parsed tree, and each backend
replaces the placeholder nodes with its driver's own form.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from tasuki.errors import QuerySyntaxError, UnsafeQueryError, WarehouseError
from tasuki.warehouse._denied import DENIED_FUNCTIONS
from tasuki.warehouse._functions import allow_list, function_refusal

__all__ = [
    "DENIED_FUNCTIONS",
    "DIALECTS",
    "CheckedQuery",
    "allow_list",
    "check_query",
    "literal",
]

DIALECTS = ("postgres", "redshift", "duckdb", "bigquery")

#: The longest query text taken, in UTF-8 bytes: parsing costs about 1 s per 60,000 tokens,
#: so a megabyte of ``1 + 1 + ...`` would hold a worker (and the service) for many seconds.
MAX_SQL_BYTES = 256 * 1024
#: The deepest nesting of parentheses (function calls, subqueries) taken; sqlglot parses and
#: prints recursively, and Python's recursion limit is reached near 60.
MAX_NESTING = 32

ALLOWED = "exactly one read-only SELECT, WITH ... SELECT, or UNION / INTERSECT / EXCEPT of them"


_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)

_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "DML",
        "DDL",
        "Drop",
        "Alter",
        "TruncateTable",
        "Command",
        "Copy",
        "Set",
        "Into",
        "Lock",
        "Transaction",
        "Commit",
        "Rollback",
        "Pragma",
        "Attach",
        "Detach",
        "Install",
        "Use",
        "Grant",
        "Revoke",
        "LoadData",
        "Cache",
        "Uncache",
        "Refresh",
        "Analyze",
        "Kill",
        "Describe",
        "Summarize",
        "Show",
        "Comment",
        "Export",
    )
    if hasattr(exp, name)
)

# What sqlglot makes of a typo such as `foo` or an unknown keyword: not a statement at all.
_NOT_STATEMENTS = (exp.Column, exp.Identifier, exp.Literal, exp.Alias, exp.Anonymous, exp.Var)

_FILE_TABLE = re.compile(
    r"([/\\]|://|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|gz|zst|arrow|feather|xlsx|db|duckdb"
    r"|sqlite)$)",
    re.IGNORECASE,
)
_POSITIONAL_NAME = "__tasuki_p"

Slot = tuple[str, int | str]
"""A placeholder: ("pos", 1-based index) or ("name", name)."""


@dataclass(frozen=True, eq=False)
class CheckedQuery:
    """A query that passed :func:`check_query`, with its placeholders found.

    Attributes:
        sql: The text as given.
        dialect: The sqlglot dialect it was parsed with.
        expression: The parsed tree (treat as read-only; methods return copies).
        normalized: The tree printed back by sqlglot: stable across whitespace, comments and
            keyword case, so it can key a cache.
        kind: ``"select"``, ``"union"``, ``"intersect"`` or ``"except"``.
        param_names: Named placeholders (each once, in tree order), or ``()``.
        param_count: Positional placeholders (highest ``$n`` or count of ``?``), or 0.
    """

    sql: str
    dialect: str
    expression: exp.Expression
    normalized: str
    kind: str
    param_names: tuple[str, ...] = ()
    param_count: int = 0
    _slots: tuple[Slot, ...] = field(default=(), repr=False)

    @property
    def has_params(self) -> bool:
        """Whether the query has any placeholder."""
        return bool(self._slots)

    def values(self, params: Mapping[str, Any] | Sequence[Any] | None) -> dict[Slot, Any]:
        """Match ``params`` to the placeholders; every placeholder needs exactly one value.

        Raises:
            WarehouseError: Missing, unused or mis-shaped parameters.
        """
        if not self._slots:
            if params:
                raise WarehouseError(
                    f"parameters {_short(params)} were given but the query has no "
                    "placeholders; use :name or ? in the SQL where each value goes",
                    params=repr(params),
                )
            return {}
        if self.param_names:
            if not isinstance(params, Mapping):
                raise WarehouseError(
                    f"the query uses named placeholders {list(self.param_names)}, so params "
                    f"must be a mapping of name -> value, not {type(params).__name__}",
                    expected=list(self.param_names),
                )
            missing = [n for n in self.param_names if n not in params]
            unused = [str(k) for k in params if k not in self.param_names]
            if missing or unused:
                raise WarehouseError(
                    f"parameters do not match the query's placeholders: missing {missing}, "
                    f"unused {unused}; the query uses {list(self.param_names)}",
                    missing=missing,
                    unused=unused,
                )
            return {("name", n): params[n] for n in self.param_names}
        if not isinstance(params, Sequence) or isinstance(params, str | bytes):
            raise WarehouseError(
                f"the query uses {self.param_count} positional placeholder(s), so params must "
                f"be a list or tuple of {self.param_count} values, not {_short(params)}",
                expected=self.param_count,
            )
        if len(params) != self.param_count:
            raise WarehouseError(
                f"the query uses {self.param_count} positional placeholder(s) but "
                f"{len(params)} value(s) were given",
                expected=self.param_count,
                given=len(params),
            )
        return {("pos", i + 1): value for i, value in enumerate(params)}

    def bind(
        self,
        params: Mapping[str, Any] | Sequence[Any] | None,
        placeholder: Callable[[int, Any], exp.Expression],
        dialect: str | None = None,
        expression: exp.Expression | None = None,
    ) -> tuple[str, list[Any]]:
        """SQL text for a driver, with each distinct placeholder replaced once numbered.

        Args:
            params: The values, as for :meth:`values`.
            placeholder: Makes the node that stands for driver parameter ``n`` (1-based)
                holding ``value``, e.g. ``$n``.
            dialect: Print the SQL in this dialect (default: the query's).
            expression: Bind this tree instead of :attr:`expression` (a rewritten copy of
                it, such as one ctid range of a parallel scan).

        Returns:
            The SQL and the values in driver order (``values[n - 1]`` is parameter ``n``).
        """
        matched = self.values(params)
        order = list(matched)
        index = {slot: i + 1 for i, slot in enumerate(order)}

        def swap(node: exp.Expression) -> exp.Expression:
            slot = _slot_of(node)
            if slot is None:
                return node
            return placeholder(index[slot], matched[slot])

        tree = (expression or self.expression).copy().transform(swap, copy=False)
        return tree.sql(dialect=dialect or self.dialect), [matched[s] for s in order]

    def render(
        self,
        params: Mapping[str, Any] | Sequence[Any] | None,
        dialect: str | None = None,
        expression: exp.Expression | None = None,
    ) -> str:
        """SQL text with each placeholder replaced by a SQL literal node.

        Only for statements that cannot take bound parameters (Redshift ``UNLOAD`` takes its
        query as a string). The literal is a sqlglot node, so quoting and escaping follow the
        dialect's rules and no value can end the string early.
        """
        return self.bind(params, lambda _n, value: literal(value), dialect, expression)[0]


def check_query(
    sql: str,
    *,
    dialect: str = "postgres",
    max_bytes: int = MAX_SQL_BYTES,
    max_nesting: int = MAX_NESTING,
    allow_functions: Iterable[str] = (),
) -> CheckedQuery:
    """Check that ``sql`` is one read-only query and find its placeholders.

    Args:
        sql: The query text.
        dialect: ``"postgres"``, ``"redshift"``, ``"duckdb"`` or ``"bigquery"``.
        max_bytes: The longest text taken (UTF-8 bytes), checked before any parsing.
        max_nesting: The deepest nesting of parentheses taken, checked before parsing.
        allow_functions: More function names to allow, beyond the dialect's allow list
            (lowercase matching; ``schema.name`` for a schema-qualified function). A
            warehouse's own read-only functions go here. See :func:`allow_list`.

    Returns:
        The checked query, with its normalised text and placeholders.

    Raises:
        QuerySyntaxError: The text does not parse; ``line`` and ``column`` say where.
        UnsafeQueryError: Not a single read-only query; ``kind`` names what was found
            (``too long`` and ``too deeply nested`` for the limits; ``function`` for a
            refused function, with ``function``, ``category`` and ``reason`` fields).
        WarehouseError: ``allow_functions`` names a function that is refused on every
            warehouse, or is not a list of names.

    Example:
        >>> check_query("SELECT * FROM t WHERE id = :id").param_names
        ('id',)
    """
    if dialect not in DIALECTS:
        raise WarehouseError(
            f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}", dialect=dialect
        )
    extra = allow_list(allow_functions)
    _check_size(sql, max_bytes, max_nesting)
    try:
        return _check(sql, dialect, extra)
    except RecursionError:  # nesting the scan cannot see (CASE in CASE without parentheses)
        raise _too_deep(f"more than the parser can follow (at most {max_nesting} levels)") from None


def _check_size(sql: str, max_bytes: int, max_nesting: int) -> None:
    size = len(sql.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise UnsafeQueryError(
            f"the query is {size:,} bytes; at most {max_bytes:,} are taken. Move long value "
            "lists into a table (write_table) and join it, or split the query.",
            kind="too long",
            size=size,
            limit=max_bytes,
        )
    depth = _nesting(sql)
    if depth > max_nesting:
        raise _too_deep(f"{depth} levels of parentheses; at most {max_nesting} are taken")


def _too_deep(what: str) -> UnsafeQueryError:
    return UnsafeQueryError(
        f"the query nests {what}. Flatten it: name subqueries in a WITH clause, or replace "
        "nested COALESCE / CASE with one CASE of several WHEN branches.",
        kind="too deeply nested",
    )


def _nesting(sql: str) -> int:
    """The deepest parenthesis nesting outside quotes and comments (a linear scan)."""
    depth = deepest = 0
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            end = sql.find(ch, i + 1)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
        i += 1
    return deepest


def _check(sql: str, dialect: str, extra: frozenset[str]) -> CheckedQuery:
    text = _number_question_marks(sql, dialect)
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise _syntax_error(
            sql, first.get("description") or str(exc), first.get("line"), first.get("col")
        ) from exc
    if not statements:
        raise UnsafeQueryError(
            f"the query is empty; expected {ALLOWED}", kind="empty", allowed=ALLOWED
        )
    if len(statements) > 1:
        kinds = ", ".join(_kind(s) for s in statements)
        raise UnsafeQueryError(
            f"refused {len(statements)} statements ({kinds}); expected {ALLOWED}. "
            "Send one query per call.",
            kind="multiple statements",
            allowed=ALLOWED,
        )
    root = statements[0]
    if not isinstance(root, _QUERY_ROOTS) or (
        isinstance(root, exp.Subquery) and not isinstance(root.unnest(), _QUERY_ROOTS)
    ):
        kind = _kind(root)
        if isinstance(root, _NOT_STATEMENTS):
            word = (sql.split() or ["?"])[0].upper()
            raise _syntax_error(sql, f"expected a statement such as SELECT, found {word!r}", 1, 1)
        raise UnsafeQueryError(
            f"refused the {kind} statement; only {ALLOWED} may run here. Writes go through "
            "write_table() or a migration.",
            kind=kind,
            allowed=ALLOWED,
        )
    _check_tree(root, dialect, extra)
    slots, names, count = _find_slots(root)
    try:
        normalized = root.sql(dialect=dialect)
    except ParseError as exc:  # sqlglot validates nodes again while printing them
        raise _syntax_error(sql, str(exc).split(". Line")[0], None, None) from exc
    return CheckedQuery(
        sql=sql,
        dialect=dialect,
        expression=root,
        normalized=normalized,
        kind=type(root.unnest()).__name__.lower(),
        param_names=names,
        param_count=count,
        _slots=slots,
    )


def _check_tree(root: exp.Expression, dialect: str, extra: frozenset[str]) -> None:
    # One breadth-first walk checks statements, every function call and DuckDB file scans.
    # It walks ``args`` itself and looks each node's role up by type: sqlglot's walk() and a
    # chain of isinstance() tests were most of the guard's time (benchmarks/bench_guard.py).
    duckdb = dialect == "duckdb"
    queue: list[exp.Expr] = [root]
    push = queue.append
    i = 0
    while i < len(queue):
        node = queue[i]
        i += 1
        kind = type(node)
        role = _ROLES.get(kind)
        if role is None:
            role = _role(kind)
        if role == _FUNCTION:
            refused = function_refusal(node, dialect, extra)  # type: ignore[arg-type]
            if refused is not None:
                raise UnsafeQueryError(
                    refused.message,
                    kind="function",
                    function=refused.function,
                    category=refused.category,
                    reason=refused.reason,
                    allowed=ALLOWED,
                )
        elif role == _STATEMENT:
            _refuse_statement(node, root)
        elif role == _TABLE and duckdb:
            _check_file_table(node)  # type: ignore[arg-type]
        for value in node.args.values():
            if type(value) is list:
                for item in value:
                    if isinstance(item, exp.Expr):
                        push(item)
            elif isinstance(value, exp.Expr):
                push(value)


_OTHER, _FUNCTION, _STATEMENT, _TABLE = range(4)
_ROLES: dict[type, int] = {}


def _role(kind: type) -> int:
    """What the guard does with a node of this type (memoised in ``_ROLES``)."""
    if issubclass(kind, exp.Func):
        role = _FUNCTION
    elif issubclass(kind, _FORBIDDEN_NODES):
        role = _STATEMENT
    elif issubclass(kind, exp.Table):
        role = _TABLE
    else:
        role = _OTHER
    _ROLES[kind] = role
    return role


def _refuse_statement(node: exp.Expr, root: exp.Expr) -> None:
    kind = _kind(node)
    where = "" if node is root else " inside the query"
    hint = {
        "SELECT ... INTO": " Use CREATE TABLE AS through write_table() instead.",
        "FOR UPDATE/SHARE": " Locking rows is not allowed in a read-only query.",
    }.get(kind, "")
    raise UnsafeQueryError(
        f"refused {kind}{where}; only {ALLOWED} may run here.{hint}",
        kind=kind,
        allowed=ALLOWED,
    )


def _check_file_table(node: exp.Table) -> None:
    name = node.name
    if isinstance(node.this, exp.Identifier) and _FILE_TABLE.search(name):
        raise UnsafeQueryError(
            f"refused the file path {name!r} used as a table: DuckDB would read that "
            "file. Query tables loaded into the warehouse instead.",
            kind="file scan",
            function=name,
            allowed=ALLOWED,
        )


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    if isinstance(node, exp.Lock):
        return "FOR UPDATE/SHARE"
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Create | exp.Drop):
        return f"{type(node).__name__.upper()} {node.args.get('kind') or ''}".strip()
    if isinstance(node, _QUERY_ROOTS):
        return type(node.unnest()).__name__.upper()
    if isinstance(node, exp.TruncateTable):
        return "TRUNCATE"
    return type(node).__name__.upper()


def _number_question_marks(sql: str, dialect: str) -> str:
    """Rewrite each ``?`` token as a numbered placeholder, so order survives parsing.

    Only placeholder tokens are touched (never text inside strings or comments); the
    tokenizer gives their offsets.
    """
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError as exc:
        line, col = _token_error_position(exc)
        raise _syntax_error(sql, str(exc.__cause__ or exc), line, col) from exc
    marks = [t for t in tokens if t.token_type.name == "PLACEHOLDER" and t.text == "?"]
    if not marks:
        return sql
    out: list[str] = []
    last = 0
    for n, tok in enumerate(marks, start=1):
        out.append(sql[last : tok.start])
        out.append(f"@{_POSITIONAL_NAME}{n}" if dialect == "bigquery" else f"${n}")
        last = tok.end + 1
    out.append(sql[last:])
    return "".join(out)


def _slot_of(node: exp.Expr) -> Slot | None:
    if isinstance(node, exp.Placeholder):
        this = node.this
        if isinstance(this, exp.Expression):
            return ("name", this.name)
        if isinstance(this, str) and this:
            return ("pos", int(this)) if this.isdigit() else ("name", this)
        return ("pos", 0)  # %s: position unknown, refused in _find_slots
    if isinstance(node, exp.Parameter):
        this = node.this
        if isinstance(this, exp.Literal) and not this.is_string and this.name.isdigit():
            return ("pos", int(this.name))
        name = this.name if isinstance(this, exp.Expression) else str(this)
        if name.startswith(_POSITIONAL_NAME) and name[len(_POSITIONAL_NAME) :].isdigit():
            return ("pos", int(name[len(_POSITIONAL_NAME) :]))
        return ("name", name)
    return None


def _find_slots(root: exp.Expression) -> tuple[tuple[Slot, ...], tuple[str, ...], int]:
    slots: list[Slot] = []
    for node in root.walk(bfs=False):
        slot = _slot_of(node)
        if slot is not None and slot not in slots:
            slots.append(slot)
    names = tuple(str(s[1]) for s in slots if s[0] == "name")
    positions = sorted(int(s[1]) for s in slots if s[0] == "pos")
    if names and positions:
        raise WarehouseError(
            f"the query mixes named placeholders {list(names)} with positional ones; use one style",
            names=list(names),
        )
    if positions and positions[0] == 0:
        raise WarehouseError(
            "unsupported placeholder style (%s or %(name)s); use :name for named or ? / $1 for "
            "positional parameters",
        )
    if positions and positions != list(range(1, len(positions) + 1)):
        raise WarehouseError(
            f"positional placeholders must be numbered $1..$n without gaps; found "
            f"{['$' + str(p) for p in positions]}",
            positions=positions,
        )
    return tuple(slots), names, len(positions)


def literal(value: Any) -> exp.Expression:
    """A SQL literal node for ``value`` (for statements that cannot bind parameters).

    Supported: None, bool, int, float (finite), Decimal, str, date, datetime (naive →
    TIMESTAMP, aware → TIMESTAMPTZ in UTC), time, UUID.

    Raises:
        WarehouseError: Any other type, or a non-finite float.
    """
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(str(value))
    if isinstance(value, float | decimal.Decimal):
        if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, decimal.Decimal) and not value.is_finite()
        ):
            raise WarehouseError(
                f"cannot write the non-finite number {value!r} as a SQL literal; pass a "
                "finite number or None",
                value=repr(value),
            )
        return exp.Literal.number(str(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, uuid.UUID):
        return exp.Literal.string(str(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            text = value.astimezone(dt.UTC).isoformat(sep=" ")
            return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMPTZ)
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, dt.time):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.TIME)
    raise WarehouseError(
        f"cannot pass a {type(value).__name__} as a query parameter; allowed: None, bool, int, "
        "float, Decimal, str, date, datetime, time, UUID",
        value_type=type(value).__name__,
    )


def _token_error_position(exc: TokenError) -> tuple[int | None, int | None]:
    match = re.search(r"from (\d+):(\d+)", str(exc.__cause__ or ""))
    if match:
        return int(match.group(1)), int(match.group(2))
    return None, None


def _syntax_error(
    sql: str, description: str, line: int | None, column: int | None
) -> QuerySyntaxError:
    where = f" at line {line}, column {column}" if line is not None else ""
    excerpt = ""
    if line is not None and column is not None:
        lines = sql.splitlines() or [""]
        if 1 <= line <= len(lines):
            excerpt = f"\n  {lines[line - 1]}\n  {' ' * max(column - 1, 0)}^"
    return QuerySyntaxError(
        f"SQL syntax error{where}: {_strip_ansi(description)}{excerpt}",
        line=line,
        column=column,
        position=_offset(sql, line, column),
    )


def _offset(sql: str, line: int | None, column: int | None) -> int | None:
    """1-based character offset of (line, column), the same unit PostgreSQL reports."""
    if line is None or column is None:
        return None
    lines = sql.splitlines(keepends=True)
    return sum(len(x) for x in lines[: line - 1]) + column


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
