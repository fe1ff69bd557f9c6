"""Tasks the tracking tests build (a module of their own, so their names resolve)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import tasuki

logger = logging.getLogger(__name__)


class Scaler:
    """A model with a predict(): multiplies by ``lr``."""

    def __init__(self, weights: list[int], lr: float) -> None:
        self.weights, self.lr = weights, lr

    def predict(self, xs: list[float]) -> list[float]:
        return [self.lr * x for x in xs]


def save_model(model: Scaler, folder: Path) -> None:
    """Write the model as JSON."""
    (folder / "weights.json").write_text(json.dumps({"weights": model.weights, "lr": model.lr}))


def load_model(folder: Path) -> Scaler:
    """Read the model back."""
    return Scaler(**json.loads((folder / "weights.json").read_text()))


class Prepare(tasuki.Task):
    n: int = 3
    label: str = "a"
    api_password: str = "hunter2-secret"
    source: str = "postgresql://reader:pw123@db.example/x"
    track_outputs = True

    def output(self) -> Any:
        return self.make_target("prepare.json")

    def run(self) -> None:
        logger.info("preparing %d rows", self.n)
        self.log_metric("rows", self.n)
        self.dump(list(range(self.n)))


class Train(tasuki.Task):
    data: Prepare
    lr: float = 0.1
    config: dict[str, Any] = {"layers": [8, 4], "act": "relu"}

    def requires(self) -> Any:
        return self.data

    def output(self) -> Any:
        return self.make_model_target(
            "model.zip", save_function=save_model, load_function=load_model
        )

    def run(self) -> None:
        for epoch in range(3):
            self.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
        self.dump(Scaler(self.load(), self.lr))


class Evaluate(tasuki.Task):
    model: Train

    def requires(self) -> Any:
        return self.model

    def run(self) -> None:
        self.log_metrics({"auc": 0.9, "diverged": float("nan")})
        self.dump(0.9)


class Broken(tasuki.Task):
    data: Prepare

    def requires(self) -> Any:
        return self.data

    def run(self) -> None:
        self.log_metric("before_failing", 1.5)
        raise ValueError("the broken task fails on purpose")


def pipeline(n: int = 3) -> Evaluate:
    """The three-task pipeline: Prepare -> Train -> Evaluate."""
    return Evaluate(model=Train(data=Prepare(n=n)))
