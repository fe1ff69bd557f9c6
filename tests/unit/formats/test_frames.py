"""Data frames in Parquet, Feather / Arrow IPC and CSV / TSV: kinds, indexes, dtypes."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal as assert_polars_equal

from tasuki.errors import FormatError
from tasuki.formats import format_for

from .conftest import dump_bytes, roundtrip

COLUMNAR = [".parquet", ".feather", ".arrow"]
DELIMITED = [".csv", ".tsv", ".csv.gz", ".tsv.gz"]


def _indexes() -> dict[str, pd.Index]:
    n = 4
    return {
        "default-range": pd.RangeIndex(n),
        "named-range": pd.RangeIndex(5, 5 + 2 * n, 2, name="step2"),
        "unnamed-ints": pd.Index([7, 3, 9, 1]),
        "named-str": pd.Index(["a", "b", "c", "d"], name="key"),
        "tz-datetimes": pd.DatetimeIndex(
            pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"), name="at"
        ),
        "categorical": pd.CategoricalIndex(["x", "y", "x", "y"], name="group"),
        "multi-named": pd.MultiIndex.from_arrays(
            [[1, 1, 2, 2], ["a", "b", "a", "b"]], names=["g", "k"]
        ),
        "multi-unnamed": pd.MultiIndex.from_arrays([[1, 1, 2, 2], ["a", "b", "a", "b"]]),
        "multi-half-named": pd.MultiIndex.from_arrays(
            [[1, 1, 2, 2], ["a", "b", "a", "b"]], names=["g", None]
        ),
    }


@pytest.mark.parametrize("ext", COLUMNAR)
def test_pandas_dtypes_and_named_index_round_trip(ext: str, rich_pandas: pd.DataFrame) -> None:
    back = roundtrip(ext, rich_pandas)
    assert type(back) is pd.DataFrame
    pd.testing.assert_frame_equal(back, rich_pandas, check_exact=True)
    assert back["cat"].cat.categories.tolist() == ["y", "x", "z"]
    assert back["ordered"].cat.ordered
    assert str(back["when"].dtype) == "datetime64[us, Asia/Tokyo]"


@pytest.mark.parametrize("ext", COLUMNAR)
@pytest.mark.parametrize("index_name", list(_indexes()))
def test_pandas_indexes_round_trip(ext: str, index_name: str) -> None:
    index = _indexes()[index_name]
    frame = pd.DataFrame({"v": [1.5, 2.5, 3.5, 4.5], "s": ["p", "q", "r", "s"]}, index=index)
    back = roundtrip(ext, frame)
    # Arrow has no place for a DatetimeIndex's freq (pandas.to_parquet loses it too).
    pd.testing.assert_frame_equal(back, frame, check_exact=True, check_freq=False)
    assert type(back.index) is type(frame.index)


def test_parquet_range_index_costs_no_column() -> None:
    frame = pd.DataFrame({"v": range(10)})
    table = pq.read_table(io.BytesIO(dump_bytes(".parquet", frame)))
    assert table.column_names == ["v"]


def test_parquet_is_snappy_and_feather_lz4_arrow_uncompressed() -> None:
    frame = pd.DataFrame({"v": np.arange(1000)})
    meta = pq.read_metadata(io.BytesIO(dump_bytes(".parquet", frame)))
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    feather = dump_bytes(".feather", frame)
    arrow = dump_bytes(".arrow", frame)
    assert feather[:6] == arrow[:6] == b"ARROW1"
    assert len(feather) < len(arrow)
    assert pa.ipc.open_file(io.BytesIO(arrow)).read_all().column("v").to_pylist() == list(
        range(1000)
    )


def _rich_polars() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "int": pl.Series([1, None, 3], dtype=pl.Int32),
            "float": [0.5, None, 2.0],
            "str": ["a", None, "c"],
            "cat": pl.Series(["x", "y", "x"], dtype=pl.Categorical),
            "when": pl.Series(
                [pd.Timestamp("2024-01-01"), None, pd.Timestamp("2024-06-01")],
                dtype=pl.Datetime("us", "Asia/Tokyo"),
            ),
            "day": pl.Series([pd.Timestamp("2024-01-01").date(), None, None], dtype=pl.Date),
            "tags": [["a"], [], None],
            "flag": [True, None, False],
        }
    )


@pytest.mark.parametrize("ext", COLUMNAR)
def test_polars_round_trip_as_polars(ext: str) -> None:
    frame = _rich_polars()
    back = roundtrip(ext, frame)
    assert type(back) is pl.DataFrame
    assert_polars_equal(back, frame)


@pytest.mark.parametrize("ext", COLUMNAR)
def test_arrow_table_round_trip_as_arrow_with_its_metadata(ext: str) -> None:
    table = pa.table(
        {
            "i": pa.array([1, None], pa.int16()),
            "s": pa.array(["a", "b"], pa.large_string()),
            "d": pa.array(["x", "x"])
            .dictionary_encode()
            .cast(pa.dictionary(pa.int8(), pa.large_string())),
            "l": pa.array([[1], [2, 3]]),
        }
    ).replace_schema_metadata({"owner": "ml-team"})
    back = roundtrip(ext, table)
    assert isinstance(back, pa.Table)
    assert back.schema.equals(table.schema, check_metadata=True)
    assert back.equals(table)
    assert back.schema.metadata == {b"owner": b"ml-team"}  # our tasuki.kind is not leaked


@pytest.mark.parametrize("ext", COLUMNAR)
def test_record_batch_loads_as_table(ext: str) -> None:
    batch = pa.RecordBatch.from_pydict({"a": [1, 2]})
    back = roundtrip(ext, batch)
    assert isinstance(back, pa.Table)
    assert back.to_pydict() == {"a": [1, 2]}


def test_kind_is_recorded_in_schema_metadata() -> None:
    for value, kind in [
        (pd.DataFrame({"a": [1]}), b"pandas"),
        (pl.DataFrame({"a": [1]}), b"polars"),
        (pa.table({"a": [1]}), b"arrow"),
    ]:
        schema = pq.read_schema(io.BytesIO(dump_bytes(".parquet", value)))
        assert schema.metadata[b"tasuki.kind"] == kind


def test_files_from_other_tools_load_as_pandas() -> None:
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="k"))
    buf = io.BytesIO()
    frame.to_parquet(buf)
    buf.seek(0)
    pd.testing.assert_frame_equal(format_for("x.parquet").load(buf), frame)
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}), buf)
    buf.seek(0)
    pd.testing.assert_frame_equal(format_for("x.parquet").load(buf), pd.DataFrame({"a": [1]}))


def test_unknown_kind_in_metadata_is_an_error() -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}).replace_schema_metadata({"tasuki.kind": "spark"}), buf)
    buf.seek(0)
    with pytest.raises(FormatError, match=r"tasuki.kind='spark'.*pandas, polars, arrow"):
        format_for("x.parquet").load(buf)


@pytest.mark.parametrize("ext", [*COLUMNAR, ".csv"])
def test_unconvertible_column_is_a_format_error_pointing_to_pickle(ext: str) -> None:
    frame = pd.DataFrame({"mixed": [1, "a", 2.5]}, dtype=object)
    with pytest.raises(FormatError) as info:
        dump_bytes(ext, frame)
    assert "pandas.DataFrame" in str(info.value) and ".pkl" in str(info.value)
    assert info.value.extension == ext


# ----------------------------------------------------------------------- CSV / TSV


@pytest.mark.parametrize("ext", DELIMITED)
@pytest.mark.parametrize("index_name", list(_indexes()))
def test_csv_keeps_the_pandas_index(ext: str, index_name: str) -> None:
    index = _indexes()[index_name]
    frame = pd.DataFrame({"v": [1.5, 2.5, 3.5, 4.5], "s": ["p", "q", "r", "s"]}, index=index)
    back = roundtrip(ext, frame)
    assert list(back.index.names) == list(frame.index.names)
    assert back.index.nlevels == frame.index.nlevels
    assert back["v"].tolist() == frame["v"].tolist()
    assert back["s"].tolist() == frame["s"].tolist()
    if index_name in ("default-range", "named-range", "unnamed-ints", "named-str"):
        pd.testing.assert_index_equal(back.index, frame.index, exact=False)
    if index_name == "default-range":
        assert isinstance(back.index, pd.RangeIndex)


def test_csv_text_is_plain_and_marks_index_columns() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.Index([5, 6], name="id"))
    assert dump_bytes(".csv", frame).decode() == '"__index__id","a","b"\n5,1,"x"\n6,2,"y"\n'
    # A fraction elsewhere in the column already makes it read back as float...
    assert dump_bytes(".csv", pd.DataFrame({"a": [1.0, 2.5]})) == b'"a"\n1\n2.5\n'
    # ...but an all-whole float column is written as "1.0" so it is not read as int.
    assert dump_bytes(".csv", pd.DataFrame({"a": [1.0, None, -3.0]})) == b'"a"\n"1.0"\n\n"-3.0"\n'
    assert dump_bytes(".tsv", frame).decode().splitlines()[0] == '"__index__id"\t"a"\t"b"'


@pytest.mark.parametrize("ext", DELIMITED)
def test_csv_values_and_inferred_types(ext: str) -> None:
    frame = pd.DataFrame(
        {
            "int": [1, 2, 3],
            "whole_float": [1.0, 2.0, np.nan],
            "float": [0.1, -2.5, 1e20],
            "text": pd.array(["comma, here", 'quote " here', "new\nline\tand tab"], dtype="str"),
            "empty_vs_missing": pd.array(["", None, "x"], dtype="str"),
            "int_gaps": pd.array([1, None, 3], dtype="Int64"),
            "bool": [True, False, True],
            "bool_gaps": pd.array([True, None, False], dtype="boolean"),
            "nothing": [None, None, None],
            "when": pd.to_datetime(
                ["2024-01-01 10:00:00", "2024-01-02 00:00:00", "2024-01-03 00:00:00"], utc=True
            ),
        }
    )
    back = roundtrip(ext, frame)
    assert back["int"].dtype == "int64"
    assert back["whole_float"].dtype == "float64"
    assert back["whole_float"].tolist()[:2] == [1.0, 2.0]
    assert back["float"].tolist() == [0.1, -2.5, 1e20]
    assert back["text"].tolist() == frame["text"].tolist()
    assert back["empty_vs_missing"].iloc[0] == ""
    assert pd.isna(back["empty_vs_missing"].iloc[1])
    assert str(back["int_gaps"].dtype) == "Int64"
    assert back["int_gaps"].tolist()[0] == 1 and back["int_gaps"].isna().tolist() == [
        False,
        True,
        False,
    ]
    assert back["bool"].dtype == bool
    assert str(back["bool_gaps"].dtype) == "boolean"
    assert back["nothing"].dtype == "float64" and back["nothing"].isna().all()
    assert back["when"].tolist() == frame["when"].tolist()


@pytest.mark.parametrize("ext", [".csv", ".tsv.gz"])
def test_csv_from_polars_and_arrow_loads_as_pandas(ext: str) -> None:
    expected = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for value in (
        pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        pa.table({"a": [1, 2], "b": ["x", "y"]}),
    ):
        back = roundtrip(ext, value)
        assert type(back) is pd.DataFrame
        pd.testing.assert_frame_equal(back, expected, check_dtype=False)


def test_csv_refuses_reserved_column_names() -> None:
    with pytest.raises(FormatError, match="__index__"):
        dump_bytes(".csv", pd.DataFrame({"__index__x": [1]}))


def test_csv_empty_frames() -> None:
    back = roundtrip(".csv", pd.DataFrame())
    assert back.empty and list(back.columns) == []
    back = roundtrip(".csv", pd.DataFrame({"a": pd.Series([], dtype="int64")}))
    assert list(back.columns) == ["a"] and len(back) == 0


def test_csv_nested_columns_need_parquet() -> None:
    with pytest.raises(FormatError, match=r"\.parquet"):
        dump_bytes(".csv", pa.table({"l": [[1, 2]]}))


def test_csv_reads_files_written_by_pandas() -> None:
    text = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(index=False).encode()
    back = format_for("x.csv").load(io.BytesIO(text))
    assert back.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_local_files_are_read_natively_only_when_it_cannot_change_the_result(
    tmp_path: Path,
) -> None:
    from tasuki.formats._stream import local_path_of

    path = tmp_path / "a.feather"
    path.write_bytes(dump_bytes(".feather", pd.DataFrame({"v": [1, 2]})))
    with open(path, "rb") as f:
        assert local_path_of(f) == str(path)
        f.read(1)
        assert local_path_of(f) is None  # already read from: the path would restart
    assert local_path_of(io.BytesIO(b"x")) is None

    # The path now names another file (an atomic replace): the open file is what counts.
    with open(path, "rb") as f:
        replacement = tmp_path / "b.feather"
        replacement.write_bytes(dump_bytes(".feather", pd.DataFrame({"v": [9]})))
        os.replace(replacement, path)
        assert local_path_of(f) is None
        back = format_for(str(path)).load(f)
    assert back["v"].tolist() == [1, 2]
    for ext in COLUMNAR:
        p = tmp_path / ("c" + ext)
        p.write_bytes(dump_bytes(ext, pa.table({"v": [1]})))
        with open(p, "rb") as f:
            assert format_for(p.name).load(f).to_pydict() == {"v": [1]}


def test_polars_file_without_polars_installed_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = dump_bytes(".parquet", pl.DataFrame({"a": [1]}))
    monkeypatch.setitem(sys.modules, "polars", None)  # makes `import polars` fail
    with pytest.raises(FormatError, match=r"pip install 'tasuki\[polars\]'"):
        format_for("x.parquet").load(io.BytesIO(data))
