"""A dataset built from the embedded DuckDB warehouse through QueryTask partitions, published
to a local registry and to S3 (moto's server on loopback)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasuki.datasets import DatasetBuilder, build
from tasuki.datasets._build import build_dataset
from tasuki.datasets._info import DatasetInfo, info_path
from tasuki.datasets._publish import create_exclusive, read_info
from tasuki.errors import ConfigError
from tasuki.storage import open_store
from tasuki.warehouse._task import QueryTask

PARTS = 4


@pytest.fixture
def duck_url(tmp_path):
    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE clicks AS SELECT range AS id, range % 97 AS user_id, "
            "(range * 13) % 1000 / 1000.0 AS score, range % 10 < 8 AS is_train "
            "FROM range(20000)"
        )
    return f"duckdb:///{path}"


def clicks_builder(url, version="1.0.0"):
    def splits(self):
        def part(train, p):
            return QueryTask(
                sql=f"SELECT id, user_id, score FROM clicks WHERE is_train = {train} "
                f"AND id % {PARTS} = {p} ORDER BY id",
                warehouse=url,
                as_of="2026-12-01",
            )

        return {
            "train": [part("true", p) for p in range(PARTS)],
            "test": [part("false", p) for p in range(PARTS)],
        }

    return type(
        "Clicks",
        (DatasetBuilder,),
        {
            "name": "product_a/clicks",
            "VERSION": version,
            "RELEASE_NOTES": {version: "From the DuckDB warehouse."},
            "columns": {"user_id": "Who clicked.", "score": "Relevance."},
            "SHARD_ROWS": 1500,
            "splits": splits,
        },
    )


def _rows(registry_url, info, split):
    store = open_store(registry_url)
    tables = []
    for shard in info.splits[split].shards:
        key = f"datasets/{info.name}/{info.config}/shards/{shard.hash[:2]}/{shard.hash}.parquet"
        with store.open_read(key) as f:
            tables.append(pq.read_table(f))
    return pa.concat_tables(tables)


def test_round_trip_from_duckdb_with_two_workers(duck_url, tmp_path):
    registry = str(tmp_path / "registry")
    done = build_dataset(
        clicks_builder(duck_url),
        registry=registry,
        workspace=str(tmp_path / "ws"),
        workers=2,
        executor="local",
        progress="off",
    )
    info = done.info
    assert info.rows == {"train": 16000, "test": 4000}
    assert [s.rows for s in info.splits["train"].shards] == [1500, 1500, 1000] * PARTS
    assert list(info.columns) == ["id", "user_id", "score"]
    assert info.columns["user_id"].doc == "Who clicked."
    # The rows read back are exactly the warehouse's, partition after partition.
    with duckdb.connect(duck_url.removeprefix("duckdb:///"), read_only=True) as con:
        expected = con.execute(
            f"SELECT id FROM clicks WHERE is_train ORDER BY id % {PARTS}, id"
        ).fetchall()
    assert _rows(registry, info, "train").column("id").to_pylist() == [r[0] for r in expected]
    # Sources: each QueryTask's normalised SQL, the warehouse, as_of and when it ran.
    assert len(info.sources) == 2 * PARTS
    source = info.sources[0]
    assert source["query"].startswith("SELECT id, user_id, score FROM clicks WHERE")
    assert source["warehouse"] == duck_url and source["as_of"] == "2026-12-01"
    assert source["snapshot_at"] and source["rows"] in (4000, 1000)
    assert {s["task"] for s in info.sources} == set(
        info.splits["train"].tasks + info.splits["test"].tasks
    )
    on_disk = read_info(open_store(registry), info.name, "default", "1.0.0")
    assert on_disk.content_hash == info.content_hash and on_disk.sources == info.sources
    # A second build in another workspace runs every query again and reuses every shard.
    again = build_dataset(
        clicks_builder(duck_url, "1.0.1"),
        registry=registry,
        workspace=str(tmp_path / "ws2"),
        executor="inline",
        progress="off",
    )
    assert again.created and again.written == 0 and again.reused == 6 * PARTS // 2 + PARTS
    assert again.info.content_hash == info.content_hash


def test_publish_to_s3(duck_url, s3_workspace, tmp_path):
    registry = s3_workspace.replace("/ws", "/registry")
    info = build(
        clicks_builder(duck_url),
        registry=registry,
        workspace=str(tmp_path / "ws"),
        executor="inline",
        progress="off",
    )
    store = open_store(registry)
    path = info_path(store.url, info.name, "default", "1.0.0")
    raw = store.read_bytes(path[len(store.url) + 1 :])
    assert DatasetInfo.from_json(raw).content_hash == info.content_hash
    assert _rows(registry, info, "test").num_rows == 4000
    # The same version again: a no-op; other content: refused.
    assert (
        build(
            clicks_builder(duck_url),
            registry=registry,
            workspace=str(tmp_path / "ws"),
            executor="inline",
            progress="off",
        ).content_hash
        == info.content_hash
    )
    with duckdb.connect(duck_url.removeprefix("duckdb:///")) as con:
        con.execute("UPDATE clicks SET score = 0 WHERE id = 3")
    with pytest.raises(ConfigError, match="already published with other content"):
        build(
            clicks_builder(duck_url),
            registry=registry,
            workspace=str(tmp_path / "ws-new"),
            executor="inline",
            progress="off",
        )
    assert store.read_bytes(path[len(store.url) + 1 :]) == raw


def test_conditional_create_on_s3(s3_workspace):
    store = open_store(s3_workspace)
    assert create_exclusive(store, "v/dataset_info.json", b"one")
    assert not create_exclusive(store, "v/dataset_info.json", b"two")
    assert store.read_bytes("v/dataset_info.json") == b"one"
