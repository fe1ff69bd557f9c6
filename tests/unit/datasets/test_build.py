"""tasuki.datasets.build: round trip, immutability, semver, one changed shard, failures."""

from __future__ import annotations

import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tasuki
from tasuki.datasets import DatasetBuilder, DatasetInfo, build
from tasuki.datasets._build import build_dataset
from tasuki.datasets._info import info_path, shard_path
from tasuki.datasets._shards import schema_from_ipc
from tasuki.errors import ConfigError, TaskFailedError


class Part(tasuki.Task):
    """Rows ``i * n .. (i + 1) * n``; ``bump`` changes values, ``extra`` adds a column."""

    i: int
    n: int = 50
    bump: int = 0
    extra: bool = False
    as_float: bool = False
    swap: bool = False

    def output(self):
        return self.make_target("part.parquet")

    def run(self):
        ids = range(self.i * self.n, (self.i + 1) * self.n)
        frame = pd.DataFrame({"id": list(ids), "score": [(k * 7 + self.bump) % 13 for k in ids]})
        if self.extra:
            frame["note"] = "x"
        if self.as_float:
            frame["score"] = frame["score"].astype(float)
        if self.swap:
            frame = frame[["score", "id"]]
        self.dump(frame)


class Boom(tasuki.Task):
    def output(self):
        return self.make_target("boom.parquet")

    def run(self):
        raise RuntimeError("the warehouse went away")


def builder(version="1.0.0", parts=8, shard_rows=1000, cls_name="Numbers", **part_kw):
    """A builder class: ``parts`` partitions in train, one in test."""
    changed = part_kw.pop("changed", None)

    def splits(self):
        train = [
            Part(i=i, **(part_kw if changed is None or i == changed else {})) for i in range(parts)
        ]
        return {"train": train, "test": Part(i=100, **(part_kw if changed is None else {}))}

    return type(
        cls_name,
        (DatasetBuilder,),
        {
            "name": "team/numbers",
            "VERSION": version,
            "RELEASE_NOTES": {version: f"release {version}"},
            "description": "Numbers for tests.",
            "columns": {"id": "Row id.", "score": "A score."},
            "SHARD_ROWS": shard_rows,
            "splits": splits,
        },
    )


@pytest.fixture
def where(tmp_path):
    """Build arguments: a registry and a workspace in tmp_path, inline, no progress."""
    return {
        "registry": str(tmp_path / "registry"),
        "workspace": str(tmp_path / "ws"),
        "executor": "inline",
        "progress": "off",
    }


def _shard_files(registry):
    root = os.path.join(registry, "datasets", "team", "numbers", "default", "shards")
    return sorted(
        os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f.endswith(".parquet")
    )


def _read_split(registry, info, split):
    tables = [
        pq.read_table(shard_path(registry, info.name, info.config, s.hash))
        for s in info.splits[split].shards
    ]
    return pa.concat_tables(tables)


def test_round_trip_info_and_rows(where):
    cls = builder()
    info = build(cls, **where)
    reg = where["registry"]
    assert info.version == "1.0.0" and info.config == "default"
    assert info.rows == {"train": 400, "test": 50}
    assert list(info.columns) == ["id", "score"]
    assert info.columns["id"].doc == "Row id." and info.columns["id"].type == "int64"
    assert info.release_notes == "release 1.0.0"
    assert info.description == "Numbers for tests."
    assert info.builder["class"] == f"{__name__}:Numbers"
    assert len(info.builder["code_fingerprint"]) == 16
    assert info.splits["train"].tasks == [Part(i=i).unique_id for i in range(8)]
    assert schema_from_ipc(info.schema_ipc).names == ["id", "score"]
    assert info.created_at and info.tasuki_version == tasuki.__version__
    # The file on disk is what build() returned, and its shards give the rows back in order.
    path = info_path(reg, "team/numbers", "default", "1.0.0")
    with open(path, "rb") as f:
        assert DatasetInfo.from_json(f.read()).content_hash == info.content_hash
    train = _read_split(reg, info, "train")
    assert train.column("id").to_pylist() == list(range(400))
    for shard in info.splits["train"].shards:
        with open(shard_path(reg, info.name, info.config, shard.hash), "rb") as f:
            data = f.read()
        import xxhash

        assert xxhash.xxh3_128_hexdigest(data) == shard.hash and len(data) == shard.bytes


