"""Native tasuki tasks shaped like converted gokart code, for the adoption tests."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import tasuki


class Load(tasuki.Task):
    n: int = 3
    quiet: int = tasuki.param(default=0, significant=False)

    def output(self) -> Any:  # what the codemod adds: gokart's default output
        return self.make_target(f"{type(self).__name__}.pkl")

    def run(self) -> None:
        self.dump(list(range(self.n)))


class Frame(tasuki.Task):
    data: tasuki.Task
    scale: float = 2.0

    def requires(self) -> Any:
        return {"data": self.data}

    def output(self) -> Any:
        return self.make_target("frames/frame.csv")

    def run(self) -> None:
        import pandas as pd

        self.dump(pd.DataFrame({"x": [v * self.scale for v in self.load("data")]}))


class Report(tasuki.Task):
    title: str = "r"

    def requires(self) -> Any:
        return [Frame(data=Load()), Load(n=4)]

    def output(self) -> Any:
        return {
            "text": self.make_target("report/summary.txt"),
            "numbers": self.make_target("report/numbers.pkl"),
        }

    def run(self) -> None:
        frame, numbers = self.load()
        self.dump(f"{self.title}: {len(frame)} rows", "text")
        self.dump(numbers, "numbers")


def save_model(model: Any, folder: Path) -> None:
    with open(folder / "model.pkl", "wb") as f:
        pickle.dump(model, f)


def load_model(folder: Path) -> Any:
    with open(folder / "model.pkl", "rb") as f:
        return pickle.load(f)


class Model(tasuki.Task):
    k: int = 1

    def output(self) -> Any:
        return self.make_model_target(
            "model/m.zip", save_function=save_model, load_function=load_model
        )

    def run(self) -> None:
        self.dump({"k": self.k})


class JsonOut(tasuki.Task):
    def output(self) -> Any:
        return self.make_target("j/out.json")

    def run(self) -> None:
        self.dump({"a": [1]})
