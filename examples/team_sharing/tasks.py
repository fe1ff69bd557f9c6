"""A private dataset built from the warehouse, and a model trained on a version of it.

``Clicks`` is the team's dataset builder: each split is a ``QueryTask`` against the embedded
DuckDB warehouse (``dwh``), cut by day. Version 1.0.0 holds the first 20 days; version 2.0.0
the first 30 (other rows: a major release, as the registry's semver check requires).
``TrainCtr`` trains a click-through model on a ``DatasetInput`` of a version and logs its
AUC, which lands in its run record and, with tracking on, in MLflow.
"""

from __future__ import annotations

from typing import Any

import tasuki
from tasuki.datasets import DatasetBuilder, DatasetInput
from tasuki.warehouse import QueryTask

#: Days of data each published version holds.
DAYS = {"1.0.0": 20, "2.0.0": 30}

_SQL = """
SELECT user_id, item_id, score, clicked
FROM clicks
WHERE day < {days} AND (day % 5 {op} 0)
ORDER BY day, user_id, item_id
"""


class Clicks(DatasetBuilder):
    """Clicks on recommended items, one row per impression."""

    name = "shop/clicks"
    VERSION = "1.0.0"
    RELEASE_NOTES = {"1.0.0": "The first 20 days.", "2.0.0": "30 days: 10 more."}
    description = """Impressions of recommended items and whether they were clicked.

One row per (user, item) shown. Every fifth day is held out as the test split."""
    columns = {
        "user_id": "Who saw the item (an opaque id).",
        "item_id": "What was shown.",
        "score": "The recommender's score when it was shown (0 to 1).",
        "clicked": "1 when the user clicked it, else 0.",
    }

    def splits(self) -> dict[str, Any]:
        days = DAYS[self.VERSION]
        return {
            "train": QueryTask(sql=_SQL.format(days=days, op="!="), warehouse="dwh"),
            "test": QueryTask(sql=_SQL.format(days=days, op="="), warehouse="dwh"),
        }


class Clicks2(Clicks):
    """The same builder at 2.0.0 (in a real package: the same class, its VERSION bumped)."""

    VERSION = "2.0.0"


class TrainCtr(tasuki.Task):
    """A logistic-regression click model on one dataset version's train split."""

    train: DatasetInput
    test: DatasetInput
    c: float = 1.0

    def requires(self) -> Any:
        return {"train": self.train, "test": self.test}

    def output(self) -> Any:
        return self.make_target("ctr_model.pkl")

    def run(self) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        data = self.load()
        train, test = data["train"].to_pandas(), data["test"].to_pandas()
        features = ["score", "item_id"]
        model = LogisticRegression(C=self.c, max_iter=200)
        model.fit(train[features], train["clicked"])
        auc = roc_auc_score(test["clicked"], model.predict_proba(test[features])[:, 1])
        self.log_metric("auc", float(auc))
        self.log_metric("train_rows", float(len(train)))
        self.dump(model)
