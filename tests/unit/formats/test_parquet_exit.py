"""A Parquet file read from a Python file object is not pre-buffered.

pyarrow pre-buffers a Parquet file read from a Python file object on its I/O threads, which
may still be alive when the interpreter exits: about a third of the processes that loaded a
small Parquet output (read into memory, then decoded) ended in SIGABRT ("terminate called
without an active exception", apache/arrow#34314) once their work was done: a notebook
script, a CI job, an Argo step marked failed after its record was written. The crash needs
many fresh processes to show and a few also crash, rarely, for other reasons under load, so
this test checks the mechanism: what tasuki asks pyarrow for.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tasuki


class Frame(tasuki.Task):
    def output(self) -> tasuki.FileTarget:
        return self.make_target("frame.parquet")

    def run(self) -> None:
        self.dump(pd.DataFrame({"item": [f"i{i}" for i in range(50)], "n": range(50)}))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Each pq.read_table call: the kind of file and the pre_buffer asked for."""
    seen: list[tuple[str, Any]] = []
    real = pq.read_table

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((type(source).__name__, kwargs.get("pre_buffer", "default")))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", spy)
    return seen


def test_a_loaded_output_is_read_without_pre_buffering(
    tmp_path: Path, calls: list[tuple[str, Any]]
) -> None:
    ws = tmp_path / "ws"
    tasuki.build(Frame(), workspace=ws, progress="off", return_value=False)
    assert len(tasuki.load(Frame(), workspace=ws)) == 50  # a small output: read into memory
    assert calls == [("BytesIO", False)]


def test_a_python_file_is_not_pre_buffered_and_a_native_one_is(
    tmp_path: Path, calls: list[tuple[str, Any]]
) -> None:
    from tasuki.formats import format_for

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    fmt = format_for(str(path))
    with path.open("rb") as f:
        assert len(fmt.load(f)) == 2  # a local file: read through a native file
    assert len(fmt.load(io.BytesIO(path.read_bytes()))) == 2
    assert calls == [("OSFile", True), ("BytesIO", False)]
