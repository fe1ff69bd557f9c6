"""A typed gokart module, converted, passes ``mypy --strict`` (one mypy run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("libcst", reason="the codemod needs libcst (pip install tasuki[gokart])")
pytest.importorskip("mypy", reason="mypy checks the converted module")

from tasuki.compat._codemod import upgrade_source

TYPED = textwrap.dedent(
    '''\
    """Typed gokart tasks, as gokart's mypy plugin users write them."""

    from __future__ import annotations

    import datetime
    import enum
    import pickle

    import gokart
    import luigi


    class Split(enum.Enum):
        TRAIN = "train"
        TEST = "test"


    def save_model(model: dict[str, float], path: str) -> None:
        with open(path, "wb") as fh:
            pickle.dump(model, fh)


    def load_model(path: str) -> dict[str, float]:
        with open(path, "rb") as fh:
            model: dict[str, float] = pickle.load(fh)
        return model


    Rows = list[dict[str, int]]  # pandas would do; its stubs would triple mypy's time


    class LoadData(gokart.TaskOnKart[Rows]):
        """Rows of one day."""

        day: datetime.date = luigi.DateParameter(default=datetime.date(2024, 1, 1))
        rows: int = luigi.IntParameter(default=10, significant=False)
        split: Split = luigi.EnumParameter(enum=Split, default=Split.TRAIN)
        columns = luigi.ListParameter(default=["a", "b"])
        when = luigi.DateSecondParameter(default=datetime.datetime(2024, 1, 1, 12))
        note = luigi.OptionalParameter()

        def run(self) -> None:
            self.dump([{str(c): i for c in self.columns} for i in range(self.rows)])


    class Train(gokart.TaskOnKart[dict[str, float]]):
        data: gokart.TaskOnKart[Rows] = gokart.TaskInstanceParameter()
        lr: float = luigi.FloatParameter(default=0.1, description="learning rate")
        epochs = luigi.IntParameter(default=3)

        def output(self) -> gokart.TargetOnKart:
            return self.make_model_target(
                "train/model.zip", save_function=save_model, load_function=load_model
            )

        def run(self) -> None:
            df = self.load_data_frame(required_columns={"a"}, drop_columns=True)
            self.dump({"lr": self.lr, "rows": float(len(df))})


    class Evaluate(gokart.TaskOnKart[float]):
        model: gokart.TaskOnKart[dict[str, float]] = gokart.TaskInstanceParameter(
            expected_type=Train
        )
        others = gokart.ListTaskInstanceParameter()

        def requires(self) -> dict[str, gokart.TaskOnKart[dict[str, float]]]:
            return {"model": self.model}

        def output(self) -> gokart.TargetOnKart:
            return self.make_target("eval/score.pkl")

        def run(self) -> None:
            model: dict[str, float] = self.load("model")
            self.dump(model["lr"] * 2)


    class EvaluateTest(Evaluate):
        split: Split = luigi.EnumParameter(enum=Split, default=Split.TEST)


    class Combine(gokart.TaskOnKart[list[float]]):
        parts = gokart.ListTaskInstanceParameter(expected_elements_type=Evaluate)
        best = gokart.TaskInstanceParameter()

        def run(self) -> None:
            scores: dict[str, float] = self.load()
            self.dump(sorted(scores.values()))
    '''
)


def test_a_typed_gokart_module_passes_mypy_strict_once_converted(tmp_path) -> None:
    result = upgrade_source(TYPED, "typed_tasks.py")
    assert not result.notes, result.notes
    assert "import gokart" not in result.code and "import luigi" not in result.code
    (tmp_path / "typed_tasks.py").write_text(result.code)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "typed_tasks.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr + "\n" + result.code
