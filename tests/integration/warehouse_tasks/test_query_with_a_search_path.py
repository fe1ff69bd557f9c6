"""Unqualified table names are read where the warehouse reads them: the role's search path.

Teams give each product a schema and set it as the role's search path (``ALTER ROLE reader
SET search_path = analytics, public``), and queries name ``ml_scores``, not
``analytics.ml_scores``. tasuki took every unqualified name to be in ``public``, so a
write-back of ``analytics.ml_scores`` was never found and the cached result outlived it for
the rest of its freshness bucket; a build with both in no order was not refused. Now the
query's unqualified names are looked up on the warehouse (PostgreSQL's ``to_regclass``, as
its parser resolves them), and a lineage row a write-back left under an unqualified name
(its writer's search path is not known) counts for that table name in any schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

import tasuki
from tasuki.errors import TaskError
from tasuki.warehouse import QueryTask, WriteTableTask
from tests._services import reader_role
from tests.integration.warehouse_tasks._scores import Scores, Total

pytestmark = pytest.mark.usefixtures("postgres_url")


def _sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for s in statements:
            conn.execute(s.encode())


def _total(url: str, ws: str, sql: str) -> tuple[float, list[str]]:
    task = Total(query=QueryTask(sql=sql, warehouse=url, as_="pandas"))
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    ran = sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))
    return tasuki.load(task, workspace=ws), ran


def _role_of(url: str) -> str:
    from urllib.parse import urlsplit

    return str(urlsplit(url).username)


@contextlib.contextmanager
def _analytics_writer(admin: str) -> Iterator[str]:
    """A role of its own whose search path is ``analytics``, that may create tables there
    (and in public)."""
    with reader_role(admin) as url:
        role = _role_of(url)
        _sql(
            admin,
            f'ALTER ROLE "{role}" SET search_path = analytics',
            f'ALTER ROLE "{role}" SET default_transaction_read_only = off',
            f'GRANT CREATE, USAGE ON SCHEMA analytics TO "{role}"',
            f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"',
        )
        yield url


def _write(url: str, ws: str, table: str, day: int) -> None:
    tasuki.build(WriteTableTask(data=Scores(day=day), table=table, warehouse=url), workspace=ws)


@contextlib.contextmanager
def _analytics_reader(admin: str) -> Iterator[str]:
    """A reader role whose search path is ``analytics, public``."""
    with reader_role(admin) as reader:
        _sql(admin, f'ALTER ROLE "{_role_of(reader)}" SET search_path = analytics, public')
        yield reader


def test_a_write_of_the_table_an_unqualified_name_reads_reruns_the_query(postgres_url, tmp_path):
    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    _write(postgres_url, ws, "analytics.ml_scores", day=1)
    sql = "SELECT recipe_id, score FROM ml_scores"
    with _analytics_reader(postgres_url) as reader:
        assert _total(reader, ws, sql) == (3.0, ["QueryTask", "Total"])
        assert _total(reader, ws, sql) == (3.0, [])
        _write(postgres_url, ws, "analytics.ml_scores", day=2)
        assert _total(reader, ws, sql) == (6.0, ["QueryTask", "Total"])


def test_a_public_table_of_the_same_name_is_not_taken_for_it(postgres_url, tmp_path):
    # The reader's path finds analytics.ml_scores first: a write of public.ml_scores (another
    # table) does not make its query out of date.
    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    for table in ("analytics.ml_scores", "public.ml_scores"):
        _write(postgres_url, ws, table, day=1)
    sql = "SELECT recipe_id, score FROM ml_scores"
    with _analytics_reader(postgres_url) as reader:
        assert _total(reader, ws, sql)[0] == 3.0
        _write(postgres_url, ws, "public.ml_scores", day=5)
        assert _total(reader, ws, sql) == (3.0, [])


def test_an_unqualified_write_counts_for_the_table_in_any_schema(postgres_url, tmp_path):
    # The writer's own search path put its unqualified ml_scores in analytics; its lineage row
    # says only "ml_scores". A query naming analytics.ml_scores reruns after it.
    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    with _analytics_writer(postgres_url) as writer_path_role:
        _write(writer_path_role, ws, "ml_scores", day=1)
        sql = "SELECT recipe_id, score FROM analytics.ml_scores"
        with reader_role(postgres_url) as reader:
            assert _total(reader, ws, sql) == (3.0, ["QueryTask", "Total"])
            _write(writer_path_role, ws, "ml_scores", day=2)
            assert _total(reader, ws, sql) == (6.0, ["QueryTask", "Total"])


def test_a_query_and_a_write_of_its_table_in_no_order_are_refused(postgres_url, tmp_path):
    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    _write(postgres_url, ws, "analytics.ml_scores", day=1)
    sql = "SELECT recipe_id, score FROM ml_scores"
    with _analytics_reader(postgres_url) as reader:
        write = WriteTableTask(
            data=Scores(day=2), table="analytics.ml_scores", warehouse=postgres_url
        )
        query = QueryTask(sql=sql, warehouse=reader, as_="pandas")
        with pytest.raises(TaskError, match="neither runs after the other") as caught:
            tasuki.build([write, Total(query=query)], workspace=ws)
        assert "analytics.ml_scores" in str(caught.value)


def test_the_catalog_draws_the_table_the_query_read(postgres_url, tmp_path):
    from tasuki.catalog._lineage import upstream
    from tasuki.catalog._lineage_sources import refresh_lineage
    from tasuki.catalog._store import Catalog

    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    _write(postgres_url, ws, "analytics.ml_scores", day=1)
    sql = "SELECT recipe_id, score FROM ml_scores"
    with _analytics_reader(postgres_url) as reader:
        query = QueryTask(sql=sql, warehouse=reader, as_="pandas")
        tasuki.build(Total(query=query), workspace=ws)
        settings = tasuki.load_settings({"workspace": ws, "warehouses": {"dwh": reader}})
        with Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}") as cat:
            refresh_lineage(cat, settings=settings)
            found = upstream(cat, f"task:{query.unique_id}")
    assert "table:dwh/analytics/ml_scores" in found.nodes, sorted(found.nodes)
    assert "table:dwh/public/ml_scores" not in found.nodes


def test_an_unqualified_write_and_a_query_of_the_name_in_no_order_are_refused(
    postgres_url, tmp_path
):
    # The write names no schema (its role's path puts it in analytics); the query names
    # analytics.ml_scores. Which ran first would decide what the query read.
    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    with _analytics_writer(postgres_url) as writer:
        _write(writer, ws, "ml_scores", day=1)
        write = WriteTableTask(data=Scores(day=2), table="ml_scores", warehouse=writer)
        sql = "SELECT recipe_id, score FROM analytics.ml_scores"
        with reader_role(postgres_url) as reader:
            query = QueryTask(sql=sql, warehouse=reader, as_="pandas")
            with pytest.raises(TaskError, match="neither runs after the other") as caught:
                tasuki.build([write, Total(query=query)], workspace=ws)
            assert "reads analytics.ml_scores, which WriteTableTask" in str(caught.value)
            ordered = QueryTask(sql=sql, warehouse=reader, as_="pandas", after=[write])
            assert tasuki.build(Total(query=ordered), workspace=ws) == 6.0


def test_a_lineage_table_the_role_may_not_read_is_skipped_with_the_grant(
    postgres_url, tmp_path, caplog
):
    # Another team's schema holds a tasuki_lineage this role was never granted: the query's
    # check still reads the lineage table it may read (a refused SELECT would have aborted
    # the transaction and lost them all), and names the grant for the other.
    import logging

    ws = str(tmp_path / "ws")
    _sql(postgres_url, "CREATE SCHEMA analytics")
    _write(postgres_url, ws, "public.ml_scores", day=1)
    # Its lineage table lands in analytics (kept while the role is: its objects go with it).
    with _analytics_writer(postgres_url) as other_team, _narrow_reader(postgres_url) as narrow:
        _write(other_team, ws, "other_scores", day=1)
        sql = "SELECT recipe_id, score FROM ml_scores"
        with caplog.at_level(logging.WARNING, logger="tasuki"):
            assert _total(narrow, ws, sql) == (3.0, ["QueryTask", "Total"])
            _write(postgres_url, ws, "public.ml_scores", day=2)
            assert _total(narrow, ws, sql) == (6.0, ["QueryTask", "Total"])
        role = _role_of(narrow)
        warned = [r.getMessage() for r in caplog.records if "may not read" in r.getMessage()]
        assert any(f"GRANT SELECT ON analytics.tasuki_lineage TO {role}" in w for w in warned)


@contextlib.contextmanager
def _narrow_reader(admin: str) -> Iterator[str]:
    """A read-only role granted only public.ml_scores and public.tasuki_lineage."""
    import urllib.parse
    import uuid

    role, password = f"tasuki_narrow_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    _sql(
        admin,
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON public.ml_scores, public.tasuki_lineage TO {role}",
    )
    parts = urllib.parse.urlsplit(admin)
    netloc = f"{role}:{password}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    try:
        yield urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    finally:
        _sql(
            admin,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
            f"DROP OWNED BY {role}",
            f"DROP ROLE {role}",
        )
