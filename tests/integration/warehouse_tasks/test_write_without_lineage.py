"""A table a write-back wrote, then written again by ``write_table`` without a lineage row.

``wh.write_table(name, data)`` from a notebook or a script leaves no lineage row (no task made
the rows). Over a table a ``WriteTableTask`` wrote, that used to leave the task's row in place:
after a replace the task still counted as complete (its rows were gone) and a query reading
the table kept its cached result (the newest lineage row had not moved). Now a replace
without lineage removes the rows that claimed the table (the task runs again, the query
reruns), and an append or merge without lineage leaves an untracked-write row that dates it
(the query reruns; the task, whose rows are still there, stays complete). A warehouse with
no lineage table gets none from such a write.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import tasuki
from tasuki.report.why import explain
from tasuki.storage import open_store
from tasuki.warehouse import QueryTask, WriteTableTask, connect
from tasuki.warehouse._lineage import read_lineage
from tests.integration.warehouse_tasks._scores import Scores, Total


def _ran(task: tasuki.Task, ws: str) -> list[str]:
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    return sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))


def _by_hand(url: str, mode: str, score: float = 100.0) -> None:
    data = pa.table({"recipe_id": [9], "score": [score]})
    with connect(url if url.startswith("duckdb") else url + "?allow_privileged=true") as wh:
        wh.write_table("ml_scores", data, mode=mode, key=["recipe_id"] if mode == "merge" else None)


SQL = "SELECT recipe_id, score FROM ml_scores"


def test_a_replace_by_hand_makes_the_write_back_and_the_query_run_again(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    write = WriteTableTask(data=Scores(), table="ml_scores", warehouse=admin)
    total = Total(query=QueryTask(sql=SQL, warehouse=reader, as_="pandas"))
    assert _ran(write, ws) == ["Scores", "WriteTableTask"]
    assert tasuki.build(total, workspace=ws) == 3.0
    _by_hand(admin, "replace")
    assert tasuki.build(total, workspace=ws) == 100.0  # the query saw the new table
    assert _ran(write, ws) == ["WriteTableTask"]  # its rows were gone: written again
    assert tasuki.build(total, workspace=ws) == 3.0


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_an_append_or_merge_by_hand_reruns_the_query_only(urls, tmp_path, mode):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    write = WriteTableTask(data=Scores(), table="ml_scores", warehouse=admin)
    total = Total(query=QueryTask(sql=SQL, warehouse=reader, as_="pandas"))
    _ran(write, ws)
    assert tasuki.build(total, workspace=ws) == 3.0
    _by_hand(admin, mode)
    said = "\n".join(explain(total, open_store(ws)))
    assert "ml_scores, which it reads, was written since it ran: by a write_table call" in said
    assert tasuki.build(total, workspace=ws) == 103.0
    assert _ran(write, ws) == []  # its rows are still there: still complete
    rows = read_lineage(admin, "ml_scores")
    assert rows[0]["task"] == "" and rows[0]["unique_id"].startswith("untracked-"), rows
    _by_hand(admin, mode, score=200.0)  # a second untracked write moves it again
    assert tasuki.build(total, workspace=ws) == (303.0 if mode == "append" else 203.0)


def test_a_warehouse_without_lineage_gets_no_lineage_table(tmp_path):
    import duckdb

    url = f"duckdb://{tmp_path / 'dwh.duckdb'}"
    for mode in ("replace", "append", "merge"):
        _by_hand(url, mode)
    with duckdb.connect(str(tmp_path / "dwh.duckdb")) as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert tables == ["ml_scores"]


def test_the_catalog_names_no_task_for_a_write_by_hand(tmp_path):
    from tasuki.catalog._lineage import upstream
    from tasuki.catalog._lineage_sources import refresh_lineage
    from tasuki.catalog._store import Catalog

    url, ws = f"duckdb://{tmp_path / 'dwh.duckdb'}", str(tmp_path / "ws")
    write = WriteTableTask(data=Scores(), table="ml_scores", warehouse=url)
    _ran(write, ws)
    _by_hand(url, "append")
    settings = tasuki.load_settings({"workspace": ws, "warehouses": {"dwh": url}})
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        refresh_lineage(cat, settings=settings)
        found = upstream(cat, "table:dwh/main/ml_scores")
        assert f"task:{write.unique_id}" in found.nodes
        assert not [k for k in found.nodes if "untracked" in k], sorted(found.nodes)


def test_a_write_by_hand_under_a_view_reruns_the_query_of_the_view(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _ran(WriteTableTask(data=Scores(), table="ml_scores", warehouse=admin), ws)
    if admin.startswith("duckdb"):
        import duckdb

        with duckdb.connect(admin.removeprefix("duckdb://")) as conn:
            conn.execute("CREATE VIEW v_scores AS SELECT * FROM ml_scores")
    else:
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE VIEW v_scores AS SELECT * FROM ml_scores")
    total = Total(query=QueryTask(sql="SELECT * FROM v_scores", warehouse=reader, as_="pandas"))
    assert tasuki.build(total, workspace=ws) == 3.0
    _by_hand(admin, "replace")  # the same columns: the table (and the view) stay
    assert tasuki.build(total, workspace=ws) == 100.0
