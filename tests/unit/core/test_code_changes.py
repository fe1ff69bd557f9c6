"""The cache is never wrong: every kind of change, one at a time, on a four-level pipeline.

Each case starts from the same built workspace, edits one thing (a parameter, an upstream
parameter, ``version``, a task's code, a helper in the same module or in a sibling module,
a constant, comments and formatting only, a declared library version or data file), builds
with the default settings, and checks exactly which tasks ran: no wrong cache hit, no
needless rerun. ``why`` must name the cause before the build, and a second build must run
nothing.
"""

from __future__ import annotations

import importlib
import linecache
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

import tasuki
from tasuki.core import code
from tasuki.report.why import explain, explain_build
from tasuki.storage import open_store

HELPERS = '''
def make(n):
    """Build the raw values."""
    return [i - 2 for i in range(n)]
'''

TASKS = '''
"""A small pipeline: Load -> Prepare -> Train -> Report."""
import tasuki
from mxpkg import helpers

SCALE = 2


def clean(values):
    # drop negative values
    return [v for v in values if v >= 0]


def unused(values):
    return values[::-1]


class Load(tasuki.Task):
    n: int = 10
    data_files = ("DATA_FILE",)

    def output(self):
        return self.make_target("load.pkl")

    def run(self):
        self.dump(helpers.make(self.n))


class Prepare(tasuki.Task):
    n: int = 10
    version = None

    def requires(self):
        return Load(n=self.n)

    def output(self):
        return self.make_target("prepare.pkl")

    def run(self):
        self.dump(clean(self.load()))


class Train(tasuki.Task):
    """Fits the model."""

    n: int = 10
    alpha: float = 0.5
    library_versions = ("mxlib",)

    def requires(self):
        return Prepare(n=self.n)

    def output(self):
        return self.make_target("train.pkl")

    def run(self):
        self.dump(sum(self.load()) * self.alpha * SCALE)


class Report(tasuki.Task):
    n: int = 10
    alpha: float = 0.5
    title: str = "report"

    def requires(self):
        return Train(n=self.n, alpha=self.alpha)

    def output(self):
        return self.make_target("report.json")

    def run(self):
        self.dump({"title": self.title, "score": self.load()})
'''

COSMETIC = '''
"""A small pipeline: Load -> Prepare -> Train -> Report (reformatted)."""
import tasuki
from mxpkg import helpers

SCALE = 2  # the scale


def clean(values):
    """Drop negative values."""
    return [
        v
        for v in values
        if v >= 0
    ]


def unused(values):
    return values[::-1]


class Load(tasuki.Task):
    n: int = 10
    data_files = ('DATA_FILE',)

    def output(self):
        return self.make_target('load.pkl')

    def run(self):
        # make the values
        self.dump(helpers.make(self.n))


class Prepare(tasuki.Task):
    n: int = 10
    version = None

    def requires(self):
        return Load(n=self.n,)

    def output(self):
        return self.make_target("prepare.pkl")

    def run(self):

        self.dump(clean(self.load()))


class Train(tasuki.Task):
    """Fits the model (a longer docstring now)."""

    n: int = 10
    alpha: float = 0.5
    library_versions = ("mxlib",)

    def requires(self):
        return Prepare(n=self.n)

    def output(self):
        return self.make_target("train.pkl")

    def run(self):
        self.dump(sum(self.load())*self.alpha*SCALE)


class Report(tasuki.Task):
    n: int = 10
    alpha: float = 0.5
    title: str = "report"

    def requires(self):
        return Train(n=self.n, alpha=self.alpha)

    def output(self):
        return self.make_target("report.json")

    def run(self):
        self.dump({"title": self.title, "score": self.load()})
'''

ALL = {"Load", "Prepare", "Train", "Report"}


def _edit(old: str, new: str):  # type: ignore[no-untyped-def]
    def apply(root: Path) -> None:
        path = root / "mxpkg" / "tasks.py"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new))

    return apply


def _edit_helpers(root: Path) -> None:
    path = root / "mxpkg" / "helpers.py"
    path.write_text(path.read_text().replace("i - 2", "i - 3"))


