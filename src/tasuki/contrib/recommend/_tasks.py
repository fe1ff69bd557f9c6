"""Recommender tasks: each fits on a training interaction table and writes a ranking table
(``user, item, score, rank``: the top ``k`` unseen items of every training user) and the
fitted model (a model target that loads as :class:`FittedRecommender`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from tasuki.contrib.recommend._fitted import (
    FittedRecommender,
    build_matrix,
    check_k,
    load_fitted,
    save_fitted,
)
from tasuki.contrib.split import check_interactions, pick_output
from tasuki.core.params import param
from tasuki.core.task import Task

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

__all__ = [
    "ALSRecommender",
    "BPRRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "Recommender",
]


class Recommender(Task):
    """The shared part of every recommender task; a subclass implements ``fit``.

    Parameters:
        train: the task whose output holds the training interactions (``user``, ``item``).
        train_output: which output of ``train`` to read (``"train"`` for a split task;
            None when the task has one output).
        k: the length of each user's list.
    """

    train: Task
    train_output: str | None = param(default="train", description="which output of `train`")
    k: int = param(default=10, description="items per user in the ranking")
    library_versions = ("implicit",)

    def requires(self) -> Any:
        """The training data."""
        return self.train

    def output(self) -> Any:
        """``ranking.parquet`` and ``model.zip``."""
        return {
            "ranking": self.make_target("ranking.parquet"),
            "model": self.make_model_target(
                "model.zip", save_function=save_fitted, load_function=load_fitted
            ),
        }

    def fit(self, matrix: sp.csr_matrix) -> Any:
        """The fitted model for the users x items matrix of ones. Override."""
        raise NotImplementedError

    def model_kind(self) -> str:
        """``popularity``, ``als``, ``bpr`` or ``itemknn``. Override."""
        raise NotImplementedError

    def run(self) -> None:
        """Fit, rank every training user's unseen items, write both outputs; the fit time
        (``fit_s``, wall) goes into the run record."""
        where = f"{type(self).task_name()} train"
        frame = pick_output(self.load(), self.train_output, where=f"{where} (train_output)")
        check_interactions(frame, ["user", "item"], where=where)
        matrix, users, items = build_matrix(frame)
        check_k(self.k, len(items), where=type(self).task_name())
        start = time.perf_counter()
        model = self.fit(matrix)
        self.log_metric("fit_s", time.perf_counter() - start)
        fitted = FittedRecommender(self.model_kind(), model, users, items, matrix)
        ranking = fitted.recommend(k=self.k)
        self.task_log.update({"users": len(users), "items": len(items), "rows": len(ranking)})
        self.dump(ranking, "ranking")
        self.dump(fitted, "model")


class PopularityRecommender(Recommender):
    """Everyone gets the most interacted-with items they have not seen: the baseline."""

    def model_kind(self) -> str:
        """``popularity``."""
        return "popularity"

    def fit(self, matrix: sp.csr_matrix) -> np.ndarray:
        """Interactions per item."""
        import numpy as np

        return np.asarray(matrix.sum(axis=0)).ravel()


def _one_blas_thread() -> Any:
    """implicit's own threads do the work; a BLAS thread pool beside them only slows it (and
    implicit warns). Limited for this call only, then restored."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, "blas")


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation by alternating least squares (``implicit``).

    The defaults were chosen on a validation split cut from the training part of
    MovieLens-100k (``benchmarks/bench_recommenders.py --tune``; docs/contrib.md), never on
    the test part; so were BPR's and item-kNN's. Each user's and each
    item's update is independent of the others in the same half-step, so ``num_threads``
    changes the speed and not the result.
    """

    factors: int = 16
    regularization: float = 20.0
    alpha: float = param(default=5.0, description="confidence of an interaction: 1 + alpha")
    iterations: int = 15
    seed: int = param(default=0, description="random_state of the initial factors")
    num_threads: int = param(default=1, significant=False, description="same result at any")

    def model_kind(self) -> str:
        """``als``."""
        return "als"

    def fit(self, matrix: sp.csr_matrix) -> Any:
        """``implicit.cpu.als.AlternatingLeastSquares`` fitted on ``matrix``."""
        from implicit.cpu.als import AlternatingLeastSquares

        with _one_blas_thread():  # implicit checks the BLAS pool when it is made
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(matrix, show_progress=False)
        return model


class BPRRecommender(Recommender):
    """Bayesian personalised ranking by stochastic gradient descent (``implicit``).

    With ``num_threads > 1`` the threads update shared factors without locks (Hogwild), so
    the result depends on their timing: ``num_threads`` is significant, and only the default
    of 1 gives the same model on every run for a seed.
    """

    factors: int = 128
    learning_rate: float = 0.01
    regularization: float = 0.1
    iterations: int = 100
    seed: int = param(default=0, description="random_state of the factors and sampling")
    num_threads: int = param(default=1, description="above 1 the result is not repeatable")

    def model_kind(self) -> str:
        """``bpr``."""
        return "bpr"

    def fit(self, matrix: sp.csr_matrix) -> Any:
        """``implicit.cpu.bpr.BayesianPersonalizedRanking`` fitted on ``matrix``."""
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        with _one_blas_thread():  # implicit checks the BLAS pool when it is made
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(matrix, show_progress=False)
        return model


class ItemKNNRecommender(Recommender):
    """Item-based nearest neighbours (``implicit.nearest_neighbours``): an item's score is
    its similarity to what the user has seen, over the ``neighbours`` most similar items.

    ``similarity``: ``cosine``, ``bm25`` (weights with ``bm25_k1`` and ``bm25_b``) or
    ``tfidf``. No randomness: the same result at any ``num_threads``.
    """

    similarity: Literal["cosine", "bm25", "tfidf"] = "bm25"
    neighbours: int = 400
    bm25_k1: float = 0.6
    bm25_b: float = 0.5
    num_threads: int = param(default=1, significant=False, description="same result at any")

    def model_kind(self) -> str:
        """``itemknn``."""
        return "itemknn"

    def fit(self, matrix: sp.csr_matrix) -> Any:
        """An ``implicit`` item-item model over the weighted ``matrix``.

        The weighting is the one ``implicit``'s BM25, Cosine and TFIDF recommenders apply,
        done here so the model is fitted on CSR (those classes hand it COO and warn).
        """
        from implicit.nearest_neighbours import (
            ItemItemRecommender,
            bm25_weight,
            normalize,
            tfidf_weight,
        )

        if self.similarity == "bm25":
            weighted = bm25_weight(matrix.T, K1=self.bm25_k1, B=self.bm25_b).T
        elif self.similarity == "cosine":
            weighted = normalize(matrix.T).T
        else:
            weighted = normalize(tfidf_weight(matrix.T)).T
        model = ItemItemRecommender(K=self.neighbours, num_threads=self.num_threads)
        model.fit(weighted.tocsr(), show_progress=False)
        return model
