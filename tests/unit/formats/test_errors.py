"""What users see when a value does not fit, a file is damaged, or columns are missing."""

from __future__ import annotations

import gzip
import io
import pickle
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from tasuki.errors import FormatError, MissingColumnsError
from tasuki.formats import check_columns, format_for

from .conftest import dump_bytes


def _local_function() -> None:
    def inner() -> None: ...

    return inner  # type: ignore[return-value]


# (extension, value, type shown, suggested extension or None)
UNHOLDABLE: list[tuple[str, Any, str, str | None]] = [
    (".json", lambda x: x, "function", None),
    (".json", {"df": pd.DataFrame({"a": [1]})}, "dict", ".pkl"),
    (".json", pd.DataFrame({"a": [1]}), "pandas.DataFrame", ".parquet"),
    (".json", {1: "int key"}, "dict", ".pkl"),
    (".json", [float("nan")], "list", ".pkl"),
    (".json", {"s": {1, 2}}, "dict", ".pkl"),
    (".csv", {"a": [1, 2]}, "dict", ".json"),
    (".csv.gz", [1, 2], "list", ".json"),
    (".tsv", np.arange(3), "numpy.ndarray", ".npy"),
    (".parquet", "text", "str", ".txt"),
    (".parquet", pd.Series([1, 2]), "pandas.Series", ".parquet"),
    (".feather", pl.DataFrame({"a": [1]}).lazy(), "polars.LazyFrame", ".parquet"),
    (".arrow", pa.array([1]), "pyarrow.Int64Array", ".parquet"),
    (".npy", "text", "str", ".txt"),
    (".npy", np.array([object()]), "numpy.ndarray", ".pkl"),
    (".npy", [1, 2], "list", ".json"),
    (".npz", np.arange(3), "numpy.ndarray", ".npy"),
    (".npz", {"a": [1]}, "dict", ".json"),
    (".npz", {1: np.arange(2)}, "dict", ".pkl"),
    (".txt", 42, "int", ".json"),
    (".txt", ["ok", 3], "list", ".json"),
    (".txt.gz", {"a": 1}, "dict", ".json"),
    (".pkl", lambda: 1, "function", None),
    (".pkl.gz", _local_function(), "function", None),
]


@pytest.mark.parametrize(
    ("ext", "value", "shown", "suggestion"),
    UNHOLDABLE,
    ids=[f"{c[0]}-{c[2]}" for c in UNHOLDABLE],
)
def test_unholdable_value_names_type_extension_accepted_and_alternative(
    ext: str, value: Any, shown: str, suggestion: str | None
) -> None:
    fmt = format_for("out" + ext)
    sink = io.BytesIO()
    with pytest.raises(FormatError) as info:
        fmt.dump(value, sink)
    err = info.value
    text = str(err)
    assert err.value_type == shown
    assert err.extension == ext
    assert err.suggestion == suggestion
    assert f" {shown} to a {ext} file" in text
    assert f"{ext} holds {err.accepts}" in text
    if suggestion is not None and suggestion != ext:
        assert f"{suggestion} file" in text
    if suggestion is None:
        assert "no built-in format holds" in text
    # The check runs before any byte is written (gzip headers included).
    if not ext.startswith(".pkl"):
        assert sink.getvalue() == b""
    assert pickle.loads(pickle.dumps(err)).fields == err.fields


def test_json_error_points_at_the_bad_part() -> None:
    with pytest.raises(FormatError, match=r"value\['a'\]\[1\]\['f'\] is a function"):
        dump_bytes(".json", {"a": [1, {"f": lambda: 0}]})
    with pytest.raises(FormatError, match=r"key 1, an int \(keys must be str\)"):
        dump_bytes(".json", {"a": {1: 2}})
    with pytest.raises(FormatError, match="NaN and infinities"):
        dump_bytes(".json", {"x": np.float64("inf")})
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(FormatError, match="contains itself"):
        dump_bytes(".json", cyclic)


def test_text_rejects_newlines_inside_items() -> None:
    with pytest.raises(FormatError, match="item 1 contains a newline"):
        dump_bytes(".txt", ["a", "b\nc"])


