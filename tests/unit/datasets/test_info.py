"""dataset_info.json: round trip, content hash, layout paths, names refused with the rule."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tasuki.datasets._info import (
    ColumnInfo,
    DatasetInfo,
    ShardInfo,
    SplitInfo,
    check_name,
    info_path,
    shard_path,
)
from tasuki.errors import ConfigError


def _info(**kw):
    base = dict(
        name="product_a/clicks",
        config="default",
        version="1.2.0",
        columns={"user_id": ColumnInfo("int64", False, "who clicked")},
        splits={
            "train": SplitInfo(8, [ShardInfo("aa" * 16, 5, 100), ShardInfo("bb" * 16, 3, 80)]),
            "test": SplitInfo(2, [ShardInfo("cc" * 16, 2, 50)], tasks=["f" * 64]),
        },
        release_notes="first",
        created_at="2026-12-05T00:00:00Z",
    )
    return DatasetInfo(**{**base, **kw})


def test_round_trip_keeps_every_field():
    info = _info(
        columns={
            "user_id": ColumnInfo("int64", False, "who clicked"),
            "item": ColumnInfo("string"),
            "at": ColumnInfo("timestamp[us]"),
        }
    )
    again = DatasetInfo.from_json(info.to_json())
    assert again == info
    assert list(again.columns) == ["user_id", "item", "at"]  # schema order, not sorted
    assert again.rows == {"train": 8, "test": 2}
    assert json.loads(info.to_json())["content_hash"] == info.content_hash


def test_content_hash_is_the_rows_not_the_notes_or_time():
    info = _info()
    assert _info(release_notes="other", created_at="2027-01-01", version="1.2.1").content_hash == (
        info.content_hash
    )
    moved = dataclasses.replace(
        info, splits={**info.splits, "test": SplitInfo(2, [ShardInfo("dd" * 16, 2, 50)])}
    )
    assert moved.content_hash != info.content_hash
    retyped = _info(columns={"user_id": ColumnInfo("string", False, "who clicked")})
    assert retyped.content_hash != info.content_hash


def test_an_edited_file_is_refused_naming_it():
    doc = json.loads(_info().to_json())
    doc["splits"]["train"]["shards"][0]["hash"] = "ee" * 16
    with pytest.raises(ConfigError, match="content hash") as info:
        DatasetInfo.from_json(json.dumps(doc), where="s3://r/x/dataset_info.json")
    assert "s3://r/x/dataset_info.json" in str(info.value)


def test_a_newer_layout_is_refused_and_garbage_named():
    doc = json.loads(_info().to_json())
    doc["format"] = 99
    with pytest.raises(ConfigError, match="format 99"):
        DatasetInfo.from_json(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"not a valid dataset_info\.json"):
        DatasetInfo.from_json('{"format": 1, "name": "x"}')


def test_layout_paths():
    assert info_path("s3://b/reg/", "product_a/clicks", "default", "1.0.0") == (
        "s3://b/reg/datasets/product_a/clicks/default/1.0.0/dataset_info.json"
    )
    assert shard_path("/r", "a", "jp", "ab12" + "0" * 28) == (
        "/r/datasets/a/jp/shards/ab/ab12" + "0" * 28 + ".parquet"
    )


@pytest.mark.parametrize("bad", ["Product/clicks", "a//b", "/a", "a/", "1abc", "a b", ""])
def test_bad_names_are_refused_with_the_rule(bad):
    with pytest.raises(ConfigError, match="not a dataset name"):
        check_name(bad)
