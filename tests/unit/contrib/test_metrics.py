"""Ranking metrics at k, AUC and log-loss, checked against values worked out by hand and
against scikit-learn's implementations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tasuki.contrib.evaluate import auc, log_loss, ranking_metrics
from tasuki.errors import MissingColumnsError, ParameterError


def _ranking(lists: dict[int, list[int]]) -> pd.DataFrame:
    rows = [(u, item, 1.0 / r, r) for u, items in lists.items() for r, item in enumerate(items, 1)]
    return pd.DataFrame(rows, columns=["user", "item", "score", "rank"])


def _truth(sets: dict[int, list[int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(u, i) for u, items in sets.items() for i in items], columns=["user", "item"]
    )


def test_metrics_match_the_hand_computed_values():
    # User 1: hits at ranks 1 and 3 of 3, 2 relevant. User 2: one hit at rank 2, 4 relevant.
    # User 3: relevant items but no list at all: scores 0 everywhere.
    ranking = _ranking({1: [10, 11, 12], 2: [20, 21, 22]})
    truth = _truth({1: [10, 12], 2: [21, 23, 24, 25], 3: [30]})
    got = ranking_metrics(ranking, truth, k=3, n_items=10)
    d = [1 / math.log2(r + 1) for r in (1, 2, 3)]
    assert got["precision@3"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert got["recall@3"] == pytest.approx((2 / 2 + 1 / 4 + 0) / 3)
    ndcg1 = (d[0] + d[2]) / (d[0] + d[1])
    ndcg2 = d[1] / (d[0] + d[1] + d[2])
    assert got["ndcg@3"] == pytest.approx((ndcg1 + ndcg2 + 0) / 3)
    map1 = (1 / 1 + 2 / 3) / 2
    map2 = (1 / 2) / 3
    assert got["map@3"] == pytest.approx((map1 + map2 + 0) / 3)
    assert got["coverage@3"] == pytest.approx(6 / 10)


def test_only_the_top_k_counts_and_a_perfect_list_scores_one():
    ranking = _ranking({1: [10, 11, 12, 13]})
    perfect = ranking_metrics(ranking, _truth({1: [10, 11]}), k=2)
    assert perfect == {"precision@2": 1.0, "recall@2": 1.0, "ndcg@2": 1.0, "map@2": 1.0}
    beyond = ranking_metrics(ranking, _truth({1: [13]}), k=3)
    assert beyond["ndcg@3"] == 0.0 and beyond["recall@3"] == 0.0


def test_missing_columns_and_bad_k_are_named():
    with pytest.raises(MissingColumnsError, match=r"\['rank'\].*\['user', 'item', 'score'\]"):
        ranking_metrics(_ranking({1: [1]}).drop(columns=["rank"]), _truth({1: [1]}), k=1)
    with pytest.raises(ParameterError, match="k must be at least 1, got 0"):
        ranking_metrics(_ranking({1: [1]}), _truth({1: [1]}), k=0)


def test_auc_and_log_loss_agree_with_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    scores = np.round(labels * 0.3 + rng.random(500), 2)  # rounded: ties count half
    probs = rng.random(500)
    assert auc(labels, scores) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores))
    assert log_loss(labels, probs) == pytest.approx(sklearn_metrics.log_loss(labels, probs))
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([0, 1], [0.5, 0.5]) == 0.5
    assert log_loss([1, 0], [1.0, 0.0]) == pytest.approx(0.0, abs=1e-12)
    assert math.isfinite(log_loss([1], [0.0]))  # clipped: a confident miss costs ~34.5


def test_auc_and_log_loss_refuse_bad_labels_and_values():
    with pytest.raises(ParameterError, match="only positives"):
        auc([1, 1], [0.2, 0.3])
    with pytest.raises(ParameterError, match=r"0/1 labels; found \[2\.0\]"):
        auc([0, 2], [0.2, 0.3])
    with pytest.raises(ParameterError, match="3 values and the scores 2"):
        log_loss([0, 1, 1], [0.2, 0.3])
    with pytest.raises(ParameterError, match=r"probabilities in \[0, 1\]"):
        log_loss([0, 1], [0.2, 1.3])