def test_shards_cut_by_rows_within_each_partition(where):
    info = build(builder(parts=2, shard_rows=20), **where)
    # 50 rows per partition, 20 per shard: 20, 20, 10 for each partition (never across).
    assert [s.rows for s in info.splits["train"].shards] == [20, 20, 10, 20, 20, 10]
    first = pq.ParquetFile(
        shard_path(where["registry"], info.name, "default", info.splits["train"].shards[0].hash)
    )
    assert first.metadata.num_rows == 20 and first.metadata.num_row_groups == 1


def test_same_content_again_is_a_no_op_that_says_so(where, tmp_path):
    first = build_dataset(builder(), **where)
    assert first.created and first.written == 9 and first.reused == 0
    path = info_path(where["registry"], "team/numbers", "default", "1.0.0")
    before = open(path, "rb").read()
    # A fresh workspace recomputes every task: the bytes, and so the hashes, are the same.
    again = build_dataset(builder(), **{**where, "workspace": str(tmp_path / "ws2")})
    assert not again.created and again.written == 0 and again.reused == 9
    assert "already published with this content (no-op)" in again.summary()
    assert again.info.content_hash == first.info.content_hash
    assert open(path, "rb").read() == before


def test_publishing_other_content_over_a_version_is_refused(where):
    first = build(builder(), **where)
    path = info_path(where["registry"], "team/numbers", "default", "1.0.0")
    before = open(path, "rb").read()
    with pytest.raises(ConfigError) as err:
        build(builder(changed=3, bump=1), **where)
    message = str(err.value)
    assert "version 1.0.0 is already published with other content" in message
    assert first.content_hash in message
    assert err.value.new_hash != first.content_hash and err.value.new_hash in message
    assert "bump VERSION" in message
    assert open(path, "rb").read() == before


def test_a_version_changing_one_of_eight_shards_writes_one_shard(where, tmp_path):
    build(builder(), **where)
    files = _shard_files(where["registry"])
    assert len(files) == 9  # 8 train partitions + 1 test, one shard each
    # A fresh workspace: every partition is recomputed, only one gives other bytes.
    done = build_dataset(
        builder("1.1.0", changed=3, bump=1), **{**where, "workspace": str(tmp_path / "ws2")}
    )
    assert done.created and done.compared_with == "1.0.0"
    after = _shard_files(where["registry"])
    assert len(after) == 10 and set(files) < set(after)
    assert done.written == 1 and done.reused == 8
    old = build_dataset(builder(), **where).info  # 1.0.0 unchanged, still there
    new = done.info
    changed = [
        i
        for i, (a, b) in enumerate(
            zip(old.splits["train"].shards, new.splits["train"].shards, strict=True)
        )
        if a.hash != b.hash
    ]
    assert changed == [3]


def test_a_minor_release_with_other_rows_per_split_is_refused(where):
    build(builder(), **where)
    with pytest.raises(ConfigError) as err:
        build(builder("1.1.0", changed=2, n=51), **where)
    message = str(err.value)
    assert "split 'train': 400 -> 401 rows" in message
    assert "VERSION = '2.0.0'" in message and "compared_with" in err.value.fields
    assert not os.path.exists(info_path(where["registry"], "team/numbers", "default", "1.1.0"))
    # A new major may change anything.
    assert build(builder("2.0.0", changed=2, n=51), **where).rows["train"] == 401


def test_a_schema_change_without_a_major_version_is_refused(where):
    build(builder(), **where)
    with pytest.raises(ConfigError) as err:
        build(builder("1.0.1", extra=True), **where)
    assert "column 'note' was added" in str(err.value)
    assert "A schema change needs a new major version" in str(err.value)
    with pytest.raises(ConfigError, match=r"column 'score' changed type int64 -> double"):
        build(builder("1.1.0", as_float=True), **where)
    assert build(builder("2.0.0", as_float=True), **where).columns["score"].type == "double"
    # Column order counts (dataset_info.json keeps ``columns`` with sorted keys: the order is
    # read from the schema).
    build(builder("3.0.0", swap=True), **where)
    with pytest.raises(ConfigError, match="the columns were reordered"):
        build(builder("3.1.0"), **where)


