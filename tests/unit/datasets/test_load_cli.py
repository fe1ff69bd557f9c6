"""``tasuki datasets list|info|load``: tables for people, JSON with types and full hashes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tasuki.cli import app
from tests.unit.datasets._published import publish, split_of

NAME = "product_a/clicks"


@pytest.fixture
def registry(tmp_path):
    reg = str(tmp_path / "registry")
    publish(
        reg,
        NAME,
        "1.0.0",
        {"train": split_of(100, 30), "test": split_of(20, 20)},
        docs={"id": "the row number"},
        release_notes="first",
    )
    publish(reg, NAME, "1.1.0", {"train": split_of(100, 30), "test": split_of(20, 20)})
    publish(reg, NAME, "1.0.0", {"train": split_of(10, 30)}, config="jp_only")
    return reg


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_text_and_json(registry):
    code, out, _ = run("datasets", "list", "--registry", registry)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "CONFIG", "VERSIONS", "N", "ROWS", "(newest)"]
    assert lines[1].split()[:4] == [NAME, "default", "1.0.0", "1.1.0"]
    assert "train 100" in lines[1]
    assert lines[2].split()[:3] == [NAME, "jp_only", "1.0.0"]
    code, out, _ = run("datasets", "list", "--registry", registry, "--format", "json")
    doc = json.loads(out)
    first = doc["datasets"][0]
    assert first["versions"] == ["1.0.0", "1.1.0"]
    assert first["latest"]["rows"] == {"test": 20, "train": 100}  # ints, not text
    assert len(first["latest"]["content_hash"]) == 64  # full hash
    assert len(first["latest"]["splits"]["train"]["shards"][0]["hash"]) == 32


def test_list_of_an_empty_registry(tmp_path):
    code, out, _ = run("datasets", "list", "--registry", str(tmp_path / "none"))
    assert code == 0 and "no datasets" in out


def test_info_shows_splits_columns_in_schema_order_and_docs(registry):
    code, out, _ = run("datasets", "info", f"{NAME}:1.0.0", "--registry", registry)
    assert code == 0, out
    assert out.splitlines()[0].startswith(f"{NAME}:1.0.0")
    assert "versions: 1.0.0 1.1.0" in out
    assert "release notes: first" in out
    columns = out.split("columns:")[1].split()
    assert [c for c in columns if c in ("id", "x", "label", "emb")] == ["id", "x", "label", "emb"]
    assert "the row number" in out
    code, out, _ = run("datasets", "info", f"{NAME}#jp_only", "--registry", registry, "-f", "json")
    assert json.loads(out)["rows"] == {"train": 10}


def test_load_head_columns_and_formats(registry):
    code, out, _ = run(
        "datasets",
        "load",
        NAME,
        "--split",
        "train[25:]",
        "--head",
        "3",
        "--columns",
        "id,label",
        "--registry",
        registry,
    )
    assert code == 0, out
    assert [line.split() for line in out.splitlines()] == [
        ["id", "label"],
        ["25", "r25"],
        ["26", "r26"],
        ["27", "r27"],
    ]
    code, out, _ = run(
        "datasets",
        "load",
        f"{NAME}:1.0.0",
        "-s",
        "test[-2:]",
        "-f",
        "json",
        "--registry",
        registry,
    )
    assert [json.loads(line)["id"] for line in out.splitlines()] == [18, 19]
    code, out, _ = run(
        "datasets",
        "load",
        NAME,
        "-s",
        "train",
        "-n",
        "2",
        "-c",
        "x,id",
        "-f",
        "csv",
        "--registry",
        registry,
    )
    assert out.splitlines() == ["x,id", "0,0", "1,1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", NAME, "--split", "train[:80%"], "expected ']'"),
        (["load", f"{NAME}:9.*", "--split", "train"], "no published version matching '9.*'"),
        (["load", "product_a/clicsk", "--split", "train"], "Did you mean 'product_a/clicks'"),
        (["info", f"{NAME}:1.0"], "neither a semver version nor a wildcard"),
        (["info", f"{NAME}:jp_only"], "write NAME#jp_only"),
        (["load", NAME, "--split", "train", "--columns", "id,nope"], "no column 'nope'"),
        # No --split: the version's splits and an example, not click's "Missing option".
        (["load", NAME], "name the split to show: product_a/clicks"),
        (["load", NAME], f"tasuki datasets load {NAME} --split train"),
    ],
)
def test_errors_exit_2_with_the_message(registry, args, message):
    code, _, err = run("datasets", *args, "--registry", registry)
    assert code == 2
    assert message in err
    if "expected ']'" in message:
        assert "\n  train[:80%\n            ^" in err
