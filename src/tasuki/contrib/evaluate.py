"""Evaluation: ranking metrics at k (precision, recall, nDCG, MAP, coverage), AUC and
log-loss for classifiers, and a task that scores several recommender tasks against a test
split and keeps the results as a table and a PNG chart among its outputs.

Ranking metrics, for each user with at least one test interaction (a user with no list
scores 0), averaged over those users; relevance is binary (an item is relevant when the
user has it in the test part):

- precision@k = hits in the top k / k;
- recall@k = hits / relevant items;
- nDCG@k = sum over hits of 1 / log2(rank + 1), divided by the same sum for
  min(k, relevant) hits at the top;
- MAP@k = sum over hits of precision at that rank, divided by min(k, relevant);
- coverage = distinct items in all top-k lists / items in the catalogue.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from tasuki.contrib.split import check_interactions
from tasuki.core.params import param
from tasuki.core.targets import FileTarget
from tasuki.core.task import Task
from tasuki.errors import FormatError, ParameterError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "EvaluateRankings",
    "PngFormat",
    "auc",
    "log_loss",
    "metrics_chart",
    "ranking_metrics",
]


def ranking_metrics(
    ranking: pd.DataFrame, truth: pd.DataFrame, *, k: int = 10, n_items: int | None = None
) -> dict[str, float]:
    """``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k`` (and ``coverage@k`` when
    ``n_items`` is given) of ``ranking`` (``user, item, rank``) against ``truth`` (``user,
    item``), as defined in this module's docstring.

    Raises:
        MissingColumnsError: a table lacks a column (the message names the ones found).
        ParameterError: ``k`` below 1.
    """
    import numpy as np
    import pandas as pd

    if k < 1:
        raise ParameterError(f"ranking_metrics: k must be at least 1, got {k}", parameter="k")
    check_interactions(ranking, ["user", "item", "rank"], where="ranking_metrics ranking")
    check_interactions(truth, ["user", "item"], where="ranking_metrics truth")
    relevant = truth[["user", "item"]].drop_duplicates()
    n_relevant = relevant.groupby("user").size()
    top = ranking.loc[ranking["rank"] <= k, ["user", "item", "rank"]]
    hits = top.merge(relevant, on=["user", "item"], how="inner")
    # Rank among the hits of one user, for MAP: the i-th hit at rank r adds i / r.
    hits = hits.sort_values(["user", "rank"], kind="stable")
    hits["nth"] = hits.groupby("user").cumcount() + 1
    hits["gain"] = 1.0 / np.log2(hits["rank"].to_numpy(dtype=np.float64) + 1.0)
    hits["prec"] = hits["nth"] / hits["rank"]
    per_user = hits.groupby("user").agg(
        hits=("item", "size"), dcg=("gain", "sum"), ap=("prec", "sum")
    )
    per_user = per_user.reindex(n_relevant.index, fill_value=0.0)
    ideal_k = np.minimum(n_relevant.to_numpy(), k)
    discounts = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    result = {
        f"precision@{k}": float((per_user["hits"] / k).mean()),
        f"recall@{k}": float((per_user["hits"] / n_relevant).mean()),
        f"ndcg@{k}": float((per_user["dcg"] / discounts[ideal_k]).mean()),
        f"map@{k}": float((per_user["ap"] / ideal_k).mean()),
    }
    if n_items is not None:
        result[f"coverage@{k}"] = float(top["item"].nunique() / n_items) if n_items else 0.0
    return {name: (0.0 if pd.isna(v) else v) for name, v in result.items()}


def auc(y_true: Sequence[float] | np.ndarray, y_score: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative (ties count half), from the ranks of the scores.

    Raises:
        ParameterError: lengths differ, labels other than 0/1, or only one class.
    """
    from scipy.stats import rankdata

    truth, score = _labels_and_values(y_true, y_score, "auc")
    positives = int(truth.sum())
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        raise ParameterError(
            f"auc: y_true holds only {'negatives' if positives == 0 else 'positives'} "
            f"({len(truth)} labels); AUC needs both classes",
            parameter="y_true",
        )
    ranks = rankdata(score)
    return float(
        (ranks[truth == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def log_loss(
    y_true: Sequence[float] | np.ndarray,
    y_prob: Sequence[float] | np.ndarray,
    *,
    eps: float = 1e-15,
) -> float:
    """Mean negative log-likelihood of 0/1 labels under predicted probabilities of 1
    (clipped to ``[eps, 1 - eps]`` so a confident miss costs a finite amount).

    Raises:
        ParameterError: lengths differ, labels other than 0/1, probabilities outside [0, 1].
    """
    import numpy as np

    truth, prob = _labels_and_values(y_true, y_prob, "log_loss")
    if np.any((prob < 0) | (prob > 1)) or np.any(np.isnan(prob)):
        raise ParameterError(
            "log_loss: y_prob must hold probabilities in [0, 1] (no NaN); got values from "
            f"{np.nanmin(prob)} to {np.nanmax(prob)}",
            parameter="y_prob",
        )
    p = np.clip(prob, eps, 1 - eps)
    return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))


def _labels_and_values(labels: Any, values: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    truth = np.asarray(labels, dtype=np.float64).ravel()
    value = np.asarray(values, dtype=np.float64).ravel()
    if len(truth) != len(value) or len(truth) == 0:
        raise ParameterError(
            f"{where}: y_true has {len(truth)} values and the scores {len(value)}; pass one "
            "score per label (and at least one)",
            parameter="y_true",
        )
    if not np.isin(truth, (0.0, 1.0)).all():
        bad = sorted(set(truth[~np.isin(truth, (0.0, 1.0))].tolist()))[:5]
        raise ParameterError(
            f"{where}: y_true must hold 0/1 labels; found {bad}", parameter="y_true"
        )
    return truth, value


def metrics_chart(table: pd.DataFrame, *, title: str = "") -> bytes:
    """A PNG bar chart of ``table`` (one row per model in column ``model``, one numeric
    column per metric), models side by side within each metric."""
    # A bare Figure draws with Agg and never touches pyplot's global state or backend.
    from matplotlib.figure import Figure

    metric_names = [c for c in table.columns if c != "model" and table[c].dtype.kind == "f"]
    figure = Figure(figsize=(1.6 + 1.4 * len(metric_names), 3.6), dpi=100)
    axes = figure.subplots()
    width = 0.8 / max(len(table), 1)
    for i, row in enumerate(table.to_dict("records")):
        values = [row[m] for m in metric_names]
        positions = [j + i * width for j in range(len(metric_names))]
        axes.bar(positions, values, width=width, label=str(row["model"]))
    axes.set_xticks([j + width * (len(table) - 1) / 2 for j in range(len(metric_names))])
    axes.set_xticklabels(metric_names)
    axes.set_ylim(0, 1)
    axes.set_title(title)
    axes.legend(fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


class PngFormat:
    """PNG images kept as their bytes (a chart among a task's outputs)."""

    name: ClassVar[str] = "png"
    extensions: ClassVar[tuple[str, ...]] = (".png",)

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write PNG bytes."""
        if not isinstance(obj, bytes | bytearray) or not bytes(obj[:8]) == b"\x89PNG\r\n\x1a\n":
            raise FormatError(
                f"a .png output takes the bytes of a PNG image, got {type(obj).__name__}",
                value_type=type(obj).__name__,
            )
        file.write(obj)

    def load(self, file: BinaryIO) -> bytes:
        """The PNG bytes."""
        return file.read()

    def is_empty(self, obj: Any) -> bool:
        """No bytes."""
        return not obj


class EvaluateRankings(Task):
    """Score recommender tasks against the ``test`` output of a split task.

    Outputs ``table`` (``metrics.parquet``: one row per recommender with its metrics) and
    ``chart`` (``metrics.png``); each metric also goes into the run record as
    ``<model>/<metric>``.
    """

    split: Task
    recommenders: list[Task]
    k: int = param(default=10, description="length of the lists scored")

    def requires(self) -> Any:
        """The split (its test part is the truth) and each recommender."""
        return {"split": self.split, **{_label(r): r for r in self.recommenders}}

    def output(self) -> Any:
        """``metrics.parquet`` and ``metrics.png``."""
        table = self.make_target("metrics.parquet")
        chart_key = table.key.removesuffix(".parquet") + ".png"
        return {"table": table, "chart": FileTarget(chart_key, PngFormat())}

    def run(self) -> None:
        """Compute each recommender's metrics; write the table and the chart."""
        import pandas as pd

        if not self.recommenders:
            raise ParameterError(
                f"{type(self).task_name()}: recommenders is empty; pass one task or more",
                parameter="recommenders",
            )
        split = self.load("split")
        truth, train = split["test"], split["train"]
        n_items = int(pd.concat([train["item"], truth["item"]]).nunique())
        rows = []
        for task in self.recommenders:
            label = _label(task)
            outputs = self.load(label)
            ranking = outputs["ranking"] if isinstance(outputs, dict) else outputs
            scores = ranking_metrics(ranking, truth, k=self.k, n_items=n_items)
            # Run-record metric keys take no '@': ndcg@10 is logged as <label>/ndcg_at_10.
            self.log_metrics(
                {f"{label}/{name.replace('@', '_at_')}": v for name, v in scores.items()}
            )
            rows.append({"model": label, **scores})
        table = pd.DataFrame(rows)
        self.dump(table, "table")
        self.dump(metrics_chart(table, title=f"top-{self.k} metrics"), "chart")


def _label(task: Task) -> str:
    """``<Class>-<short id>``: unique, and readable in a table and a legend."""
    return f"{type(task).__name__}-{task.unique_id[:6]}"
