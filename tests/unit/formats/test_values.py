"""Round trips of plain Python / numpy values: pickle, json, txt, npy, npz and gzip twins."""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasuki.formats import format_for, is_empty

from .conftest import ReadOnlyStream, WriteOnly, dump_bytes, roundtrip


@dataclasses.dataclass
class Point:
    x: int
    y: float


PICKLABLE: list[Any] = [
    None,
    {"a": [1, 2.5, "x"], 3: (4, 5)},
    Point(1, 2.0),
    np.arange(10).reshape(2, 5),
    pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="k")),
    {1, 2, 3},
    b"\x00\xff",
]


@pytest.mark.parametrize("ext", [".pkl", ".pickle", ".pkl.gz"])
@pytest.mark.parametrize("value", PICKLABLE, ids=lambda v: type(v).__name__)
def test_pickle_round_trip(ext: str, value: Any) -> None:
    back = roundtrip(ext, value)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
    else:
        assert back == value


def test_pickle_uses_protocol_5() -> None:
    data = dump_bytes(".pkl", {"a": 1})
    assert data[:2] == b"\x80\x05"


JSON_VALUES: list[Any] = [
    {"auc": 0.91, "n": 3, "ok": True, "none": None, "nested": {"l": [1, "two", [3.5]]}},
    [],
    "héllo 東京",
    12,
    {"": [{}]},
]


@pytest.mark.parametrize("ext", [".json", ".json.gz"])
@pytest.mark.parametrize("value", JSON_VALUES)
def test_json_round_trip(ext: str, value: Any) -> None:
    assert roundtrip(ext, value) == value


def test_json_numpy_scalars_and_tuples() -> None:
    value = {"n": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True), "t": (1, 2)}
    assert roundtrip(".json", value) == {"n": 3, "f": 0.5, "b": True, "t": [1, 2]}


def test_json_is_utf8_text_ending_in_newline() -> None:
    assert dump_bytes(".json", {"k": "東京"}) == '{"k": "東京"}\n'.encode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_json_round_trips_any_json_value(value: Any) -> None:
    assert roundtrip(".json", value) == value


@pytest.mark.parametrize("ext", [".txt", ".txt.gz"])
def test_text_round_trip(ext: str) -> None:
    assert roundtrip(ext, "line 1\nline 2\n東京") == "line 1\nline 2\n東京"
    assert roundtrip(ext, ["a", "b", ""]) == "a\nb\n\n"
    assert roundtrip(ext, ("only",)).splitlines() == ["only"]
    assert roundtrip(ext, []) == ""
    assert roundtrip(ext, "") == ""


def test_text_keeps_carriage_returns() -> None:
    assert roundtrip(".txt", "a\r\nb") == "a\r\nb"


ARRAYS = [
    np.arange(12, dtype="int32").reshape(3, 4),
    np.asfortranarray(np.random.default_rng(0).random((3, 2))),
    np.array([True, False]),
    np.array(["a", "bé"]),
    np.array(["2024-01-01", "NaT"], dtype="datetime64[s]"),
    np.array(3.5),
    np.zeros((0, 3)),
    np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: str(a.dtype))
def test_npy_round_trip(array: np.ndarray) -> None:
    back = roundtrip(".npy", array)
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_npz_round_trip_with_awkward_keys() -> None:
    value = {"file": np.arange(3), "allow_pickle": np.eye(2), "x/y": np.array(["s"])}
    back = roundtrip(".npz", value)
    assert list(back) == list(value)
    for key in value:
        np.testing.assert_array_equal(back[key], value[key])
    assert roundtrip(".npz", {}) == {}


def _dump_at(monkeypatch: pytest.MonkeyPatch, when: float, ext: str, value: Any) -> bytes:
    """``dump_bytes`` with the clock at ``when``: two dumps a second apart in one test would
    share a zip timestamp (2 s resolution) or a gzip mtime (1 s) and prove nothing."""
    monkeypatch.setattr(time, "time", lambda: when)
    return dump_bytes(ext, value)


