"""Nearest-neighbour search: the exact baseline against a plain sort, HNSW recall against it,
the index as a model target, and bad input (NaN / inf rows, k above the item count)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tasuki
from tasuki.contrib.neighbors import (
    BuildIndex,
    ExactNeighbors,
    NeighborIndex,
    SearchNeighbors,
    as_embeddings,
    exact_neighbors,
    recall_at_k,
)
from tasuki.errors import ParameterError, TaskFailedError


def _vectors(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


class Embeddings(tasuki.Task):
    """Seeded random embeddings as .npy; ``nan_rows`` spoils some rows (bad input)."""

    n: int = 2_000
    seed: int = 0
    nan_rows: list[int] = []

    def output(self):
        return self.make_target("embeddings.npy")

    def run(self):
        x = _vectors(self.n, seed=self.seed)
        x[self.nan_rows, 3] = np.nan
        self.dump(x)


class EmbeddingTable(tasuki.Task):
    """The same vectors as a Parquet list column with string ids."""

    def output(self):
        return self.make_target("embeddings.parquet")

    def run(self):
        x = _vectors(300, seed=3)
        self.dump(pd.DataFrame({"key": [f"i{i}" for i in range(300)], "vec": list(x)}))


def _build(task, tmp_path):
    return tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_exact_neighbors_match_a_full_sort(metric):
    items, queries = _vectors(1_000, seed=1), _vectors(20, seed=2)
    ids, dist = exact_neighbors(items, queries, k=5, metric=metric, block=128)
    if metric == "cosine":
        items = items / np.linalg.norm(items, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    if metric == "l2":
        full = ((queries[:, None, :] - items[None, :, :]) ** 2).sum(axis=2)
    else:
        full = 1.0 - queries @ items.T
    expected = np.argsort(full, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(dist, np.take_along_axis(full, expected, axis=1), atol=1e-4)


def test_recall_at_k_counts_shared_ids():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    approx = np.array([[4, 3, 9, 1], [5, 0, 0, 0]])
    assert recall_at_k(approx, exact) == pytest.approx(4 / 8)
    assert recall_at_k(exact, exact) == 1.0
    with pytest.raises(ParameterError, match="one row per query"):
        recall_at_k(approx[:1], exact)


def test_hnsw_index_recalls_the_exact_answer_and_loads_as_a_model(tmp_path):
    index_task = BuildIndex(embeddings=Embeddings(), M=16, ef_construction=100)
    search = SearchNeighbors(index=index_task, queries=Embeddings(n=50, seed=9), k=10, ef=100)
    exact = ExactNeighbors(items=Embeddings(), queries=Embeddings(n=50, seed=9), k=10)
    found, truth = _build(search, tmp_path), _build(exact, tmp_path)
    assert list(found.columns) == ["query", "rank", "id", "distance"]
    approx = found.sort_values(["query", "rank"])["id"].to_numpy().reshape(50, 10)
    true = truth.sort_values(["query", "rank"])["id"].to_numpy().reshape(50, 10)
    assert recall_at_k(approx, true) >= 0.95
    assert found.groupby("query")["distance"].is_monotonic_increasing.all()
    model = tasuki.load(index_task, workspace=str(tmp_path / "ws"))
    assert isinstance(model, NeighborIndex) and model.metric == "l2"
    ids, _ = model.search(_vectors(50, seed=9), k=10, ef=100)
    np.testing.assert_array_equal(ids, approx)


def test_a_table_with_a_list_column_and_an_id_column(tmp_path):
    table = EmbeddingTable()
    out = _build(ExactNeighbors(items=table, queries=table, id_column="key", k=3), tmp_path)
    nearest = out[out["rank"] == 1]
    # Each vector is its own nearest neighbour, reported by its id.
    assert nearest["id"].tolist() == [f"i{i}" for i in range(300)]
    assert nearest["distance"].abs().max() < 1e-3


def test_nan_embeddings_fail_naming_the_row_count_and_first_row(tmp_path):
    with pytest.raises(TaskFailedError, match=r"2 of 2000 embedding rows .*first at row 7"):
        _build(BuildIndex(embeddings=Embeddings(nan_rows=[7, 1500])), tmp_path)
    x = _vectors(10)
    x[4, 0] = np.inf
    with pytest.raises(ParameterError, match=r"1 of 10 .*\(first at row 4"):
        as_embeddings(x, where="vectors")
    with pytest.raises(ParameterError, match="first at row 4"):
        exact_neighbors(_vectors(10), x, k=2)


def test_k_above_the_item_count_fails(tmp_path):
    with pytest.raises(ParameterError, match=r"k=11 but the index holds 10 items"):
        exact_neighbors(_vectors(10), _vectors(2), k=11)
    index = BuildIndex(embeddings=Embeddings(n=10))
    search = SearchNeighbors(index=index, queries=Embeddings(n=2, seed=5), k=11)
    with pytest.raises(TaskFailedError, match=r"pick k between 1 and 10"):
        _build(search, tmp_path)


def test_a_one_dimensional_array_is_refused():
    with pytest.raises(Exception, match="2-D numeric array"):
        as_embeddings(np.zeros(5, dtype=np.float32), where="vectors")
