"""Fixtures for the PostgreSQL warehouse tests: a fresh database with a few tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasuki.warehouse import PostgresWarehouse

pytestmark = pytest.mark.services


@pytest.fixture
def admin(postgres_url: str) -> Iterator[Any]:
    """A psycopg connection (autocommit) to the test database, for setting it up."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def wh(postgres_url: str, tmp_path: Path) -> Iterator[PostgresWarehouse]:
    with PostgresWarehouse(postgres_url, parts_dir=tmp_path / "parts", parallel=False) as w:
        yield w
