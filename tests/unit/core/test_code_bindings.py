"""The cache is never wrong when code reaches a task in the ways Python allows.

Each case is a small package whose ``Root`` task dumps what its code computes. It is built,
one file is edited, the package is imported again and built again: the edit must rerun the
task, and the new output must be the new code's (a wrong cache hit would keep the old value).
The ``unchanged`` cases edit code the task does not use: nothing may rerun.

Every ``reruns`` case below left the old output in place before tasuki followed decorated
helpers (``functools.cache`` and friends), later statements that change a name (``ITEMS +=``,
``@helper.register``, loops, ``global``), imports made inside ``run()``, dotted paths through
submodules, objects imported from sibling modules (tasuki.core._bindings) and the code of
tasks held as parameters without being required.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

import tasuki
from tasuki.core import code
from tests._packages import forget_package

PKG = "bdpkg"
HEAD = "import tasuki\n"

# (id, {file: text}, (file, old, new), whether the edit must rerun Root)
CASES: list[tuple[str, dict[str, str], tuple[str, str, str], bool]] = [
    (
        "lru_cache decorator",
        {
            "tasks.py": HEAD
            + """
import functools
@functools.lru_cache(maxsize=None)
def helper(x):
    return x + 1
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "lru_cache argument",
        {
            "tasks.py": HEAD
            + """
import functools
@functools.lru_cache(maxsize=None)
def helper(x):
    return x + 1
class Root(tasuki.Task):
    def run(self):
        self.dump([helper(1), helper.cache_info().maxsize])
"""
        },
        ("tasks.py", "maxsize=None", "maxsize=4"),
        True,
    ),
    (
        "cache decorator, imported from a sibling module",
        {
            "util.py": "import functools\n@functools.cache\ndef helper(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
from bdpkg.util import helper
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "cache decorator, read as a module attribute",
        {
            "util.py": "import functools\n@functools.cache\ndef helper(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
from bdpkg import util
class Root(tasuki.Task):
    def run(self):
        self.dump(util.helper(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "what a cached helper calls",
        {
            "tasks.py": HEAD
            + """
import functools
def inner(x):
    return x + 1
@functools.cache
def helper(x):
    return inner(x)
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a class used as a decorator",
        {
            "tasks.py": HEAD
            + """
class Memo:
    def __init__(self, f):
        self.f = f
    def __call__(self, *a):
        return self.f(*a)
@Memo
def helper(x):
    return x + 1
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "wrapped by an assignment",
        {
            "tasks.py": HEAD
            + """
import functools
def helper(x):
    return x + 1
helper = functools.lru_cache(helper)
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "singledispatch registration",
        {
            "tasks.py": HEAD
            + """
import functools
@functools.singledispatch
def helper(x):
    return 0
@helper.register
def _(x: int):
    return x + 1
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "the first of two assignments",
        {
            "tasks.py": HEAD
            + """
ITEMS = [1]
ITEMS += [2]
class Root(tasuki.Task):
    def run(self):
        self.dump(sum(ITEMS))
"""
        },
        ("tasks.py", "ITEMS = [1]", "ITEMS = [7]"),
        True,
    ),
    (
        "a loop that fills a constant",
        {
            "tasks.py": HEAD
            + """
TOTAL = 0
for i in range(3):
    TOTAL += i
class Root(tasuki.Task):
    def run(self):
        self.dump(TOTAL)
"""
        },
        ("tasks.py", "range(3)", "range(5)"),
        True,
    ),
    (
        "a function that sets a global and is called at import",
        {
            "tasks.py": HEAD
            + """
K = 1
def setup():
    global K
    K = 3
setup()
class Root(tasuki.Task):
    def run(self):
        self.dump(K)
"""
        },
        ("tasks.py", "K = 3", "K = 4"),
        True,
    ),
    (
        "a task attribute set after the class",
        {
            "tasks.py": HEAD
            + """
class Root(tasuki.Task):
    W = 1
    def run(self):
        self.dump(self.W)
Root.W = 2
"""
        },
        ("tasks.py", "Root.W = 2", "Root.W = 3"),
        True,
    ),
    (
        "a list of functions imported from a sibling module",
        {
            "util.py": "def a(x):\n    return x + 1\nOPS = [a]\n",
            "tasks.py": HEAD
            + """
from bdpkg.util import OPS
class Root(tasuki.Task):
    def run(self):
        self.dump(OPS[0](1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "an object made by exec-like code",
        {
            "tasks.py": HEAD
            + """
class Box:
    def __init__(self, v):
        self.v = v
globals()["B"] = Box(1)
class Root(tasuki.Task):
    def run(self):
        self.dump(B.v)
"""
        },
        ("tasks.py", "Box(1)", "Box(2)"),
        True,
    ),
    (
        "an import inside run()",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
class Root(tasuki.Task):
    def run(self):
        from bdpkg.util import f
        self.dump(f(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a module imported inside run()",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
class Root(tasuki.Task):
    def run(self):
        import bdpkg.util
        self.dump(bdpkg.util.f(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a submodule imported from the package inside run()",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
class Root(tasuki.Task):
    def run(self):
        from bdpkg import util
        self.dump(util.f(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a relative import inside run(), renamed",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
class Root(tasuki.Task):
    def run(self):
        from .util import f as g
        self.dump(g(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "importlib.import_module of a literal name inside run()",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
import importlib
class Root(tasuki.Task):
    def run(self):
        self.dump(importlib.import_module("bdpkg.util").f(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "import_module of a relative name in the task's package",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
from importlib import import_module
class Root(tasuki.Task):
    def run(self):
        self.dump(import_module(".util", package=__package__).f(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a dotted path through a subpackage",
        {
            "sub/__init__.py": "",
            "sub/util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
import bdpkg.sub.util
class Root(tasuki.Task):
    def run(self):
        self.dump(bdpkg.sub.util.f(1))
""",
        },
        ("sub/util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a helper in a sibling module (followed before too)",
        {
            "util.py": "def f(x):\n    return x + 1\n",
            "tasks.py": HEAD
            + """
from bdpkg import util
class Root(tasuki.Task):
    def run(self):
        self.dump(util.f(1))
""",
        },
        ("util.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "a task held as a parameter, its method called, not required",
        {
            "tasks.py": HEAD
            + """
class Scorer(tasuki.Task):
    def score(self, x):
        return x + 1
    def run(self):
        self.dump(0)
class Root(tasuki.Task):
    scorer: tasuki.Task = Scorer()
    def run(self):
        self.dump(self.scorer.score(1))
"""
        },
        ("tasks.py", "x + 1", "x + 2"),
        True,
    ),
    (
        "unchanged: the script's main block",
        {
            "tasks.py": HEAD
            + """
def helper(x):
    return x + 1
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
if __name__ == "__main__":
    tasuki.build(Root(), workers=1)
"""
        },
        ("tasks.py", "workers=1", "workers=2"),
        False,
    ),
    (
        "unchanged: another function that calls the helper",
        {
            "tasks.py": HEAD
            + """
def helper(x):
    return x + 1
def other():
    return helper(5)
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", "helper(5)", "helper(6)"),
        False,
    ),
    (
        "unchanged: a registry that holds the helper",
        {
            "tasks.py": HEAD
            + """
def helper(x):
    return x + 1
REGISTRY = {}
REGISTRY["h"] = helper
class Root(tasuki.Task):
    def run(self):
        self.dump(helper(1))
"""
        },
        ("tasks.py", 'REGISTRY["h"]', 'REGISTRY["g"]'),
        False,
    ),
    (
        "unchanged: a comprehension variable of the same name",
        {
            "tasks.py": HEAD
            + """
x = 1
SQUARES = [x * x for x in range(3)]
class Root(tasuki.Task):
    def run(self):
        self.dump(x)
"""
        },
        ("tasks.py", "range(3)", "range(4)"),
        False,
    ),
    (
        "unchanged: a class attribute of the same name",
        {
            "tasks.py": HEAD
            + """
K = 1
class Other:
    K = 5
class Root(tasuki.Task):
    def run(self):
        self.dump(K)
"""
        },
        ("tasks.py", "K = 5", "K = 6"),
        False,
    ),
]


def _forget() -> None:
    forget_package(PKG)


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # edits within a second
    monkeypatch.setenv("TASUKI_CODE_CACHE", "off")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / PKG).mkdir()
    (tmp_path / PKG / "__init__.py").write_text("")
    yield tmp_path
    _forget()


@pytest.mark.parametrize(
    ("files", "edit", "reruns"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_an_edit_reruns_the_task_exactly_when_its_code_changed(package, files, edit, reruns):
    for path, text in files.items():
        target = package / PKG / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    ws = str(package / "ws")
    _forget()
    first = tasuki.build(importlib.import_module(f"{PKG}.tasks").Root(), workspace=ws)

    path, old, new = edit
    target = package / PKG / path
    assert old in target.read_text()
    target.write_text(target.read_text().replace(old, new))
    _forget()
    root = importlib.import_module(f"{PKG}.tasks").Root()
    result = tasuki.build(root, workspace=ws, return_value=False)
    statuses = {r.name.rpartition(":")[2]: r.status for r in result.results.values()}
    assert statuses == {"Root": "ran" if reruns else "cached"}
    value = tasuki.build(root, workspace=ws)
    if reruns:
        assert value != first  # the new code's output, not the one cached before the edit
    else:
        assert value == first


def test_a_module_reloaded_between_builds_in_one_process_counts(package):
    """A notebook reloads a helper module (``importlib.reload``) and builds again in the same
    process: the fingerprints of the first build must not stand for the new code."""
    (package / PKG / "util.py").write_text("def f(x):\n    return x + 1\n")
    (package / PKG / "tasks.py").write_text(
        HEAD
        + textwrap.dedent(
            """
            from bdpkg import util
            class Root(tasuki.Task):
                def run(self):
                    self.dump(util.f(1))
            """
        )
    )
    ws = str(package / "ws")
    _forget()
    tasks = importlib.import_module(f"{PKG}.tasks")
    assert tasuki.build(tasks.Root(), workspace=ws) == 2
    (package / PKG / "util.py").write_text("def f(x):\n    return x + 5\n")
    importlib.reload(sys.modules[f"{PKG}.util"])  # no code.forget(): as a user would
    assert tasuki.build(tasks.Root(), workspace=ws) == 6


def test_an_import_inside_run_is_read_not_imported(package):
    """What ``run()`` imports for itself (a heavy library wrapper, a GPU runtime) must not be
    imported by the process that plans and forks: its file is read, not run."""
    (package / PKG / "heavy.py").write_text("def fit(x):\n    return x * 2\n")
    (package / PKG / "tasks.py").write_text(
        HEAD
        + textwrap.dedent(
            """
            class Root(tasuki.Task):
                def run(self):
                    from bdpkg.heavy import fit
                    self.dump(fit(1))
            """
        )
    )
    _forget()
    tasks = importlib.import_module(f"{PKG}.tasks")
    covers = code.code_of(tasks.Root).covers
    assert f"module file {PKG}.heavy" in covers
    assert f"{PKG}.heavy" not in sys.modules


def test_load_says_when_the_output_was_made_by_older_code(package, caplog):
    """``tasuki.load`` reads what is there; after an edit that is the older code's output,
    and it says so (``load_output`` by id asks for that run and stays quiet)."""
    (package / PKG / "tasks.py").write_text(
        HEAD + "class Root(tasuki.Task):\n    def run(self):\n        self.dump(1)\n"
    )
    ws = str(package / "ws")
    _forget()
    tasuki.build(importlib.import_module(f"{PKG}.tasks").Root(), workspace=ws)
    (package / PKG / "tasks.py").write_text(
        HEAD + "class Root(tasuki.Task):\n    def run(self):\n        self.dump(2)\n"
    )
    _forget()
    root = importlib.import_module(f"{PKG}.tasks").Root()
    caplog.clear()
    assert tasuki.load(root, workspace=ws) == 1
    assert "made by other code" in caplog.text and "Root" in caplog.text
    caplog.clear()
    assert tasuki.load_output(root.unique_id, workspace=ws) == 1
    assert "made by other code" not in caplog.text
    assert tasuki.build(root, workspace=ws) == 2
    caplog.clear()
    assert tasuki.load(root, workspace=ws) == 2
    assert "made by other code" not in caplog.text


def test_a_script_beside_the_project_package_follows_its_helpers(package):
    """Tasks in a top-level script (``flow.py``, ``python flow.py`` or ``tasuki run
    flow:Train``) call helpers of the project's package beside it: project code, not a
    library, though it is another top-level package than the task's module."""
    (package / PKG / "features.py").write_text("def clean(x):\n    return x + 1\n")
    (package / "bdflow.py").write_text(
        HEAD
        + textwrap.dedent(
            """
            import json
            from bdpkg.features import clean
            class Train(tasuki.Task):
                def run(self):
                    self.dump(json.loads(json.dumps(clean(1))))
            """
        )
    )
    ws = str(package / "ws")
    _forget()
    sys.modules.pop("bdflow", None)
    assert tasuki.build(importlib.import_module("bdflow").Train(), workspace=ws) == 2
    covers = code.code_of(importlib.import_module("bdflow").Train).covers
    assert f"function {PKG}.features:clean" in covers
    assert not any("json" in c for c in covers)  # the standard library is a library
    (package / PKG / "features.py").write_text("def clean(x):\n    return x + 100\n")
    _forget()
    sys.modules.pop("bdflow", None)
    train = importlib.import_module("bdflow").Train()
    result = tasuki.build(train, workspace=ws, return_value=False)
    assert [r.status for r in result.results.values()] == ["ran"]
    assert tasuki.build(train, workspace=ws) == 101
    sys.modules.pop("bdflow", None)
