"""A constant or class attribute given another value at run time counts as the task's code.

The fingerprint is made of source text, so ``config.THRESH = 0.9`` in a notebook cell, or
``Train.lr = 0.7`` in a script's main block before ``build``, left it as it was: the build
handed back the output made with 0.5 (or 0.1), with the new value in the user's face. Where
the statement is a literal, the value now held is compared with it and counts when they
differ. Private names and empty containers (caches filled as helpers run) do not count, so
a second build in one process does not rerun what the first one made.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import tasuki
from tasuki.core import code
from tasuki.core._live import plain_text
from tasuki.report.why import explain
from tasuki.storage import open_store
from tests._packages import forget_package

PKG = "livepkg"

CONFIG = """
THRESH = 0.5
FEATURES = ["a", "b"]
MODEL = "ridge"
"""

TASKS = """
import tasuki
from livepkg import config

_CACHE = {}
SEEN = []
_calls = 0
API_TOKEN = ""

class Scaled:
    factor = 2

class Base(tasuki.Task):
    lr = 0.1

class Root(Base, Scaled):
    x: int = 1
    depth = 3

    def run(self):
        global _calls
        _calls += 1
        _CACHE[self.x] = 1
        SEEN.append(self.x)
        self.dump((self.lr, self.depth, self.factor, getattr(self, "extra", None),
                   config.THRESH, list(config.FEATURES), config.MODEL, len(API_TOKEN)))
"""

BASE = (0.1, 3, 2, None, 0.5, ["a", "b"], "ridge", 0)


def _forget() -> None:
    forget_package(PKG)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("TASUKI_CODE_CACHE", "off")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    (tmp_path / "src" / PKG).mkdir(parents=True)
    (tmp_path / "src" / PKG / "__init__.py").write_text("")
    (tmp_path / "src" / PKG / "config.py").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "src" / PKG / "tasks.py").write_text(textwrap.dedent(TASKS))
    _forget()
    yield tmp_path
    _forget()


def _modules() -> tuple[types.ModuleType, types.ModuleType]:
    return importlib.import_module(f"{PKG}.tasks"), importlib.import_module(f"{PKG}.config")


def _build(ws: Path) -> tuple[object, str]:
    tasks, _ = _modules()
    root = tasks.Root()
    result = tasuki.build(root, workspace=ws, return_value=False, progress="off")
    return tasuki.load(root, workspace=ws), result.results[root.unique_id].status


def _set(path: str, value: object) -> Callable[[], None]:
    def tweak() -> None:
        tasks, config = _modules()
        owner_name, _, attr = path.rpartition(".")
        owner = {"config": config, "tasks": tasks}.get(owner_name) or getattr(tasks, owner_name)
        setattr(owner, attr, value)

    return tweak


def _append_feature() -> None:
    _modules()[1].FEATURES.append("c")


TWEAKS: dict[str, tuple[Callable[[], None], tuple[object, ...]]] = {
    "a sibling module's constant": (_set("config.THRESH", 0.9), (4, 0.9)),
    "a constant's text": (_set("config.MODEL", "lasso"), (6, "lasso")),
    "a list constant changed in place": (_append_feature, (5, ["a", "b", "c"])),
    "the task class's attribute": (_set("Root.depth", 4), (1, 4)),
    "a base task class's attribute": (_set("Base.lr", 0.7), (0, 0.7)),
    "a mixin's attribute": (_set("Scaled.factor", 5), (2, 5)),
    "an attribute its class statement does not have": (_set("Root.extra", 8), (3, 8)),
}


def _expected(change: tuple[object, ...]) -> tuple[object, ...]:
    where, value = change
    out = list(BASE)
    out[where] = value  # type: ignore[index]
    return tuple(out)


@pytest.mark.parametrize("case", sorted(TWEAKS))
def test_a_value_set_before_the_build_in_a_fresh_process_counts(home: Path, case: str) -> None:
    """A script's main block: each run imports afresh and sets the value before `build`."""
    tweak, change = TWEAKS[case]
    ws = home / "ws"
    assert _build(ws) == (BASE, "ran")
    _forget()
    tweak()
    assert _build(ws) == (_expected(change), "ran")
    _forget()
    tweak()
    assert _build(ws) == (_expected(change), "cached")
    _forget()
    assert _build(ws) == (BASE, "ran")


@pytest.mark.parametrize("case", sorted(TWEAKS))
def test_a_value_set_between_two_builds_in_one_process_counts(home: Path, case: str) -> None:
    """A notebook: one import, a cell that sets the value, the build again."""
    tweak, change = TWEAKS[case]
    ws = home / "ws"
    assert _build(ws) == (BASE, "ran")
    assert _build(ws) == (BASE, "cached")  # what run() changed (_CACHE, SEEN...) is left out
    tweak()
    assert _build(ws) == (_expected(change), "ran")
    assert _build(ws) == (_expected(change), "cached")


