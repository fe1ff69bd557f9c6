"""What the query-and-write tests build: scores that differ with ``day``, and a total of a
query's ``score`` column (what a pipeline computes from the query's result)."""

from __future__ import annotations

import pandas as pd

import tasuki
from tasuki.warehouse import QueryTask


class Scores(tasuki.Task):
    """Rows that differ with ``day``."""

    day: int = 1

    def output(self):
        return self.make_target("scores.parquet")

    def run(self):
        self.dump(pd.DataFrame({"recipe_id": [1, 2], "score": [self.day * 1.0, self.day * 2.0]}))


class Total(tasuki.Task):
    """The sum of the query's ``score`` column."""

    query: QueryTask

    def requires(self):
        return self.query

    def run(self):
        self.dump(float(self.load()["score"].sum()))