def test_pickle_error_for_unpicklable_nested_value() -> None:
    import threading

    with pytest.raises(FormatError, match="pickle refused it") as info:
        dump_bytes(".pkl", {"lock": threading.Lock()})
    assert info.value.value_type == "dict"


GARBAGE = b"this is not the format you are looking for \xff\xfe"


@pytest.mark.parametrize(
    "ext",
    [
        ".pkl",
        ".pkl.gz",
        ".json",
        ".json.gz",
        ".txt",
        ".txt.gz",
        ".csv.gz",
        ".parquet",
        ".feather",
        ".arrow",
        ".npy",
        ".npz",
    ],
)
def test_damaged_file_is_a_format_error_naming_the_file(ext: str, tmp_path: Any) -> None:
    path = tmp_path / ("bad" + ext)
    path.write_bytes(GARBAGE)
    with open(path, "rb") as f, pytest.raises(FormatError) as info:
        format_for(path.name).load(f)
    assert f"as {ext}" in str(info.value)
    assert "bad" + ext in str(info.value)


def test_truncated_gzip_and_pickle() -> None:
    data = dump_bytes(".pkl.gz", list(range(1000)))
    with pytest.raises(FormatError, match="truncated"):
        format_for("x.pkl.gz").load(io.BytesIO(data[: len(data) // 2]))
    data = dump_bytes(".pkl", list(range(1000)))
    with pytest.raises(FormatError, match="truncated"):
        format_for("x.pkl").load(io.BytesIO(data[:-10]))


def test_pickle_of_missing_class_says_what_to_install() -> None:
    data = pickle.dumps(pd.DataFrame()).replace(b"pandas", b"pandaz")
    with pytest.raises(FormatError, match="not importable here"):
        format_for("x.pkl").load(io.BytesIO(data))


def test_wrong_format_inside_npz() -> None:
    with pytest.raises(FormatError, match="not an npz archive"):
        format_for("x.npz").load(io.BytesIO(dump_bytes(".npy", np.arange(3))))
    with pytest.raises(FormatError, match="pickle"):
        format_for("x.npy").load(io.BytesIO(pickle.dumps(np.array([object()]))))


def test_gzip_twin_reading_plain_bytes() -> None:
    plain = dump_bytes(".json", {"a": 1})
    with pytest.raises(FormatError, match=r"\.json\.gz.*not valid gzip"):
        format_for("x.json.gz").load(io.BytesIO(plain))
    assert gzip.decompress(dump_bytes(".json.gz", {"a": 1})) == plain


# --------------------------------------------------------------------- check_columns


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"user_id": [1], "score": [0.5]}),
        pl.DataFrame({"user_id": [1], "score": [0.5]}),
        pa.table({"user_id": [1], "score": [0.5]}),
    ],
    ids=["pandas", "polars", "arrow"],
)
def test_check_columns_for_each_kind(frame: Any) -> None:
    check_columns(frame, ["user_id", "score"], where="Train input")
    check_columns(frame, "score", where="Train input")
    check_columns(frame, [], where="Train input")
    with pytest.raises(MissingColumnsError) as info:
        check_columns(
            frame, ["user_id", "label", "scores", "label"], where="Train input 'features'"
        )
    err = info.value
    assert err.where == "Train input 'features'"
    assert err.missing == ("label", "scores")
    assert err.present == ("user_id", "score")
    text = str(err)
    assert text.startswith("Train input 'features': missing required column(s) ['label', 'scores']")
    assert "['user_id', 'score']" in text
    assert "did you mean 'score' for 'scores'?" in text
    assert isinstance(err, FormatError)
    assert pickle.loads(pickle.dumps(err)).missing == ("label", "scores")


def test_check_columns_points_at_the_pandas_index() -> None:
    frame = pd.DataFrame({"score": [0.5]}, index=pd.Index([1], name="user_id"))
    with pytest.raises(MissingColumnsError, match=r"in the index; call reset_index\(\)"):
        check_columns(frame, ["user_id"], where="Evaluate")


def test_check_columns_refuses_non_frames() -> None:
    with pytest.raises(FormatError, match="got dict"):
        check_columns({"a": [1]}, ["a"], where="x")
