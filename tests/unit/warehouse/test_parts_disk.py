"""A full results folder while parts are written is a StorageError naming the part and folder.

The disk is made full without root: the part writer's file system is wrapped so that every
part is opened on ``/dev/full``, where each write fails with ENOSPC.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from tasuki.errors import StorageError, WarehouseError
from tasuki.warehouse import _parts
from tasuki.warehouse._parts import PartWriter

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


class FullDisk:
    """A local pyarrow file system whose every new file is on a full disk."""

    def __init__(self, code: int = errno.ENOSPC) -> None:
        self.local = pafs.LocalFileSystem()
        self.code = code

    def create_dir(self, path: str, *, recursive: bool = True) -> None:
        if self.code != errno.ENOSPC:
            raise OSError(self.code, os.strerror(self.code), path)
        self.local.create_dir(path, recursive=recursive)

    def open_output_stream(self, path: str) -> Any:
        return pa.OSFile("/dev/full", "wb")

    def delete_dir(self, path: str) -> None:
        self.local.delete_dir(path)


def full_disk(monkeypatch: pytest.MonkeyPatch, code: int = errno.ENOSPC) -> None:
    real = _parts.filesystem

    def wrapped(url: str, storage_options: Any = None) -> tuple[Any, str]:
        return FullDisk(code), real(url, storage_options)[1]

    monkeypatch.setattr(_parts, "filesystem", wrapped)


def batch(rows: int = 50_000) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(range(rows), pa.int64())})


@pytest.mark.parametrize("threaded", [True, False])
def test_part_writer_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threaded: bool
) -> None:
    full_disk(monkeypatch)
    results = tmp_path / "results"
    writer = PartWriter(str(results / "q1"), batch().schema, threaded=threaded)
    with pytest.raises(StorageError, match="disk is full") as caught:
        writer.write(batch())
        writer.close()
    error = caught.value
    assert not isinstance(error, WarehouseError)
    assert f"{results}/q1/part-00000.parquet" in str(error)
    assert f"results folder {str(results)!r}" in str(error)
    assert error.errno_name == "ENOSPC"  # type: ignore[attr-defined]
    assert isinstance(error.__cause__, OSError)


def test_part_writer_in_a_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full_disk(monkeypatch, errno.EROFS)
    with pytest.raises(StorageError, match="read-only") as caught:
        PartWriter(str(tmp_path / "results" / "q1"), batch().schema)
    assert str(tmp_path / "results" / "q1") in str(caught.value)


def test_duckdb_query_on_a_full_results_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasuki.warehouse import connect

    full_disk(monkeypatch)
    with (
        connect(f"duckdb://{tmp_path / 'dwh.duckdb'}", parts_dir=tmp_path / "results") as wh,
        pytest.raises(StorageError, match="disk is full") as caught,
    ):
        wh.query("SELECT i FROM range(300000) t(i)")
    assert not isinstance(caught.value, WarehouseError)
    assert f"results folder {str(tmp_path / 'results')!r}" in str(caught.value)
