"""``check_columns``: say clearly which required columns a loaded frame lacks."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from tasuki.errors import MissingColumnsError
from tasuki.formats._values import column_names, frame_kind, num_rows, type_name

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["check_columns"]


def check_columns(df: Any, required_columns: Iterable[str] | str, *, where: str) -> None:
    """Raise unless ``df`` has every column in ``required_columns``.

    Works for pandas and polars DataFrames and pyarrow Tables. For pandas, index level
    names do not count as columns (the message points out when a missing column is the
    index, so ``reset_index()`` is the fix).

    Args:
        df: The frame to check.
        required_columns: Column names; a single str counts as one name.
        where: What is being checked, for the message, e.g. ``"TrainModel input 'features'"``.

    Raises:
        MissingColumnsError: with ``where``, ``missing`` and ``present`` as attributes.
        FormatError: ``df`` is not a data frame or table.

    Example:
        >>> import pandas as pd
        >>> check_columns(pd.DataFrame({"a": [1]}), ["a"], where="example")
    """
    required = [required_columns] if isinstance(required_columns, str) else list(required_columns)
    present = column_names(df)
    have = set(present)
    missing = [c for c in dict.fromkeys(required) if c not in have]
    if not missing:
        return
    kind = frame_kind(df)
    notes: list[str] = []
    if kind == "pandas":
        index_names = {n for n in df.index.names if n is not None}
        in_index = [c for c in missing if c in index_names]
        if in_index:
            notes.append(f"{in_index!r} is in the index; call reset_index() to make it a column")
    for column in missing:
        close = difflib.get_close_matches(str(column), [str(p) for p in present], n=1)
        if close:
            notes.append(f"did you mean {close[0]!r} for {column!r}?")
    shown = present if len(present) <= 50 else [*present[:50], f"... {len(present) - 50} more"]
    message = (
        f"{where}: missing required column(s) {missing!r}; the {type_name(df)} "
        f"({num_rows(df)} rows) has columns {shown!r}"
    )
    if notes:
        message += "; " + "; ".join(notes)
    raise MissingColumnsError(message, where=where, missing=tuple(missing), present=tuple(present))
