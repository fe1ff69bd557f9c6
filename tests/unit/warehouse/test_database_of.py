"""One database, however a URL reaches it: the role, password, options and this machine's
many names left out, so a query through a reader role and a write-back as the owner are
known to touch one table."""

from __future__ import annotations

import os

import pytest

from tasuki.warehouse._sources import database_of, table_key


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/dwh",
        "postgresql://reader:secret@localhost/dwh?sslmode=disable",
        "postgres:///dwh",
        "postgresql://u@/dwh?host=/var/run/postgresql",
        "POSTGRESQL://u@LOCALHOST:5432/dwh",
    ],
)
def test_every_spelling_of_one_postgresql_database_is_one(url):
    assert database_of(url) == "postgresql://localhost:5432/dwh"


@pytest.mark.parametrize(
    ("url", "other"),
    [
        ("postgresql://h/dwh", "postgresql://h/dwh2"),  # another database
        ("postgresql://h/dwh", "postgresql://h:5433/dwh"),  # another server
        ("postgresql://h/dwh", "postgresql://g/dwh"),
        ("postgresql://h/dwh", "redshift://h/dwh"),
    ],
)
def test_other_databases_are_others(url, other):
    assert database_of(url) != database_of(other)


def test_a_database_without_a_name_is_the_users():  # as libpq reads it
    assert database_of("postgresql://ana@db.internal") == "postgresql://db.internal:5432/ana"


def test_duckdb_files_are_their_real_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path)
    path = os.path.realpath(tmp_path / "dwh.duckdb")
    for url in (
        f"duckdb://{tmp_path}/dwh.duckdb",
        "duckdb://dwh.duckdb",
        "duckdb://link/dwh.duckdb",
    ):
        assert database_of(url) == f"duckdb:{path}"


@pytest.mark.parametrize("url", ["duckdb://", "duckdb://:memory:", "postgresql://h:port/db"])
def test_nothing_shared_or_a_bad_url_is_none(url):
    assert database_of(url) is None
    assert table_key(url, ("main", "t")) is None


def test_bigquery_tables_name_their_dataset():
    assert database_of("bigquery://proj/ds") == database_of("bigquery://proj/other")


def test_a_table_key_names_the_table_and_its_database():
    key = table_key("postgresql://x@h/dwh", ("public", "scores"))
    assert key == "public.scores in postgresql://h:5432/dwh"
