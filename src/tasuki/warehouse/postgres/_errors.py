"""PostgreSQL (ADBC / libpq) errors -> the tasuki warehouse error tree, by SQLSTATE."""

from __future__ import annotations

import re
from typing import Any

from tasuki._redact import redact
from tasuki.errors import (
    PermissionDeniedError,
    QuerySyntaxError,
    QueryTimeoutError,
    TableNotFoundError,
    UnsafeQueryError,
    WarehouseConnectionError,
    WarehouseError,
)

__all__ = ["sqlstate_of", "translate"]

_SQLSTATE = re.compile(r"SQLSTATE: ([0-9A-Z]{5})")
_PRIMARY = re.compile(r"ERROR:\s+(.*)")
_QUOTED = re.compile(r'"([^"]+)"')
_CONNECTION_WORDS = (
    "failed to connect",
    "could not connect",
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "connection to server",
    "no connection to the server",
    "could not receive data",
    "could not send data",
    "ssl syscall",
    "eof detected",
)


# Errors raised while the COPY stream is read arrive as plain Arrow errors carrying only
# the server's message; these patterns recover the SQLSTATE that matters for them.
_MESSAGE_STATES = (
    ("canceling statement due to statement timeout", "57014"),
    ("canceling statement due to user request", "57014"),
    ("in a read-only transaction", "25006"),
    ("permission denied", "42501"),
    ("terminating connection", "57P01"),
)
_MISSING_RELATION = re.compile(r'relation "[^"]+" does not exist')


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, from its attribute, its message, or its wording."""
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str) and len(state) == 5:
        return state
    text = str(exc)
    match = _SQLSTATE.search(text)
    if match:
        return match.group(1)
    for words, code in _MESSAGE_STATES:
        if words in text:
            return code
    if _MISSING_RELATION.search(text):
        return "42P01"
    return None


def translate(
    exc: BaseException, *, url: str, sql: str | None = None, timeout: float | None = None
) -> WarehouseError:
    """The tasuki error for a driver exception.

    Args:
        exc: What the driver raised.
        url: The warehouse URL, password removed.
        sql: The SQL text the server saw (server positions point into it).
        timeout: The statement timeout in force, for the message.
    """
    state = sqlstate_of(exc)
    details = _details(exc)
    # libpq may quote the connection string back (a bad URI parameter, for one).
    raw = redact(exc)
    primary = redact(details.get("PG_DIAG_MESSAGE_PRIMARY") or _primary(raw))
    lower = raw.lower()
    if state == "57014":
        if "statement timeout" in lower:
            limit = f" of {timeout:g} s" if timeout is not None else ""
            return QueryTimeoutError(
                f"PostgreSQL cancelled the query after its statement timeout{limit}; raise "
                "timeout= or make the query cheaper",
                timeout=timeout,
            )
        return WarehouseError(f"PostgreSQL cancelled the query: {primary}", sqlstate=state)
    if state in ("42P01", "3F000"):
        name = _first_quoted(primary)
        kind = "schema" if state == "3F000" else "relation"
        return TableNotFoundError(
            f"{kind} {name!r} does not exist on {url}: {primary}. Check the name and the "
            "search_path (schema-qualify it as schema.table)",
            table=name,
            sqlstate=state,
        )
    if state in ("42501", "28000", "28P01"):
        name = _first_quoted(primary) or _after_for(primary)
        return PermissionDeniedError(
            f"PostgreSQL refused: {primary}. Ask for SELECT on it (GRANT SELECT ON ... TO "
            "the warehouse user) or query something the user may read",
            table=name,
            sqlstate=state,
        )
    if state == "25006":
        return UnsafeQueryError(
            f"PostgreSQL refused a write inside the read-only transaction: {primary}",
            kind="write",
            sqlstate=state,
        )
    if (state and (state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300"))) or (
        state is None and any(word in lower for word in _CONNECTION_WORDS)
    ):
        return WarehouseConnectionError(
            f"PostgreSQL at {url} could not be reached or dropped the connection: "
            f"{_first_line(primary or raw)}",
            url=url,
            sqlstate=state,
        )
    if state and state.startswith("42"):
        return _syntax(primary, details, sql, state)
    if "no binary output function" in lower:
        return WarehouseError(
            f"PostgreSQL cannot send a column in binary COPY: {primary}; cast that column to "
            "text in the query (col::text)",
            sqlstate=state,
        )
    return WarehouseError(
        f"PostgreSQL error{f' {state}' if state else ''}: {_first_line(primary or raw)}",
        sqlstate=state,
    )


def _syntax(primary: str, details: dict[str, str], sql: str | None, state: str) -> QuerySyntaxError:
    fields: dict[str, Any] = {"line": None, "column": None, "position": None, "sqlstate": state}
    excerpt = ""
    raw = details.get("PG_DIAG_STATEMENT_POSITION")
    if raw and raw.isdigit() and sql:
        position = int(raw)
        before = sql[: position - 1]
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        text = sql.splitlines()[line - 1] if sql.splitlines() else ""
        fields.update(line=line, column=column, position=position)
        excerpt = f" (line {line}, column {column})\n  {text}\n  {' ' * (column - 1)}^"
    return QuerySyntaxError(f"PostgreSQL rejected the query: {primary}{excerpt}", **fields)


def _details(exc: BaseException) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in getattr(exc, "details", None) or []:
        try:
            key, value = item
        except (TypeError, ValueError):
            continue
        key = key.decode() if isinstance(key, bytes) else str(key)
        value = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        found[key] = value
    return found


def _primary(text: str) -> str:
    match = _PRIMARY.search(text)
    return match.group(1).strip() if match else _first_line(text)


def _first_quoted(text: str) -> str | None:
    match = _QUOTED.search(text)
    return match.group(1) if match else None


def _after_for(text: str) -> str | None:
    match = re.search(r"permission denied for \w+ (\S+)", text)
    return match.group(1) if match else None


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]
