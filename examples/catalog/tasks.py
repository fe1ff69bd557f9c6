"""A tiny pipeline that reads the warehouse and writes a table back, so the catalog has
lineage to show: ``orders`` -[read]-> ``DailyRevenue`` -> ``WriteTableTask`` -[wrote]->
``main.daily_revenue``."""

from __future__ import annotations

from typing import Any

import tasuki
from tasuki.warehouse import QueryTask, WriteTableTask

ORDERS_BY_DAY = """
SELECT day, sum(amount) AS revenue, count(*) AS orders
FROM orders
GROUP BY day
ORDER BY day
"""


class DailyRevenue(tasuki.Task):
    """Revenue per day, refunds included (they are negative amounts)."""

    def requires(self) -> Any:
        return QueryTask(sql=ORDERS_BY_DAY, warehouse="dwh")

    def output(self) -> Any:
        return self.make_target("daily_revenue.parquet")

    def run(self) -> None:
        self.dump(self.load().to_pandas())


def publish() -> WriteTableTask:
    """The write-back task: ``daily_revenue`` in the warehouse, with its lineage row."""
    return WriteTableTask(data=DailyRevenue(), table="daily_revenue", warehouse="dwh")
