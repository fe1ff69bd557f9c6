"""Recommender tasks over implicit feedback: a popularity baseline, ALS and BPR from the
``implicit`` package, and item-kNN (cosine, BM25, TF-IDF).

Each task reads a training interaction table (``user``, ``item``) and writes a ranking
table (``user, item, score, rank``), which the evaluation task, the warehouse write-back
(``WriteTableTask(..., output_name="ranking")``) and the web app's ranking comparison read,
and the fitted model (``load`` gives a :class:`FittedRecommender`).
"""

from tasuki.contrib.recommend._fitted import FittedRecommender, build_matrix
from tasuki.contrib.recommend._tasks import (
    ALSRecommender,
    BPRRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
)

__all__ = [
    "ALSRecommender",
    "BPRRecommender",
    "FittedRecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "Recommender",
    "build_matrix",
]
