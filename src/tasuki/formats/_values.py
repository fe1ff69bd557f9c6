"""What a value is, answered without importing pandas, polars, pyarrow or numpy.

A value can only be a pandas DataFrame if pandas is already imported, so these checks
look at the names of the classes in ``type(obj).__mro__`` instead of calling
``isinstance`` against imported classes (the way hamilton's ``h_databackends`` does).
That keeps ``import tasuki.formats`` cheap and lets a task that never touches pandas
run without it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any, Literal

from tasuki.errors import FormatError

__all__ = [
    "FrameKind",
    "a_type",
    "cannot_hold",
    "column_names",
    "frame_kind",
    "is_empty",
    "is_json_value",
    "is_ndarray",
    "is_numpy_scalar",
    "near_frame_hint",
    "num_rows",
    "suggest_extension",
    "type_name",
]

FrameKind = Literal["pandas", "polars", "arrow"]

# (top-level package, class qualname) -> kind. The top-level package rather than the full
# module because pandas 3 reports ``pandas`` where pandas 2 reports ``pandas.core.frame``.
_FRAMES: dict[tuple[str, str], FrameKind] = {
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
    ("pyarrow", "Table"): "arrow",
    ("pyarrow", "RecordBatch"): "arrow",
}

# Values that are almost a data frame: the hint says how to turn them into one.
_NEAR_FRAMES: dict[tuple[str, str], str] = {
    ("pandas", "Series"): "call .to_frame() first",
    ("polars", "Series"): "call .to_frame() first",
    ("polars", "LazyFrame"): "call .collect() first",
    ("pyarrow", "ChunkedArray"): "wrap it with pyarrow.table({'name': value}) first",
    ("pyarrow", "Array"): "wrap it with pyarrow.table({'name': value}) first",
}


def _class_keys(obj: Any) -> list[tuple[str, str]]:
    return [(cls.__module__.partition(".")[0], cls.__qualname__) for cls in type(obj).__mro__]


def frame_kind(obj: Any) -> FrameKind | None:
    """``"pandas"``, ``"polars"`` or ``"arrow"`` for a data frame or table, else None."""
    for key in _class_keys(obj):
        kind = _FRAMES.get(key)
        if kind is not None:
            return kind
    return None


def near_frame_hint(obj: Any) -> str | None:
    """How to turn a Series / LazyFrame / Arrow array into a frame, or None."""
    for key in _class_keys(obj):
        hint = _NEAR_FRAMES.get(key)
        if hint is not None:
            return hint
    return None


def is_ndarray(obj: Any) -> bool:
    """Whether ``obj`` is a numpy ndarray (or a subclass), without importing numpy."""
    return ("numpy", "ndarray") in _class_keys(obj)


def is_numpy_scalar(obj: Any) -> bool:
    return ("numpy", "generic") in _class_keys(obj)


def column_names(frame: Any) -> list[Any]:
    """Column names of a pandas / polars DataFrame or pyarrow Table (or RecordBatch)."""
    kind = frame_kind(frame)
    if kind == "arrow":
        return list(frame.schema.names)
    if kind in ("pandas", "polars"):
        return list(frame.columns)
    raise FormatError(
        f"expected a pandas DataFrame, polars DataFrame or pyarrow Table, got {type_name(frame)}",
        value_type=type_name(frame),
    )


def num_rows(frame: Any) -> int:
    """Row count of a data frame or table."""
    kind = frame_kind(frame)
    if kind == "arrow":
        return int(frame.num_rows)
    if kind == "polars":
        return int(frame.height)
    return len(frame)


def is_empty(obj: Any) -> bool:
    """Whether ``obj`` counts as empty for ``fail_on_empty_dump``.

    Data frames and tables are empty when they have no rows or no columns; numpy arrays
    when they have no elements; str, bytes and containers when their length is 0. Every
    other value (including None and 0) is not empty.

    Args:
        obj: Any value.

    Returns:
        True for an empty data frame, table, array, str, bytes, list, tuple, set or dict.

    Example:
        >>> is_empty([]), is_empty({"a": 1}), is_empty(0)
        (True, False, False)
    """
    if frame_kind(obj) is not None:
        return num_rows(obj) == 0 or len(column_names(obj)) == 0
    if is_ndarray(obj):
        return int(obj.size) == 0
    if isinstance(obj, str | bytes | bytearray | list | tuple | dict | set | frozenset):
        return len(obj) == 0
    return False


def type_name(obj: Any) -> str:
    """A readable type name: ``dict``, ``pandas.DataFrame``, ``mymod.Model``."""
    cls = type(obj)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    top = module.partition(".")[0]
    # Prefer the short public spelling (pandas.DataFrame) when the top package exports it.
    if getattr(sys.modules.get(top), cls.__qualname__, None) is cls:
        return f"{top}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"


def a_type(obj: Any) -> str:
    """``"a dict"``, ``"an int"``, ``"a pandas.DataFrame"``: the type name with its article."""
    name = type_name(obj)
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _unpicklable_callable(obj: Any) -> bool:
    qualname = getattr(obj, "__qualname__", "")
    return callable(obj) and ("<lambda>" in qualname or "<locals>" in qualname)


def is_json_value(obj: Any, _depth: int = 0) -> bool:
    """Whether ``obj`` is made only of JSON types (str keys; numpy scalars allowed)."""
    if _depth > 200:
        return False
    if is_numpy_scalar(obj):
        obj = obj.item()
    if isinstance(obj, float):
        return math.isfinite(obj)  # NaN and infinities are not valid JSON
    if obj is None or isinstance(obj, str | bool | int):
        return True
    if isinstance(obj, list | tuple):
        return all(is_json_value(item, _depth + 1) for item in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and is_json_value(v, _depth + 1) for k, v in obj.items())
    return False


def suggest_extension(obj: Any) -> str | None:
    """The built-in extension that would hold ``obj``, or None when none would."""
    if frame_kind(obj) is not None or near_frame_hint(obj) is not None:
        return ".parquet"
    if is_ndarray(obj):
        return ".pkl" if obj.dtype.hasobject else ".npy"
    if isinstance(obj, str):
        return ".txt"
    if (
        isinstance(obj, Mapping)
        and obj
        and all(
            isinstance(k, str) and is_ndarray(v) and not v.dtype.hasobject for k, v in obj.items()
        )
    ):
        return ".npz"
    if is_json_value(obj):
        return ".json"
    if _unpicklable_callable(obj):
        return None
    return ".pkl"


def cannot_hold(
    obj: Any, extension: str, accepts: str, *, detail: str | None = None
) -> FormatError:
    """The FormatError for a value that a format cannot write.

    The message names the value's type, the extension, what the extension holds and the
    extension that would hold the value.
    """
    tname = type_name(obj)
    a_tname = a_type(obj)
    suggestion = suggest_extension(obj)
    parts = [f"cannot write {a_tname} to a {extension} file: {extension} holds {accepts}"]
    if detail:
        parts.append(detail)
    hint = near_frame_hint(obj)
    if hint is not None and suggestion is not None:
        parts.append(f"for {a_tname}, {hint} (a {suggestion} file holds a data frame)")
    elif suggestion is not None and suggestion != extension:
        parts.append(f"{a_tname} fits a {suggestion} file; change the output's extension")
    elif suggestion is None:
        parts.append(
            f"no built-in format holds {a_tname} (lambdas and local functions cannot be "
            "pickled); return data instead, or define it at module level and use .pkl"
        )
    return FormatError(
        "; ".join(parts) + ".",
        value_type=tname,
        extension=extension,
        accepts=accepts,
        suggestion=suggestion,
    )
