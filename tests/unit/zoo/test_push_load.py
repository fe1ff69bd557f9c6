"""Pushing and loading model versions on a local registry: every kind of source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasuki
from tasuki import zoo as zoo_api
from tasuki.errors import ConfigError
from tasuki.zoo import ModelVersion, Zoo
from tests.unit.zoo._models import DatasetInput, Train, TrainFolder, load_weights, save_weights


def test_object_push_load_and_version_json(zoo: Zoo, registry: str) -> None:
    v = zoo.push(
        "bert-ja",
        {"w": [1, 2, 3]},
        description="BERT for Japanese",
        owner="ml-team",
        metrics={"ndcg": 0.41},
        datasets=["product_a/clicks:1.2.0"],
    )
    assert (v.name, v.version) == ("bert-ja", 1)
    assert zoo.load("bert-ja/1") == {"w": [1, 2, 3]}
    doc = json.loads(Path(registry, "models/bert-ja/versions/1/version.json").read_text())
    assert doc["format"] == "tasuki-zoo-version/1"
    assert doc["content_hash"] == v.content_hash and len(v.content_hash) == 64
    assert (
        doc["size"]
        == Path(registry, "models/bert-ja/versions/1/artifacts/model.pkl").stat().st_size
    )
    assert doc["loader"] == {"kind": "format", "format": ".pkl"}
    assert doc["owner"] == "ml-team" and doc["description"] == "BERT for Japanese"
    assert doc["metrics"] == {"ndcg": 0.41}
    assert doc["datasets"] == ["product_a/clicks:1.2.0"]
    assert doc["task"] is None
    assert doc["created_at"].endswith("Z") and doc["tasuki_version"] == tasuki.__version__


def test_numbers_latest_and_same_content_returns_the_existing_version(zoo: Zoo) -> None:
    first = zoo.push("m", [1])
    again = zoo.push("m", [1], description="a different description")
    assert again == first  # same files: the same version, no new number
    second = zoo.push("m", [2])
    assert [first.version, second.version] == [1, 2]
    assert zoo.versions("m") == [1, 2]
    assert zoo.load("m") == [2]  # latest
    assert zoo.load("m@latest") == [2]
    assert zoo.resolve("m").ref == "m/2"


def test_format_option_and_file_and_folder_paths(zoo: Zoo, tmp_path: Path) -> None:
    v = zoo.push("cfg", {"a": 1}, format="json")
    assert v.loader["format"] == ".json"
    assert zoo.load("cfg") == {"a": 1}
    f = tmp_path / "vocab.txt"
    f.write_text("a\nb\n")
    assert zoo.load(zoo.push("vocab", f).ref) == "a\nb\n"
    raw = tmp_path / "weights.onnx"
    raw.write_bytes(b"\x00\x01")
    path = zoo.load(zoo.push("onnx", str(raw)).ref)
    assert isinstance(path, Path) and path.read_bytes() == b"\x00\x01"
    folder = tmp_path / "hf"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"dim": 2}')
    (folder / "weights.bin").write_bytes(bytes([5, 6]))
    (folder / "sub" / "extra.txt").write_text("x")
    v = zoo.push("hf", folder, load_function="tests.unit.zoo._models:load_weights")
    assert [f.path for f in v.files] == ["config.json", "sub/extra.txt", "weights.bin"]
    assert zoo.load("hf") == {"dim": 2, "weights": [5, 6]}
    plain = zoo.load(zoo.push("plain", folder).ref)
    assert (plain / "sub" / "extra.txt").read_text() == "x"


def test_save_function_push(zoo: Zoo) -> None:
    v = zoo.push(
        "enc",
        {"dim": 3, "weights": [1, 2, 3]},
        save_function=save_weights,
        load_function=load_weights,
    )
    assert v.loader == {"kind": "function", "function": "tests.unit.zoo._models:load_weights"}
    assert zoo.load("enc") == {"dim": 3, "weights": [1, 2, 3]}


def test_a_lambda_load_function_is_refused_by_name(zoo: Zoo) -> None:
    with pytest.raises(ConfigError, match="module:function"):
        zoo.push(
            "enc", {"dim": 1, "weights": [1]}, save_function=save_weights, load_function=lambda p: p
        )


def test_task_push_records_the_task_its_datasets_and_metrics(zoo: Zoo) -> None:
    task = Train(data=DatasetInput(ref="product_a/clicks:1.2.0", content_hash="abc123"), lr=0.2)
    model = tasuki.build(task, executor="inline", progress="off")
    v = zoo.push("ranker", task, alias="champion", owner="me")
    assert zoo.load("ranker@champion") == model
    assert v.task is not None
    assert v.task["unique_id"] == task.unique_id
    assert v.task["name"] == "tests.unit.zoo._models:Train"
    assert v.task["params"]["lr"] == 0.2
    assert v.task["params"]["data"] == {"$task": task.data.unique_id}
    assert v.task["requires"] == [task.data.unique_id]
    assert v.datasets == ("product_a/clicks:1.2.0@abc123",)
    # From the task log (the note is not a number) and log_metric (the last value; NaN out).
    assert v.metrics == {"ndcg": pytest.approx(0.5), "loss": pytest.approx(0.2)}
    assert v.loader == {"kind": "format", "format": ".pkl", "file": "model.pkl"}


def test_task_with_a_model_target_is_pushed_as_its_files(zoo: Zoo) -> None:
    task = TrainFolder(dim=3)
    tasuki.build(task, executor="inline", progress="off")
    v = zoo.push("folder-model", task)
    assert sorted(f.path for f in v.files) == ["config.json", "weights.bin"]
    assert v.loader == {"kind": "function", "function": "tests.unit.zoo._models:load_weights"}
    assert zoo.load("folder-model") == {"dim": 3, "weights": [0, 1, 2]}


def test_a_task_not_built_is_refused(zoo: Zoo) -> None:
    with pytest.raises(ConfigError, match="has not finished") as info:
        zoo.push("ranker", TrainFolder(dim=9))
    assert "tasuki run" in str(info.value)


def test_a_path_that_does_not_exist_is_refused(zoo: Zoo, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an existing file or folder"):
        zoo.push("m", tmp_path / "nope.pkl")


@pytest.mark.parametrize("name", ["Bert", "1bert", "bert/ja", "", "a b"])
def test_bad_model_names(zoo: Zoo, name: str) -> None:
    with pytest.raises(ConfigError, match="is not a model name"):
        zoo.push(name, [1])


@pytest.mark.parametrize(
    ("ref", "match"),
    [("m/0", "number from 1"), ("m/x", "number from 1"), ("m@Champ", "is not an alias")],
)
def test_bad_refs(zoo: Zoo, ref: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        zoo.resolve(ref)


def test_module_functions_use_the_registry_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASUKI_REGISTRY", str(tmp_path / "team"))
    v = zoo_api.push("m", {"x": 1}, alias="staging")
    assert isinstance(v, ModelVersion)
    assert (tmp_path / "team/models/m/versions/1/version.json").is_file()
    assert zoo_api.load("m@staging") == {"x": 1}
    assert zoo_api.show("m/1")["aliases"] == ["staging"]
    assert [r["name"] for r in zoo_api.ls()] == ["m"]
    assert zoo_api.pull("m", str(tmp_path / "out")).ref == "m/1"
    assert (tmp_path / "out/model.pkl").is_file()


def test_importing_the_zoo_imports_no_mlflow_nor_data_libraries() -> None:
    import subprocess
    import sys

    heavy = "('mlflow', 'pandas', 'pyarrow', 'fsspec', 'sklearn')"
    code = f"import sys, tasuki.zoo; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_memory_registry_works_the_same() -> None:
    import uuid

    zoo = Zoo(f"memory://zoo-{uuid.uuid4().hex}", tracking_uri="")
    assert zoo.push("m", [1], alias="champion").version == 1
    assert zoo.push("m", [1]).version == 1
    assert zoo.push("m", [2]).version == 2
    assert zoo.load("m@champion") == [1]
    assert zoo.load("m") == [2]
    assert [v.ref for v in zoo.find(name="m")] == ["m/2", "m/1"]
