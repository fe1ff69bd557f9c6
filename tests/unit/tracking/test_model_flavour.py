"""Model targets as MLflow python_function models, and plain files when MLflow cannot save."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import tasuki
from tasuki.tracking._outputs import flavoured

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*Add type hints to the `predict` method:UserWarning"),
]


class Doubler:
    def predict(self, xs: list[float]) -> list[float]:
        return [2 * x for x in xs]


def load_doubler(folder: Path) -> Doubler:
    assert json.loads((folder / "kind.json").read_text()) == "doubler"
    return Doubler()


class Fits(tasuki.Task):
    def run(self) -> None:
        self.dump(1)


def test_a_pyfunc_model_loads_through_the_load_function(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("mlflow.pyfunc")
    import mlflow.pyfunc

    files = tmp_path / "files" / "output"
    files.mkdir(parents=True)
    (files / "kind.json").write_text('"doubler"')
    warned: set[tuple[str, str]] = set()
    spec = f"{__name__}:load_doubler"
    family = Fits.task_name()
    made = flavoured(family, str(files), str(tmp_path), "output", spec, "ab" * 32, warned)
    assert made is not None and (Path(made) / "MLmodel").exists()
    assert mlflow.pyfunc.load_model(made).predict([1.0, 2.5]) == [2.0, 5.0]

    # Saving where a model already is fails in MLflow: logged as files, said once per class.
    again = flavoured(family, str(files), str(tmp_path), "output", spec, "ab" * 32, warned)
    again2 = flavoured(family, str(files), str(tmp_path), "output", spec, "ab" * 32, warned)
    assert again is None and again2 is None
    said = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("tasuki")  # not MLflow's own
    ]
    assert len(said) == 1 and "without the python_function flavour" in said[0]
