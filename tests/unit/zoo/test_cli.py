"""``tasuki zoo ...`` in-process: text for people, ``--format json`` with types and full
hashes for scripts, exit code 2 with one line for every user error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app
from tasuki.zoo import Zoo
from tests.unit.zoo._models import TrainFolder


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    path.write_text('{"w": [1, 2]}')
    return path


def test_push_ls_show_pull_json(cli: Any, registry: str, model_file: Path, tmp_path: Path) -> None:
    out = cli(
        "zoo", "push", "bert-ja", str(model_file), "--registry", registry, "--alias", "champion",
        "--metric", "ndcg=0.41", "--dataset", "product_a/clicks:1.2.0", "-d", "first", "-f", "json",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    pushed = json.loads(out.stdout)
    assert pushed["version"] == 1 and pushed["metrics"] == {"ndcg": 0.41}
    assert len(pushed["content_hash"]) == 64
    rows = json.loads(cli("zoo", "ls", "--registry", registry, "-f", "json").stdout)
    assert rows == [{"name": "bert-ja", "versions": 1, "latest": 1, "aliases": {"champion": 1}}]
    versions = json.loads(cli("zoo", "ls", "bert-ja", "--registry", registry, "-f", "json").stdout)
    assert versions[0]["content_hash"] == pushed["content_hash"] and versions[0]["size"] == 13
    shown = json.loads(cli("zoo", "show", "bert-ja@champion", "-r", registry, "-f", "json").stdout)
    assert shown["aliases"] == ["champion"] and shown["mirror"] is None
    assert shown["datasets"] == ["product_a/clicks:1.2.0"] and shown["description"] == "first"
    text = cli("zoo", "show", "bert-ja/1", "-r", registry).stdout
    assert pushed["content_hash"] in text and "metric ndcg: 0.41" in text
    dest = tmp_path / "pulled"
    out = cli("zoo", "pull", "bert-ja", str(dest), "-r", registry)
    assert out.exit_code == 0 and (dest / "model.json").read_text() == '{"w": [1, 2]}'


def test_alias_and_history(cli: Any, registry: str, model_file: Path, tmp_path: Path) -> None:
    zoo = Zoo(registry, tracking_uri="")
    zoo.push("m", [1])
    zoo.push("m", [2])
    assert cli("zoo", "alias", "m", "champion", "1", "-r", registry).exit_code == 0
    out = cli(
        "zoo", "alias", "m", "champion", "2", "--reason", "better", "-r", registry, "-f", "json"
    )
    move = json.loads(out.stdout)
    assert (move["from_version"], move["to_version"], move["seq"]) == (1, 2, 2)
    history = json.loads(
        cli("zoo", "history", "m", "champion", "-r", registry, "-f", "json").stdout
    )
    assert [(h["from_version"], h["to_version"], h["reason"]) for h in history] == [
        (None, 1, ""),
        (1, 2, "better"),
    ]
    text = cli("zoo", "history", "m", "champion", "-r", registry).stdout
    assert "1 -> 2  better" in text
    assert cli("zoo", "alias", "m", "champion", "none", "-r", registry).exit_code == 0
    assert zoo.aliases("m") == {}


def test_push_a_task_by_id(
    cli: Any, registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASUKI_WORKSPACE", str(tmp_path / "ws"))
    task = TrainFolder(dim=2)
    tasuki.build(task, executor="inline", progress="off")
    out = cli("zoo", "push", "enc", "--task", task.unique_id[:10], "-r", registry, "-f", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["task"]["unique_id"] == task.unique_id
    assert Zoo(registry, tracking_uri="").load("enc") == {"dim": 2, "weights": [0, 1]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("zoo", "show", "nope"), "no model 'nope'"),
        (("zoo", "show", "m/5"), "has no version 5"),
        (("zoo", "show", "m@prod"), "has no alias 'prod'"),
        (("zoo", "history", "m", "prod"), "has no alias 'prod'"),
        (("zoo", "alias", "m", "champion", "9"), "has no version 9"),
        (("zoo", "push", "Bad Name", "x"), "is not a model name"),
        (("zoo", "mirror", "m", "--tracking-uri", ""), "needs an MLflow tracking server"),
    ],
)
def test_errors_exit_2_with_one_line(
    cli: Any, registry: str, args: tuple[str, ...], message: str
) -> None:
    Zoo(registry, tracking_uri="").push("m", [1])
    out = cli(*args, "--registry", registry)
    assert out.exit_code == 2
    assert message in out.stderr
    assert out.stderr.startswith("error: ")


def test_usage_errors(cli: Any, registry: str, model_file: Path) -> None:
    assert cli("zoo", "push", "m", "-r", registry).exit_code == 2  # neither PATH nor --task
    assert cli("zoo", "push", "m", str(model_file), "--metric", "x", "-r", registry).exit_code == 2
    assert cli("zoo", "ls", "-f", "yaml", "-r", registry).exit_code == 2
    assert cli("zoo", "alias", "m", "champion", "two", "-r", registry).exit_code == 2


def test_push_records_the_exact_dataset_version_and_refuses_one_not_published(
    cli: Any, registry: str, model_file: Path
) -> None:
    import pyarrow as pa

    from tests.unit.datasets._published import publish

    table = pa.table({"x": [1, 2, 3]})
    publish(registry, "product_a/clicks", "1.2.0", {"train": [table]})
    latest = publish(registry, "product_a/clicks", "1.3.0", {"train": [table.slice(1)]})
    typo = cli(
        "zoo", "push", "m", str(model_file), "-r", registry, "--dataset", "product_a/clicks:1.9.0"
    )
    assert typo.exit_code == 2
    assert "--dataset product_a/clicks:1.9.0" in typo.output and "1.3.0, 1.2.0" in typo.output
    assert not Path(registry, "models", "m").exists()  # nothing pushed
    out = cli(
        "zoo", "push", "m", str(model_file), "-r", registry, "--dataset", "product_a/clicks:1.*",
        "--dataset", "mnist:3.0.0", "-f", "json",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    # The wildcard is kept as the version it means now, with its content hash; a dataset the
    # registry does not hold is kept as given, with a warning.
    assert json.loads(out.stdout)["datasets"] == [
        "mnist:3.0.0",
        f"product_a/clicks:1.3.0@{latest.content_hash}",
    ]
    assert "mnist:3.0.0: not in the registry" in out.stderr
    found = Zoo(registry, tracking_uri="").find(dataset="product_a/clicks:1.3.0")
    assert [v.ref for v in found] == ["m/1"]


def test_a_push_of_the_same_files_says_what_it_could_not_record(
    zoo: Zoo, caplog: pytest.LogCaptureFixture
) -> None:
    first = zoo.push("m", [1], metrics={"ndcg": 0.4}, datasets=["d:1.0.0@ab12"])
    with caplog.at_level("INFO", logger="tasuki.zoo"):
        assert zoo.push("m", [1], metrics={"ndcg": 0.4}, datasets=["d:1.0.0"]) == first
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # nothing new said
    caplog.clear()
    with caplog.at_level("WARNING", logger="tasuki.zoo"):
        again = zoo.push(
            "m", [1], description="retrained", metrics={"ndcg": 0.5}, datasets=["d:2.0.0"]
        )
    assert again == first and zoo.resolve("m").metrics == {"ndcg": 0.4}
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "these files are m/1 already" in warning
    assert "description 'retrained'" in warning and "ndcg=0.5" in warning
    assert "datasets d:2.0.0" in warning


def test_a_wildcard_dataset_version_is_refused_by_push(zoo: Zoo) -> None:
    from tasuki.errors import ConfigError

    with pytest.raises(ConfigError, match=r"datasets=\['d:1\.\*'\] names no version"):
        zoo.push("m", [1], datasets=["d:1.*"])
    assert zoo.models() == []
