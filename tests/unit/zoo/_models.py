"""Tasks, save and load functions the zoo tests push (module level: versions name them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tasuki
from tasuki.zoo import ZooModel


def save_weights(model: dict[str, Any], folder: Path) -> None:
    """Two files, as a framework's save_pretrained would write."""
    (folder / "config.json").write_text(json.dumps({"dim": model["dim"]}))
    (folder / "weights.bin").write_bytes(bytes(model["weights"]))


def load_weights(folder: Path) -> dict[str, Any]:
    """Read what save_weights wrote."""
    config = json.loads((folder / "config.json").read_text())
    return {"dim": config["dim"], "weights": list((folder / "weights.bin").read_bytes())}


def broken_loader(folder: Path) -> Any:
    """A load function that fails, as one whose library changed would."""
    raise RuntimeError("weights layout v2 is not supported")


class DatasetInput(tasuki.Task):
    """Stands in name only for tasuki.datasets' DatasetInput (the zoo reads it by name)."""

    ref: str
    resolved: str = ""
    content_hash: str = ""

    def run(self) -> None:
        self.dump([1, 2, 3])


class Train(tasuki.Task):
    """A training task whose output is the model (a pickle), with metrics in its log."""

    data: DatasetInput
    lr: float = 0.1

    def requires(self) -> DatasetInput:
        return self.data

    def output(self) -> Any:
        return self.make_target("model.pkl")

    def run(self) -> None:
        rows = self.load()
        self.task_log["ndcg"] = 0.3 + self.lr
        self.task_log["note"] = "not a metric"
        self.log_metric("loss", 0.9, step=0)
        self.log_metric("loss", 0.4 - self.lr, step=1)  # the last value is the model's
        self.log_metric("nan", float("nan"))
        self.dump({"coef": [r * self.lr for r in rows]})


class TrainFolder(tasuki.Task):
    """A training task whose output is a model target (files zipped by tasuki)."""

    dim: int = 4

    def output(self) -> Any:
        return self.make_model_target(
            "model.zip", save_function=save_weights, load_function=load_weights
        )

    def run(self) -> None:
        self.dump({"dim": self.dim, "weights": list(range(self.dim))})


class FineTune(tasuki.Task):
    """Fine-tunes a pretrained zoo model."""

    base: ZooModel
    steps: int = 1

    def requires(self) -> ZooModel:
        return self.base

    def output(self) -> Any:
        return self.make_target("tuned.pkl")

    def run(self) -> None:
        base = self.load()
        self.dump({"base": base, "steps": self.steps})
