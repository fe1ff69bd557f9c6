"""Directory targets: Parquet parts written in a stream and read back as one table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal as assert_polars_equal

from tasuki.errors import FormatError, MissingColumnsError
from tasuki.formats import read_dataset, write_dataset


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(n),
            "s": pd.array([f"s{k}" for k in range(n)], dtype="str"),
            "c": pd.Categorical(["a", "b"] * (n // 2) + ["a"] * (n % 2)),
            "when": pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC"),
        },
        index=pd.Index(np.arange(n) * 10, name="row"),
    )


def _rows_per_part(directory: Path) -> list[int]:
    return [pq.read_metadata(p).num_rows for p in sorted(directory.glob("part-*.parquet"))]


def test_pandas_frame_in_parts_round_trips_with_index(tmp_path: Path) -> None:
    frame = _frame(10)
    parts = write_dataset(frame, str(tmp_path / "ds"), rows_per_file=3)
    assert [Path(p).name for p in parts] == [f"part-00000{k}.parquet" for k in range(4)]
    assert _rows_per_part(tmp_path / "ds") == [3, 3, 3, 1]
    back = read_dataset(str(tmp_path / "ds"), as_="pandas")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    table = read_dataset(str(tmp_path / "ds"))
    assert isinstance(table, pa.Table)
    assert table.num_rows == 10 and "row" in table.column_names
    pl_back = read_dataset(str(tmp_path / "ds"), as_="polars")
    assert isinstance(pl_back, pl.DataFrame) and pl_back["i"].to_list() == list(range(10))


def test_parts_are_zstd(tmp_path: Path) -> None:
    write_dataset(pa.table({"a": list(range(100))}), str(tmp_path / "ds"))
    meta = pq.read_metadata(tmp_path / "ds" / "part-000000.parquet")
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_batches_are_streamed_into_rolling_parts(tmp_path: Path) -> None:
    target = tmp_path / "ds"
    seen_part0_before_end: list[bool] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for k in range(5):
            yield pa.RecordBatch.from_pydict({"k": [k] * 1000, "v": np.arange(1000)})
            if k == 3:
                # part 0 (rows 0..1499) was closed before the producer got this far.
                seen_part0_before_end.append((target / "part-000000.parquet").exists())

    write_dataset(batches(), str(target), rows_per_file=1500)
    assert seen_part0_before_end == [True]
    assert _rows_per_part(target) == [1500, 1500, 1500, 500]
    table = read_dataset(str(target))
    assert table.column("k").to_pylist() == sorted(table.column("k").to_pylist())
    assert table.num_rows == 5000


def test_chunked_pandas_drops_plain_range_index(tmp_path: Path) -> None:
    chunks = [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [3, 4]}, index=pd.RangeIndex(2, 4))]
    write_dataset(iter(chunks), str(tmp_path / "ds"))
    table = read_dataset(str(tmp_path / "ds"))
    assert table.column_names == ["a"]
    back = read_dataset(str(tmp_path / "ds"), as_="pandas")
    assert back["a"].tolist() == [1, 2, 3, 4]


def test_mixed_items_and_castable_schemas(tmp_path: Path) -> None:
    items: list[Any] = [
        pa.table({"a": pa.array([1], pa.int64())}),
        pa.RecordBatch.from_pydict({"a": pa.array([2], pa.int32())}),
        pl.DataFrame({"a": [3]}),
        pd.DataFrame({"a": [4]}),
    ]
    write_dataset(items, str(tmp_path / "ds"))
    table = read_dataset(str(tmp_path / "ds"))
    assert table.schema.field("a").type == pa.int64()
    assert table.column("a").to_pylist() == [1, 2, 3, 4]


def test_schema_mismatch_fails_and_removes_parts(tmp_path: Path) -> None:
    def batches() -> Iterator[pa.Table]:
        yield pa.table({"a": [1, 2, 3]})
        yield pa.table({"a": ["not", "a", "number"]})

    with pytest.raises(FormatError, match=r"batch 1 does not match.*first: a: int64") as info:
        write_dataset(batches(), str(tmp_path / "ds"), rows_per_file=2)
    assert info.value.position == 1
    assert list((tmp_path / "ds").iterdir()) == []


def test_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"yielded no batches.*schema="):
        write_dataset(iter([]), str(tmp_path / "a"))
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    write_dataset(iter([]), str(tmp_path / "b"), schema=schema)
    table = read_dataset(str(tmp_path / "b"))
    assert table.num_rows == 0 and table.schema.equals(schema)
    write_dataset(_frame(0), str(tmp_path / "c"))
    back = read_dataset(str(tmp_path / "c"), as_="pandas")
    assert back.empty and list(back.columns) == ["i", "s", "c", "when"]


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "part-000000.parquet").write_bytes(b"old")
    with pytest.raises(FormatError, match="already holds 1 file"):
        write_dataset(pa.table({"a": [1]}), str(tmp_path / "ds"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1]}, "cannot write a dict"),
        ("text", "cannot write a str"),
        ([1, 2], "item 0 of the iterable is an int"),
        (42, "cannot write an int"),
    ],
)
def test_refuses_values_that_are_not_frames(tmp_path: Path, value: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        write_dataset(value, str(tmp_path / "ds"))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_rows_per_file_must_be_positive_int(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(FormatError, match="rows_per_file"):
        write_dataset(pa.table({"a": [1]}), str(tmp_path / "ds"), rows_per_file=bad)


def test_read_columns_and_errors(tmp_path: Path) -> None:
    write_dataset(_frame(4), str(tmp_path / "ds"), rows_per_file=2)
    table = read_dataset(str(tmp_path / "ds"), columns=["s"])
    assert table.column_names == ["s"]
    frame = read_dataset(str(tmp_path / "ds"), columns=["i"], as_="pandas")
    assert list(frame.columns) == ["i"] and frame.index.name == "row"
    with pytest.raises(MissingColumnsError) as info:
        read_dataset(str(tmp_path / "ds"), columns=["i", "nope"])
    assert info.value.missing == ("nope",)
    assert "row" in info.value.present
    with pytest.raises(FormatError, match="as_="):
        read_dataset(str(tmp_path / "ds"), as_="spark")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        read_dataset(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    with pytest.raises(FormatError, match=r"holds no \.parquet parts"):
        read_dataset(str(tmp_path / "empty"))


def test_fsspec_memory_filesystem_object_and_url() -> None:
    fs = fsspec.filesystem("memory")
    root = f"/tasuki-test-{uuid.uuid4().hex}"
    try:
        frame = pl.DataFrame({"a": list(range(7)), "b": ["x"] * 7})
        parts = write_dataset(frame, f"{root}/ds", fs, rows_per_file=3)
        assert len(parts) == 3 and all(fs.exists(p) for p in parts)
        assert_polars_equal(read_dataset(f"{root}/ds", fs, as_="polars"), frame)
        write_dataset(pa.table({"a": [1]}), f"memory://{root}/via-url")
        assert read_dataset(f"memory://{root}/via-url").to_pydict() == {"a": [1]}
        with pytest.raises(FormatError, match="already holds"):
            write_dataset(frame, f"{root}/ds", fs)
    finally:
        fs.rm(root, recursive=True)
