"""The pipeline engine on a real S3 endpoint (moto in server mode on loopback)."""

from __future__ import annotations

import pandas as pd
import pytest

import tasuki
from tasuki.errors import CorruptOutputError
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import FanIn, Leaf, ModelTask, TaskA, TaskB


class Frame(tasuki.Task):
    n: int = 5

    def output(self):
        return self.make_target("frame.parquet")

    def run(self):
        self.dump(pd.DataFrame({"x": range(self.n)}, index=pd.Index(list("abcde"), name="k")))


class Dataset(tasuki.Task):
    def output(self):
        return self.make_directory_target("parts", rows_per_file=2, as_="pandas")

    def run(self):
        self.dump(pd.DataFrame({"x": range(5)}))


def test_build_cache_and_load_on_s3(s3_workspace):
    assert tasuki.build(TaskB(param="s3"), workspace=s3_workspace) == "hello s3!!"
    again = tasuki.build(TaskB(param="s3"), workspace=s3_workspace, return_value=False)
    assert again.counts()["cached"] == 1
    store = open_store(s3_workspace)
    assert store.exists(TaskA(param="s3").output().key)
    assert tasuki.load_output(TaskB(param="s3").unique_id, workspace=s3_workspace) == "hello s3!!"


def test_fan_in_checks_concurrently_with_root_deleted(s3_workspace):
    tasuki.build(FanIn(n=30), workspace=s3_workspace)
    store = open_store(s3_workspace)
    store.remove(FanIn(n=30).output().key)
    result = tasuki.build(FanIn(n=30), workspace=s3_workspace, return_value=False)
    assert result.counts() == {"ran": 1, "cached": 30}
    assert tasuki.load(Leaf(i=29), workspace=s3_workspace) == 29


def test_data_frames_models_and_directories_on_s3(s3_workspace):
    frame = tasuki.build(Frame(), workspace=s3_workspace)
    assert list(frame.index) == list("abcde") and frame.index.name == "k"
    assert tasuki.build(ModelTask(), workspace=s3_workspace)["weights"] == [1, 2, 3]
    data = tasuki.build(Dataset(), workspace=s3_workspace)
    assert sorted(data["x"]) == [0, 1, 2, 3, 4]


def test_workers_on_s3(s3_workspace):
    assert tasuki.build(FanIn(n=8), workspace=s3_workspace, workers=2) == sum(range(8))


def test_an_object_rewritten_at_the_same_size_runs_its_task_again(s3_workspace):
    """The record keeps the object's ETag: other bytes at the same size are found by the
    build's check; the same bytes put again (a new ETag only if the content changed) are
    still the output."""
    from tasuki.core.records import RunRecord

    tasuki.build(Dataset(), workspace=s3_workspace)
    assert tasuki.build(Frame(), workspace=s3_workspace) is not None
    store = open_store(s3_workspace)
    (entry,) = RunRecord.read(store, Frame().unique_id).outputs
    assert entry["stamp"].lower().startswith("etag:"), entry
    key = entry["key"]
    data = store.read_bytes(key)
    store.write_bytes(key, data)  # same bytes: the same ETag
    assert tasuki.run_build(Frame(), workspace=s3_workspace, progress="off").counts() == {
        "cached": 1
    }
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    store.write_bytes(key, bytes(changed))
    assert tasuki.run_build(Frame(), workspace=s3_workspace, progress="off").counts() == {"ran": 1}
    (part_entry,) = RunRecord.read(store, Dataset().unique_id).outputs
    assert part_entry["kind"] == "folder" and part_entry["stamp"]
    part = next(k for k in store.list(part_entry["key"]))
    raw = bytearray(store.read_bytes(part))
    raw[len(raw) // 2] ^= 0x01
    store.write_bytes(part, bytes(raw))
    # A load compares the parts' ETags from its one listing, and reads them only then.
    with pytest.raises(CorruptOutputError, match="damaged"):
        tasuki.load(Dataset(), workspace=s3_workspace)
    assert tasuki.run_build(Dataset(), workspace=s3_workspace, progress="off").counts() == {
        "ran": 1
    }
    assert sorted(tasuki.load(Dataset(), workspace=s3_workspace)["x"]) == [0, 1, 2, 3, 4]
