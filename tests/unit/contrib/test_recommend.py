"""Recommender tasks: rankings of unseen items, model targets that load and answer the
same, seeds, threads, and bad input (a missing column, k above the item count)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tasuki
from tasuki.contrib.datasets import load_movielens_100k
from tasuki.contrib.recommend import (
    ALSRecommender,
    BPRRecommender,
    FittedRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from tasuki.contrib.split import split_random
from tasuki.errors import ParameterError, TaskFailedError
from tests.unit.contrib._data import Table, frame


class MovieLensSample(tasuki.Task):
    """The first 300 users of MovieLens-100k (real data, small enough for unit tests)."""

    def output(self):
        return self.make_target("sample.parquet")

    def run(self):
        data = load_movielens_100k()
        self.dump(data[data["user"] <= 300].reset_index(drop=True))


def _build(task, tmp_path):
    return tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")


def test_popularity_ranks_unseen_items_by_count(tmp_path):
    out = _build(PopularityRecommender(train=Table(), train_output=None, k=2), tmp_path)
    ranking = out["ranking"]
    assert list(ranking.columns) == ["user", "item", "score", "rank"]
    lists = {u: g.sort_values("rank")["item"].tolist() for u, g in ranking.groupby("user")}
    # Counts: item 1: 4, 2: 3, 3: 2, 4: 1, 5: 1. Seen items never come back.
    assert lists == {1: [4, 5], 2: [3, 4], 3: [5], 4: [2, 3]}
    assert ranking.loc[ranking["user"] == 2, "score"].tolist() == [2.0, 1.0]


@pytest.mark.parametrize(
    "task",
    [
        ALSRecommender(train=MovieLensSample(), train_output=None, iterations=5),
        BPRRecommender(train=MovieLensSample(), train_output=None, iterations=10),
        ItemKNNRecommender(train=MovieLensSample(), train_output=None, similarity="bm25"),
        ItemKNNRecommender(train=MovieLensSample(), train_output=None, similarity="cosine"),
        PopularityRecommender(train=MovieLensSample(), train_output=None),
    ],
    ids=["als", "bpr", "bm25", "cosine", "popularity"],
)
def test_ranking_holds_k_unseen_items_per_user_and_the_model_answers_the_same(task, tmp_path):
    out = _build(task, tmp_path)
    ranking, model = out["ranking"], out["model"]
    seen = load_movielens_100k()
    seen = seen[seen["user"] <= 300]
    assert ranking.groupby("user").size().eq(10).all() and ranking["user"].nunique() == 300
    assert ranking.groupby("user")["rank"].apply(list).map(lambda r: r == list(range(1, 11))).all()
    overlap = ranking.merge(seen, on=["user", "item"])
    assert overlap.empty, "a seen item was recommended"
    assert ranking.groupby("user")["score"].is_monotonic_decreasing.all()
    loaded = tasuki.load(task, workspace=str(tmp_path / "ws"))["model"]
    assert isinstance(model, FittedRecommender) and isinstance(loaded, FittedRecommender)
    again = loaded.recommend([5, 17, 9999], k=10)  # 9999 is unknown: skipped
    expected = ranking[ranking["user"].isin([5, 17])].reset_index(drop=True)
    pd.testing.assert_frame_equal(again, expected, check_dtype=False, rtol=1e-5)


def test_als_repeats_for_a_seed_at_any_thread_count_and_moves_with_the_seed():
    data = load_movielens_100k()
    train, _ = split_random(data, test_fraction=0.25, seed=1)
    from tasuki.contrib.recommend import build_matrix

    matrix, _, _ = build_matrix(train)

    def factors(**kw):
        return ALSRecommender(train=Table(), iterations=3, **kw).fit(matrix).item_factors

    one = factors(seed=1, num_threads=1)
    np.testing.assert_array_equal(one, factors(seed=1, num_threads=1))
    np.testing.assert_array_equal(one, factors(seed=1, num_threads=2))  # bit for bit
    assert not np.allclose(one, factors(seed=2, num_threads=1))


def test_bpr_repeats_for_a_seed_with_one_thread():
    from tasuki.contrib.recommend import build_matrix

    matrix, _, _ = build_matrix(load_movielens_100k().head(20_000))
    task = BPRRecommender(train=Table(), iterations=5, seed=3)
    np.testing.assert_array_equal(task.fit(matrix).item_factors, task.fit(matrix).item_factors)


def test_k_larger_than_the_item_count_names_k_and_the_count(tmp_path):
    with pytest.raises(TaskFailedError, match=r"k=6 but the training data has 5 items"):
        _build(PopularityRecommender(train=Table(), train_output=None, k=6), tmp_path)
    fitted = _build(PopularityRecommender(train=Table(), train_output=None, k=5), tmp_path)
    with pytest.raises(ParameterError, match=r"pick k between 1 and 5"):
        fitted["model"].recommend(k=7)


def test_a_ratings_table_missing_a_required_column_names_it_and_the_columns_found(tmp_path):
    task = ALSRecommender(train=Table(drop="user"), train_output=None)
    with pytest.raises(TaskFailedError) as caught:
        _build(task, tmp_path)
    message = str(caught.value)
    assert "missing required column(s) ['user']" in message
    assert "has columns ['item', 'rating', 'timestamp']" in message


def test_repeated_pairs_count_once():
    from tasuki.contrib.recommend import build_matrix

    doubled = pd.concat([frame(), frame()])
    matrix, users, items = build_matrix(doubled)
    assert matrix.nnz == len(frame()) and set(matrix.data) == {1.0}
    assert users.tolist() == [1, 2, 3, 4] and items.tolist() == [1, 2, 3, 4, 5]
