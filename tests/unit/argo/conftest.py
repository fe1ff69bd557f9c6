from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.config import Settings, load_settings
from tasuki.core.runner import open_workspace
from tasuki.storage.base import Store


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"workspace": str(tmp_path / "ws"), "progress": "off"})


@pytest.fixture
def store(settings: Settings) -> Store:
    return open_workspace(settings)
