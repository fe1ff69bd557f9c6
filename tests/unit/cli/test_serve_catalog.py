"""Which catalog `tasuki serve` records the tables its queries read in."""

from __future__ import annotations

from tasuki.cli._app import service_catalog
from tasuki.config import Settings, load_settings


def test_only_a_catalog_the_settings_or_the_option_name() -> None:
    assert service_catalog(Settings(), None) is None  # the default URL alone: none
    named = load_settings({"catalog": "sqlite:///team.db"})
    assert service_catalog(named, None) == "sqlite:///team.db"
    assert service_catalog(named, "") is None
    assert service_catalog(Settings(), "postgresql+psycopg://c/db") == "postgresql+psycopg://c/db"
