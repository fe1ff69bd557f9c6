"""Which outputs of a task go to the tracker, and model targets made into MLflow models.

Runs on the tracker's background threads; the warnings here are said once per task class.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki._registry import import_path, spec_of
from tasuki.core.targets import DirectoryTarget, ModelTarget, Target, targets_of

if TYPE_CHECKING:
    from tasuki.storage.base import Store

__all__ = ["flavoured", "importable", "tracked_outputs", "unpack_model"]

logger = logging.getLogger("tasuki.tracking")


def tracked_outputs(
    outputs: Any, task_cls: type[Any], warned: set[tuple[str, str]]
) -> list[tuple[str, Target]]:
    """``(name, target)`` of the outputs to log: every model target, and the outputs the
    task class opts in with ``track_outputs = True`` or a list of output names (a dict's
    keys, a list's indexes, ``output`` for a single target). Folders of parts are left out.
    """
    named: list[tuple[str, Target]]
    if isinstance(outputs, Target):
        named = [("output", outputs)]
    elif isinstance(outputs, dict):
        named = [(str(k), t) for k, v in outputs.items() for t in targets_of(v)]
    else:
        named = [(str(i), t) for i, t in enumerate(targets_of(outputs))]
    wanted = getattr(task_cls, "track_outputs", False)
    names = {n for n, _ in named}
    if isinstance(wanted, str):
        wanted = [wanted]
    if wanted is True:
        chosen = names
    elif not wanted:
        chosen = set()
    else:
        chosen = {str(w) for w in wanted}
        unknown = sorted(chosen - names)
        family = task_cls.task_name()
        if unknown and ("track_outputs", family) not in warned:
            warned.add(("track_outputs", family))
            logger.warning(
                "%s.track_outputs names %s, which output() does not have; its outputs: %s "
                "(a dict's keys, a list's indexes, or 'output' for a single target)",
                family,
                unknown,
                sorted(names),
            )
    return [
        (n, t)
        for n, t in named
        if t.in_store
        and (isinstance(t, ModelTarget) or n in chosen)
        and not isinstance(t, DirectoryTarget)
    ]


def flavoured(
    family: str,
    files: str,
    tmp: str,
    name: str,
    load_function: str,
    uid: str,
    warned: set[tuple[str, str]],
) -> str | None:
    """The model folder saved as an MLflow ``python_function`` model under ``tmp``, or None
    when MLflow cannot save it (then its files are logged as they are, said once per task
    class)."""
    dest = os.path.join(tmp, "mlflow-models", name)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    try:
        from tasuki.tracking._pyfunc import save_pyfunc

        save_pyfunc(files, dest, load_function, uid)
    except Exception as exc:
        if ("flavour", family) not in warned:
            warned.add(("flavour", family))
            logger.warning(
                "the model target %r of %s is logged to MLflow as plain files, without the "
                "python_function flavour: %s: %s",
                name,
                family,
                type(exc).__name__,
                redact(str(exc))[:500],
            )
        return None
    return dest


def importable(path: str, function: Any) -> bool:
    """Whether ``path`` imports back to ``function`` (a lambda or a local function does not:
    its model is logged as plain files)."""
    try:
        return bool(import_path(path) is function)
    except (ImportError, AttributeError):
        return False


def unpack_model(store: Store, target: ModelTarget, folder: str, uid: str) -> None:
    """The model's files, unzipped into ``folder``, with a ``tasuki_model.json`` that names
    the functions that save and load them (``load_function(folder)`` returns the model)."""
    os.makedirs(folder, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(store.read_bytes(target.key))) as archive:
        archive.extractall(folder)
    about = {
        "format": "tasuki ModelTarget",
        "load_function": spec_of(target.load_function),
        "save_function": spec_of(target.save_function),
        "unique_id": uid,
        "workspace_key": target.key,
        "load": "import the load function and call it with this folder",
    }
    with open(os.path.join(folder, "tasuki_model.json"), "w", encoding="utf-8") as f:
        json.dump(about, f, indent=2)
