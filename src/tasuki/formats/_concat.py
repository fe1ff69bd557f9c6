"""Concatenating data frames of the same kind (used by ``Task.load_data_frame``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tasuki.errors import FormatError

__all__ = ["concat_frames"]


def concat_frames(frames: Sequence[Any], *, where: str) -> Any:
    """Stack pandas / polars DataFrames or pyarrow Tables of one kind, row-wise.

    Raises:
        FormatError: the values are not all data frames of the same library.
    """
    if not frames:
        raise FormatError(f"{where}: there are no data frames to concatenate")
    kinds = {type(f).__module__.split(".")[0] for f in frames}
    if len(kinds) != 1:
        raise FormatError(
            f"{where}: cannot concatenate data frames of different libraries "
            f"({', '.join(sorted(kinds))}); convert them to one kind first",
            kinds=sorted(kinds),
        )
    kind = kinds.pop()
    if kind == "pandas":
        import pandas as pd

        return pd.concat(frames)
    if kind == "polars":
        import polars as pl

        return pl.concat(frames)
    if kind == "pyarrow":
        import pyarrow as pa

        return pa.concat_tables(frames)
    raise FormatError(
        f"{where}: {type(frames[0]).__name__} is not a data frame (pandas, polars or pyarrow)",
        value_type=type(frames[0]).__name__,
    )
