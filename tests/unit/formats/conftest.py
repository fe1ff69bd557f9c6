"""Shared values and helpers for the format tests."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasuki.formats import format_for


class WriteOnly(io.RawIOBase):
    """A sink that cannot seek or read, like an object-store upload stream."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        view = memoryview(b)
        self.buffer += view
        return view.nbytes


class ReadOnlyStream(io.RawIOBase):
    """A source that cannot seek, like a streamed HTTP body."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        chunk = self._data.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


def dump_bytes(ext: str, value: Any) -> bytes:
    buf = io.BytesIO()
    format_for("x" + ext).dump(value, buf)
    return buf.getvalue()


def roundtrip(ext: str, value: Any) -> Any:
    fmt = format_for("x" + ext)
    buf = io.BytesIO()
    fmt.dump(value, buf)
    buf.seek(0)
    return fmt.load(buf)


@pytest.fixture
def rich_pandas() -> pd.DataFrame:
    """Every pandas feature Parquet / Feather must keep."""
    return pd.DataFrame(
        {
            "int": np.array([3, 1, 2, 7], dtype="int64"),
            "small": np.array([1, 2, 3, 4], dtype="int8"),
            "float": [0.5, np.nan, 2.25, -1.0],
            "str": pd.array(["a", "b,c", None, 'q"x'], dtype="str"),
            "when": pd.to_datetime(
                ["2024-01-01 09:00:00", "2024-03-31 23:59:59", None, "2025-12-31 00:00:00"]
            ).tz_localize("Asia/Tokyo"),
            "naive": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
            "cat": pd.Categorical(["x", "y", "x", None], categories=["y", "x", "z"]),
            "ordered": pd.Categorical(
                ["lo", "hi", "lo", "hi"], categories=["lo", "hi"], ordered=True
            ),
            "nullable": pd.array([1, None, 3, None], dtype="Int64"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "bool": [True, False, True, False],
        },
        index=pd.Index([10, 20, 30, 40], name="user_id"),
    )
