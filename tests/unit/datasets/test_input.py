"""DatasetInput: a dataset split as a task; downstream caches follow the version's content."""

from __future__ import annotations

import shutil

import pyarrow.compute as pc
import pytest

import tasuki
from tasuki.datasets import DatasetInput, info
from tasuki.datasets._info import version_dir
from tasuki.errors import ConfigError, TaskError
from tests.unit.datasets._published import publish, split_of

NAME = "product_a/clicks"


class SumX(tasuki.Task):
    """Sums column x of its dataset input: a task that depends on data."""

    data: DatasetInput

    def requires(self):  # type: ignore[no-untyped-def]
        return self.data

    def output(self):  # type: ignore[no-untyped-def]
        return self.make_target("sum_x.pkl")

    def run(self) -> None:
        table = self.load()
        self.dump(int(pc.sum(table.column("x")).as_py()))


class CountRows(tasuki.Task):
    """Requires a DatasetInput through requires() instead of a parameter."""

    ref: str

    def requires(self):  # type: ignore[no-untyped-def]
        return DatasetInput(ref=self.ref, split="train[:50%]", columns=["id"], as_="pandas")

    def output(self):  # type: ignore[no-untyped-def]
        return self.make_target("count.pkl")

    def run(self) -> None:
        frame = self.load()
        self.dump(len(frame))


@pytest.fixture
def registry(tmp_path, monkeypatch):
    reg = str(tmp_path / "registry")
    publish(reg, NAME, "1.0.0", {"train": split_of(40, 15), "test": split_of(10, 10)})
    monkeypatch.setenv("TASUKI_REGISTRY", reg)
    return reg


def build(task, tmp_path, **kw):
    return tasuki.build(
        task, workspace=str(tmp_path / "ws"), return_value=False, progress="off", **kw
    )


def value(task, tmp_path):
    return tasuki.load_output(task.unique_id, workspace=str(tmp_path / "ws"))


def test_construction_resolves_and_keeps_the_content_hash(registry):
    task = DatasetInput(ref=f"{NAME}:1.*", split="train")
    assert task.resolved == f"{NAME}#default:1.0.0"
    assert task.content_hash == info(f"{NAME}:1.0.0").content_hash
    exact = DatasetInput(ref=f"{NAME}:1.0.0", split="train")
    assert exact.unique_id == task.unique_id  # the content, not the words of the ref
    assert DatasetInput(ref=NAME, split="test").unique_id != task.unique_id
    assert DatasetInput(ref=NAME, split="train", columns=["x"]).unique_id != task.unique_id


def test_bad_references_fail_at_construction(registry):
    with pytest.raises(ConfigError, match="bad split expression") as exc:
        DatasetInput(ref=NAME, split="train[:80%")
    assert "^" in str(exc.value)
    with pytest.raises(ConfigError, match=r"no published version 1\.0\.1"):
        DatasetInput(ref=f"{NAME}:1.0.1", split="train")
    with pytest.raises(ConfigError, match="no column 'y'"):
        DatasetInput(ref=NAME, split="train", columns=["y"])
    with pytest.raises(TaskError, match="come together"):
        DatasetInput(ref=NAME, split="train", content_hash="ab" * 32)


def test_downstream_is_cached_on_the_content_and_reruns_on_new_content(registry, tmp_path):
    def root():  # what a user's pipeline script constructs on each run
        return SumX(data=DatasetInput(ref=f"{NAME}:1.*", split="train"))

    first = build(root(), tmp_path, executor="inline")
    assert first.ok, first.summary()
    assert first.counts()["ran"] == 2  # the DatasetInput (checks, writes its marker), SumX
    expected = sum(i % 7 for i in range(40))
    assert value(root(), tmp_path) == expected

    again = build(root(), tmp_path, executor="inline")
    assert again.counts()["ran"] == 0

    # a new version with the same rows (only the notes differ): still cached
    publish(
        registry,
        NAME,
        "1.1.0",
        {"train": split_of(40, 15), "test": split_of(10, 10)},
        release_notes="typo fixed in the description",
    )
    same = root()
    assert same.data.resolved.endswith(":1.1.0")
    assert build(same, tmp_path, executor="inline").counts()["ran"] == 0

    # a new version with other rows: the same wildcard now means other content
    publish(
        registry, NAME, "1.2.0", {"train": split_of(40, 15, offset=3), "test": split_of(10, 10)}
    )
    moved = root()
    assert moved.unique_id != first.roots[0].unique_id
    result = build(moved, tmp_path, executor="inline")
    assert result.counts()["ran"] == 2
    assert value(moved, tmp_path) == sum((i + 3) % 7 for i in range(40))


def test_worker_processes_keep_the_resolution_made_at_planning(registry, tmp_path):
    task = CountRows(ref=f"{NAME}:1.0.0")
    result = build(task, tmp_path, executor="local", workers=2)
    assert result.ok, result.summary()
    assert value(task, tmp_path) == 20


def test_a_version_gone_from_the_registry_fails_the_build_by_name(registry, tmp_path):
    task = SumX(data=DatasetInput(ref=f"{NAME}:1.0.0", split="train"))
    shutil.rmtree(version_dir(registry, NAME, "default", "1.0.0"))
    result = tasuki.run_build(
        task, workspace=str(tmp_path / "ws"), progress="off", executor="inline"
    )
    assert not result.ok
    failed = result.by_status("failed")[0]
    assert "is not in the registry any more" in str(failed.error)
    assert f"{NAME}#default:1.0.0" in str(failed.error)


def test_building_the_input_returns_the_split_with_columns_and_filter(registry, tmp_path):
    task = DatasetInput(ref=NAME, split="train[:20]", columns=["id"], filter=[("x", "=", 3)])
    table = tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off", executor="inline")
    assert table.column_names == ["id"]
    assert table.column("id").to_pylist() == [3, 10, 17]
    other = DatasetInput(ref=NAME, split="train[:20]", columns=["id"], filter=[("x", "=", 4)])
    assert other.unique_id != task.unique_id
