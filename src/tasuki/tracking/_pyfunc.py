"""Model targets as MLflow models: the ``python_function`` flavour around a task's own load
function, so ``mlflow.pyfunc.load_model("runs:/<run id>/models/<output>")`` gives the model
back (``.unwrap_python_model().model``) and its ``predict`` when the model has one.

Saved as MLflow's "models from code" (a small script naming :class:`TasukiPyfunc`), never
as a pickle. Imports MLflow at module import: only the tracker's background threads import
this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow.pyfunc

from tasuki._registry import import_path

__all__ = ["TasukiPyfunc", "save_pyfunc"]

_CODE = """\
# Written by tasuki: the model is the task's output, read back by its load function.
import mlflow.models

from tasuki.tracking._pyfunc import TasukiPyfunc

mlflow.models.set_model(TasukiPyfunc())
"""


class TasukiPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Loads a model target's files with the load function the model config names."""

    model: Any = None

    def load_context(self, context: Any) -> None:
        """Call the task's load function on the model's folder."""
        load = import_path(context.model_config["load_function"])
        self.model = load(Path(context.artifacts["model"]))

    # No hint on model_input: MLflow then neither validates nor converts the input (the
    # model's own predict decides). It says so once with a UserWarning; TypeFromExample
    # would log a warning at every save instead.
    def predict(  # type: ignore[no-untyped-def]
        self, context: Any, model_input, params: dict[str, Any] | None = None
    ) -> Any:
        """The loaded model's own ``predict``.

        Raises:
            TypeError: the model has no ``predict`` (load it with ``unwrap_python_model()``).
        """
        predict = getattr(self.model, "predict", None)
        if not callable(predict):
            raise TypeError(
                f"the model loaded by {type(self.model).__name__} has no predict(); use "
                "mlflow.pyfunc.load_model(uri).unwrap_python_model().model for the object"
            )
        return predict(model_input)


def save_pyfunc(files: str, dest: str, load_function: str, unique_id: str) -> None:
    """Save the model whose files are in ``files`` as an MLflow model at ``dest``.

    Args:
        files: The model target's unpacked folder.
        dest: Where the MLflow model folder is made (must not exist).
        load_function: ``module:function`` that reads ``files`` back.
        unique_id: The task's unique id (kept in the model config).
    """
    from tasuki import __version__

    code = os.path.join(os.path.dirname(dest), f"tasuki_pyfunc_{unique_id[:12]}.py")
    with open(code, "w", encoding="utf-8") as f:
        f.write(_CODE)
    mlflow.pyfunc.save_model(
        dest,
        python_model=code,
        artifacts={"model": files},
        model_config={"load_function": load_function, "unique_id": unique_id},
        # Named, not inferred: inference runs the model in a subprocess (seconds).
        pip_requirements=[f"tasuki=={__version__}"],
    )
