"""The lease settings reach the store a build opens (issue 11: leases in the workspace)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.config import load_settings
from tasuki.core.runner import open_workspace
from tasuki.errors import ConfigError


def test_lease_and_ttl_from_settings_reach_the_local_store(tmp_path: Path) -> None:
    settings = load_settings({"workspace": str(tmp_path / "ws"), "lease": "disk", "lease_ttl": 7})
    store = open_workspace(settings)
    assert store.lease_ttl == 7.0
    assert store.lease_kind == "disk"  # type: ignore[attr-defined]


def test_ttl_reaches_an_object_store() -> None:
    settings = load_settings({"workspace": "memory://lease-settings", "lease_ttl": 9.5})
    assert open_workspace(settings).lease_ttl == 9.5


def test_the_default_ttl_is_a_minute(tmp_path: Path) -> None:
    assert open_workspace(load_settings({"workspace": str(tmp_path)})).lease_ttl == 60.0


@pytest.mark.parametrize("bad", [{"lease_ttl": 0}, {"lease_ttl": -1}, {"lease": "nfs"}])
def test_bad_lease_settings_are_refused(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load_settings({"workspace": str(tmp_path), **bad})
