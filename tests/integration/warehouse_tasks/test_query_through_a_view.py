"""A query that reads a tasuki-written table through a view reruns when the table is written.

Teams put views over the tables their pipelines write (``analytics.v_scores`` over
``ml_scores``, a dbt staging layer), and query the views. The query's SQL names only the
view, so the write-back's lineage row was not found and the cached result outlived the
write for the rest of its freshness bucket. The tables a query reads are now followed
through views, views of views, and views in other schemas, on DuckDB and PostgreSQL (the
latter through a reader role); a materialised view is not followed (it changes when it is
refreshed, which tasuki cannot see: the freshness rule applies to it).
"""

from __future__ import annotations

import pytest

import tasuki
from tasuki.report.why import explain
from tasuki.storage import open_store
from tasuki.warehouse import QueryTask, WriteTableTask
from tests._services import reader_role
from tests.integration.warehouse_tasks._scores import Scores, Total


def _sql(url: str, *statements: str) -> None:
    if url.startswith("duckdb"):
        import duckdb

        with duckdb.connect(url.removeprefix("duckdb://")) as conn:
            for s in statements:
                conn.execute(s)
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for s in statements:
            conn.execute(s.encode())


def _write(url: str, ws: str, day: int) -> None:
    write = WriteTableTask(data=Scores(day=day), table="ml_scores", warehouse=url)
    tasuki.build(write, workspace=ws)


def _total(url: str, ws: str, sql: str) -> tuple[float, list[str]]:
    task = Total(query=QueryTask(sql=sql, warehouse=url, as_="pandas"))
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    ran = sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))
    return tasuki.load(task, workspace=ws), ran


def test_a_write_under_a_view_reruns_the_query_of_the_view(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    _sql(admin, "CREATE VIEW v_scores AS SELECT recipe_id, score FROM ml_scores")
    sql = "SELECT recipe_id, score FROM v_scores"
    assert _total(reader, ws, sql) == (3.0, ["QueryTask", "Total"])
    assert _total(reader, ws, sql) == (3.0, [])
    _write(admin, ws, day=2)
    query = QueryTask(sql=sql, warehouse=reader, as_="pandas")
    said = "\n".join(explain(Total(query=query), open_store(ws)))
    assert "ml_scores, which it reads through " in said and "v_scores, was written" in said, said
    assert _total(reader, ws, sql) == (6.0, ["QueryTask", "Total"])
    assert _total(reader, ws, sql) == (6.0, [])


def test_views_of_views_in_other_schemas_are_followed(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    duck = admin.startswith("duckdb")
    _write(admin, ws, day=1)
    _sql(
        admin,
        "CREATE SCHEMA analytics",
        # DuckDB looks an unqualified name up in the view's schema, then in main.
        f"CREATE VIEW analytics.base AS SELECT * FROM {'' if duck else 'public.'}ml_scores",
        f"CREATE VIEW analytics.top AS SELECT * FROM {'' if duck else 'analytics.'}base",
    )
    sql = "SELECT recipe_id, score FROM analytics.top"
    assert _total(reader, ws, sql)[0] == 3.0
    _write(admin, ws, day=3)
    assert _total(reader, ws, sql) == (9.0, ["QueryTask", "Total"])


def test_a_view_over_tables_tasuki_does_not_write_keeps_the_freshness_rule(urls, tmp_path):
    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    _sql(
        admin,
        "CREATE TABLE other_scores AS SELECT 1 AS recipe_id, 1.0 AS score",
        "CREATE VIEW v_other AS SELECT recipe_id, score FROM other_scores",
    )
    sql = "SELECT recipe_id, score FROM v_other"
    assert _total(reader, ws, sql)[0] == 1.0
    _write(admin, ws, day=2)  # another table
    _sql(admin, "INSERT INTO other_scores VALUES (2, 2.0)")  # loaded by someone else
    assert _total(reader, ws, sql) == (1.0, [])


def test_a_materialised_view_is_not_followed(postgres_url, tmp_path):
    ws = str(tmp_path / "ws")
    _write(postgres_url, ws, day=1)
    _sql(postgres_url, "CREATE MATERIALIZED VIEW m_scores AS SELECT * FROM ml_scores")
    sql = "SELECT recipe_id, score FROM m_scores"
    with reader_role(postgres_url) as reader:
        assert _total(reader, ws, sql)[0] == 3.0
        _write(postgres_url, ws, day=2)  # the view holds the old rows until it is refreshed
        assert _total(reader, ws, sql) == (3.0, [])


def test_a_query_of_a_view_and_a_write_under_it_in_no_order_are_refused(urls, tmp_path):
    from tasuki.errors import TaskError

    ws, (admin, reader) = str(tmp_path / "ws"), urls
    _write(admin, ws, day=1)
    _sql(admin, "CREATE VIEW v_scores AS SELECT recipe_id, score FROM ml_scores")
    write = WriteTableTask(data=Scores(day=2), table="ml_scores", warehouse=admin)
    sql = "SELECT recipe_id, score FROM v_scores"
    query = QueryTask(sql=sql, warehouse=reader, as_="pandas")
    with pytest.raises(TaskError, match="neither runs after the other") as caught:
        tasuki.build([write, Total(query=query)], workspace=ws)
    assert "ml_scores (through the view " in str(caught.value)
    assert _total(reader, ws, sql)[0] == 3.0  # nothing was written
    ordered = QueryTask(sql=sql, warehouse=reader, as_="pandas", after=[write])
    assert tasuki.build(Total(query=ordered), workspace=ws) == 6.0


def test_the_catalog_leads_from_a_view_back_to_the_task_that_wrote_its_table(urls, tmp_path):
    from tasuki.catalog._lineage import upstream
    from tasuki.catalog._lineage_sources import refresh_lineage
    from tasuki.catalog._store import Catalog

    ws, (admin, _) = str(tmp_path / "ws"), urls
    duck = admin.startswith("duckdb")
    write = WriteTableTask(data=Scores(day=1), table="ml_scores", warehouse=admin)
    tasuki.build(write, workspace=ws)
    _sql(
        admin,
        "CREATE SCHEMA analytics",
        f"CREATE VIEW analytics.base AS SELECT * FROM {'' if duck else 'public.'}ml_scores",
        "CREATE VIEW analytics.top AS SELECT * FROM analytics.base WHERE score > 1",
    )
    settings = tasuki.load_settings({"workspace": ws, "warehouses": {"dwh": admin}})
    with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
        refresh_lineage(cat, settings=settings)
        found = upstream(cat, "table:dwh/analytics/top")
    schema = "main" if duck else "public"
    assert f"table:dwh/{schema}/ml_scores" in found.nodes, sorted(found.nodes)
    assert "table:dwh/analytics/base" in found.nodes
    assert f"task:{write.unique_id}" in found.nodes
