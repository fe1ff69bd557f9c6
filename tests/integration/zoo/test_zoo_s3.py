"""The zoo on S3 (moto's server on loopback): conditional creates are S3 If-None-Match puts."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from tasuki.zoo import AliasNotFoundError, CorruptModelError, Zoo
from tests._s3 import s3_client
from tests.unit.zoo._models import load_weights, save_weights

CTX = multiprocessing.get_context("fork")
PER_PROCESS = 4
CLAIMS = 20


@pytest.fixture
def registry(s3_workspace: str) -> str:
    return s3_workspace.rsplit("/", 1)[0] + "/registry"


def test_push_load_alias_find_on_s3(registry: str, tmp_path: Path) -> None:
    zoo = Zoo(registry, tracking_uri="")
    v1 = zoo.push("bert-ja", {"w": 1}, alias="champion", datasets=["product_a/clicks:1.0.0@h"])
    assert zoo.push("bert-ja", {"w": 1}).ref == v1.ref  # same content: same version
    v2 = zoo.push(
        "bert-ja",
        {"dim": 2, "weights": [7, 8]},
        save_function=save_weights,
        load_function=load_weights,
        metrics={"ndcg": 0.5},
    )
    assert (v1.version, v2.version) == (1, 2)
    assert zoo.load("bert-ja@champion") == {"w": 1}
    assert zoo.load("bert-ja") == {"dim": 2, "weights": [7, 8]}
    zoo.alias("bert-ja", "champion", 2, reason="better")
    assert [(m.from_version, m.to_version) for m in zoo.history("bert-ja", "champion")] == [
        (None, 1),
        (1, 2),
    ]
    with pytest.raises(AliasNotFoundError, match="champion -> 2"):
        zoo.load("bert-ja@prod")
    assert [v.ref for v in zoo.find(dataset="product_a/clicks")] == ["bert-ja/1"]
    assert [v.ref for v in zoo.find(metric=("ndcg", ">=", 0.5))] == ["bert-ja/2"]
    assert zoo.pull("bert-ja/2", tmp_path / "out").ref == "bert-ja/2"
    assert (tmp_path / "out" / "weights.bin").read_bytes() == bytes([7, 8])


def test_a_damaged_artifact_on_s3_is_refused(registry: str, s3_endpoint: str) -> None:
    zoo = Zoo(registry, tracking_uri="")
    zoo.push("m", {"w": list(range(50))})
    bucket, _, prefix = registry.removeprefix("s3://").partition("/")
    key = f"{prefix}/models/m/versions/1/artifacts/model.pkl"
    s3_client(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=b"tampered")
    with pytest.raises(CorruptModelError, match=r"model\.pkl"):
        zoo.load("m/1")


def _push_many(registry: str, worker: int, barrier: Any, out: Any) -> None:
    zoo = Zoo(registry, tracking_uri="")
    barrier.wait()
    for i in range(PER_PROCESS):
        out.put((worker, i, zoo.push("shared", {"worker": worker, "i": i}).version))


def _claim_many(registry: str, worker: int, barrier: Any, out: Any) -> None:
    zoo = Zoo(registry, tracking_uri="")
    barrier.wait()
    out.put([zoo._claim("raced") for _ in range(CLAIMS)])


def test_number_claims_racing_on_s3_are_all_distinct(registry: str) -> None:
    out = CTX.Queue()
    barrier = CTX.Barrier(2)
    procs = [CTX.Process(target=_claim_many, args=(registry, w, barrier, out)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    numbers = out.get(timeout=5) + out.get(timeout=5)
    assert sorted(numbers) == list(range(1, 2 * CLAIMS + 1))


def test_two_processes_pushing_to_s3_at_once(registry: str) -> None:
    Zoo(registry, tracking_uri="").push("shared", ["seed"])  # the bucket prefix exists
    out = CTX.Queue()
    barrier = CTX.Barrier(2)
    procs = [CTX.Process(target=_push_many, args=(registry, w, barrier, out)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = [out.get(timeout=5) for _ in range(2 * PER_PROCESS)]
    assert sorted(n for _, _, n in got) == list(range(2, 2 * PER_PROCESS + 2))
    zoo = Zoo(registry, tracking_uri="")
    for worker, i, number in got:
        assert zoo.load(f"shared/{number}") == {"worker": worker, "i": i}


def test_a_raw_file_on_s3_loads_as_a_verified_local_copy(
    registry: str,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    raw = tmp_path / "weights.onnx"
    raw.write_bytes(b"\x00onnx\x01")
    zoo = Zoo(registry, tracking_uri="")
    v = zoo.push("onnx", raw)
    path = zoo.load("onnx")
    assert path == tmp_path / "cache" / "tasuki" / "zoo" / v.content_hash / "weights.onnx"
    assert path.read_bytes() == b"\x00onnx\x01"
    path.write_bytes(b"changed")  # a cached copy changed since is fetched again
    with caplog.at_level("WARNING", logger="tasuki.zoo._zoo"):
        assert zoo.load("onnx").read_bytes() == b"\x00onnx\x01"
    assert "fetching onnx/1 again" in caplog.text
    bucket, _, prefix = registry.removeprefix("s3://").partition("/")
    key = f"{prefix}/models/onnx/versions/1/artifacts/weights.onnx"
    s3_client(s3_endpoint).put_object(Bucket=bucket, Key=key, Body=b"tampered")
    path.write_bytes(b"changed")
    with pytest.raises(CorruptModelError, match=r"weights\.onnx"):
        zoo.load("onnx")  # the registry's copy is damaged: nothing enters the cache
    assert not path.parent.exists()
