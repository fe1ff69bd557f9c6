"""The publish step: one conditional create, exactly one winner of a race, version listing."""

from __future__ import annotations

import threading
import uuid

import pytest

from tasuki.datasets._info import ColumnInfo, DatasetInfo, ShardInfo, SplitInfo
from tasuki.datasets._publish import (
    create_exclusive,
    publish_info,
    published_versions,
    read_info,
)
from tasuki.errors import ConfigError
from tasuki.storage import open_store


@pytest.fixture(params=["local", "memory"])
def registry(request, tmp_path):
    if request.param == "local":
        return open_store(str(tmp_path / "registry"))
    return open_store(f"memory://registry-{uuid.uuid4().hex[:8]}")


def _info(version="1.0.0", shard="aa" * 16, rows=5):
    return DatasetInfo(
        name="team/things",
        config="default",
        version=version,
        columns={"x": ColumnInfo("int64")},
        splits={"train": SplitInfo(rows, [ShardInfo(shard, rows, 10)])},
    )


def test_create_exclusive_creates_once(registry):
    assert create_exclusive(registry, "a/b.json", b"first")
    assert not create_exclusive(registry, "a/b.json", b"second")
    assert registry.read_bytes("a/b.json") == b"first"


def test_of_racing_creators_exactly_one_wins(registry):
    wins = []
    barrier = threading.Barrier(8)

    def race(i):
        barrier.wait()
        if create_exclusive(registry, "race.json", f"writer {i}".encode()):
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert registry.read_bytes("race.json") == f"writer {wins[0]}".encode()


def test_publish_then_same_content_then_other_content(registry):
    first = publish_info(registry, _info())
    assert first.created
    again = publish_info(registry, _info())
    assert not again.created and again.info.content_hash == first.info.content_hash
    with pytest.raises(ConfigError) as err:
        publish_info(registry, _info(shard="bb" * 16))
    assert "1.0.0 is already published with other content" in str(err.value)
    assert first.info.content_hash in str(err.value)
    assert read_info(registry, "team/things", "default", "1.0.0") == first.info


def test_versions_are_listed_by_semver_and_stray_folders_ignored(registry):
    for version in ("1.10.0", "1.2.0", "2.0.0", "1.9.3"):
        publish_info(registry, _info(version, rows=5 if version != "2.0.0" else 6))
    registry.write_bytes("datasets/team/things/default/notes/dataset_info.json", b"{}")
    registry.write_bytes("datasets/team/things/default/3.0.0/half-written.tmp", b"")
    assert published_versions(registry, "team/things", "default") == [
        "1.2.0",
        "1.9.3",
        "1.10.0",
        "2.0.0",
    ]
    assert published_versions(registry, "team/other", "default") == []


def test_minor_release_compares_with_the_latest_of_its_major(registry):
    publish_info(registry, _info("1.0.0"))
    publish_info(registry, _info("2.0.0", rows=7))
    assert publish_info(registry, _info("1.1.0")).compared_with == "1.0.0"
    with pytest.raises(ConfigError, match=r"other rows per split than 2\.0\.0.*'3\.0\.0'"):
        publish_info(registry, _info("2.0.1", rows=8))
