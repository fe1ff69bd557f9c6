"""An output rewritten at the same size is found by the build's check, not only on load.

The check was a stat of each output against the size its record lists: a root damaged in
place at the same size was called cached by ``tasuki run`` (and ``why``), and only a load
found it. Records now keep each output's stamp (modification and change times and inode, or
an object's ETag); where it moved, the check hashes the output.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import tasuki
from tasuki.core import _output_check, targets
from tasuki.core.records import RECORDS_PREFIX, RunRecord, records_db
from tasuki.errors import CorruptOutputError
from tasuki.storage import open_store


class Numbers(tasuki.Task):
    n: int = 500

    def output(self):
        return self.make_target("numbers.pkl")

    def run(self):
        self.dump(list(range(self.n)))


class Total(tasuki.Task):
    n: int = 500

    def requires(self):
        return Numbers(n=self.n)

    def output(self):
        return self.make_target("total.json")

    def run(self):
        self.dump({"total": sum(self.load())})


class Parts(tasuki.Task):
    def output(self):
        return self.make_directory_target("parts")

    def run(self):
        import pandas as pd

        self.dump(pd.DataFrame({"x": list(range(300)), "y": [i % 7 for i in range(300)]}))


def _output(ws: str, task: tasuki.Task) -> tuple[str, dict]:
    (entry,) = RunRecord.read(open_store(ws), task.unique_id).outputs
    return entry["key"], entry


def _flip(path: Path, *, keep_times: bool = False) -> None:
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    with path.open("r+b") as f:  # in place: the same inode
        f.write(bytes(data))
    if keep_times:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _ran(result: tasuki.BuildResult) -> list[str]:
    assert result.ok, result.summary()
    return sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))


def _why(ws: str, task: tasuki.Task) -> str:
    from tasuki.report.why import explain

    return "\n".join(explain(task, open_store(ws)))


@pytest.fixture
def ws(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


@pytest.mark.parametrize("records", ["database", "files"])
@pytest.mark.parametrize("keep_times", [False, True], ids=["in-place", "old-mtime-restored"])
def test_a_root_rewritten_at_the_same_size_runs_again(ws, keep_times, records):
    if records == "files":  # a workspace made by a version that kept one file per record
        (Path(ws) / RECORDS_PREFIX).mkdir(parents=True)
    tasuki.build(Total(), workspace=ws)
    assert (records == "files") == (records_db(open_store(ws)) is None)
    key, _ = _output(ws, Total())
    _flip(Path(ws) / key, keep_times=keep_times)
    reason = _why(ws, Total())
    assert "rewritten outside tasuki" in reason and "same size" in reason, reason
    result = tasuki.run_build(Total(), workspace=ws, progress="off")
    assert _ran(result) == ["Total"]
    assert tasuki.load(Total(), workspace=ws) == {"total": sum(range(500))}


def test_why_names_the_rewritten_output_and_both_hashes(ws):
    tasuki.build(Total(), workspace=ws)
    key, entry = _output(ws, Total())
    _flip(Path(ws) / key)
    text = _why(ws, Total())
    assert key in text and "rewritten outside tasuki" in text and entry["xxh3"] in text


def test_a_folder_output_with_one_part_rewritten_runs_again(ws):
    tasuki.build(Parts(), workspace=ws)
    key, entry = _output(ws, Parts())
    assert entry["kind"] == "folder" and entry["stamp"]
    (part,) = [p for p in (Path(ws) / key).rglob("*") if p.is_file()]
    _flip(part)
    assert "rewritten outside tasuki" in _why(ws, Parts())
    result = tasuki.run_build(Parts(), workspace=ws, progress="off")
    assert _ran(result) == ["Parts"]


@pytest.mark.parametrize("records", ["database", "files"])
def test_same_bytes_under_a_new_stamp_are_hashed_once_and_stay_cached(ws, monkeypatch, records):
    """``touch``, a copy over it, a workspace copied without its times: the output is the
    same, so the task stays cached; its record takes the new stamp, so the next build
    reads nothing. (Records kept as files are not rewritten: another build may be writing
    one, and a file has no compare-and-swap; such an output is hashed at each check.)"""
    if records == "files":
        (Path(ws) / RECORDS_PREFIX).mkdir(parents=True)
    tasuki.build(Total(), workspace=ws)
    key, entry = _output(ws, Total())
    path = Path(ws) / key
    shutil.copyfile(path, path.with_suffix(".copy"))
    os.replace(path.with_suffix(".copy"), path)  # new inode, same bytes
    hashed: list[str] = []
    real = targets.object_hash

    def counting(store, k):  # type: ignore[no-untyped-def]
        hashed.append(k)
        return real(store, k)

    monkeypatch.setattr(_output_check, "object_hash", counting)
    first = tasuki.run_build(Total(), workspace=ws, progress="off")
    assert _ran(first) == [] and hashed == [key]
    restamped = _output(ws, Total())[1]["stamp"] != entry["stamp"]
    assert restamped == (records == "database")
    second = tasuki.run_build(Total(), workspace=ws, progress="off")
    assert _ran(second) == [] and hashed == [key] * (1 if records == "database" else 2)


def test_a_record_without_stamps_is_checked_by_size_as_before(ws):
    """Records written before stamps were kept: nothing to compare, the size decides (and a
    load, which hashes, still finds a same-size change)."""
    tasuki.build(Total(), workspace=ws)
    store = open_store(ws)
    record = RunRecord.read(store, Total().unique_id)
    outputs = [{k: v for k, v in o.items() if k != "stamp"} for o in record.outputs]
    db = records_db(store)
    assert db is not None
    old = record.to_bytes()
    record.outputs = outputs
    assert db.replace(record.unique_id, old, record.to_bytes())
    key, _ = _output(ws, Total())
    _flip(Path(ws) / key)
    result = tasuki.run_build(Total(), workspace=ws, progress="off")
    assert _ran(result) == []
    with pytest.raises(CorruptOutputError):
        tasuki.load(Total(), workspace=ws)


def test_a_memory_workspace_finds_an_object_rewritten_at_the_same_size(tmp_path):
    ws = f"memory://stamps-{tmp_path.name}"
    store = open_store(ws)
    tasuki.build(Total(), workspace=ws)
    key, entry = _output(ws, Total())
    assert entry["stamp"]
    data = bytearray(store.read_bytes(key))
    data[-2] ^= 0x01
    store.write_bytes(key, bytes(data))
    result = tasuki.run_build(Total(), workspace=ws, progress="off")
    assert _ran(result) == ["Total"]
