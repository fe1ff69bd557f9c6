"""MovieLens-100k end to end: split, two recommenders given as task parameters, an
evaluation table and chart, the recommendations written to a DuckDB warehouse with
lineage, and a report that links the ranking comparison page.

```
MovieLens100k ─> SplitInteractions ─┬─> ALSRecommender ─────┬─> EvaluateRankings ─┐
                                    └─> ItemKNNRecommender ─┤                     ├─> Report
                                                            └─> WriteTableTask x2 ┤
MovieLens100kItems ───────────────────────────────────────────> WriteTableTask ───┘
```

The split is Microsoft Recommenders' protocol for its MovieLens-100k benchmarks: every
rating is an implicit interaction, 75/25 at random over rows (seed 42), top 10 of the items
a user has not seen in train.
"""

from __future__ import annotations

from typing import Any

import tasuki
from tasuki.contrib.datasets import MovieLens100k, MovieLens100kItems
from tasuki.contrib.evaluate import EvaluateRankings
from tasuki.contrib.recommend import ALSRecommender, ItemKNNRecommender
from tasuki.contrib.split import SplitInteractions
from tasuki.warehouse import WriteTableTask


def protocol_split(seed: int = 42) -> SplitInteractions:
    """All ratings as interactions, 75% train / 25% test at random over rows."""
    return SplitInteractions(data=MovieLens100k(), method="random", test_fraction=0.25, seed=seed)


def table_name(recommender: tasuki.Task) -> str:
    """``recommendations_<class>`` (e.g. ``recommendations_alsrecommender``)."""
    return f"recommendations_{type(recommender).__name__.lower()}"


class Report(tasuki.Task):
    """Evaluate two recommenders on ``split``, write both rankings and the movie list to
    ``warehouse``, and keep a Markdown report with the metrics and the comparison link."""

    split: tasuki.Task
    a: tasuki.Task
    b: tasuki.Task
    warehouse: str
    k: int = 10

    def requires(self) -> Any:
        return {
            "metrics": EvaluateRankings(split=self.split, recommenders=[self.a, self.b], k=self.k),
            "items": WriteTableTask(
                data=MovieLens100kItems(), table="movies", warehouse=self.warehouse
            ),
            **{
                name: WriteTableTask(
                    data=task,
                    output_name="ranking",
                    table=table_name(task),
                    warehouse=self.warehouse,
                )
                for name, task in (("write_a", self.a), ("write_b", self.b))
            },
        }

    def output(self) -> Any:
        return self.make_target("report.txt")  # Markdown text

    def run(self) -> None:
        table = self.load("metrics")["table"]
        for row in table.to_dict("records"):
            self.log_metric(f"{row['model']}/ndcg_at_{self.k}", row[f"ndcg@{self.k}"])
        lines = [
            f"# MovieLens-100k: top-{self.k}",
            "",
            "| " + " | ".join(table.columns) + " |",
            "|" + "---|" * len(table.columns),
            *(
                "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |"
                for r in table.itertuples(index=False)
            ),
            "",
            f"Rankings in the warehouse: {table_name(self.a)}, {table_name(self.b)}; movies.",
            "",
            "Compare them in `tasuki web`: "
            f"/compare?a={self.a.unique_id[:12]}&b={self.b.unique_id[:12]}&by=user&value=1"
            f"&meta={MovieLens100kItems().unique_id[:12]}",
        ]
        self.dump("\n".join(lines) + "\n")


def pipeline(warehouse: str, seed: int = 42) -> Report:
    """The report for the tuned ALS and BM25 item-kNN on the protocol split."""
    split = protocol_split(seed)
    return Report(
        split=split,
        a=ALSRecommender(train=split),
        b=ItemKNNRecommender(train=split, similarity="bm25"),
        warehouse=warehouse,
    )
