"""Code fingerprints read each task class's own source lines (found with ast)."""

from __future__ import annotations

import importlib
import inspect
import linecache
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tasuki.core import code
from tasuki.core.code import _class_source, code_fingerprint

MODULE = textwrap.dedent(
    """
    import tasuki

    def keep(cls):
        return cls

    def factory():
        class Local(tasuki.Task):
            x: int
        return Local

    class Outer:
        class Inner(tasuki.Task):
            z: str = "{default}"

            def run(self):
                self.dump(self.z)

    class Again(tasuki.Task):
        a: int

    @keep  # a decorator's line belongs to the class
    class Again(tasuki.Task):
        b: int
    """
)


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(default: str):  # type: ignore[no-untyped-def]
        (tmp_path / "fp_tasks.py").write_text(MODULE.replace("{default}", default))
        sys.modules.pop("fp_tasks", None)
        code.forget()
        linecache.checkcache()  # the file changed within the second
        importlib.invalidate_caches()
        return importlib.import_module("fp_tasks")

    yield load
    sys.modules.pop("fp_tasks", None)


def test_source_is_the_class_block_as_inspect_gives_it(module) -> None:  # type: ignore[no-untyped-def]
    mod = module("a")
    for cls in (mod.factory(), mod.Outer.Inner):
        assert _class_source(cls) == inspect.getsource(cls)
    # A name bound twice: the class that is bound now, decorator line included.
    again = _class_source(mod.Again)
    assert again is not None and again.startswith("@keep") and "b: int" in again


def test_a_change_in_the_class_body_moves_the_fingerprint(module) -> None:  # type: ignore[no-untyped-def]
    first = code_fingerprint(module("a").Outer.Inner)
    assert code_fingerprint(module("a").Outer.Inner) == first
    assert code_fingerprint(module("b").Outer.Inner) != first


def test_classes_without_source_fall_back_to_bytecode() -> None:
    namespace: dict[str, object] = {}
    exec(  # a class with no file behind it, as in a REPL
        "import tasuki\nclass Typed(tasuki.Task):\n    n: int\n    def run(self): pass\n",
        namespace,
    )
    cls = namespace["Typed"]
    assert _class_source(cls) is None  # type: ignore[arg-type]
    assert len(code_fingerprint(cls)) == 16  # type: ignore[arg-type]


def test_declarations_join_the_fingerprint_and_bad_ones_are_named() -> None:
    import json as json_module

    import tasuki
    from tasuki.errors import TaskError

    class Plain(tasuki.Task):
        def run(self):
            pass

    class WithModule(tasuki.Task):
        code_dependencies = (json_module, "json.decoder:JSONDecoder")

        def run(self):
            pass

    covers = code.code_of(WithModule).covers
    assert "module json" in covers and "class json.decoder:JSONDecoder" in covers

    class Bad(tasuki.Task):
        library_versions = "scikit-learn"  # type: ignore[assignment]

        def run(self):
            pass

    with pytest.raises(TaskError, match=r"library_versions must be a tuple.*\('scikit-learn',\)"):
        code_fingerprint(Bad)

    class Missing(tasuki.Task):
        code_dependencies = ("no_such_module_here",)

        def run(self):
            pass

    with pytest.raises(TaskError, match=r"no_such_module_here.*cannot be imported"):
        code_fingerprint(Missing)

    class Wrong(tasuki.Task):
        data_files = (3,)  # type: ignore[assignment]

        def run(self):
            pass

    with pytest.raises(TaskError, match="data_files holds int 3"):
        code_fingerprint(Wrong)

    class Typo(tasuki.Task):
        data_files = ("data/stopword.txt",)  # a file that is not there

        def run(self):
            pass

    # It was hashed as "missing" for good: edits of the file meant never counted.
    with pytest.raises(TaskError, match=r"Typo\.data_files names 'data/stopword\.txt', which is"):
        code_fingerprint(Typo)
    assert code_fingerprint(Plain) != code_fingerprint(WithModule)


class _NotATask:
    """A plain class (a dataset builder, a model wrapper): fingerprinted by its statement."""

    def score(self, x):
        return x * 2


def test_a_class_that_is_not_a_task_has_a_fingerprint_of_its_own_code():
    from tasuki.core.code import class_fingerprint, code_of

    fp = class_fingerprint(_NotATask)
    assert fp.covers == (f"class {__name__}:_NotATask",)
    assert "return x * 2" in fp.text and "A plain class" not in fp.text  # docstrings dropped
    assert len(fp.digest) == 16
    from tests.unit.core.tasks_for_tests import TaskA

    assert class_fingerprint(TaskA) == code_of(TaskA)


_NO_SOURCE = """
import sys, types
import tasuki
from tasuki.core.code import code_fingerprint
cell = types.ModuleType("cell")
sys.modules["cell"] = cell
exec('''
import tasuki
class Pick(tasuki.Task):
    word: str
    def run(self):
        self.dump(self.word in {"alpha", "beta", "gamma", "delta", "epsilon"})
''', cell.__dict__)
print(code_fingerprint(cell.Pick))
"""


def test_a_fingerprint_of_code_without_source_is_the_same_in_every_process():
    """A set literal compiles to a frozenset whose repr follows string hashing: notebook
    code using one reran after every kernel restart (another PYTHONHASHSEED)."""
    prints = {
        subprocess.run(
            [sys.executable, "-c", _NO_SOURCE],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(prints) == 1
