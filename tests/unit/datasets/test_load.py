"""load / iter_batches / as_numpy_batches on a local registry written with pyarrow alone."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pds
import pytest

from tasuki.datasets import _load as load_module
from tasuki.datasets import as_numpy_batches, even_splits, iter_batches, load
from tasuki.datasets._info import shard_path
from tasuki.errors import ConfigError, CorruptOutputError
from tests.unit.datasets._published import publish, split_of

NAME = "product_a/clicks"


@pytest.fixture
def registry(tmp_path):
    reg = str(tmp_path / "registry")
    # train: 100 rows in shards of 30 (30, 30, 30, 10), row groups of 8 rows; test: 20 rows
    publish(
        reg,
        NAME,
        "1.0.0",
        {"train": split_of(100, 30), "test": split_of(20, 20, start=1000)},
        row_group_size=8,
    )
    load_module._verified.clear()
    load_module._hashed.clear()
    return reg


def _new_process() -> None:
    """Forget what this process checked, as a fresh process would have."""
    load_module._verified.clear()
    load_module._hashed.clear()


def ids(table: pa.Table) -> list[int]:
    return table.column("id").to_pylist()


@pytest.mark.parametrize(
    ("split", "want"),
    [
        ("train", list(range(100))),
        ("train[:80%]", list(range(80))),
        ("train[10:20]", list(range(10, 20))),
        ("train[25:65]", list(range(25, 65))),  # starts and stops inside shards
        ("train[-5:]", list(range(95, 100))),
        ("train[:10%]+test[-3:]", [*range(10), 1017, 1018, 1019]),
        ("test+train[:2]", [*range(1000, 1020), 0, 1]),
        ("train[7:7]", []),
    ],
)
def test_slices_read_the_right_rows_in_order(registry, split, want):
    assert ids(load(NAME, split, registry=registry)) == want


def test_only_the_shards_a_slice_touches_are_opened(registry, monkeypatch):
    monkeypatch.setenv("TASUKI_DATASET_CACHE", "off")  # every read opens its Parquet shard
    opened: list[str] = []
    real_dataset, real_file = load_module._dataset, load_module._parquet_file

    def spy_dataset(plan, paths):
        opened.extend(paths)
        return real_dataset(plan, paths)

    def spy_file(plan, path):
        opened.append(path)
        return real_file(plan, path)

    monkeypatch.setattr(load_module, "_dataset", spy_dataset)
    monkeypatch.setattr(load_module, "_parquet_file", spy_file)
    load(NAME, "train[31:59]", registry=registry)  # inside the second shard only
    assert len(set(opened)) == 1
    opened.clear()
    load(NAME, "train[:60]", registry=registry)
    assert len(set(opened)) == 2
    opened.clear()
    load(NAME, "train[31:59]", filter=[("x", ">", 1)], registry=registry)
    assert len(set(opened)) == 1
    opened.clear()
    list(iter_batches(NAME, "train[:60]", registry=registry))
    assert len(set(opened)) == 2


def test_columns_and_filters(registry):
    table = load(NAME, "train", columns=["x", "id"], registry=registry)
    assert table.column_names == ["x", "id"]
    kept = load(NAME, "train", columns=["id"], filter=[("x", "=", 3)], registry=registry)
    assert kept.column_names == ["id"]
    assert ids(kept) == [i for i in range(100) if i % 7 == 3]
    # the slice selects first, then the filter keeps (also inside a partial shard)
    part = load(NAME, "train[25:65]", filter=pds.field("x") > 4, registry=registry)
    assert ids(part) == [i for i in range(25, 65) if i % 7 > 4]
    narrow = load(
        NAME, "train[25:65]", columns=["id"], filter=pds.field("x") > 4, registry=registry
    )
    assert narrow.column_names == ["id"]  # partial shards project too
    assert ids(narrow) == ids(part)
    ored = load(
        NAME, "train[:20]", filter=[[("id", "<", 2)], [("id", ">=", 18)]], registry=registry
    )
    assert ids(ored) == [0, 1, 18, 19]
    within = load(NAME, "train", filter=[("label", "in", ["r3", "r50"])], registry=registry)
    assert ids(within) == [3, 50]


def test_the_filter_is_pushed_down_to_row_groups(registry, monkeypatch):
    # The filter goes to pyarrow.dataset's scan (not applied after reading), where Parquet
    # statistics skip row groups: ids 0..7 are one row group of 13.
    scans = []
    real = load_module._dataset

    class Spy:
        def __init__(self, dataset):
            self.dataset = dataset
            self.schema = dataset.schema

        def to_table(self, **kw):
            scans.append(kw)
            return self.dataset.to_table(**kw)

    monkeypatch.setattr(load_module, "_dataset", lambda plan, paths: Spy(real(plan, paths)))
    assert ids(load(NAME, "train", filter=[("id", "<", 8)], registry=registry)) == list(range(8))
    assert len(scans) == 1 and scans[0]["filter"] is not None
    plan = load_module._plan(
        NAME,
        "train",
        columns=None,
        filter=[("id", "<", 8)],
        config=None,
        registry=registry,
        verify="size",
    )
    whole = real(plan, [p.path for p in plan.pieces])
    kept = [g for f in whole.get_fragments() for g in f.split_by_row_group(plan.filter)]
    assert len(kept) == 1


def test_bad_columns_and_filters_are_named(registry):
    with pytest.raises(ConfigError, match="no column 'xx'") as exc:
        load(NAME, "train", columns=["id", "xx"], registry=registry)
    assert "Did you mean 'x'" in str(exc.value)
    with pytest.raises(ConfigError, match="filter names column 'nope'"):
        load(NAME, "train", filter=[("nope", "=", 1)], registry=registry)
    with pytest.raises(ConfigError, match="operator '~'"):
        load(NAME, "train", filter=[("x", "~", 1)], registry=registry)
    with pytest.raises(ConfigError, match="as_='numpy'"):
        load(NAME, "train", registry=registry, as_="numpy")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"reading dataset .* failed"):
        load(NAME, "train", filter=pds.field("zz") > 1, registry=registry)


def test_pandas_and_polars(registry):
    frame = load(NAME, "train[:5]", columns=["id", "label"], registry=registry, as_="pandas")
    assert frame["label"].tolist() == ["r0", "r1", "r2", "r3", "r4"]
    pl_frame = load(NAME, "train[-2:]", columns=["id"], registry=registry, as_="polars")
    assert pl_frame["id"].to_list() == [98, 99]


def test_iter_batches_streams_in_order(registry):
    batches = list(iter_batches(NAME, "train[25:65]+test", batch_size=7, registry=registry))
    assert all(b.num_rows <= 7 for b in batches)
    got = [i for b in batches for i in b.column("id").to_pylist()]
    assert got == [*range(25, 65), *range(1000, 1020)]
    filtered = iter_batches(
        NAME, "train", columns=["id"], filter=[("x", "=", 0)], registry=registry
    )
    assert [i for b in filtered for i in b.column("id").to_pylist()] == list(range(0, 100, 7))


def test_numpy_batches_in_order_and_shapes(registry):
    batches = list(as_numpy_batches(NAME, "train[:50]", 16, registry=registry))
    assert [len(b["id"]) for b in batches] == [16, 16, 16, 2]
    assert np.concatenate([b["id"] for b in batches]).tolist() == list(range(50))
    first = batches[0]
    assert first["id"].dtype == np.int64
    assert first["emb"].shape == (16, 2) and first["emb"].dtype == np.float32
    assert first["label"][3] == "r3"
    dropped = list(as_numpy_batches(NAME, "train[:50]", 16, drop_last=True, registry=registry))
    assert [len(b["id"]) for b in dropped] == [16, 16, 16]


def test_shuffled_batches_are_deterministic_and_cover_every_row_once(registry):
    def run(seed, window=20):
        return [
            b["id"].tolist()
            for b in as_numpy_batches(
                NAME,
                "train[5:95]",
                16,
                shuffle_seed=seed,
                shuffle_window=window,
                columns=["id"],
                registry=registry,
            )
        ]

    one, again, other = run(1), run(1), run(2)
    assert one == again
    assert one != other
    flat = [i for b in one for i in b]
    assert sorted(flat) == list(range(5, 95))
    assert flat != sorted(flat)
    # rows from different shards meet in the first batch (shards are 30 rows)
    assert len({i // 30 for i in one[0]}) > 1
    assert [len(b) for b in one] == [16] * 5 + [10]


def test_even_splits_load_disjoint_parts(registry):
    parts = [ids(load(NAME, p, registry=registry)) for p in even_splits("train[:80%]", 3)]
    assert [len(p) for p in parts] == [27, 27, 26]
    assert [i for p in parts for i in p] == list(range(80))


def _shard_file(registry, info_version="1.0.0", index=1):
    from tasuki.datasets import info

    shard = info(f"{NAME}:{info_version}", registry=registry).splits["train"].shards[index]
    return shard_path(os.path.abspath(registry), NAME, "default", shard.hash)


def test_a_shard_that_fails_its_hash_is_named_with_the_fix(registry):
    path = _shard_file(registry)
    with open(path, "r+b") as f:  # same size, other bytes
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CorruptOutputError) as exc:
        load(NAME, "train", registry=registry)
    text = str(exc.value)
    assert os.path.basename(path) in text
    assert f"{NAME}:1.0.0" in text
    assert "re-publish version 1.0.0" in text and "delete the damaged file" in text
    assert exc.value.version == "1.0.0"
    # a slice that does not touch the damaged shard still loads
    assert ids(load(NAME, "train[:30]", registry=registry)) == list(range(30))


def test_a_truncated_or_missing_shard_is_caught_by_size(registry):
    path = _shard_file(registry, index=2)
    with open(path, "r+b") as f:
        f.truncate(100)
    with pytest.raises(CorruptOutputError, match="the file has 100 bytes"):
        load(NAME, "train", registry=registry, verify="size")
    os.remove(path)
    with pytest.raises(CorruptOutputError, match="missing"):
        list(iter_batches(NAME, "train", registry=registry))


def test_hash_is_checked_once_per_process_unless_asked(registry, monkeypatch):
    calls = []
    real = load_module._hash_file
    monkeypatch.setattr(load_module, "_hash_file", lambda *a: calls.append(a[1]) or real(*a))
    load(NAME, "train", registry=registry)
    assert len(calls) == 4
    load(NAME, "train", registry=registry)
    assert len(calls) == 4  # verified already in this process
    load(NAME, "train", registry=registry, verify="always")
    assert len(calls) == 8
    # a file rewritten in place is hashed again (its mtime moved)
    path = _shard_file(registry, index=0)
    data = open(path, "rb").read()
    os.utime(path, ns=(1, 1))
    with open(path, "wb") as f:
        f.write(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CorruptOutputError):
        load(NAME, "train", registry=registry)


def test_verify_must_be_known(registry):
    with pytest.raises(ConfigError, match="verify='sometimes'"):
        load(NAME, "train", registry=registry, verify="sometimes")  # type: ignore[arg-type]


def test_a_bad_split_fails_before_any_file_is_read(registry, monkeypatch):
    monkeypatch.setattr(load_module, "resolve", lambda *a, **k: pytest.fail("resolved"))
    with pytest.raises(ConfigError, match="bad split expression"):
        load(NAME, "train[:80%", registry=registry)


def test_a_load_to_arrow_imports_neither_pandas_nor_pyarrow_dataset(registry):
    code = (
        "import sys, tasuki.datasets as d; "
        f"t = d.load({NAME!r}, 'train[5:95]', columns=['id', 'emb'], registry={registry!r}); "
        "assert t.num_rows == 90; "
        "print([m for m in ('pyarrow.dataset', 'pandas', 'polars') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_importing_tasuki_datasets_stays_light():
    code = (
        "import sys, tasuki.datasets as d; d.even_splits; d.resolve; "
        "heavy = [m for m in ('pyarrow.dataset', 'pandas', 'polars', 'pyarrow') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_decoder_failure_on_a_damaged_shard_names_the_shard(registry):
    path = _shard_file(registry, index=0)
    data = open(path, "rb").read()
    with open(path, "wb") as f:  # same size, footer damaged: pyarrow cannot open it
        f.write(data[:-4] + b"XXXX")
    with pytest.raises(CorruptOutputError, match="is damaged") as exc:
        load(NAME, "train[:5]", registry=registry, verify="size")
    assert "Parquet magic bytes" in str(exc.value.__cause__)
    with pytest.raises(CorruptOutputError, match="is damaged"):
        list(iter_batches(NAME, "train[:5]", registry=registry, verify="size"))


def _spy_reads(monkeypatch):
    seen = {"parquet": [], "hashed": []}
    real_file, real_hash = load_module._parquet_file, load_module._hash_file
    monkeypatch.setattr(
        load_module,
        "_parquet_file",
        lambda plan, p: seen["parquet"].append(p) or real_file(plan, p),
    )
    monkeypatch.setattr(
        load_module, "_hash_file", lambda *a: seen["hashed"].append(a[1]) or real_hash(*a)
    )
    return seen


def test_a_later_load_maps_the_decoded_shards_and_neither_opens_nor_hashes_them(
    registry, monkeypatch, tmp_path
):
    first = load(NAME, "train", registry=registry)
    entries = list((tmp_path / "dataset-cache").rglob("*.arrow"))
    assert len(entries) == 4  # one per shard of train, named by content hash
    _new_process()
    seen = _spy_reads(monkeypatch)
    again = load(NAME, "train[25:65]", columns=["id"], registry=registry)
    assert ids(again) == list(range(25, 65))
    assert seen == {"parquet": [], "hashed": []}
    assert load(NAME, "train", registry=registry).equals(first)
    # Streaming, filters and verify="always" read the Parquet shards as before.
    list(iter_batches(NAME, "train[:10]", registry=registry))
    load(NAME, "train", filter=[("id", ">", 90)], registry=registry)
    load(NAME, "train", registry=registry, verify="always")
    # They hash what they read as before: 1 shard streamed, the other 3 for the filter, all 4
    # again for "always".
    assert seen["parquet"] and len(seen["hashed"]) == 8


def test_a_damaged_or_foreign_cache_entry_is_dropped_and_made_again(registry, tmp_path):
    # Rows as Python values: a loaded table maps the entries, which this test damages.
    want = load(NAME, "train", registry=registry).to_pylist()
    entry = sorted((tmp_path / "dataset-cache").rglob("*.arrow"))[0]
    entry.write_bytes(entry.read_bytes()[:100])  # cut short
    _new_process()
    assert load(NAME, "train", registry=registry).to_pylist() == want
    other = sorted((tmp_path / "dataset-cache").rglob("*.arrow"))[1]
    other.write_bytes(entry.read_bytes())  # another shard's whole table under this name
    _new_process()
    assert load(NAME, "train", registry=registry).to_pylist() == want
    # Without hashing (verify="size") only the entry's own record of its shard tells.
    other.write_bytes(entry.read_bytes())
    _new_process()
    assert load(NAME, "train", registry=registry, verify="size").to_pylist() == want


def test_the_cache_can_be_turned_off(registry, monkeypatch, tmp_path):
    monkeypatch.setenv("TASUKI_DATASET_CACHE", "off")
    load(NAME, "train", registry=registry)
    assert not (tmp_path / "dataset-cache").exists()
