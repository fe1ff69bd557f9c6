"""Gradient-boosted trees on tables (LightGBM): train with early stopping on a validation
split, predict, and feature importance, each a task.

:class:`TrainLightGBM` reads a table from another task, holds out a validation part (a
seeded random fraction, or a second task's table), stops adding trees when the validation
metric has not improved for ``early_stopping_rounds``, and keeps the booster as a model
target that loads as :class:`FittedLightGBM`. :class:`PredictLightGBM` scores a table with
it; :class:`FeatureImportance` writes each feature's gain and split count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tasuki.contrib.split import pick_output
from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FeatureImportance",
    "FittedLightGBM",
    "PredictLightGBM",
    "TrainLightGBM",
    "importance_table",
]

Objective = Literal["binary", "regression", "multiclass"]
#: The validation metric each objective stops on (LightGBM's name for it).
_METRIC = {"binary": "binary_logloss", "regression": "l2", "multiclass": "multi_logloss"}


@dataclass
class FittedLightGBM:
    """What a :class:`TrainLightGBM` task's ``model`` output loads as.

    Attributes:
        booster: the ``lightgbm.Booster``, cut at its best iteration.
        objective: ``binary``, ``regression`` or ``multiclass``.
        features: the feature columns, in the order the booster takes them.
        label: the label column.
        classes: for multiclass, the label value of each class index (else empty).
    """

    booster: Any
    objective: str
    features: list[str]
    label: str
    classes: list[Any]

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``prediction`` for each row of ``frame``: the probability of 1 (binary), the value
        (regression), or the most likely class with ``proba_<class>`` columns (multiclass).

        Raises:
            MissingColumnsError: ``frame`` lacks a feature column.
        """
        import numpy as np
        import pandas as pd

        from tasuki.formats import check_columns

        check_columns(frame, self.features, where="FittedLightGBM.predict")
        scores = self.booster.predict(frame[self.features])
        if self.objective != "multiclass":
            return pd.DataFrame({"prediction": np.asarray(scores, dtype=np.float64)})
        out = pd.DataFrame({f"proba_{c}": scores[:, i] for i, c in enumerate(self.classes)})
        out.insert(0, "prediction", np.asarray(self.classes, dtype=object)[scores.argmax(1)])
        return out.infer_objects()


def save_fitted(fitted: FittedLightGBM, folder: Path) -> None:
    """Write ``model.txt`` (LightGBM's text format) and ``meta.json``."""
    (folder / "model.txt").write_text(fitted.booster.model_to_string())
    meta = {
        "objective": fitted.objective,
        "features": fitted.features,
        "label": fitted.label,
        "classes": fitted.classes,
        "format": 1,
    }
    (folder / "meta.json").write_text(json.dumps(meta))


def load_fitted(folder: Path) -> FittedLightGBM:
    """Read what :func:`save_fitted` wrote."""
    import lightgbm

    meta = json.loads((folder / "meta.json").read_text())
    booster = lightgbm.Booster(model_str=(folder / "model.txt").read_text())
    return FittedLightGBM(
        booster, meta["objective"], meta["features"], meta["label"], meta["classes"]
    )


def importance_table(fitted: FittedLightGBM) -> pd.DataFrame:
    """``feature, gain, split``: total gain and number of splits of each feature, largest
    gain first (ties by feature order)."""
    import pandas as pd

    booster = fitted.booster
    table = pd.DataFrame(
        {
            "feature": fitted.features,
            "gain": booster.feature_importance(importance_type="gain").astype("float64"),
            "split": booster.feature_importance(importance_type="split").astype("int64"),
        }
    )
    return table.sort_values("gain", ascending=False, kind="stable").reset_index(drop=True)


def _to_float(values: Any) -> float:
    return float(values)


