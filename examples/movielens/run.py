"""MovieLens-100k end to end (offline: the ratings ship in the ``recbole`` wheel).

From the repository root::

    python -m examples.movielens.run                    # ./workspace, ./movielens.duckdb
    python -m examples.movielens.run --workspace /tmp/ws --warehouse /tmp/ml.duckdb

Prints the metrics table, where the chart and the report are, the rows each warehouse
table holds with its lineage, and the ranking comparison link for ``tasuki web``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tasuki
from examples.movielens.tasks import pipeline
from tasuki.contrib.evaluate import EvaluateRankings
from tasuki.warehouse import read_lineage


def main(argv: list[str] | None = None) -> int:
    """Build the report; 0 when it was built and every table has its lineage row."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workspace", default="./workspace", help="folder or URL for outputs")
    parser.add_argument("--warehouse", default="./movielens.duckdb", help="DuckDB file")
    parser.add_argument("--seed", type=int, default=42, help="seed of the 75/25 split")
    args = parser.parse_args(argv)

    url = f"duckdb:///{os.path.abspath(args.warehouse)}"
    report = pipeline(url, seed=args.seed)
    result = tasuki.run_build(report, workspace=args.workspace, progress="off")
    print(result.summary())
    if not result.ok:
        return 1
    print(tasuki.load(report, workspace=args.workspace))
    evaluation = EvaluateRankings(split=report.split, recommenders=[report.a, report.b])
    chart = evaluation.output()["chart"].key
    print(f"chart: {os.path.join(args.workspace, chart)}")
    print(f"report: {os.path.join(args.workspace, report.output().key)}")
    rows = read_lineage(url)
    for row in rows:
        print(
            f"warehouse table {row['table_name']}: {row['row_count']} rows, written by "
            f"{row['task']} [{row['unique_id'][:12]}]"
        )
    tables = {r["table_name"] for r in rows}
    return 0 if len(tables) == 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
