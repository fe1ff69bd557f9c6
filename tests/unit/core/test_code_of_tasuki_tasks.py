"""tasuki's own task classes are a library's code: their fingerprint covers none of tasuki.

The guide says so ("tasuki's own classes, such as QueryTask, excepted: they change with
tasuki's version, like any library"; "tasuki's own code is not covered"), and it held for
base classes only: a task that *is* a ``QueryTask`` (or a ``WriteTableTask``, a dataset's
``WriteShards``, a ``DatasetInput``...) fingerprinted its class statement and, through the
imports inside its methods, the whole text of up to 111 tasuki modules. Every edit to
tasuki, an upgrade included, made every query, write-back and dataset shard out of date;
and each build paid the walk again (0.07-0.18 s per class; 1.8 s of a 10 M-row dataset
build's serial tail, in ``load`` after the build).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings

import tasuki
from tasuki.core.code import code_of, refresh_fingerprints
from tasuki.core.task import Task


def _tasuki_task_classes() -> list[type[Task]]:
    """Every task class defined in tasuki's modules (front ends, gokart compat and the
    optional heavy extras left out)."""
    found: dict[str, type[Task]] = {}
    todo = [("tasuki", tasuki.__path__)]
    while todo:
        prefix, path = todo.pop()
        for info in pkgutil.iter_modules(path, prefix + "."):
            skip = (".cli", ".web", ".service", ".compat", ".tracking", "contrib.text", "__main__")
            if any(part in info.name for part in skip):
                continue
            try:
                with warnings.catch_warnings():  # MLflow warns about its type hints on import
                    warnings.simplefilter("ignore")
                    module = importlib.import_module(info.name)
            except ImportError:  # an optional extra that is not installed
                continue
            if info.ispkg:
                todo.append((info.name, module.__path__))
            for value in vars(module).values():
                if (
                    inspect.isclass(value)
                    and issubclass(value, Task)
                    and value.__module__ == info.name
                ):
                    found[f"{value.__module__}:{value.__qualname__}"] = value
    return [found[k] for k in sorted(found)]


def test_no_tasuki_task_class_fingerprints_tasuki_code():
    classes = _tasuki_task_classes()
    names = {c.__name__ for c in classes}
    assert {"QueryTask", "WriteTableTask", "WriteShards", "DatasetInput", "MigrateTable"} <= names
    refresh_fingerprints()
    for cls in classes:
        covered = [h for h in code_of(cls).covers if "tasuki" in h]
        assert covered == [], (cls, covered[:5])


def test_a_user_task_built_on_one_still_fingerprints_its_own_code():
    from tasuki.warehouse import QueryTask

    class Recent(QueryTask):
        def run(self):
            self.task_log["note"] = "mine"
            super().run()

    covered = code_of(Recent).covers
    assert any("Recent" in h for h in covered), covered
    assert not [h for h in covered if "tasuki." in h], covered


def test_fingerprinting_tasuki_tasks_walks_nothing():
    from tasuki.warehouse import QueryTask, WriteTableTask

    refresh_fingerprints()
    assert code_of(QueryTask).text == "" and code_of(WriteTableTask).text == ""


def test_a_subclass_that_declares_tasuki_reruns_on_a_tasuki_upgrade():
    from tasuki.warehouse import QueryTask

    class Pinned(QueryTask):
        library_versions = ("tasuki",)

    assert "library tasuki" in code_of(Pinned).covers
    assert tasuki.__version__ in code_of(Pinned).text
