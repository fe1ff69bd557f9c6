"""Build the wine report for two models, then build it again to show the cache at work.

From the repository root::

    python -m examples.wine.run                 # workspace ./workspace
    python examples/wine/run.py --workspace /tmp/wine --workers 2
    python -m examples.wine.run --seed 1        # another split: new ids from SplitData down

The first build runs the eight tasks (load, split, features, two models, two evaluations,
the report); the second finds the report cached and runs nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if not __package__:
    # `python examples/wine/run.py`: import the tasks under their real module name so that
    # ids and output paths match `tasuki run examples.wine.tasks:Report`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.wine.tasks import Features, Report, TrainLogistic, TrainRandomForest
from rich.console import Console
from rich.table import Table

import tasuki


def main(argv: list[str] | None = None) -> int:
    """Build the report twice, print the summaries, the scores and where the report is.

    Args:
        argv: Command-line words (default: ``sys.argv[1:]``).

    Returns:
        The process exit code: 0 when both builds succeeded and the second ran nothing.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workspace", default="./workspace", help="folder or URL for outputs")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    args = parser.parse_args(argv)
    console = Console()

    # Both models share one Features task, so the data is loaded, split and scaled once.
    features = Features(seed=args.seed)
    report = Report(models=[TrainLogistic(features=features), TrainRandomForest(features=features)])
    first = tasuki.run_build(report, workspace=args.workspace, workers=args.workers)
    print(first.summary())
    if not first.ok:
        print(f"first run failed; resume with: {first.resume_command()}")
        return 1

    second = tasuki.run_build(report, workspace=args.workspace, workers=args.workers)
    counts = second.counts()
    # The runner checks completeness from the root down: a complete report means nothing
    # upstream needs a look, so those tasks count as cached too ("not needed" to check).
    cached = counts["cached"] + counts["not_needed"]
    print(
        f"second run: {cached} tasks cached, {counts['ran']} ran "
        f"(first run {first.duration_s:.2f}s, second run {second.duration_s:.2f}s)"
    )

    outputs = tasuki.load(report, workspace=args.workspace)
    console.print(_scores_table(outputs["scores"]["ranking"]))
    workspace = second.workspace.rstrip("/")
    for name, target in report.output().items():
        print(f"{name}: {workspace}/{target.key}")
    return 0 if second.ok and counts["ran"] == 0 else 1


def _scores_table(ranking: list[dict[str, object]]) -> Table:
    table = Table(title="wine: held-out scores, best first")
    for column in ("model", "parameters", "accuracy", "macro F1"):
        table.add_column(column, justify="right" if column in ("accuracy", "macro F1") else "left")
    for m in ranking:
        params = m["params"]
        table.add_row(
            str(m["model"]),
            json.dumps(params) if isinstance(params, dict) else str(params),
            f"{m['accuracy']:.3f}",
            f"{m['macro_f1']:.3f}",
        )
    return table


if __name__ == "__main__":
    sys.exit(main())
