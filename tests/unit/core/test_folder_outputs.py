"""A folder of Parquet parts is hashed as it is written, and checked as files are.

Its record held sizes only: a part changed outside tasuki with the same size loaded as if
it were the task's output, `tasuki verify` could say only "ok (size only)", and any run of
it again (the same rows) reran everything below it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.core.targets import folder_hash
from tasuki.errors import CorruptOutputError
from tasuki.report.verify import verify_records
from tasuki.storage import open_store


class Parts(tasuki.Task):
    n: int = 10

    def output(self) -> tasuki.DirectoryTarget:
        return self.make_directory_target("parts", rows_per_file=4, as_="pandas")

    def run(self) -> None:
        self.dump(pd.DataFrame({"x": range(self.n)}))


class Total(tasuki.Task):
    def requires(self) -> Parts:
        return Parts()

    def output(self) -> tasuki.FileTarget:
        return self.make_target("total.pkl")

    def run(self) -> None:
        self.dump(int(self.load()["x"].sum()))


def _folder(ws: Path, task: tasuki.Task) -> Path:
    return ws / task.output().key  # type: ignore[union-attr]


def _tamper(part: Path) -> None:
    """Same size, other rows: a part rewritten by hand."""
    table = pq.read_table(part)
    values = [v + 1 for v in table.column("x").to_pylist()]
    pq.write_table(pa.table({"x": values}, schema=table.schema), part, compression="zstd")


def test_the_record_holds_the_hash_the_files_have(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    tasuki.build(Parts(), workspace=ws, progress="off")
    store = open_store(str(ws))
    (out,) = RunRecord.read(store, Parts().unique_id).outputs
    assert out["kind"] == "folder" and len(list(_folder(ws, Parts()).iterdir())) == 3
    assert (out["size"], out["xxh3"]) == folder_hash(store, out["key"])


def test_a_part_changed_outside_tasuki_is_damage(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert tasuki.build(Total(), workspace=ws, progress="off") == 45
    part = sorted(_folder(ws, Parts()).iterdir())[1]
    before = part.stat().st_size
    _tamper(part)
    assert part.stat().st_size == before
    with pytest.raises(CorruptOutputError, match="is damaged"):
        tasuki.load(Parts(), workspace=ws)
    (damaged,) = [c for c in verify_records(open_store(str(ws))) if c.bad]
    assert damaged.status == "wrong content" and damaged.unique_id == Parts().unique_id
    # a build reruns the producer, then the task that found the damage
    assert tasuki.build(Total(), workspace=ws, rerun=["Total"], progress="off") == 45


def test_a_part_added_or_removed_is_damage(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    tasuki.build(Parts(), workspace=ws, progress="off")
    extra = _folder(ws, Parts()) / "part-000009.parquet"
    extra.write_bytes(b"")
    with pytest.raises(CorruptOutputError):
        tasuki.load(Parts(), workspace=ws)
    extra.unlink()
    assert list(tasuki.load(Parts(), workspace=ws)["x"]) == list(range(10))


def test_verify_checks_a_folder_byte_for_byte(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    tasuki.build(Parts(), workspace=ws, progress="off")
    (check,) = verify_records(open_store(str(ws)))
    assert check.status == "ok"


def test_a_remote_workspace_checks_sizes_on_load(tmp_path: Path) -> None:
    """A second read of a folder in a bucket would download it twice; `tasuki verify`
    still reads it whole."""
    ws = "memory://folders-on-load"
    assert list(tasuki.build(Parts(), workspace=ws, progress="off")["x"]) == list(range(10))
    store = open_store(ws)
    (out,) = RunRecord.read(store, Parts().unique_id).outputs
    assert (out["size"], out["xxh3"]) == folder_hash(store, out["key"])
    assert [c.status for c in verify_records(store)] == ["ok"]
    store.remove(Parts().output().key)


def test_the_zoo_refuses_a_folder_whose_parts_changed(tmp_path: Path) -> None:
    from tasuki.config import Settings
    from tasuki.zoo import Zoo

    ws = tmp_path / "ws"
    tasuki.build(Parts(), workspace=ws, progress="off")
    zoo = Zoo(str(tmp_path / "registry"), tracking_uri="", settings=Settings(workspace=str(ws)))
    assert zoo.push("parts", Parts()).version == 1
    _tamper(sorted(_folder(ws, Parts()).iterdir())[0])
    with pytest.raises(CorruptOutputError, match="differs from its run record"):
        zoo.push("parts", Parts())
