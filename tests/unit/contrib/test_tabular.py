"""LightGBM tasks on scikit-learn's bundled data sets: early stopping on a validation split,
AUC on held-out rows, predictions from the saved model, feature importance, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tasuki
from tasuki.contrib.evaluate import auc
from tasuki.contrib.tabular import (
    FeatureImportance,
    FittedLightGBM,
    PredictLightGBM,
    TrainLightGBM,
)
from tasuki.core.records import RunRecord
from tasuki.errors import TaskFailedError
from tasuki.storage import open_store


def _cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame  # 569 rows, 30 features, "target"
    data.columns = [c.replace(" ", "_") for c in data.columns]
    return data


class Cancer(tasuki.Task):
    """Breast-cancer rows (real data shipped with scikit-learn): ``part`` 0 is the first 400
    rows by a seeded shuffle, 1 the remaining 169 (never seen in training)."""

    part: int = 0

    def output(self):
        return self.make_target("cancer.parquet")

    def run(self):
        data = _cancer()
        order = np.random.default_rng(0).permutation(len(data))
        rows = order[:400] if self.part == 0 else order[400:]
        self.dump(data.iloc[rows].reset_index(drop=True).assign(row_id=rows))


class Iris(tasuki.Task):
    """Iris with string species names (multiclass)."""

    def output(self):
        return self.make_target("iris.parquet")

    def run(self):
        from sklearn.datasets import load_iris

        iris = load_iris(as_frame=True)
        frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
        self.dump(frame.assign(target=np.asarray(iris.target_names)[frame["target"]]))


def _build(task, tmp_path):
    return tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")


FEATURES = [c for c in _cancer().columns if c != "target"]


def test_binary_model_stops_early_and_ranks_held_out_rows(tmp_path):
    train = TrainLightGBM(
        data=Cancer(),
        label="target",
        features=FEATURES,
        n_estimators=2_000,
        early_stopping_rounds=30,
        learning_rate=0.1,
    )
    predict = PredictLightGBM(model=train, data=Cancer(part=1), keep=["row_id", "target"])
    out = _build(predict, tmp_path)
    assert list(out.columns) == ["row_id", "target", "prediction"] and len(out) == 169
    assert auc(out["target"], out["prediction"]) >= 0.97
    model = tasuki.load(train, workspace=str(tmp_path / "ws"))
    assert isinstance(model, FittedLightGBM) and model.features == FEATURES
    # Early stopping cut the model well short of n_estimators; the saved booster is cut there.
    best = model.booster.current_iteration()
    # Without early stopping LightGBM grows 371 trees here (then runs out of splits).
    assert 1 <= best <= 200
    record = RunRecord.read(open_store(str(tmp_path / "ws")), train.unique_id)
    metrics = {m["key"]: m["value"] for m in record.metrics}
    assert metrics["best_iteration"] == best
    assert metrics["valid_auc"] > 0.95 and 0 < metrics["valid_binary_logloss"] < 0.3


def test_same_seed_same_model_and_a_validation_task(tmp_path):
    task = TrainLightGBM(data=Cancer(), label="target", seed=3, n_estimators=50)
    a, b = _build(task, tmp_path / "a"), _build(task, tmp_path / "b")  # two fresh fits
    other = _build(TrainLightGBM(data=Cancer(), label="target", seed=4, n_estimators=50), tmp_path)
    frame = _cancer().assign(row_id=np.arange(569))[a.features]
    np.testing.assert_array_equal(a.booster.predict(frame), b.booster.predict(frame))
    # Another seed draws another validation split, so another model.
    assert not np.allclose(a.booster.predict(frame), other.booster.predict(frame))
    # Default features: every column but the label (row_id included: it is a column).
    assert a.features == [*FEATURES, "row_id"]
    given = _build(
        TrainLightGBM(data=Cancer(), valid=Cancer(part=1), label="target", features=FEATURES),
        tmp_path,
    )
    assert given.booster.current_iteration() >= 1


def test_feature_importance_table(tmp_path):
    train = TrainLightGBM(data=Cancer(), label="target", features=FEATURES, n_estimators=100)
    table = _build(FeatureImportance(model=train), tmp_path)
    assert list(table.columns) == ["feature", "gain", "split"]
    assert sorted(table["feature"]) == sorted(FEATURES)
    assert table["gain"].is_monotonic_decreasing and table["gain"].iloc[0] > 0
    model = tasuki.load(train, workspace=str(tmp_path / "ws"))
    assert table["split"].sum() == sum(
        int(n) for n in model.booster.feature_importance(importance_type="split")
    )


def test_multiclass_predicts_class_names(tmp_path):
    train = TrainLightGBM(
        data=Iris(), label="target", objective="multiclass", n_estimators=200, valid_fraction=0.3
    )
    out = _build(PredictLightGBM(model=train, data=Iris(), keep=["target"]), tmp_path)
    assert {"proba_setosa", "proba_versicolor", "proba_virginica"} <= set(out.columns)
    assert (out["prediction"] == out["target"]).mean() > 0.9


def test_a_missing_label_column_is_named(tmp_path):
    with pytest.raises(TaskFailedError, match=r"missing required column\(s\) \['label'\]"):
        _build(TrainLightGBM(data=Cancer(), label="label"), tmp_path)
    with pytest.raises(TaskFailedError, match=r"valid_fraction must be between 0 and 1"):
        _build(TrainLightGBM(data=Cancer(), label="target", valid_fraction=1.5), tmp_path)
