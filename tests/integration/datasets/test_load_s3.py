"""Loading from a registry on S3 (moto's server on loopback): resolve, load, stream, verify."""

from __future__ import annotations

import pytest

import tasuki
from tasuki.datasets import DatasetInput, as_numpy_batches, iter_batches, list_datasets, load
from tasuki.datasets import _load as load_module
from tasuki.datasets._info import shard_path
from tasuki.errors import ConfigError, CorruptOutputError
from tests._s3 import s3_client
from tests.unit.datasets._published import publish, split_of

NAME = "product_a/clicks"


@pytest.fixture
def registry(s3_workspace: str) -> str:
    reg = s3_workspace.rsplit("/", 1)[0] + "/registry"
    publish(
        reg, NAME, "1.0.0", {"train": split_of(100, 30), "test": split_of(20, 20)}, row_group_size=8
    )
    publish(
        reg,
        NAME,
        "1.1.0",
        {"train": split_of(100, 30, offset=1), "test": split_of(20, 20)},
        row_group_size=8,
    )
    load_module._verified.clear()
    return reg


def test_resolve_load_and_stream_from_s3(registry):
    table = load(f"{NAME}:1.*", "train[25:65]+test[-2:]", columns=["id", "x"], registry=registry)
    assert table.column("id").to_pylist() == [*range(25, 65), 18, 19]
    assert table.column("x").to_pylist()[0] == (25 + 1) % 7  # 1.1.0's content
    kept = load(f"{NAME}:1.0.0", "train", columns=["id"], filter=[("x", "=", 0)], registry=registry)
    assert kept.column("id").to_pylist() == list(range(0, 100, 7))
    streamed = [
        i
        for b in iter_batches(NAME, "train[:40]", batch_size=16, registry=registry)
        for i in b.column("id").to_pylist()
    ]
    assert streamed == list(range(40))
    shuffled = [
        i
        for b in as_numpy_batches(NAME, "train", 32, shuffle_seed=3, registry=registry)
        for i in b["id"].tolist()
    ]
    assert sorted(shuffled) == list(range(100)) and shuffled != list(range(100))
    listed = list_datasets(registry)
    assert [(d.name, d.versions) for d in listed] == [(NAME, ["1.0.0", "1.1.0"])]


def test_unknown_version_on_s3_lists_what_exists(registry):
    with pytest.raises(ConfigError, match=r"Published versions \(newest first\): 1\.1\.0, 1\.0\.0"):
        load(f"{NAME}:2.*", "train", registry=registry)


def test_a_damaged_shard_on_s3_is_named(registry, s3_endpoint):
    from tasuki.datasets import info

    shard = info(f"{NAME}:1.0.0", registry=registry).splits["train"].shards[0]
    bucket, prefix = registry.removeprefix("s3://").split("/", 1)
    key = shard_path(prefix, NAME, "default", shard.hash)
    client = s3_client(s3_endpoint)
    data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CorruptOutputError) as exc:
        load(f"{NAME}:1.0.0", "train", registry=registry)
    assert f"s3://{bucket}/{key}" in str(exc.value)
    # verify="size" does not hash; the damaged footer fails the decoder, and that failure
    # is reported as the damaged shard, not as a bad request
    with pytest.raises(CorruptOutputError, match="is damaged"):
        load(f"{NAME}:1.0.0", "train[:5]", registry=registry, verify="size")


def test_dataset_input_on_s3(registry, tmp_path):
    task = DatasetInput(ref=f"{NAME}:1.0.0", split="test", columns=["id"], registry=registry)
    table = tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off", executor="inline")
    assert table.column("id").to_pylist() == list(range(20))