def test_npz_bytes_are_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"a": np.arange(5)}
    first = _dump_at(monkeypatch, 1_000_000_000.0, ".npz", value)
    assert first == _dump_at(monkeypatch, 1_700_000_000.0, ".npz", value)


@pytest.mark.parametrize(
    ("ext", "value"),
    [
        (".pkl.gz", {"a": list(range(100))}),
        (".json.gz", {"a": list(range(100))}),
        (".txt.gz", "x" * 1000),
        (".csv.gz", pd.DataFrame({"a": range(100)})),
        (".tsv.gz", pd.DataFrame({"a": range(100)})),
    ],
)
def test_gzip_twins_wrap_the_plain_bytes_reproducibly(
    ext: str, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _dump_at(monkeypatch, 1_000_000_000.0, ext, value)
    assert data[:2] == b"\x1f\x8b"
    assert data[4:8] == b"\x00\x00\x00\x00"  # MTIME 0
    assert data[8] == 4  # XFL: "fastest" -- level 1, chosen from the benchmark
    # equal values give equal bytes, whenever they are written
    assert data == _dump_at(monkeypatch, 1_700_000_000.0, ext, value)
    assert gzip.decompress(data) == dump_bytes(ext.removesuffix(".gz"), value)
    assert len(data) < len(gzip.decompress(data))


ALL_CASES: list[tuple[str, Any]] = [
    (".pkl", {"a": 1}),
    (".pkl.gz", {"a": 1}),
    (".json", {"a": 1}),
    (".json.gz", [1]),
    (".txt", "t"),
    (".txt.gz", "t"),
    (".csv", pd.DataFrame({"a": [1.5]})),
    (".csv.gz", pd.DataFrame({"a": [1.5]})),
    (".tsv", pd.DataFrame({"a": [1.5]})),
    (".tsv.gz", pd.DataFrame({"a": [1.5]})),
    (".parquet", pd.DataFrame({"a": [1.5]})),
    (".feather", pd.DataFrame({"a": [1.5]})),
    (".arrow", pd.DataFrame({"a": [1.5]})),
    (".npy", np.arange(3)),
    (".npz", {"a": np.arange(3)}),
]


@pytest.mark.parametrize(("ext", "value"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_every_format_streams_through_unseekable_files(ext: str, value: Any) -> None:
    fmt = format_for("x" + ext)
    sink = WriteOnly()
    fmt.dump(value, sink)  # type: ignore[arg-type]
    assert bytes(sink.buffer) == dump_bytes(ext, value)
    back = fmt.load(io.BufferedReader(ReadOnlyStream(bytes(sink.buffer))))
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
    elif ext.startswith(".npz"):
        np.testing.assert_array_equal(back["a"], value["a"])
    else:
        assert back == value


@pytest.mark.parametrize(
    ("value", "empty"),
    [
        ("", True),
        ("x", False),
        ([], True),
        ([0], False),
        ({}, True),
        ((), True),
        (set(), True),
        (b"", True),
        (np.zeros(0), True),
        (np.zeros((3, 0)), True),
        (np.zeros(2), False),
        (pd.DataFrame(), True),
        (pd.DataFrame({"a": []}), True),
        (pd.DataFrame(index=[1, 2]), True),
        (pd.DataFrame({"a": [1]}), False),
        (None, False),
        (0, False),
        (math.nan, False),
    ],
)
def test_is_empty(value: Any, empty: bool) -> None:
    assert is_empty(value) is empty
    assert format_for("x.pkl").is_empty(value) is empty


def test_is_empty_polars_and_arrow() -> None:
    import polars as pl
    import pyarrow as pa

    assert is_empty(pl.DataFrame({"a": []}))
    assert not is_empty(pl.DataFrame({"a": [1]}))
    assert is_empty(pa.table({"a": pa.array([], pa.int64())}))
    assert not is_empty(pa.table({"a": [1]}))
    assert is_empty(pa.RecordBatch.from_pydict({"a": pa.array([], pa.int8())}))
