"""A small, real ML pipeline on scikit-learn's bundled wine data (no download).

::

    LoadWine ─> SplitData ─> Features ─┬─> TrainLogistic ─────> Evaluate ─┐
                                       └─> TrainRandomForest ─> Evaluate ─┴─> Report

The two model tasks are interchangeable: ``Evaluate`` takes the model task as a task
parameter (gokart's TaskInstanceParameter) and ``Report`` takes a list of them, so swapping or
adding a model moves only the ids downstream of it; the data tasks stay cached.

From the repository root::

    tasuki run examples.wine.tasks:Report
    tasuki run examples.wine.tasks:Evaluate --model examples.wine.tasks:TrainRandomForest
    tasuki run examples.wine.tasks:Evaluate \\
        --model '{"task": "examples.wine.tasks:TrainLogistic", "params": {"c": 0.1}}'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tasuki

__all__ = [
    "Evaluate",
    "Features",
    "LoadWine",
    "Report",
    "SplitData",
    "TrainLogistic",
    "TrainModel",
    "TrainRandomForest",
    "load_estimator",
    "save_estimator",
]

#: Column holding the class label (0, 1, 2: three cultivars) in every frame below.
TARGET = "target"


def save_estimator(model: Any, directory: Path) -> None:
    """Save a fitted scikit-learn estimator into ``directory`` (model target ``save_function``).

    The estimator goes to ``model.joblib``; ``meta.json`` beside it names its class and the
    scikit-learn version, so a reader can tell what is inside the zip without unpickling it.

    Args:
        model: A fitted estimator.
        directory: An empty folder that tasuki zips into the output.
    """
    import joblib
    import sklearn

    joblib.dump(model, directory / "model.joblib")
    meta = {"class": type(model).__name__, "sklearn": sklearn.__version__}
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def load_estimator(directory: Path) -> Any:
    """Load what :func:`save_estimator` wrote (model target ``load_function``).

    Args:
        directory: The unzipped model folder.

    Returns:
        The fitted estimator.
    """
    import joblib

    return joblib.load(directory / "model.joblib")


class LoadWine(tasuki.Task):
    """The 178 x 13 wine measurements with their cultivar in ``target``, as one DataFrame."""

    version = "1"

    def output(self) -> tasuki.FileTarget:
        return self.make_target("wine.parquet")

    def run(self) -> None:
        from sklearn.datasets import load_wine

        frame = load_wine(as_frame=True).frame
        self.task_log["rows"] = len(frame)
        self.dump(frame)


class SplitData(tasuki.Task):
    """A stratified, seeded train/test split of the wine data."""

    test_size: float = tasuki.param(default=0.3, description="fraction of rows held out")
    seed: int = tasuki.param(default=0, description="random_state of the split")

    def requires(self) -> tasuki.Task:
        return LoadWine()

    def output(self) -> dict[str, tasuki.Target]:
        return {
            "train": self.make_target("train.parquet"),
            "test": self.make_target("test.parquet"),
        }

    def run(self) -> None:
        from sklearn.model_selection import train_test_split

        frame = self.load_data_frame(required_columns=[TARGET])
        train, test = train_test_split(
            frame, test_size=self.test_size, random_state=self.seed, stratify=frame[TARGET]
        )
        self.task_log["train_rows"] = len(train)
        self.task_log["test_rows"] = len(test)
        self.dump(train, "train")
        self.dump(test, "test")


class Features(tasuki.Task):
    """Standard-scaled features; the scaler is fitted on the training rows only."""

    test_size: float = tasuki.param(default=0.3, description="passed to SplitData")
    seed: int = tasuki.param(default=0, description="passed to SplitData")

    def requires(self) -> tasuki.Task:
        return SplitData(test_size=self.test_size, seed=self.seed)

    def output(self) -> dict[str, tasuki.Target]:
        return {
            "train": self.make_target("train.parquet"),
            "test": self.make_target("test.parquet"),
        }

    def run(self) -> None:
        from sklearn.preprocessing import StandardScaler

        split = self.load()
        train, test = split["train"], split["test"]
        columns = [c for c in train.columns if c != TARGET]
        # Fitting on the training rows only keeps test statistics out of the model.
        scaler = StandardScaler().fit(train[columns])
        for name, frame in (("train", train), ("test", test)):
            scaled = frame.copy()
            scaled[columns] = scaler.transform(frame[columns])
            self.dump(scaled, name)


class TrainModel(tasuki.Task):
    """Base of the interchangeable model tasks: fit ``make_estimator()`` on the features.

    Subclasses declare their hyper-parameters as typed parameters and build the estimator;
    the output is a model target (a zip holding the joblib file).
    """

    features: Features = tasuki.param(default=Features(), description="the data to train on")

    def make_estimator(self) -> Any:
        """An unfitted scikit-learn classifier built from this task's hyper-parameters."""
        raise NotImplementedError(f"{type(self).__name__} must define make_estimator()")

    def requires(self) -> tasuki.Task:
        return self.features

    def output(self) -> tasuki.ModelTarget:
        return self.make_model_target(
            "model.zip", save_function=save_estimator, load_function=load_estimator
        )

    def run(self) -> None:
        train = self.load()["train"]
        estimator = self.make_estimator()
        estimator.fit(train.drop(columns=[TARGET]), train[TARGET])
        self.task_log["estimator"] = repr(estimator)
        self.dump(estimator)


