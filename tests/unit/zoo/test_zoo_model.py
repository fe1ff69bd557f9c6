"""A zoo model as a task parameter: the downstream id follows the version's content."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasuki
from tasuki.zoo import AliasNotFoundError, Zoo, ZooModel
from tests.unit.zoo._models import FineTune


def test_fine_tune_on_a_zoo_model_follows_its_content(
    zoo: Zoo, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASUKI_REGISTRY", registry)
    zoo.push("enc", {"w": 1}, alias="champion")
    zoo.push("enc", {"w": 2})
    by_alias = ZooModel(ref="enc@champion")
    by_number = ZooModel(ref="enc/1")
    assert by_alias.unique_id == by_number.unique_id  # the same files, the same id
    assert by_alias.model == "enc" and by_alias.content_hash == zoo.resolve("enc/1").content_hash
    first = FineTune(base=by_alias)
    assert tasuki.build(first, executor="inline", progress="off") == {"base": {"w": 1}, "steps": 1}
    # Moving the alias to other weights moves the fine-tune's id: it is recomputed.
    zoo.alias("enc", "champion", 2, reason="better encoder")
    second = FineTune(base=ZooModel(ref="enc@champion"))
    assert second.unique_id != first.unique_id
    result = tasuki.build(second, executor="inline", progress="off", return_value=False)
    assert result.results[second.unique_id].status == "ran"
    assert tasuki.load(second) == {"base": {"w": 2}, "steps": 1}
    # The first value keeps naming version 1's files (by hash), alias moved or not.
    assert tasuki.load(first) == {"base": {"w": 1}, "steps": 1}
    again = tasuki.build(FineTune(base=ZooModel(ref="enc/2")), executor="inline", progress="off")
    assert again == {"base": {"w": 2}, "steps": 1}


def test_a_zoo_model_is_never_run_and_keeps_no_record(zoo: Zoo, registry: str) -> None:
    zoo.push("enc", {"w": 1})
    base = ZooModel(ref="enc", registry=registry)
    result = tasuki.build(
        FineTune(base=base), executor="inline", progress="off", return_value=False
    )
    statuses = {r.name.rsplit(":", 1)[-1]: r.status for r in result.results.values()}
    assert statuses["FineTune"] == "ran"
    assert statuses["ZooModel"] == "cached", statuses


def test_an_unknown_alias_fails_when_the_value_is_made(zoo: Zoo, registry: str) -> None:
    zoo.push("enc", {"w": 1}, alias="champion")
    with pytest.raises(AliasNotFoundError, match="champion -> 1"):
        ZooModel(ref="enc@prod", registry=registry)


def test_a_version_gone_from_the_registry_is_said_when_loaded(
    zoo: Zoo, registry: str, tmp_path: Path
) -> None:
    zoo.push("enc", {"w": 1})
    base = ZooModel(ref="enc", registry=registry)
    other = Zoo(str(tmp_path / "elsewhere"), tracking_uri="")
    other.push("enc", {"w": 9})
    moved = ZooModel(
        ref="enc", registry=str(tmp_path / "elsewhere"), content_hash=base.content_hash
    )
    assert moved.unique_id == base.unique_id  # the registry is not part of the identity
    from tasuki.zoo import VersionNotFoundError

    with pytest.raises(VersionNotFoundError, match="content"):
        moved.output().load(None)  # type: ignore[arg-type]
