"""EvaluateRankings: a metrics table and a PNG chart among its outputs, each metric in the
run record."""

from __future__ import annotations

import io

import pytest

import tasuki
from tasuki.contrib.evaluate import EvaluateRankings, ranking_metrics
from tasuki.contrib.recommend import ItemKNNRecommender, PopularityRecommender
from tasuki.contrib.split import SplitInteractions
from tasuki.core.records import RunRecord
from tasuki.errors import TaskFailedError
from tasuki.storage import open_store
from tests.unit.contrib._data import Table


def test_table_chart_and_record_metrics(tmp_path):
    ws = str(tmp_path / "ws")
    split = SplitInteractions(data=Table(), method="leave_last_n", n=1)
    pop = PopularityRecommender(train=split, k=2)
    knn = ItemKNNRecommender(train=split, k=2, similarity="cosine")
    task = EvaluateRankings(split=split, recommenders=[pop, knn], k=2)
    out = tasuki.build(task, workspace=ws, progress="off")
    table = out["table"]
    assert table["model"].tolist() == [
        f"PopularityRecommender-{pop.unique_id[:6]}",
        f"ItemKNNRecommender-{knn.unique_id[:6]}",
    ]
    parts = tasuki.load(split, workspace=ws)
    ranking = tasuki.load(pop, workspace=ws)["ranking"]
    expected = ranking_metrics(ranking, parts["test"], k=2, n_items=5)
    assert table.iloc[0].drop("model").to_dict() == pytest.approx(expected)

    chart = out["chart"]
    assert chart.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    assert Image.open(io.BytesIO(chart)).size[0] > 300

    record = RunRecord.read(open_store(ws), task.unique_id)
    keys = [o["key"] for o in record.outputs]
    assert any(k.endswith(".png") for k in keys) and any(k.endswith(".parquet") for k in keys)
    logged = {m["key"]: m["value"] for m in record.metrics}
    assert logged[f"{table['model'][0]}/ndcg_at_2"] == pytest.approx(expected["ndcg@2"])


def test_no_recommenders_is_refused(tmp_path):
    split = SplitInteractions(data=Table(), method="leave_last_n")
    with pytest.raises(TaskFailedError, match="recommenders is empty; pass one task or more"):
        tasuki.build(
            EvaluateRankings(split=split, recommenders=[]),
            workspace=str(tmp_path / "ws"),
            progress="off",
        )
