"""Compat targets keep gokart's meaning of each extension (the last one, as gokart picks)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi
from tasuki.compat._formats import gokart_format_for

VALUES: dict[str, Any] = {
    ".txt": ["a", 1],
    ".ini": "k=v",
    ".gz": ["a", "b"],
    ".csv": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
    ".tsv": pd.DataFrame({"a": ["x"]}),
    ".json": {"a": [1, 2]},
    ".ndjson": pd.DataFrame({"a": [1]}),
    ".npz": np.arange(3),
    ".png": b"\x89PNG",
    ".pkl": {"any": object.__name__},
}
EXPECTED: dict[str, Any] = {
    ".txt": ["a", "1"],  # gokart: str(x) per line, loads back the lines
    ".ini": ["k=v"],
    ".gz": ["a", "b"],
    ".png": b"\x89PNG",
    ".pkl": {"any": "object"},
}


class Dumps(gokart.TaskOnKart):
    ext = luigi.Parameter()

    def output(self) -> Any:
        return self.make_target(f"f/x{self.ext}")

    def run(self) -> None:
        self.dump(VALUES[self.ext])


@pytest.mark.parametrize("ext", sorted(VALUES))
def test_each_extension_loads_back_what_gokart_gives(ext: str) -> None:
    got = gokart.build(Dumps(ext=ext))
    value = VALUES[ext]
    if ext in EXPECTED:
        assert got == EXPECTED[ext]
    elif ext == ".json":
        pd.testing.assert_frame_equal(got, pd.DataFrame.from_dict(value))
    elif ext == ".npz":
        assert (got == value).all()
    else:
        pd.testing.assert_frame_equal(got, value)


def test_the_last_extension_picks_the_format_as_in_gokart() -> None:
    assert gokart_format_for("a/b.csv.gz").name == "gokart-gzip-text"
    assert gokart_format_for("b.pkl") is None  # tasuki's pickle gives the same value
    assert gokart_format_for("b.parquet") is None


def test_a_value_the_format_cannot_hold_is_refused_before_writing() -> None:
    class BadCsv(gokart.TaskOnKart):
        def output(self) -> Any:
            return self.make_target("bad.csv")

        def run(self) -> None:
            self.dump([1, 2])

    with pytest.raises(gokart.GokartBuildError, match="needs a pandas DataFrame or Series"):
        gokart.build(BadCsv())
