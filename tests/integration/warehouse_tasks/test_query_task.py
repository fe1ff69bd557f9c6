"""QueryTask: a warehouse pull as a cached pipeline step (DuckDB file and real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import duckdb
import psycopg
import pytest

import tasuki
from tasuki.errors import UnsafeQueryError
from tasuki.warehouse._task import QueryTask, freshness_bucket


class Scores(tasuki.Task):
    """Downstream of a query: uses its result like any other upstream output."""

    query: tasuki.Task

    def requires(self):
        return self.query

    def run(self):
        table = self.load()
        self.dump(sorted(table.column("score").to_pylist()))


@pytest.fixture
def duck_url(tmp_path):
    path = tmp_path / "dwh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE scores AS SELECT range AS id, range * 10 AS score FROM range(5)")
    return f"duckdb:///{path}"


def test_query_task_caches_by_normalised_sql(duck_url, tmp_path):
    ws = str(tmp_path / "ws")
    q = QueryTask(sql="SELECT id, score FROM scores WHERE id >= $1", params=[2], warehouse=duck_url)
    assert tasuki.build(Scores(query=q), workspace=ws) == [20, 30, 40]
    same = QueryTask(
        sql="select   id, score\n  from scores -- comment\n where id >= $1",
        params=[2],
        warehouse=duck_url,
    )
    assert same.unique_id == q.unique_id
    again = tasuki.build(Scores(query=same), workspace=ws, return_value=False)
    assert again.counts()["cached"] == 1
    other = QueryTask(sql=q.sql, params=[3], warehouse=duck_url)
    assert other.unique_id != q.unique_id


def test_freshness_buckets_and_as_of(duck_url):
    day = dt.timedelta(days=1)
    assert freshness_bucket(day, dt.datetime(2024, 1, 31, 15, tzinfo=dt.UTC)).startswith(
        "2024-01-31T00:00:00"
    )
    q = QueryTask(sql="SELECT 1 AS x", warehouse=duck_url)
    assert q.as_of == freshness_bucket(day)
    pinned = QueryTask(sql="SELECT 1 AS x", warehouse=duck_url, as_of="table-version-7")
    assert pinned.as_of == "table-version-7" and pinned.unique_id != q.unique_id


def test_unsafe_sql_refused_when_the_task_is_made(duck_url):
    with pytest.raises(UnsafeQueryError):
        QueryTask(sql="DELETE FROM scores", warehouse=duck_url)


def test_query_task_on_postgres(postgres_url, postgres_reader_url, tmp_path):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE scores AS SELECT g AS id, g * 10 AS score FROM generate_series(0, 4) g"
        )
    url = postgres_reader_url  # the query path refuses the superuser that made the table
    q = QueryTask(
        sql="SELECT id, score FROM scores WHERE id < $1", params=[2], warehouse=url, as_="pandas"
    )
    frame = tasuki.build(q, workspace=str(tmp_path / "ws"))
    assert sorted(frame["score"].tolist()) == [0, 10]
    record = tasuki.RunRecord.read(
        __import__("tasuki.storage", fromlist=["open_store"]).open_store(str(tmp_path / "ws")),
        q.unique_id,
    )
    assert record.task_log["rows"] == 2
