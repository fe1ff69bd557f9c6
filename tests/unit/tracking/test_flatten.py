"""Parameters, keys and batches as MLflow takes them (its limits, its key rule)."""

from __future__ import annotations

import re

from tasuki.tracking._flatten import (
    MAX_KEY,
    MAX_PARAM_VALUE,
    batches,
    clip,
    flatten_params,
    safe_key,
)

_MLFLOW_KEY = re.compile(r"[A-Za-z0-9_\-. /]+")


def test_only_significant_parameters_flattened_to_dotted_keys() -> None:
    params = {
        "lr": 0.1,
        "name": "bert",
        "model": {"layers": [64, 32], "opt": {"beta": 0.9}},
        "upstream": {"$task": "ab" * 32},
        "debug": True,
        "empty": {},
        "none": None,
    }
    flat = dict(flatten_params(params, ["lr", "name", "model", "upstream", "empty", "none"]))
    assert flat == {
        "lr": "0.1",
        "name": "bert",
        "model.layers": "[64, 32]",
        "model.opt.beta": "0.9",
        "upstream": "ab" * 32,
        "empty": "{}",
        "none": "null",
    }
    assert "debug" not in flat  # not significant
    assert dict(flatten_params({"debug": True}))["debug"] == "true"  # all when None


def test_values_are_clipped_and_secrets_masked() -> None:
    flat = dict(
        flatten_params(
            {
                "text": "x" * 10_000,
                "db_password": "hunter2",
                "cfg": {"api_token": "t0k3n", "url": "postgresql://u:pw@host/db"},
            }
        )
    )
    assert len(flat["text"]) == MAX_PARAM_VALUE and flat["text"].endswith("...")
    assert flat["db_password"] == "***"
    assert flat["cfg.api_token"] == "***"
    assert "pw" not in flat["cfg.url"].replace("postgresql", "")


def test_keys_are_made_safe_and_stay_distinct() -> None:
    assert safe_key("a:b[c]") == "a_b_c_"
    long_a, long_b = "k" * 300 + "a", "k" * 300 + "b"
    assert len(safe_key(long_a)) == MAX_KEY
    assert safe_key(long_a) != safe_key(long_b)
    assert safe_key(long_a) == safe_key(long_a)  # stable across processes (no hash())
    flat = flatten_params({"w": {"x:y": 1, "x y": 2, "é": 3}})
    assert all(_MLFLOW_KEY.fullmatch(k) for k, _ in flat)
    # "x:y" and "x_y" would collide after cleaning: the first one is kept, never both.
    collide = dict(flatten_params({"m": {"x:y": 1, "x_y": 2}}))
    assert list(collide) == ["m.x_y"]


def test_clip() -> None:
    assert clip("abc", 5) == "abc"
    assert clip("abcdefgh", 5) == "ab..."


def test_batches_respect_mlflow_limits() -> None:
    params = [(f"p{i}", "1") for i in range(150)]
    tags = [(f"t{i}", "1") for i in range(60)]
    metrics = [(f"m{i}", 1.0, 0, i) for i in range(2500)]
    out = list(batches(params, tags, metrics))
    assert all(len(b.params) + len(b.tags) <= 100 for b in out)
    assert all(len(b.metrics) <= 1000 and len(b) <= 1000 for b in out)
    assert sum(len(b.params) for b in out) == 150
    assert sum(len(b.tags) for b in out) == 60
    assert [m for b in out for m in b.metrics] == metrics  # order kept
    assert len(out) == 3  # 2,710 entities: three requests, each under both limits
    assert list(batches([], [], [])) == []
