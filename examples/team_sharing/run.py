"""Team sharing end to end: a private dataset from the warehouse in two versions, a model
trained on each and pushed to the zoo, the runs tracked in MLflow, the lineage printed.

From the repository root (offline; DuckDB and scikit-learn are the only parts)::

    python -m examples.team_sharing.run                       # ./workspace, ./registry
    python -m examples.team_sharing.run --tracking-uri http://127.0.0.1:5000

With ``--tracking-uri`` each build is an MLflow run (one nested run per task, the AUC as a
metric) and each zoo push is mirrored into the MLflow Model Registry.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tasuki
from examples.team_sharing.tasks import DAYS, Clicks, Clicks2, TrainCtr
from tasuki import datasets
from tasuki.datasets import DatasetInput
from tasuki.lineage import lineage, to_text
from tasuki.storage import open_store
from tasuki.zoo import Zoo


def make_warehouse(path: str) -> None:
    """An embedded DuckDB warehouse with a ``clicks`` table: 30 days of impressions, made
    from a fixed seed (the same rows on every machine)."""
    import duckdb

    if os.path.exists(path):
        return
    con = duckdb.connect(path)
    try:
        con.execute(
            """
            CREATE TABLE clicks AS
            SELECT day, user_id, item_id,
                   round(((user_id * 7919 + item_id * 104729 + day * 13) % 1000) / 1000.0, 3)
                       AS score,
                   CASE WHEN ((user_id * 31 + item_id * 17 + day) % 100)
                             < 10 + 60 * (((user_id * 7919 + item_id * 104729 + day * 13) % 1000)
                                          / 1000.0)
                        THEN 1 ELSE 0 END AS clicked
            FROM range(30) d(day), range(200) u(user_id), range(20) i(item_id)
            """
        )
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    """Build both versions, train and push a model on each, print the lineage.

    Returns:
        0 when every step worked and the champion leads back to dataset 2.0.0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workspace", default="./workspace", help="folder or URL for outputs")
    parser.add_argument("--registry", default="./registry", help="dataset registry and zoo")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking server")
    args = parser.parse_args(argv)

    warehouse = os.path.abspath(os.path.join(args.workspace, "..", "warehouse.duckdb"))
    os.makedirs(os.path.dirname(warehouse), exist_ok=True)
    make_warehouse(warehouse)
    overrides = {
        "workspace": args.workspace,
        "registry": args.registry,
        "warehouses": {"dwh": f"duckdb:///{warehouse}"},
        "tracking": "mlflow" if args.tracking_uri else "off",
        "tracking_uri": args.tracking_uri,
    }
    settings = tasuki.load_settings({k: v for k, v in overrides.items() if v is not None})

    zoo = Zoo(settings=settings)
    for builder in (Clicks, Clicks2):
        info = datasets.build(builder, settings=settings)
        print(f"dataset {info.name}:{info.version}  rows {info.rows}")
        ref = f"{info.name}:{info.version}"
        model = TrainCtr(
            train=DatasetInput(ref=ref, split="train", registry=settings.registry),
            test=DatasetInput(ref=ref, split="test", registry=settings.registry),
        )
        result = tasuki.run_build(model, settings=settings, progress="off")
        print(result.summary())
        if not result.ok:
            return 1
        version = zoo.push(
            "shop-ctr",
            model,
            alias="champion",
            description=f"CTR model on {DAYS[info.version]} days of clicks",
            reason=f"trained on {ref}",
        )
        print(f"pushed {version.ref}  metrics {version.metrics}")

    print()
    found = lineage(
        "model:shop-ctr@champion", store=open_store(args.workspace), registry=settings.registry
    )
    print(to_text(found))
    champion = zoo.resolve("shop-ctr@champion")
    return 0 if "dataset:shop/clicks:2.0.0" in found.nodes and champion.version == 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
