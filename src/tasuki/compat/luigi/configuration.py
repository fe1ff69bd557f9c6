"""luigi's ``luigi.configuration``: the parser of ``.ini`` / ``.cfg`` parameter defaults."""

from __future__ import annotations

import os

from tasuki.compat._ini import LuigiConfigParser, get_config

__all__ = ["LuigiConfigParser", "add_config_path", "get_config"]


def add_config_path(path: str | os.PathLike[str]) -> bool:
    """Read another config file on top of those read so far; False when it does not exist."""
    return LuigiConfigParser.add_config_path(path)
