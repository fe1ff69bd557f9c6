"""Fixtures for the PostgreSQL warehouse tests: a fresh database with a few tables.

``admin`` (psycopg) is the superuser that sets the database up; ``wh`` queries it as a
least-privilege reader role, as the query path expects; ``writer`` is the superuser's
warehouse for ``write_table`` (which never refuses a privileged role).
"""

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
def wh(postgres_reader_url: str, tmp_path: Path) -> Iterator[PostgresWarehouse]:
    """A warehouse connected as a reader role (see tests/_services.py)."""
    with PostgresWarehouse(postgres_reader_url, parts_dir=tmp_path / "parts", parallel=False) as w:
        yield w


@pytest.fixture
def writer(postgres_url: str, tmp_path: Path) -> Iterator[PostgresWarehouse]:
    """A warehouse connected as the superuser, for write_table (never refused)."""
    with PostgresWarehouse(postgres_url, parts_dir=tmp_path / "writer", parallel=False) as w:
        yield w