def _cosmetic_helpers(root: Path) -> None:
    path = root / "mxpkg" / "helpers.py"
    path.write_text(path.read_text().replace('"""Build the raw values."""', "# raw values"))


def _cosmetic(root: Path) -> None:
    data = str(root / "data.csv")
    (root / "mxpkg" / "tasks.py").write_text(COSMETIC.replace("DATA_FILE", data))


def _touch_data(root: Path) -> None:
    (root / "data.csv").write_text("a,b\n1,3\n")


def _same_data_new_mtime(root: Path) -> None:
    path = root / "data.csv"
    path.write_text(path.read_text())


# (case id, edit of the sources, parameters of the root, tasks that must run, words `why`
# must say about the cause)
CASES = [
    ("root parameter", None, {"title": "other"}, {"Report"}, ["'title'", "other"]),
    ("upstream parameter", None, {"alpha": 0.25}, {"Train", "Report"}, ["'alpha'"]),
    (
        "parameter at the bottom",
        None,
        {"n": 12},
        ALL,
        ["'n'", "10", "12"],
    ),
    (
        "version",
        _edit("    version = None", '    version = "2"'),
        {},
        {"Prepare", "Report", "Train"},
        ["version", "'2'"],
    ),
    (
        "own code",
        _edit("* self.alpha * SCALE", "* self.alpha * SCALE + 1"),
        {},
        {"Train", "Report"},
        ["code of Train changed", "+ 1"],
    ),
    (
        "helper in the same module",
        _edit("if v >= 0]", "if v > 0]"),
        {},
        {"Prepare", "Train", "Report"},
        ["code of Prepare changed", "v > 0"],
    ),
    (
        "constant in the same module",
        _edit("SCALE = 2", "SCALE = 3"),
        {},
        {"Train", "Report"},
        ["code of Train changed", "SCALE = 3"],
    ),
    ("helper in a sibling module", _edit_helpers, {}, ALL, ["code of Load changed", "i - 3"]),
    ("unused helper", _edit("values[::-1]", "values[::2]"), {}, set(), []),
    ("comments, docstrings, formatting", _cosmetic, {}, set(), []),
    ("docstring in a sibling module", _cosmetic_helpers, {}, set(), []),
    ("declared data file", _touch_data, {}, ALL, ["code of Load changed", "file"]),
    ("data file rewritten, same bytes", _same_data_new_mtime, {}, set(), []),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A package on sys.path, its workspace built once, and a loader that re-imports it."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # edits within a second
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    pkg = tmp_path / "mxpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text(textwrap.dedent(HELPERS))
    (pkg / "tasks.py").write_text(TASKS.replace("DATA_FILE", str(tmp_path / "data.csv")))
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    versions = {"mxlib": "1.0"}
    monkeypatch.setattr(code, "_distribution_version", lambda dist: versions.get(dist, "?"))

    def load():  # type: ignore[no-untyped-def]
        for name in [m for m in sys.modules if m == "mxpkg" or m.startswith("mxpkg.")]:
            del sys.modules[name]
        code.forget()
        linecache.checkcache()
        importlib.invalidate_caches()
        return importlib.import_module("mxpkg.tasks")

    base = tmp_path / "base"
    result = tasuki.build(load().Report(), workspace=str(base), return_value=False)
    assert result.counts()["ran"] == 4
    yield tmp_path, load, versions
    for name in [m for m in sys.modules if m == "mxpkg" or m.startswith("mxpkg.")]:
        del sys.modules[name]
    code.forget()


def _ran(result: tasuki.BuildResult) -> set[str]:
    return {r.name.rpartition(":")[2] for r in result.by_status("ran")}


@pytest.mark.parametrize(
    ("edit", "params", "expected", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_change_reruns_exactly_what_it_affects(project, edit, params, expected, words):
    root, load, _ = project
    ws = root / "ws"
    shutil.copytree(root / "base", ws)
    if edit is not None:
        edit(root)
    tasks = load()
    report = tasks.Report(**params)
    store = open_store(str(ws))
    said = "\n".join(explain(report, store))
    for word in words:
        assert word in said, said
    if not expected:
        assert "will not run" in said, said
    first = tasuki.build(report, workspace=str(ws), return_value=False)
    assert _ran(first) == expected, (first.summary(), said)
    again = tasuki.build(report, workspace=str(ws), return_value=False)
    assert _ran(again) == set(), again.summary()


def test_a_declared_library_version_is_part_of_the_code(project):
    root, load, versions = project
    ws = root / "ws"
    shutil.copytree(root / "base", ws)
    versions["mxlib"] = "2.0"
    tasks = load()
    said = "\n".join(explain(tasks.Report(), open_store(str(ws))))
    assert "code of Train changed" in said and "mxlib" in said and "2.0" in said, said
    result = tasuki.build(tasks.Report(), workspace=str(ws), return_value=False)
    assert _ran(result) == {"Train", "Report"}


def test_why_explains_each_cause_once_and_lists_what_it_affects(project):
    root, load, _ = project
    ws = root / "ws"
    shutil.copytree(root / "base", ws)
    tasks = load()
    # `alpha` is a parameter of Train and Report; Train's change is the cause of its run,
    # Report's own parameter changed too: one cause line names both.
    explanation = explain_build(tasks.Report(alpha=0.25), open_store(str(ws)))
    runs = {d.task.rpartition(":")[2] for d in explanation.decisions if d.runs}
    assert runs == {"Train", "Report"}
    text = "\n".join(explanation.lines())
    assert text.count("'alpha'") == 1, text
    assert "Prepare" in text and "Cached" in text  # what will not run is listed once too
    # A change at the bottom of a chain that does not hand the parameter down: one cause,
    # the rest listed as affected.
    _edit("if v >= 0]", "if v > 0]")(root)
    tasks = load()
    explanation = explain_build(tasks.Report(), open_store(str(ws)))
    causes = [d.task.rpartition(":")[2] for d in explanation.decisions if d.runs and d.cause]
    affected = {d.task.rpartition(":")[2] for d in explanation.decisions if d.runs and not d.cause}
    assert causes == ["Prepare"] and affected == {"Train", "Report"}
    text = "\n".join(explanation.lines())
    assert text.count("code of Prepare changed") == 1, text


def test_warn_policy_uses_the_cache_and_why_says_so(project):
    root, load, _ = project
    ws = root / "ws"
    shutil.copytree(root / "base", ws)
    _edit("* self.alpha * SCALE", "* self.alpha * SCALE + 1")(root)
    tasks = load()
    said = "\n".join(explain(tasks.Report(), open_store(str(ws)), on_code_change="warn"))
    assert "will not run" in said and "on_code_change = 'warn'" in said, said
    result = tasuki.build(tasks.Report(), workspace=str(ws), on_code_change="warn")
    assert result == {"title": "report", "score": 28.0}  # the old output, on purpose


def test_a_file_edited_after_import_is_fingerprinted_by_the_code_that_runs(project, caplog):
    """Edit the file without reloading, build, then reload: the outputs made by the old code
    must not pass for outputs of the new code."""
    root, load, _ = project
    ws = root / "ws"
    shutil.copytree(root / "base", ws)
    tasks = load()  # the code that runs: as built in base
    _edit("* self.alpha * SCALE", "* self.alpha * SCALE + 1")(root)  # on disk only
    linecache.checkcache()
    first = tasuki.build(tasks.Report(), workspace=str(ws), return_value=False)
    # The old code runs, so Train's fingerprint describes its bytecode, not the edited file
    # (Train and Report run once more, with the old code: needless, never wrong).
    assert "changed after it was imported" in caplog.text
    assert tasuki.load(tasks.Report(), workspace=str(ws))["score"] == 28.0
    reloaded = load()  # now the edited code runs
    second = tasuki.build(reloaded.Report(), workspace=str(ws), return_value=False)
    assert _ran(second) == {"Train", "Report"}, (first.summary(), second.summary())
    assert tasuki.load(reloaded.Report(), workspace=str(ws))["score"] == 29.0
