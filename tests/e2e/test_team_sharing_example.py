"""examples/team_sharing against a real MLflow tracking server: two dataset versions from
the embedded DuckDB warehouse, a model on each pushed to the zoo, the builds tracked, the
zoo mirrored into the Model Registry, the lineage printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._mlflow import mlflow_server

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_team_sharing_example_end_to_end(tmp_path: Path) -> None:
    with mlflow_server(tmp_path / "mlflow") as uri:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "examples.team_sharing.run",
                "--workspace",
                str(tmp_path / "ws"),
                "--registry",
                str(tmp_path / "registry"),
                "--tracking-uri",
                uri,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        text = out.stdout
        assert "dataset shop/clicks:1.0.0" in text and "dataset shop/clicks:2.0.0" in text
        assert "pushed shop-ctr/1" in text and "pushed shop-ctr/2" in text
        assert "metrics {'auc': " in text  # the task's logged AUC is the version's
        lineage = text[text.index("model shop-ctr/2") :]
        assert "<- produced: task examples.team_sharing.tasks:TrainCtr" in lineage
        assert "<- read: dataset shop/clicks:2.0.0" in lineage
        assert "query SELECT user_id, item_id, score, clicked FROM clicks" in lineage

        from mlflow import MlflowClient

        client = MlflowClient(uri)
        runs = client.search_runs(
            [e.experiment_id for e in client.search_experiments()], max_results=1000
        )
        # The builds' task runs (the zoo's mirror logs each pushed version in a run too).
        trains = [
            r
            for r in runs
            if r.data.tags.get("tasuki.task", "").endswith(":TrainCtr")
            and "tasuki.zoo_version" not in r.data.tags
        ]
        assert len(trains) == 2, [r.data.tags for r in runs]
        assert all(0.5 < r.data.metrics["auc"] <= 1.0 for r in trains)
        assert all(r.data.tags.get("mlflow.parentRunId") for r in trains)  # nested in a build
        versions = client.search_model_versions("name='shop-ctr'")
        assert sorted(int(v.version) for v in versions) == [1, 2]
        assert client.get_model_version_by_alias("shop-ctr", "champion").version == "2"
