"""``find``: who has a model trained on X, made by task Y, above metric Z."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasuki
from tasuki.errors import ConfigError
from tasuki.zoo import Zoo
from tests.unit.zoo._models import DatasetInput, Train


@pytest.fixture
def filled(zoo: Zoo) -> Zoo:
    zoo.push("a", [1], datasets=["product_a/clicks:1.2.0@h1"], metrics={"ndcg": 0.35}, owner="ann")
    zoo.push("a", [2], datasets=["product_a/clicks:1.3.0@h2"], metrics={"ndcg": 0.45}, owner="ann")
    zoo.push("b", [3], datasets=["product_b/views:2.0.0@h3"], metrics={"ndcg": 0.50}, owner="bob")
    zoo.push("c", [4])
    return zoo


def refs(versions: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(v.ref for v in versions)


def test_by_dataset(filled: Zoo) -> None:
    assert refs(filled.find(dataset="product_a/clicks")) == ["a/1", "a/2"]
    assert refs(filled.find(dataset="product_a/clicks:1.2.0")) == ["a/1"]
    assert refs(filled.find(dataset="product_a/clicks:1.*")) == ["a/1", "a/2"]
    assert refs(filled.find(dataset="h3")) == ["b/1"]
    assert filled.find(dataset="product_a/clicks:9.0.0") == []
    assert filled.find(dataset="product_a/click") == []


def test_by_metric_owner_name(filled: Zoo) -> None:
    assert refs(filled.find(metric=("ndcg", ">", 0.4))) == ["a/2", "b/1"]
    assert refs(filled.find(metric=("ndcg", "<=", 0.35))) == ["a/1"]
    assert refs(filled.find(metric=("ndcg", ">", 0.4), owner="ann")) == ["a/2"]
    assert refs(filled.find(name="c")) == ["c/1"]
    assert len(filled.find()) == 4
    newest_first = [v.ref for v in filled.find()]
    assert newest_first == ["c/1", "b/1", "a/2", "a/1"]


@pytest.mark.parametrize("metric", [("ndcg", "~", 1), ("ndcg", ">"), "ndcg>0.4"])
def test_bad_metric_filters_say_the_form(filled: Zoo, metric: object) -> None:
    with pytest.raises(ConfigError, match=r"operator|tuple"):
        filled.find(metric=metric)  # type: ignore[arg-type]


def test_by_task_family_or_id(zoo: Zoo) -> None:
    task = Train(data=DatasetInput(ref="product_a/clicks:1.2.0", content_hash="abc"), lr=0.2)
    tasuki.build(task, executor="inline", progress="off")
    zoo.push("ranker", task)
    zoo.push("other", [0])
    assert refs(zoo.find(task="Train")) == ["ranker/1"]
    assert refs(zoo.find(task="tests.unit.zoo._models:Train")) == ["ranker/1"]
    assert refs(zoo.find(task=task.unique_id[:10])) == ["ranker/1"]
    assert refs(zoo.find(dataset="product_a/clicks:1.2.0")) == ["ranker/1"]
    assert zoo.find(task="Tra") == []


def test_the_index_follows_pushes_from_elsewhere_and_survives_damage(
    filled: Zoo, registry: str
) -> None:
    assert len(filled.find()) == 4
    index = Path(registry, "models/_index.json")
    assert set(json.loads(index.read_text())["versions"]) == {"a/1", "a/2", "b/1", "c/1"}
    other = Zoo(registry, tracking_uri="")  # another process's push
    other.push("d", [5], metrics={"ndcg": 0.9})
    assert refs(filled.find(metric=("ndcg", ">", 0.8))) == ["d/1"]
    index.write_text("{ damaged")
    assert len(filled.find()) == 5
    assert len(json.loads(index.read_text())["versions"]) == 5
    # An entry whose version is gone from the listing is not answered.
    doc = json.loads(index.read_text())
    doc["versions"]["ghost/1"] = dict(doc["versions"]["d/1"], name="ghost")
    index.write_text(json.dumps(doc))
    assert "ghost/1" not in refs(filled.find())


def test_a_dataset_input_resolved_from_a_wildcard_is_recorded_exactly(zoo: Zoo) -> None:
    data = DatasetInput(
        ref="product_a/clicks:1.*", resolved="product_a/clicks#default:1.2.0", content_hash="c9"
    )
    task = Train(data=data, lr=0.1)
    tasuki.build(task, executor="inline", progress="off")
    v = zoo.push("ranker", task)
    assert v.datasets == ("product_a/clicks#default:1.2.0@c9",)
    for query in [
        "product_a/clicks",
        "product_a/clicks:1.2.0",
        "product_a/clicks:1.*",
        "product_a/clicks#default:1.2.0",
        "product_a/clicks:1.2.0@c9",
        "c9",
    ]:
        assert refs(zoo.find(dataset=query)) == ["ranker/1"], query
    for query in ["product_a/clicks#jp", "product_a/clicks:1.3.0", "product_a/clicks:1.2.0@c8"]:
        assert zoo.find(dataset=query) == [], query
