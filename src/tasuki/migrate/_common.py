"""Pieces shared by the runner and the target loaders: progress, cursors, load outcomes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from tasuki.migrate._source import mysql_literal
from tasuki.migrate._types import quote_mysql

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BatchSource",
    "Counter",
    "LoadOutcome",
    "Progress",
    "ProgressCallback",
    "cursor_condition",
    "cursor_to_text",
    "cursor_value",
    "newer_cursor",
]


@dataclass(frozen=True)
class Progress:
    """A progress report for one table.

    Attributes:
        table: source table name.
        phase: ``"start"``, ``"rows"`` (after each batch) or ``"done"``.
        rows: rows read so far.
    """

    table: str
    phase: Literal["start", "rows", "done"]
    rows: int


ProgressCallback = Callable[[Progress], None]


class Counter:
    """Counts rows and tracks the maximum cursor value seen, reporting progress."""

    def __init__(self, table: str, notify: ProgressCallback) -> None:
        self.table = table
        self.notify = notify
        self.rows = 0
        self.cursor_index: int | None = None
        self.max_cursor: Any = None

    def __call__(self, batch: pa.RecordBatch) -> None:
        import pyarrow.compute as pc

        self.rows += batch.num_rows
        if self.cursor_index is not None and batch.num_rows:
            top = pc.max(batch.column(self.cursor_index)).as_py()
            if top is not None and (self.max_cursor is None or top > self.max_cursor):
                self.max_cursor = top
        self.notify(Progress(self.table, "rows", self.rows))


def cursor_value(text: str | None) -> datetime | int | None:
    """Parse a stored cursor: an integer, or a datetime written by :func:`cursor_to_text`."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return datetime.fromisoformat(text)


def cursor_to_text(value: Any) -> str | None:
    """Stored form of a cursor value: the integer, or ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat(
            sep=" ", timespec="microseconds"
        )
    return str(int(value))


def newer_cursor(before: str | None, seen: Any) -> str | None:
    """The stored cursor after a run: the later of the stored one and the largest seen."""
    if seen is None:
        return before
    seen_text = cursor_to_text(seen)
    old = cursor_value(before)
    new = cursor_value(seen_text)
    if old is None or (new is not None and type(new) is type(old) and new > old):  # type: ignore[operator]
        return seen_text
    return before


def cursor_condition(column: str, lag: timedelta | int, stored: str) -> str:
    """``column >= stored - lag`` as MySQL SQL, built from the stored (typed) cursor."""
    value = cursor_value(stored)
    if isinstance(value, datetime):
        if isinstance(lag, timedelta):
            value = value - lag
    elif value is not None and isinstance(lag, int):
        value = value - lag
    return f"{quote_mysql(column)} >= {mysql_literal(value)}"


@dataclass(frozen=True)
class LoadOutcome:
    """What a target loader reports back to ``migrate_table``."""

    target: str
    initial: bool
    rows_written: int
    cursor_before: str | None
    cursor_after: str | None
    added_columns: tuple[str, ...] = ()


BatchSource = Callable[[str], Iterable["pa.RecordBatch"]]