class TrainLightGBM(Task):
    """Fit a LightGBM model on a table, with early stopping on a validation part.

    The validation part is ``valid`` (a task whose table has the same columns) when given,
    else a seeded random ``valid_fraction`` of the rows. ``best_iteration`` and the validation
    metric (``valid_<metric>``; for binary also ``valid_auc``) go into the run record.
    LightGBM runs with ``deterministic=True``: the same model for a ``seed`` on every run.
    """

    data: Task
    data_output: str | None = param(default=None, description="which output of `data`")
    label: str = param(description="the label column")
    features: list[str] = param(default=[], description="feature columns; empty: all others")
    valid: Task | None = param(default=None, description="a validation table (else a split)")
    valid_output: str | None = param(default=None, description="which output of `valid`")
    valid_fraction: float = param(default=0.2, description="rows held out when valid is None")
    objective: Objective = "binary"
    num_leaves: int = 31
    learning_rate: float = 0.05
    n_estimators: int = param(default=1_000, description="most trees; early stopping cuts")
    early_stopping_rounds: int = 50
    seed: int = param(default=0, description="validation split and LightGBM's seed")
    num_threads: int = param(default=1, description="LightGBM threads")
    library_versions = ("lightgbm",)

    def requires(self) -> Any:
        """The training table, and the validation table when given."""
        return (
            {"data": self.data} if self.valid is None else {"data": self.data, "valid": self.valid}
        )

    def output(self) -> Any:
        """``model.zip``: the booster and the columns it takes."""
        return self.make_model_target(
            "model.zip", save_function=save_fitted, load_function=load_fitted
        )

    def run(self) -> None:
        """Split, fit with early stopping, log the best iteration and validation metric."""
        import lightgbm
        import numpy as np

        from tasuki.formats import check_columns

        name = type(self).task_name()
        frame = pick_output(self.load("data"), self.data_output, where=f"{name} data")
        check_columns(frame, [self.label, *self.features], where=f"{name} data")
        features = list(self.features) or [c for c in frame.columns if c != self.label]
        if self.valid is not None:
            valid = pick_output(self.load("valid"), self.valid_output, where=f"{name} valid")
            check_columns(valid, [self.label, *features], where=f"{name} valid")
            train = frame
        else:
            train, valid = self._split(frame, name)
        classes: list[Any] = []
        y_train, y_valid = train[self.label].to_numpy(), valid[self.label].to_numpy()
        params: dict[str, Any] = {
            "objective": self.objective,
            "metric": _METRIC[self.objective],
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
            "num_threads": self.num_threads,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }
        if self.objective == "multiclass":
            classes = sorted(np.unique(y_train).tolist())
            code = {c: i for i, c in enumerate(classes)}
            y_train = np.array([code[v] for v in y_train])
            y_valid = np.array([code.get(v, -1) for v in y_valid])
            if (y_valid < 0).any():
                raise ParameterError(
                    f"{name}: the validation part has label values the training part lacks; "
                    f"training classes: {classes}",
                    parameter="valid",
                )
            params["num_class"] = len(classes)
        train_set = lightgbm.Dataset(train[features], y_train, free_raw_data=True)
        valid_set = lightgbm.Dataset(valid[features], y_valid, reference=train_set)
        booster = lightgbm.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=[valid_set],
            valid_names=["valid"],
            callbacks=[lightgbm.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        best = int(booster.best_iteration) or booster.current_iteration()
        metric = _METRIC[self.objective]
        self.log_metric("best_iteration", best)
        self.log_metric(f"valid_{metric}", _to_float(booster.best_score["valid"][metric]))
        if self.objective == "binary":
            from tasuki.contrib.evaluate import auc

            self.log_metric(
                "valid_auc", auc(y_valid, booster.predict(valid[features], num_iteration=best))
            )
        # Keep only the trees up to the best iteration: the model saved is the one chosen.
        booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.task_log.update({"train_rows": len(train), "valid_rows": len(valid)})
        self.dump(FittedLightGBM(booster, self.objective, features, self.label, classes))

    def _split(self, frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        import numpy as np

        if not 0.0 < self.valid_fraction < 1.0:
            raise ParameterError(
                f"{name}: valid_fraction must be between 0 and 1 (exclusive), got "
                f"{self.valid_fraction!r}; or pass a validation table as valid=...",
                parameter="valid_fraction",
                value=repr(self.valid_fraction),
            )
        to_valid = np.random.default_rng(self.seed).random(len(frame)) < self.valid_fraction
        if to_valid.all() or not to_valid.any():
            raise ParameterError(
                f"{name}: {len(frame)} rows leave an empty training or validation part at "
                f"valid_fraction={self.valid_fraction}; use more rows or pass valid=...",
                parameter="valid_fraction",
            )
        return frame[~to_valid], frame[to_valid]


def _fitted(task: Task, value: Any) -> FittedLightGBM:
    if not isinstance(value, FittedLightGBM):
        raise ParameterError(
            f"{type(task).task_name()}: model must be a TrainLightGBM task (its output loads "
            f"as FittedLightGBM), got one whose output is {type(value).__name__}",
            parameter="model",
        )
    return value


class PredictLightGBM(Task):
    """Score a table with a :class:`TrainLightGBM` model: ``predictions.parquet`` holds the
    ``keep`` columns of the input (e.g. an id) and ``prediction`` (plus ``proba_<class>``
    columns for multiclass), one row per input row, in order."""

    model: Task
    data: Task
    data_output: str | None = param(default=None, description="which output of `data`")
    keep: list[str] = param(default=[], description="input columns copied to the output")

    def requires(self) -> Any:
        """The model and the table."""
        return {"model": self.model, "data": self.data}

    def output(self) -> Any:
        """``predictions.parquet``."""
        return self.make_target("predictions.parquet")

    def run(self) -> None:
        """Predict every row."""
        import pandas as pd

        from tasuki.formats import check_columns

        name = type(self).task_name()
        fitted = _fitted(self, self.load("model"))
        frame = pick_output(self.load("data"), self.data_output, where=f"{name} data")
        check_columns(frame, [*self.keep, *fitted.features], where=f"{name} data")
        kept = frame[list(self.keep)].reset_index(drop=True)
        self.dump(pd.concat([kept, fitted.predict(frame)], axis=1))


class FeatureImportance(Task):
    """Each feature's total gain and split count in a :class:`TrainLightGBM` model, as
    ``importance.parquet`` (``feature, gain, split``, largest gain first)."""

    model: Task

    def requires(self) -> Any:
        """The model."""
        return self.model

    def output(self) -> Any:
        """``importance.parquet``."""
        return self.make_target("importance.parquet")

    def run(self) -> None:
        """Read the booster's importances."""
        self.dump(importance_table(_fitted(self, self.load())))
