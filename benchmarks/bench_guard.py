"""What the read-only guard costs on a typical query (issue 10: at most 1 ms on 2 KB).

    .venv/bin/python benchmarks/run.py guard [--quick] [--repeat N]

For a realistic ~2 KB analytic query (CTEs, joins, window functions, CASE, aggregates, a
dozen function calls) in PostgreSQL and DuckDB it times, per call, the median over many
runs of wall and CPU time:

* ``parse``: sqlglot tokenizing and parsing the text (what any check must pay);
* ``guard``: the guard's walk over the parsed tree (statements, every function call against
  the allow list and the categorised refusals, DuckDB file scans), on a tree parsed once;
* ``check_query``: the whole public check (size limits, parse, guard, placeholders, the
  normalised text).

The guard row is the one the 1 ms limit is about; ``verdict`` says whether it is met.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlglot

from tasuki.warehouse import check_query
from tasuki.warehouse._safety import _check_tree

LIMIT_MS = 1.0

QUERY = """
WITH recent_orders AS (
    SELECT o.id, o.customer_id, o.created_at, o.status, o.amount, o.currency,
           date_trunc('day', o.created_at) AS order_day,
           row_number() OVER (PARTITION BY o.customer_id ORDER BY o.created_at DESC) AS rn,
           lag(o.amount) OVER (PARTITION BY o.customer_id ORDER BY o.created_at) AS prev_amount
    FROM orders AS o
    WHERE o.created_at >= :since AND o.status IN ('paid', 'shipped', 'refunded')
),
customer_stats AS (
    SELECT c.id AS customer_id, c.region, lower(trim(c.email)) AS email,
           count(r.id) AS orders, sum(r.amount) AS revenue, avg(r.amount) AS avg_amount,
           max(r.created_at) AS last_order, min(r.created_at) AS first_order,
           sum(CASE WHEN r.status = 'refunded' THEN r.amount ELSE 0 END) AS refunded,
           count(DISTINCT r.order_day) AS active_days
    FROM customers AS c
    LEFT JOIN recent_orders AS r ON r.customer_id = c.id
    GROUP BY c.id, c.region, lower(trim(c.email))
),
region_stats AS (
    SELECT region, sum(revenue) AS region_revenue, count(*) AS customers,
           stddev_samp(revenue) AS revenue_sd
    FROM customer_stats
    GROUP BY region
)
SELECT cs.customer_id, cs.region, cs.email, cs.orders, cs.revenue,
       round(cs.avg_amount, 2) AS avg_amount,
       coalesce(cs.refunded, 0) / nullif(cs.revenue, 0) AS refund_rate,
       CASE
           WHEN cs.revenue >= 10000 THEN 'platinum'
           WHEN cs.revenue >= 1000 THEN 'gold'
           WHEN cs.revenue >= 100 THEN 'silver'
           ELSE 'bronze'
       END AS tier,
       cs.revenue / nullif(rs.region_revenue, 0) AS share_of_region,
       rank() OVER (PARTITION BY cs.region ORDER BY cs.revenue DESC) AS region_rank,
       ntile(10) OVER (ORDER BY cs.revenue) AS decile,
       sum(cs.revenue) OVER (PARTITION BY cs.region ORDER BY cs.last_order
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
       extract(year FROM cs.first_order) AS cohort_year,
       greatest(cs.active_days, 1) AS active_days,
       substring(cs.email FROM position('@' IN cs.email) + 1) AS email_domain,
       ro.amount - coalesce(ro.prev_amount, 0) AS last_change
FROM customer_stats AS cs
JOIN region_stats AS rs ON rs.region = cs.region
LEFT JOIN recent_orders AS ro ON ro.customer_id = cs.customer_id AND ro.rn = 1
WHERE cs.orders > 0
  AND cs.email LIKE '%@%'
  AND rs.customers >= 10
  AND cs.customer_id NOT IN (SELECT customer_id FROM blocked_customers)
ORDER BY cs.region, region_rank
LIMIT 1000
"""


def _time(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of one call, over ``runs`` calls (after a warm-up)."""
    for _ in range(max(3, runs // 20)):
        fn()
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - w0) * 1e3)
        cpus.append((time.process_time() - c0) * 1e3)
    return statistics.median(walls), statistics.median(cpus)


def run(quick: bool = False, repeat: int = 3) -> list[dict[str, Any]]:
    """Time parse, guard and check_query per dialect; one row each, medians of all runs."""
    runs = 30 if quick else 300
    size = len(QUERY.encode())
    rows: list[dict[str, Any]] = []
    for dialect in ("postgres", "duckdb"):
        tree = sqlglot.parse_one(QUERY, read=dialect)
        calls = sum(1 for n in tree.walk() if isinstance(n, sqlglot.exp.Func))
        steps: dict[str, Callable[[], Any]] = {
            "parse": lambda d=dialect: sqlglot.parse(QUERY, read=d),
            "guard": lambda d=dialect, t=tree: _check_tree(t, d, frozenset()),
            "check_query": lambda d=dialect: check_query(QUERY, dialect=d),
        }
        for step, fn in steps.items():
            samples = [_time(fn, runs) for _ in range(max(1, repeat))]
            wall = statistics.median(s[0] for s in samples)
            cpu = statistics.median(s[1] for s in samples)
            rows.append(
                {
                    "dialect": dialect,
                    "step": step,
                    "query bytes": size,
                    "function calls": calls,
                    "runs": runs * max(1, repeat),
                    "wall ms": wall,
                    "CPU ms": cpu,
                    "limit": f"<= {LIMIT_MS:g} ms" if step == "guard" else "",
                    "verdict": ("met" if max(wall, cpu) <= LIMIT_MS else "NOT met")
                    if step == "guard"
                    else "",
                }
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
