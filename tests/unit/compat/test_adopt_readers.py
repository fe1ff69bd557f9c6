"""gokart's file formats, read as gokart 1.12's processors read them (written here as those
processors write them: gokart/file_processor)."""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
import sys
import types
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tasuki.compat._adopt_readers import read_gokart_file, unpickle_gokart
from tasuki.errors import FormatError


def test_csv_and_tsv() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    got = read_gokart_file(frame.to_csv(index=False).encode(), ".csv")
    pd.testing.assert_frame_equal(got, frame)
    got = read_gokart_file(frame.to_csv(index=False, sep="\t").encode(), ".tsv")
    pd.testing.assert_frame_equal(got, frame)
    assert read_gokart_file(b"", ".csv").empty


def test_text_and_gzip_lines() -> None:
    assert read_gokart_file(b"a \nb\n", ".txt") == ["a", "b"]
    assert read_gokart_file(gzip.compress(b"x\ny\n"), ".gz") == ["x", "y"]


def test_json_ndjson_parquet() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    pd.testing.assert_frame_equal(read_gokart_file(frame.to_json().encode(), ".json"), frame)
    lines = frame.to_json(orient="records", lines=True).encode()
    pd.testing.assert_frame_equal(read_gokart_file(lines, ".ndjson"), frame)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, compression="gzip")
    pd.testing.assert_frame_equal(read_gokart_file(buffer.getvalue(), ".parquet"), frame)


def test_feather_index_column_is_restored() -> None:
    frame = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["p", "q"], name="key"))
    stored = frame.copy()
    stored["__feather_gokart_index__key"] = stored.index
    buffer = io.BytesIO()
    stored.reset_index(drop=True).to_feather(buffer)
    pd.testing.assert_frame_equal(read_gokart_file(buffer.getvalue(), ".feather"), frame)
    plain = read_gokart_file(buffer.getvalue(), ".feather", store_index_in_feather=False)
    assert "__feather_gokart_index__key" in plain.columns


def test_npz_xml_binary() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, data=np.arange(3))
    assert read_gokart_file(buffer.getvalue(), ".npz").tolist() == [0, 1, 2]
    assert read_gokart_file(b"<a><b/></a>", ".xml").getroot().tag == "a"
    assert read_gokart_file(b"\x89PNG", ".png") == b"\x89PNG"


def test_unknown_extension() -> None:
    with pytest.raises(FormatError, match=r"no file processor for '.bin'"):
        read_gokart_file(b"", ".bin")


no_dill = pytest.mark.skipif(
    importlib.util.find_spec("dill") is not None,
    reason="dill is installed: gokart's pickles are read with dill itself",
)


def _dill_like(monkeypatch: pytest.MonkeyPatch, helper: str, fn: Any, *args: Any) -> bytes:
    """A pickle that calls ``dill._dill.<helper>(*args)``, as dill writes them."""
    fake = types.ModuleType("dill._dill")
    fn.__module__, fn.__qualname__ = "dill._dill", helper
    setattr(fake, helper, fn)
    monkeypatch.setitem(sys.modules, "dill", types.ModuleType("dill"))
    monkeypatch.setitem(sys.modules, "dill._dill", fake)

    class Reduced:
        def __reduce__(self) -> Any:
            return fn, args

    data = pickle.dumps(Reduced(), protocol=4)
    monkeypatch.delitem(sys.modules, "dill._dill")
    monkeypatch.delitem(sys.modules, "dill")
    return data


@no_dill
def test_dill_arrays_read_without_dill(monkeypatch: pytest.MonkeyPatch) -> None:
    array = np.arange(4.0)
    f, args, state = array.__reduce__()

    def _create_array(f: Any, args: Any, state: Any, npdict: Any = None) -> Any:
        raise AssertionError("not called when pickling")

    data = _dill_like(monkeypatch, "_create_array", _create_array, f, args, state)
    assert unpickle_gokart(data).tolist() == [0.0, 1.0, 2.0, 3.0]


@no_dill
def test_dill_only_values_name_dill(monkeypatch: pytest.MonkeyPatch) -> None:
    def _create_function(*args: Any) -> Any:
        raise AssertionError

    data = _dill_like(monkeypatch, "_create_function", _create_function, 1)
    with pytest.raises(pickle.UnpicklingError, match=r"pip install dill"):
        unpickle_gokart(data)
