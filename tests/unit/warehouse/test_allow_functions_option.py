"""The ``allow_functions`` option reaches every query of a warehouse and the service's check.

A warehouse's own read-only functions (a DuckDB macro here) are not on the dialect's allow
list; an operator allows them by name. Names refused on every warehouse stay refused, and
saying so fails at connect time, not at the first query.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.errors import UnsafeQueryError, WarehouseError
from tasuki.warehouse import connect


@pytest.fixture
def dwh(tmp_path: Path) -> str:
    import duckdb

    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE MACRO twice(x) AS x * 2")
    return f"duckdb:///{path}"


def test_an_unlisted_function_is_refused_by_default(dwh: str, tmp_path: Path) -> None:
    with (
        connect(dwh, parts_dir=str(tmp_path / "p")) as wh,
        pytest.raises(UnsafeQueryError, match="twice"),
    ):
        wh.query("SELECT twice(21) AS v")


def test_allow_functions_lets_the_warehouse_run_it(dwh: str, tmp_path: Path) -> None:
    with connect(dwh, parts_dir=str(tmp_path / "p"), allow_functions=["TWICE"]) as wh:
        assert wh.query("SELECT twice(21) AS v").to_arrow().column("v").to_pylist() == [42]
        # Only what was named: other unlisted functions stay refused.
        with pytest.raises(UnsafeQueryError, match="thrice"):
            wh.query("SELECT thrice(1)")


@pytest.mark.parametrize("names", [["pg_read_file"], ["setval"], "twice"])
def test_a_refused_name_or_a_bare_string_fails_at_connect(
    dwh: str, tmp_path: Path, names: object
) -> None:
    with pytest.raises(WarehouseError, match="allow_functions"):
        connect(dwh, parts_dir=str(tmp_path / "p"), allow_functions=names)
