"""Small interaction tables as tasks, for the contrib tests."""

from __future__ import annotations

from typing import Any

import pandas as pd

import tasuki

#: user, item, rating, timestamp: 4 users, 5 items. Item 1 is the most popular (4 users),
#: then 2 (3), 3 (2), 4 (1); item 5 only user 4 has.
ROWS = [
    (1, 1, 5.0, 10), (1, 2, 4.0, 20), (1, 3, 1.0, 30),
    (2, 1, 4.0, 11), (2, 2, 2.0, 21),
    (3, 1, 3.0, 12), (3, 4, 5.0, 22), (3, 2, 5.0, 32), (3, 3, 4.0, 42),
    (4, 1, 1.0, 13), (4, 5, 3.0, 23),
]  # fmt: skip


def frame(rows: list[tuple[int, int, float, int]] | None = None) -> pd.DataFrame:
    """``ROWS`` (or ``rows``) as a DataFrame."""
    return pd.DataFrame(rows or ROWS, columns=["user", "item", "rating", "timestamp"])


class Table(tasuki.Task):
    """One of the tables above as a Parquet output; ``drop`` removes a column (bad input)."""

    drop: str = ""

    def output(self) -> Any:
        return self.make_target("table.parquet")

    def run(self) -> None:
        data = frame()
        self.dump(data.drop(columns=[self.drop]) if self.drop else data)
