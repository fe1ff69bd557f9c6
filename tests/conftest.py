"""Project-wide test setup: isolated environment and workspace for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests._services", "tests._s3", "tests._read_only"]


@pytest.fixture(scope="session")
def _code_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("code-cache")


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _code_cache: Path) -> Iterator[None]:
    """No TASUKI_* setting leaks in from the developer's shell, and cwd is a fresh folder."""
    for key in list(os.environ):
        if key.startswith("TASUKI_") and key not in {
            "TASUKI_REQUIRE_SERVICES",
            "TASUKI_TEST_POSTGRES",
            "TASUKI_TEST_REDIS",
        }:
            monkeypatch.delenv(key)
    # Code fingerprints keep what they parse in a cache outside the workspace: the tests'
    # own, never the developer's ~/.cache (tests rewrite modules; tasuki.core._source).
    monkeypatch.setenv("TASUKI_CODE_CACHE", str(_code_cache))
    # Decoded dataset shards too (tasuki.datasets._arrow_cache): each test its own.
    monkeypatch.setenv("TASUKI_DATASET_CACHE", str(tmp_path / "dataset-cache"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield
