"""A fresh registry per test (a local folder; the S3 and MLflow runs are integration tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.zoo import Zoo


@pytest.fixture
def registry(tmp_path: Path) -> str:
    return str(tmp_path / "registry")


@pytest.fixture
def zoo(registry: str) -> Zoo:
    return Zoo(registry, tracking_uri="")
