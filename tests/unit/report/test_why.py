"""`why` compares a task whose id moved with the right earlier run, and explains each cause
once (the recommender pipeline with interchangeable models that found the bug)."""

from __future__ import annotations

import tasuki
from tasuki.report.why import explain_build
from tasuki.storage import open_store


class Ratings(tasuki.Task):
    test_ratio: float = 0.2

    def run(self):
        self.dump([1, 2, 3])


class SVD(tasuki.Task):
    n_components: int = 8
    test_ratio: float = 0.2

    def requires(self):
        return Ratings(test_ratio=self.test_ratio)

    def run(self):
        self.dump(("svd", self.n_components))


class NMF(tasuki.Task):
    n_components: int = 8
    test_ratio: float = 0.2

    def requires(self):
        return Ratings(test_ratio=self.test_ratio)

    def run(self):
        self.dump(("nmf", self.n_components))


class Popular(tasuki.Task):
    test_ratio: float = 0.2

    def requires(self):
        return Ratings(test_ratio=self.test_ratio)

    def run(self):
        self.dump(("popular", 0))


class Evaluate(tasuki.Task):
    model: tasuki.Task

    def requires(self):
        return self.model

    def run(self):
        self.dump({"model": self.load()})


def test_a_changed_model_parameter_is_compared_with_that_models_evaluation(tmp_path):
    ws = str(tmp_path / "ws")
    for model in (SVD(), NMF(), Popular()):  # SVD's evaluation is the oldest record
        tasuki.build(Evaluate(model=model), workspace=ws)
    target = Evaluate(model=NMF(n_components=16))
    explanation = explain_build(target, open_store(ws))
    by_task = {d.task.rpartition(":")[2]: d for d in explanation.decisions}
    evaluate = by_task["Evaluate"]
    assert evaluate.compared_with == Evaluate(model=NMF()).unique_id
    assert evaluate.runs and not evaluate.cause  # it runs because NMF runs
    nmf = by_task["NMF"]
    assert nmf.cause and nmf.reason == "parameter 'n_components': 8 -> 16"
    assert nmf.compared_with == NMF().unique_id
    text = "\n".join(explanation.lines())
    assert "SVD" not in text, text


def test_a_parameter_handed_down_is_explained_once(tmp_path):
    ws = str(tmp_path / "ws")
    models = [SVD(), NMF(), Popular()]
    for model in models:
        tasuki.build(Evaluate(model=model), workspace=ws)
    for model_cls in (SVD, NMF, Popular):
        target = Evaluate(model=model_cls(test_ratio=0.25))
        text = "\n".join(explain_build(target, open_store(ws)).lines())
        assert text.count("'test_ratio'") == 1, text
        assert "Ratings[" in text and model_cls.__name__ + "[" in text, text
        assert "Evaluate[" in text.split("Runs because something upstream runs:")[1], text
