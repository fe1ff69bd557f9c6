"""What ``tasuki.datasets.build`` publishes, ``load`` reads: the two halves meet on the contract."""

from __future__ import annotations

import pandas as pd

import tasuki
from tasuki.datasets import DatasetBuilder, DatasetInput, build, info, load


class Rows(tasuki.Task):
    """Rows ``i * 100 .. (i + 1) * 100`` with a score."""

    i: int
    bump: int = 0

    def output(self):  # type: ignore[no-untyped-def]
        return self.make_target("rows.parquet")

    def run(self) -> None:
        ids = range(self.i * 100, (self.i + 1) * 100)
        self.dump(pd.DataFrame({"id": list(ids), "score": [(k + self.bump) % 11 for k in ids]}))


class Numbers(DatasetBuilder):
    name = "team/numbers"
    VERSION = "1.0.0"
    RELEASE_NOTES = {"1.0.0": "first"}
    description = "Numbers."
    columns = {"id": "Row id.", "score": "A score."}
    SHARD_ROWS = 150

    def splits(self):  # type: ignore[no-untyped-def]
        return {"train": [Rows(i=i) for i in range(4)], "test": Rows(i=9)}


def test_a_built_dataset_loads_by_wildcard_with_slices_and_filters(tmp_path):
    where = {
        "registry": str(tmp_path / "registry"),
        "workspace": str(tmp_path / "ws"),
        "executor": "inline",
        "progress": "off",
    }
    built = build(Numbers, **where)
    reg = where["registry"]
    assert info("team/numbers:1.*", registry=reg).content_hash == built.content_hash
    assert len(built.splits["train"].shards) > 2  # several shards: slices cross them
    table = load("team/numbers:1.*", "train[120:330]+test[-3:]", registry=reg)
    assert table.column_names == ["id", "score"]
    assert table.column("id").to_pylist() == [*range(120, 330), 997, 998, 999]
    kept = load("team/numbers", "train", columns=["id"], filter=[("score", "=", 0)], registry=reg)
    assert kept.column("id").to_pylist() == [k for k in range(400) if k % 11 == 0]
    task = DatasetInput(ref="team/numbers:1.*", split="test", registry=reg)
    assert task.content_hash == built.content_hash
