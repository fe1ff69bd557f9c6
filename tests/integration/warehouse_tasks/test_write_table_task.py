"""WriteTableTask: results written back to the warehouse, complete by table + lineage row."""

from __future__ import annotations

import duckdb
import pandas as pd
import psycopg
import pytest

import tasuki
from tasuki.errors import TaskError
from tasuki.warehouse._lineage import WriteTableTask, read_lineage


class Predictions(tasuki.Task):
    day: str = "2024-01-01"

    def output(self):
        return self.make_target("predictions.parquet")

    def run(self):
        self.dump(pd.DataFrame({"recipe_id": [1, 2, 3], "score": [0.1, 0.5, 0.9]}))


def test_write_back_to_postgres_with_lineage(postgres_url, tmp_path):
    ws = str(tmp_path / "ws")
    task = WriteTableTask(
        data=Predictions(),
        table="public.scores",
        warehouse=postgres_url,
        mode="merge",
        key=("recipe_id",),
    )
    tasuki.build(task, workspace=ws)
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT recipe_id, score FROM public.scores ORDER BY 1").fetchall()
    assert rows == [(1, 0.1), (2, 0.5), (3, 0.9)]
    lineage = read_lineage(postgres_url, "public.scores")
    assert len(lineage) == 1
    assert lineage[0]["unique_id"] == task.unique_id
    assert lineage[0]["task"].endswith(":WriteTableTask")
    assert lineage[0]["params"]["data"] == {"$task": Predictions().unique_id}
    assert lineage[0]["row_count"] == 3
    # complete now: nothing runs again
    again = tasuki.build(task, workspace=ws, return_value=False)
    assert again.counts()["ran"] == 0
    # dropping the table makes the task incomplete even though its record exists
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE public.scores")
    third = tasuki.build(task, workspace=ws, return_value=False)
    assert third.counts()["ran"] == 1


def test_write_back_to_duckdb(tmp_path):
    url = f"duckdb:///{tmp_path / 'dwh.duckdb'}"
    task = WriteTableTask(data=Predictions(day="x"), table="scores", warehouse=url)
    tasuki.build(task, workspace=str(tmp_path / "ws"))
    with duckdb.connect(str(tmp_path / "dwh.duckdb")) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone() == (3,)
    assert read_lineage(url)[0]["unique_id"] == task.unique_id


def test_merge_needs_a_key(postgres_url):
    with pytest.raises(TaskError, match="needs key"):
        WriteTableTask(data=Predictions(), table="t", warehouse=postgres_url, mode="merge")


def test_append_is_refused_in_the_task_form(postgres_url):
    with pytest.raises(tasuki.errors.ParameterError, match="'mode'"):
        WriteTableTask(data=Predictions(), table="t", warehouse=postgres_url, mode="append")
