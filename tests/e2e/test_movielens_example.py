"""examples/movielens end to end: MovieLens-100k from the recbole wheel's files, split 75/25,
ALS and BM25 item-kNN given as task parameters, the metrics table and chart, both rankings
and the movie list written to a DuckDB warehouse with lineage, and the web app's ranking
comparison page reading the two rankings."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_movielens_example_end_to_end(tmp_path: Path) -> None:
    import duckdb
    from examples.movielens.tasks import pipeline, table_name
    from fastapi.testclient import TestClient

    import tasuki
    from tasuki.config import Settings
    from tasuki.contrib.datasets import MovieLens100kItems
    from tasuki.web._app import create_app

    ws, wh = tmp_path / "ws", tmp_path / "ml.duckdb"
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "examples.movielens.run", "--workspace", str(ws),
         "--warehouse", str(wh)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    took = time.perf_counter() - start
    text = out.stdout

    # The metrics table: ALS, the tuned recommender, passes the nDCG@10 bar.
    ndcg = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^\| (\w+)-\w{6} \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", text, re.M)
    }
    assert ndcg["ALSRecommender"] >= 0.44, text
    assert 0.38 <= ndcg["ItemKNNRecommender"] < ndcg["ALSRecommender"], text
    chart = Path(re.search(r"^chart: (.+)$", text, re.M).group(1))
    assert chart.read_bytes().startswith(b"\x89PNG")

    # The warehouse: both rankings (943 users x 10) and the movies, each with lineage.
    url = f"duckdb:///{wh}"
    report = pipeline(url)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for task in (report.a, report.b):
            rows = con.execute(
                f"SELECT user, item, score, rank FROM {table_name(task)} ORDER BY user, rank"
            ).fetchall()
            assert len(rows) == 9430
            ranking = tasuki.load(task, workspace=str(ws))["ranking"]
            assert [r[:2] for r in rows[:10]] == list(
                ranking.sort_values(["user", "rank"])[["user", "item"]]
                .head(10)
                .itertuples(index=False, name=None)
            )
        lineage = dict(con.execute("SELECT table_name, task FROM tasuki_lineage").fetchall())
    finally:
        con.close()
    assert set(lineage) == {"movies", table_name(report.a), table_name(report.b)}
    assert "warehouse table movies: 1682 rows" in text

    # A second run finds everything cached.
    again = subprocess.run(
        [sys.executable, "-m", "examples.movielens.run", "--workspace", str(ws),
         "--warehouse", str(wh)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    scheduled = re.search(r"^Scheduled \d+ tasks in .*$", again.stdout, re.M).group(0)
    assert "cached" in scheduled and "ran" not in scheduled, scheduled

    # The ranking comparison page reads both rankings, with movie titles beside them.
    settings = Settings(workspace=str(ws), executor="inline", progress="off")
    client = TestClient(create_app(settings, insecure_local=True))
    page = client.get(
        "/compare",
        params={
            "a": report.a.unique_id[:12],
            "b": report.b.unique_id[:12],
            "by": "user",
            "value": "1",
            "n": 10,
            "meta": MovieLens100kItems().unique_id[:12],
        },
    )
    assert page.status_code == 200, page.text[-2000:]
    listed = re.findall(r"<td><code>([^<]*)</code></td>", page.text)
    assert len(listed) == 20, listed
    top = tasuki.load(report.a, workspace=str(ws))["ranking"]
    assert listed[:10] == [str(i) for i in top[top["user"] == 1].sort_values("rank")["item"]]
    assert "Overlap" in page.text
    titles = tasuki.load(MovieLens100kItems(), workspace=str(ws)).set_index("item")["title"]
    assert titles[int(listed[0])] in page.text
    assert took < 120  # about 10 s on the 2-core machine