class TrainLogistic(TrainModel):
    """Multinomial logistic regression."""

    c: float = tasuki.param(default=1.0, description="inverse regularisation strength (C)")
    max_iter: int = tasuki.param(default=1000, description="solver iterations")

    def make_estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.c, max_iter=self.max_iter)


class TrainRandomForest(TrainModel):
    """A random forest."""

    n_estimators: int = tasuki.param(default=100, description="number of trees")
    max_depth: int | None = tasuki.param(default=None, description="depth limit (None: none)")
    seed: int = tasuki.param(default=0, description="random_state of the forest")
    n_jobs: int = tasuki.param(default=1, significant=False, description="threads (same result)")

    def make_estimator(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            random_state=self.seed,
            n_jobs=self.n_jobs,
        )


class Evaluate(tasuki.Task):
    """Accuracy, macro F1 and the confusion matrix of a model on the held-out rows."""

    model: TrainModel = tasuki.param(description="the model task to evaluate")

    def requires(self) -> dict[str, tasuki.Task]:
        return {"model": self.model, "features": self.model.features}

    def output(self) -> tasuki.FileTarget:
        return self.make_target("metrics.json")

    def run(self) -> None:
        from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

        estimator = self.load("model")
        test = self.load("features")["test"]
        truth = test[TARGET]
        predicted = estimator.predict(test.drop(columns=[TARGET]))
        labels = sorted(int(v) for v in truth.unique())
        metrics = {
            "model": type(self.model).__name__,
            "model_id": self.model.unique_id,
            "params": {k: v for k, v in self.model.param_values.items() if k != "features"},
            "accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro")),
            "labels": labels,
            "confusion_matrix": confusion_matrix(truth, predicted, labels=labels).tolist(),
            "test_rows": len(test),
        }
        self.task_log["accuracy"] = metrics["accuracy"]
        self.task_log["macro_f1"] = metrics["macro_f1"]
        self.dump(metrics)


class Report(tasuki.Task):
    """Compares several model tasks on the same test rows; writes Markdown and JSON."""

    models: list[TrainModel] = tasuki.param(
        default=[TrainLogistic(), TrainRandomForest()], description="the model tasks to compare"
    )

    def requires(self) -> list[tasuki.Task]:
        return [Evaluate(model=m) for m in self.models]

    def output(self) -> dict[str, tasuki.Target]:
        # Markdown text; the .txt extension selects the plain-text format.
        return {"report": self.make_target("report.txt"), "scores": self.make_target("scores.json")}

    def run(self) -> None:
        results: list[dict[str, Any]] = self.load()
        ranked = sorted(results, key=lambda m: (-m["accuracy"], -m["macro_f1"]))
        best = ranked[0]
        self.task_log["best_model"] = best["model"]
        self.task_log["best_accuracy"] = best["accuracy"]
        self.dump(_markdown(ranked), "report")
        self.dump({"ranking": ranked, "best": best["model"]}, "scores")


def _markdown(ranked: list[dict[str, Any]]) -> str:
    lines = [
        "# Wine cultivar classification",
        "",
        f"{len(ranked)} models, same held-out rows ({ranked[0]['test_rows']}), best first.",
        "",
        "| model | parameters | accuracy | macro F1 | id |",
        "|---|---|---:|---:|---|",
    ]
    for m in ranked:
        params = ", ".join(f"{k}={v}" for k, v in m["params"].items())
        lines.append(
            f"| {m['model']} | {params} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} "
            f"| `{m['model_id'][:12]}` |"
        )
    for m in ranked:
        lines += ["", f"## {m['model']}: confusion matrix (rows: truth, columns: predicted)", ""]
        lines.append("| | " + " | ".join(f"pred {label}" for label in m["labels"]) + " |")
        lines.append("|---" * (len(m["labels"]) + 1) + "|")
        for label, row in zip(m["labels"], m["confusion_matrix"], strict=True):
            lines.append(f"| true {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
