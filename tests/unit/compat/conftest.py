"""Each compat test starts with no luigi configuration and no command-line flags."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tasuki.compat._ini import CommandLine, LuigiConfigParser


@pytest.fixture(autouse=True)
def _fresh_luigi_config(tmp_path, monkeypatch) -> Iterator[None]:
    # luigi reads luigi.cfg / client.cfg from the working folder: start in an empty one.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LUIGI_CONFIG_PATH", raising=False)
    LuigiConfigParser.reload()
    CommandLine.set({})
    yield
    LuigiConfigParser.reload()
    CommandLine.set({})
