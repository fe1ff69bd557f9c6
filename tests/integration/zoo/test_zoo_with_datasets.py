"""The zoo and the dataset registry in one registry: a model trained on a published dataset
version records that exact version, and ``find`` answers who was trained on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.datasets import DatasetInput
from tasuki.zoo import Zoo
from tests.unit.datasets._published import publish, split_of


class TrainOnClicks(tasuki.Task):
    """Counts the rows of its training split: the 'model'."""

    data: DatasetInput

    def requires(self) -> DatasetInput:
        return self.data

    def output(self) -> Any:
        return self.make_target("model.pkl")

    def run(self) -> None:
        table = self.load()
        self.task_log["rows"] = table.num_rows
        self.dump({"rows": table.num_rows})


def test_a_model_records_the_dataset_version_it_was_trained_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = str(tmp_path / "registry")
    monkeypatch.setenv("TASUKI_REGISTRY", registry)
    publish(registry, "product_a/clicks", "1.0.0", {"train": split_of(40, 20)})
    info = publish(registry, "product_a/clicks", "1.1.0", {"train": split_of(50, 25)})
    task = TrainOnClicks(data=DatasetInput(ref="product_a/clicks:1.*", split="train"))
    assert tasuki.build(task, executor="inline", progress="off") == {"rows": 50}
    zoo = Zoo(tracking_uri="")
    v = zoo.push("clicks-model", task, alias="champion")
    assert v.datasets == (f"product_a/clicks#default:1.1.0@{info.content_hash}",)
    assert v.metrics == {"rows": 50.0}
    assert [m.ref for m in zoo.find(dataset="product_a/clicks:1.1.0")] == ["clicks-model/1"]
    assert [m.ref for m in zoo.find(dataset=info.content_hash)] == ["clicks-model/1"]
    assert zoo.find(dataset="product_a/clicks:1.0.0") == []
    # Datasets and models share the registry without stepping on each other.
    assert sorted(p.name for p in Path(registry).iterdir() if not p.name.startswith(".")) == [
        "datasets",
        "models",
    ]