def test_a_failing_split_task_publishes_nothing(where):
    cls = builder()
    cls.splits = lambda self: {"train": [Part(i=0), Boom()]}
    with pytest.raises(TaskFailedError) as err:
        build(cls, **where)
    assert "version 1.0.0 (config 'default') was not published" in str(err.value)
    assert "the warehouse went away" in str(err.value)
    version_dir = os.path.join(where["registry"], "datasets", "team", "numbers", "default")
    assert not os.path.exists(os.path.join(version_dir, "1.0.0"))


def test_tasks_of_one_dataset_must_share_a_schema(where):
    cls = builder()
    cls.splits = lambda self: {"train": [Part(i=0)], "test": [Part(i=1, extra=True)]}
    with pytest.raises(
        ConfigError, match=r"differs from .* in columns note: note: large_string in it, absent in"
    ):
        build(cls, **where)


def test_documented_columns_must_exist(where):
    cls = builder()
    cls.columns = {"id": "Row id.", "scroe": "typo"}
    with pytest.raises(ConfigError, match=r"documents 'scroe', which the data does not have"):
        build(cls, **where)


def test_a_shard_lost_from_the_registry_is_written_again(where):
    build(builder(), **where)
    lost = _shard_files(where["registry"])[0]
    os.unlink(lost)
    done = build_dataset(builder("1.0.1"), **where)  # same workspace: the tasks are cached
    assert os.path.exists(lost) and done.written == 1


def test_unknown_dataset_name_lists_close_ones(where):
    from tasuki.datasets import register_builder
    from tasuki.datasets._discover import builders

    register_builder(builder(cls_name="Registered"))
    try:
        with pytest.raises(ConfigError, match=r"Did you mean 'team/numbers'"):
            build("team/numbrs", **where)
    finally:
        builders._registered.pop("team/numbers", None)


def test_two_workers_give_the_same_version(where, tmp_path):
    inline = build(builder(parts=4), **where)
    local = build(
        builder(parts=4),
        **{**where, "executor": "local", "workers": 2, "workspace": str(tmp_path / "w2")},
    )
    assert local.content_hash == inline.content_hash


def test_frames_lists_and_folders_are_tables(where):
    class Folder(tasuki.Task):
        def output(self):
            return self.make_directory_target("parts", rows_per_file=7)

        def run(self):
            self.dump(pd.DataFrame({"id": range(20), "score": range(20)}))

    class Dicts(tasuki.Task):
        def output(self):
            return self.make_target("rows.pkl")

        def run(self):
            self.dump([{"id": 20 + i, "score": i} for i in range(5)])

    cls = builder()
    cls.splits = lambda self: {"train": [Folder(), Dicts()]}
    info = build(cls, **where)
    assert info.rows == {"train": 25}
    assert _read_split(where["registry"], info, "train").column("id").to_pylist() == list(range(25))
    manifest = json.loads(info.to_json())
    assert manifest["splits"]["train"]["rows"] == 25


def test_a_damaged_upstream_output_is_recomputed_not_published(where):
    build(builder(parts=2), **where)
    part = os.path.join(where["workspace"], Part(i=1).output().key)
    with open(part, "r+b") as f:
        f.truncate(os.path.getsize(part) - 10)
    # Other shard sizes: new shard tasks read the (cached) partitions again.
    done = build_dataset(builder("2.0.0", parts=2, shard_rows=30), **where)
    assert done.result.results[Part(i=1).unique_id].status == "ran"
    train = _read_split(where["registry"], done.info, "train")
    assert train.column("id").to_pylist() == list(range(100))


def test_a_backport_follows_its_own_line_and_is_told_a_free_major(where):
    build(builder(), **where)
    build(builder("1.2.0"), **where)
    build(builder("2.0.0", changed=2, n=51), **where)
    # 1.0.1 after 1.2.0 and 2.0.0: a patch of 1.0.0, checked against it.
    done = build_dataset(builder("1.0.1"), **where)
    assert done.compared_with == "1.0.0"
    with pytest.raises(ConfigError) as err:
        build(builder("1.0.2", changed=3, n=52), **where)
    assert err.value.fields["compared_with"] == "1.0.1"
    assert "VERSION = '3.0.0'" in str(err.value)  # 2.0.0 is taken