def test_nothing_set_adds_nothing_to_the_fingerprint(home: Path) -> None:
    tasks, _ = _modules()
    assert "at run time" not in code.code_of(tasks.Root).text
    _set("Root.x", 5)()  # a parameter's default: the id says it
    tasks.SEEN.extend([1, 2])
    tasks._CACHE["k"] = 1
    assert "at run time" not in code.code_of(tasks.Root).text


def test_private_names_and_filled_caches_do_not_count(home: Path) -> None:
    ws = home / "ws"
    assert _build(ws) == (BASE, "ran")
    tasks, _ = _modules()
    assert tasks._calls == 1 and tasks.SEEN == [1]
    assert _build(ws) == (BASE, "cached")
    _forget()
    assert _build(ws) == (BASE, "cached")


def test_a_secret_set_at_run_time_reruns_and_is_not_written(home: Path) -> None:
    ws = home / "ws"
    assert _build(ws) == (BASE, "ran")
    _set("tasks.API_TOKEN", "hunter2-hunter2")()
    out, status = _build(ws)
    assert status == "ran" and out[-1] == len("hunter2-hunter2")  # type: ignore[index]
    kept = b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())
    assert b"hunter2" not in kept


def test_the_value_set_is_what_why_shows(home: Path) -> None:
    ws = home / "ws"
    assert _build(ws) == (BASE, "ran")
    _set("config.THRESH", 0.9)()
    tasks, _ = _modules()
    lines = "\n".join(explain(tasks.Root(), open_store(str(ws))))
    assert "the code of Root changed" in lines and "+THRESH = 0.9" in lines


def test_plain_text_is_the_same_in_every_process() -> None:
    assert plain_text({"b", "a"}) == "set({'a', 'b'})"
    assert plain_text(frozenset({2, 1})) == "frozenset({1, 2})"
    assert plain_text((1,)) == "(1,)"
    assert plain_text({"k": [1.0, None, b"x"]}) == "{'k': [1.0, None, b'x']}"
    assert plain_text([object()]) is None
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert plain_text(cyclic) is None


def test_a_worker_that_imports_the_code_afresh_refuses_the_task(home: Path) -> None:
    """Dask and Argo workers import the project without the main block's value: they must
    refuse the task rather than run it with the value the file says."""
    from tasuki.config import Settings
    from tasuki.core.code import code_keys
    from tasuki.core.definitions import run_one, write_definitions
    from tasuki.core.graph import build_graph
    from tasuki.errors import TaskError

    ws = str(home / "ws")
    store = open_store(ws)
    _set("Root.depth", 4)()
    tasks, _ = _modules()
    graph = build_graph([tasks.Root()])
    write_definitions(store, graph, list(graph.order), code_keys(graph))
    _forget()  # the worker's process
    with pytest.raises(TaskError, match="written by other code") as info:
        run_one(tasks.Root().unique_id, store=store, settings=Settings(workspace=ws))
    assert "make it a parameter" in str(info.value)


METHODS = """
import functools
import tasuki

def other(self):
    return 2

def deco(fn):
    def wrapper(self):
        return fn(self)
    return wrapper

class Scored(tasuki.Task):
    def run(self):
        self.dump((self.score(), self.wrapped()))

    def score(self):
        return 1

    @deco
    def wrapped(self):
        return 10
"""


def test_a_method_set_from_outside_the_class_counts(home: Path) -> None:
    """``Scored.score = other`` before a build: the class statement still says ``return 1``."""
    (home / "src" / PKG / "methods.py").write_text(textwrap.dedent(METHODS))
    ws = home / "ws"
    mod = importlib.import_module(f"{PKG}.methods")

    def build() -> tuple[object, str]:
        task = mod.Scored()
        result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
        return tasuki.load(task, workspace=ws), result.results[task.unique_id].status

    assert build() == ((1, 10), "ran")
    assert build() == ((1, 10), "cached")  # a decorator's wrapper is no change
    original = mod.Scored.score
    mod.Scored.score = mod.other
    assert build() == ((2, 10), "ran")
    mod.Scored.score = lambda self: 3
    assert build() == ((3, 10), "ran")
    mod.Scored.score = staticmethod(lambda: 4)
    assert build() == ((4, 10), "ran")
    mod.Scored.score = original
    assert build() == ((1, 10), "ran")
    assert build() == ((1, 10), "cached")
