"""Fixtures of the warehouse-task tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import reader_role


@pytest.fixture(params=["duckdb", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(where the write-backs write, what the queries read through): on PostgreSQL the
    query path takes a reader role, as it must."""
    if request.param == "duckdb":
        url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
        yield url, url
        return
    admin = str(request.getfixturevalue("postgres_url"))
    with reader_role(admin) as reader:
        yield admin, reader
