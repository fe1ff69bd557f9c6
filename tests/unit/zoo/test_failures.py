"""Every way reading the zoo can fail says which model, version, alias or loader, and what
exists instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.errors import FormatError
from tasuki.zoo import (
    AliasNotFoundError,
    CorruptModelError,
    ModelLoadError,
    ModelNotFoundError,
    VersionNotFoundError,
    Zoo,
)
from tests.unit.zoo._models import save_weights


def test_an_alias_that_does_not_exist_lists_the_aliases(zoo: Zoo) -> None:
    zoo.push("bert-ja", [1], alias="champion")
    zoo.push("bert-ja", [2], alias="staging")
    with pytest.raises(AliasNotFoundError) as info:
        zoo.load("bert-ja@champio")
    err = info.value
    assert err.model == "bert-ja" and err.alias == "champio"
    assert err.aliases == {"champion": 1, "staging": 2}
    assert "champion -> 1, staging -> 2" in str(err)
    assert "did you mean 'champion'" in str(err)
    with pytest.raises(AliasNotFoundError, match="never set"):
        zoo.history("bert-ja", "prod")


def test_a_removed_alias_is_not_found(zoo: Zoo) -> None:
    zoo.push("m", [1], alias="champion")
    zoo.alias("m", "champion", None, reason="retired")
    with pytest.raises(AliasNotFoundError, match="its aliases: none"):
        zoo.load("m@champion")
    assert [h.to_version for h in zoo.history("m", "champion")] == [1, None]


def test_a_version_that_does_not_exist_lists_the_versions(zoo: Zoo) -> None:
    zoo.push("m", [1])
    zoo.push("m", [2])
    with pytest.raises(VersionNotFoundError) as info:
        zoo.load("m/7")
    assert info.value.versions == [1, 2] and info.value.version == 7
    assert "its versions: 1, 2 (latest 2)" in str(info.value)
    with pytest.raises(VersionNotFoundError):
        zoo.alias("m", "champion", 7)


def test_a_model_that_does_not_exist_lists_close_names(zoo: Zoo) -> None:
    zoo.push("bert-ja", [1])
    with pytest.raises(ModelNotFoundError) as info:
        zoo.load("bert-jp")
    assert info.value.known == ["bert-ja"]
    assert "did you mean 'bert-ja'" in str(info.value)


def test_a_failing_load_function_names_the_version_and_the_function(zoo: Zoo) -> None:
    zoo.push("m", [0])
    zoo.push(
        "m",
        {"dim": 1, "weights": [1]},
        save_function=save_weights,
        load_function="tests.unit.zoo._models:broken_loader",
    )
    with pytest.raises(ModelLoadError) as info:
        zoo.load("m/2")
    err = info.value
    assert (err.model, err.version) == ("m", 2)
    assert "m/2" in str(err)
    assert "load function tests.unit.zoo._models:broken_loader" in str(err)
    assert "weights layout v2 is not supported" in str(err)
    assert isinstance(err.__cause__, RuntimeError)


def test_a_load_function_that_cannot_be_imported(zoo: Zoo, tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"1")
    zoo.push("m", tmp_path / "w.bin", load_function="nowhere_pkg.loaders:load")
    with pytest.raises(ModelLoadError, match=r"nowhere_pkg\.loaders:load"):
        zoo.load("m")


def test_a_pickle_that_cannot_be_read_names_the_format(zoo: Zoo, tmp_path: Path) -> None:
    # The bytes are what was pushed (the hash matches): the format itself fails on them.
    bad = tmp_path / "model.pkl"
    bad.write_bytes(b"not a pickle")
    zoo.push("m", bad)
    with pytest.raises(ModelLoadError, match=r"m/1 .*format \.pkl") as info:
        zoo.load("m")
    assert isinstance(info.value.__cause__, FormatError)


@pytest.mark.parametrize("change", ["flip", "truncate", "delete"])
def test_an_artifact_whose_content_differs_is_refused(zoo: Zoo, registry: str, change: str) -> None:
    v = zoo.push("m", {"w": list(range(100))})
    artifact = Path(registry, "models/m/versions/1/artifacts/model.pkl")
    data = artifact.read_bytes()
    if change == "flip":
        artifact.write_bytes(data[:-3] + bytes([data[-3] ^ 1]) + data[-2:])
    elif change == "truncate":
        artifact.write_bytes(data[:10])
    else:
        artifact.unlink()
    with pytest.raises(CorruptModelError) as info:
        zoo.load("m/1")
    err = info.value
    assert (err.model, err.version, err.path) == ("m", 1, "model.pkl")
    assert v.files[0].xxh3_128 in err.expected
    with pytest.raises(CorruptModelError):
        zoo.pull("m/1", "out")


def test_a_corrupt_file_in_a_folder_model_is_found_before_the_loader_runs(
    zoo: Zoo, registry: str
) -> None:
    zoo.push(
        "enc",
        {"dim": 2, "weights": [1, 2]},
        save_function=save_weights,
        load_function="tests.unit.zoo._models:load_weights",
    )
    Path(registry, "models/enc/versions/1/artifacts/weights.bin").write_bytes(b"\x09\x09")
    with pytest.raises(CorruptModelError, match=r"weights\.bin"):
        zoo.load("enc")


def test_a_half_pushed_version_is_invisible_and_its_number_is_skipped(
    zoo: Zoo, registry: str
) -> None:
    zoo.push("m", [1])
    # A push that died after claiming number 2 and uploading, before version.json.
    half = Path(registry, "models/m/versions/2")
    (half / "artifacts").mkdir(parents=True)
    (half / "claim.json").write_text("{}")
    (half / "artifacts/model.pkl").write_bytes(b"partial")
    assert zoo.versions("m") == [1]
    assert zoo.load("m") == [1]
    with pytest.raises(VersionNotFoundError):
        zoo.load("m/2")
    assert zoo.push("m", [3]).version == 3
    assert [v.ref for v in zoo.find(name="m")] == ["m/3", "m/1"]


def test_a_version_written_by_a_newer_tasuki_is_refused_by_name(zoo: Zoo, registry: str) -> None:
    import json

    from tasuki.errors import ConfigError

    zoo.push("m", [1])
    path = Path(registry, "models/m/versions/1/version.json")
    doc = json.loads(path.read_text())
    doc["format"] = "tasuki-zoo-version/9"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"tasuki-zoo-version/9.*Upgrade tasuki"):
        zoo.load("m/1")
