"""A damaged output is never taken as done.

Completeness compares each output's size and stamp with its run record (a stat; an output
whose stamp moved is hashed: tests/unit/core/test_output_stamps.py); a load verifies the
size and the xxh3 content hash while it reads. Damage the stamp cannot show (a rewrite
within one clock tick) is planted here with ``damage_unseen``. A mismatch names the file
and the task that made it, and a build reruns that task before the one that found it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.errors import CorruptOutputError
from tasuki.storage import open_store
from tests._records import damage_unseen


class Rows(tasuki.Task):
    n: int = 2000

    def output(self):
        return self.make_target("rows.csv")

    def run(self):
        self.dump(pd.DataFrame({"i": range(self.n), "sq": [i * i for i in range(self.n)]}))


class CountRows(tasuki.Task):
    n: int = 2000

    def requires(self):
        return Rows(n=self.n)

    def output(self):
        return self.make_target("count.json")

    def run(self):
        self.dump({"n": len(self.load())})


class Blob(tasuki.Task):
    ext: str = "pkl"

    def output(self):
        return self.make_target(f"blob.{self.ext}")

    def run(self):
        self.dump(pd.DataFrame({"x": list(range(5000))}))


class SumBlob(tasuki.Task):
    ext: str = "pkl"
    tag: str = ""

    def requires(self):
        return Blob(ext=self.ext)

    def output(self):
        return self.make_target("sum.json")

    def run(self):
        self.dump({"sum": int(self.load()["x"].sum())})


def _path(ws: str, task: tasuki.Task) -> Path:
    (entry,) = RunRecord.read(open_store(ws), task.unique_id).outputs
    return Path(ws) / entry["key"]


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def ws(tmp_path: Path) -> str:
    return str(tmp_path / "ws")


def test_a_csv_truncated_at_a_line_boundary_is_not_done(ws):
    assert tasuki.build(CountRows(), workspace=ws) == {"n": 2000}
    csv = _path(ws, Rows())
    lines = csv.read_bytes().split(b"\n")
    csv.write_bytes(b"\n".join(lines[:1000]) + b"\n")  # still a valid CSV, half the rows
    os.remove(_path(ws, CountRows()))  # the downstream must load it again
    result = tasuki.build(CountRows(), workspace=ws, return_value=False)
    assert {r.name.rpartition(":")[2] for r in result.by_status("ran")} == {"Rows", "CountRows"}
    assert tasuki.load(CountRows(), workspace=ws) == {"n": 2000}


@pytest.mark.parametrize("read", ["whole", "streamed"])
@pytest.mark.parametrize("ext", ["pkl", "parquet", "csv", "feather"])
def test_a_flipped_byte_is_found_when_loading_and_the_producer_reruns(
    ws, ext, read, caplog, monkeypatch
):
    from tasuki.core import targets

    if read == "streamed":  # hashed while the format reads, as large outputs are
        monkeypatch.setattr(targets, "_IN_MEMORY", 0)
    assert tasuki.build(SumBlob(ext=ext), workspace=ws) == {"sum": sum(range(5000))}
    blob = _path(ws, Blob(ext=ext))
    damage_unseen(open_store(ws), Blob(ext=ext))  # only the content hash can tell
    with pytest.raises(CorruptOutputError) as info:
        tasuki.load(Blob(ext=ext), workspace=ws)
    assert info.value.key in str(blob) and info.value.uid == Blob(ext=ext).unique_id
    assert "Blob" in str(info.value) and "damaged" in str(info.value)
    # A new downstream task loads it: the build reruns Blob, then the consumer.
    result = tasuki.build(SumBlob(ext=ext, tag="again"), workspace=ws, return_value=False)
    assert result.ok, result.summary()
    ran = [r.name.rpartition(":")[2] for r in result.by_status("ran")]
    assert sorted(ran) == ["Blob", "SumBlob"]
    assert tasuki.load(SumBlob(ext=ext, tag="again"), workspace=ws) == {"sum": sum(range(5000))}
    assert "found the output of" in caplog.text and "damaged" in caplog.text


def test_a_damaged_root_is_rebuilt_by_the_build_that_returns_it(ws, caplog):
    """Nothing downstream loads a root: the build that loads it to return its value finds the
    damage, and reruns it (the error's own words: "a build reruns") instead of raising on
    every build after."""
    assert tasuki.build(SumBlob(), workspace=ws) == {"sum": sum(range(5000))}
    damage_unseen(open_store(ws), SumBlob())  # a change the build's check cannot see
    assert tasuki.build(SumBlob(), workspace=ws) == {"sum": sum(range(5000))}
    assert "running it again" in caplog.text
    assert tasuki.load(SumBlob(), workspace=ws) == {"sum": sum(range(5000))}  # whole again
    # Only the damaged root reran: its upstream was sound.
    records = open_store(ws)
    assert RunRecord.read(records, Blob().unique_id).status == "done"
    # Damage an upstream instead: the root is sound and cached, so the build returns it.
    _flip_a_byte(_path(ws, Blob()))
    result = tasuki.build(SumBlob(), workspace=ws, return_value=False)
    assert result.by_status("ran") == [] and result.by_status("cached")


def test_repair_works_with_worker_processes(ws):
    tasuki.build([SumBlob()], workspace=ws)
    damage_unseen(open_store(ws), Blob())
    roots = [SumBlob(tag=str(i)) for i in range(4)]
    result = tasuki.build(roots, workspace=ws, workers=2, return_value=False)
    assert result.ok, result.summary()
    assert [r.name for r in result.by_status("ran")].count(Blob.task_name()) == 1
    assert tasuki.build(roots, workspace=ws) == [{"sum": sum(range(5000))}] * 4


class Corrupting(tasuki.Task):
    """Writes an output that is damaged again right after its record (a failing disk)."""

    def output(self):
        return self.make_target("bad.pkl")

    def run(self):
        self.dump(list(range(1000)))


class ReadsCorrupting(tasuki.Task):
    def requires(self):
        return Corrupting()

    def run(self):
        self.dump(len(self.load()))


def test_damage_that_comes_back_after_the_rerun_fails_the_build(ws, monkeypatch):
    from tasuki.core import execute

    tasuki.build(Corrupting(), workspace=ws)
    real = execute._run_with_retries

    def run_then_damage(node, store, settings, code_key, graph=None, fresh_inputs=False):
        result = real(node, store, settings, code_key, graph, fresh_inputs)
        if isinstance(node.task, Corrupting):
            _flip_a_byte(_path(ws, Corrupting()))
        return result

    damage_unseen(open_store(ws), Corrupting())
    monkeypatch.setattr(execute, "_run_with_retries", run_then_damage)
    result = tasuki.run_build(ReadsCorrupting(), workspace=ws)
    assert not result.ok
    (failed,) = result.by_status("failed")
    assert failed.error.type == "CorruptOutputError"
    assert [r.name for r in result.by_status("ran")] == [Corrupting.task_name()]


def test_a_missing_record_entry_or_changed_output_name_is_incomplete(ws):
    tasuki.build(Rows(n=10), workspace=ws)
    store = open_store(ws)
    record = RunRecord.read(store, Rows(n=10).unique_id)
    record.outputs = []
    record.write(store)
    result = tasuki.build(Rows(n=10), workspace=ws, return_value=False)
    assert result.counts()["ran"] == 1


class SlowToReport(tasuki.Task):
    """Finds the damage at once but reports it only after ``delay`` seconds."""

    delay: float

    def requires(self):
        return Blob()

    def output(self):
        return self.make_target("slow.json")

    def run(self):
        import time

        try:
            value = self.load()
        except CorruptOutputError:
            time.sleep(self.delay)
            raise
        self.dump({"sum": int(value["x"].sum())})


def test_a_consumer_that_read_the_damage_before_the_repair_ended_is_retried(ws):
    """Two workers: one consumer reports at once and the producer is rebuilt; the other read
    the old bytes too but reports after the rebuild ended. It is retried, not failed."""
    tasuki.build(Blob(), workspace=ws)
    damage_unseen(open_store(ws), Blob())
    roots = [SlowToReport(delay=0.05), SlowToReport(delay=1.5)]
    result = tasuki.run_build(roots, workspace=ws, workers=2, progress="off")
    assert result.ok, result.summary()
    assert [r.name for r in result.by_status("ran")].count(Blob.task_name()) == 1
    assert tasuki.build(roots, workspace=ws) == [{"sum": sum(range(5000))}] * 2


class FixedPath(tasuki.Task):
    """An output() that names one file for every parameter value (no unique id in it)."""

    n: int

    def output(self):
        from tasuki.core.targets import FileTarget
        from tasuki.formats import format_for

        return FileTarget("fixed/out.pkl", format_for("out.pkl"))

    def run(self):
        self.dump(self.n * 10)


def test_a_key_shared_by_parameter_values_is_named_as_the_likely_cause(ws):
    assert tasuki.build(FixedPath(n=1), workspace=ws) == 10
    assert tasuki.build(FixedPath(n=2), workspace=ws) == 20  # writes the same file
    with pytest.raises(CorruptOutputError) as info:
        tasuki.load(FixedPath(n=1), workspace=ws)
    assert "another run of the task (other parameters) may have written it" in str(info.value)
    assert "self.make_target(name)" in str(info.value)
    assert tasuki.build(FixedPath(n=1), workspace=ws) == 10  # found damaged, run again
    # A key that holds the unique id has one writer: damage came from outside.
    tasuki.build(Blob(ext="pkl"), workspace=ws)
    _flip_a_byte(_path(ws, Blob(ext="pkl")))
    with pytest.raises(CorruptOutputError, match="changed or truncated outside tasuki"):
        tasuki.load(Blob(ext="pkl"), workspace=ws)
