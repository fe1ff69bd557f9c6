"""The code-fingerprint cache (tasuki.core._source) never changes a fingerprint: each fresh
process below fingerprints a task of a small package on disk, with the cache and without it,
across the changes a project goes through. A cached fact stands for a file's text only; what
its names are bound to is looked up in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tasuki import _file_cache
from tasuki.core import _source
if len(sys.argv) > 2:
    _file_cache.RACY_S = float(sys.argv[2])
from tasuki.core.code import code_of
from mypkg.tasks import Train
fp = code_of(Train)
print(json.dumps({"digest": fp.digest, "parsed": sorted(_source._TREES)}))
"""

TASKS = """
import tasuki
from mypkg import helpers

LIMIT = 3


class Train(tasuki.Task):
    n: int = 1

    def run(self):
        self.dump(helpers.pick(self.n) + LIMIT)
"""

HELPERS = """
import os


def double(x):
    return x * 2


def triple(x):
    return x * 3


pick = triple if os.environ.get("PICK") == "triple" else double
"""


# The probes run with a shorter racy window than tasuki's 2 s (its own test below keeps the
# real one), and the files are dated 10 s back (a file written after a process started is
# compiled to compare with what runs): the fixtures wait 0.35 s instead of 2.1, 11 times on
# each Python.
RACY_S = 0.25


def _age(folder: Path) -> None:
    """Make the files under ``folder`` old enough to be cached by the probes."""
    past = time.time() - 10
    for path in folder.rglob("*.py"):
        os.utime(path, (past, past))
    time.sleep(RACY_S + 0.1)  # the change time moved with utime


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def project(tmp_path):
    """A package whose files are older than the racy window, so that they can be cached."""
    pkg = tmp_path / "proj" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    _write(pkg / "tasks.py", TASKS)
    _write(pkg / "helpers.py", HELPERS)
    _age(pkg)  # younger than the racy window, files are never cached
    return tmp_path / "proj"


def _probe(
    project: Path, cache: Path | str | None, *, racy: float | None = RACY_S, **env: str
) -> dict:
    """Fingerprint mypkg.tasks:Train in a fresh process (``cache`` None: the default place;
    ``racy`` None: tasuki's own racy window)."""
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}
    environ.pop("TASUKI_CODE_CACHE", None)
    if cache is not None:
        environ["TASUKI_CODE_CACHE"] = str(cache)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(project), *([] if racy is None else [str(racy)])],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _truth(project: Path, **env: str) -> str:
    """The fingerprint computed with no cache at all."""
    return _probe(project, "off", **env)["digest"]


def test_a_second_process_parses_nothing_and_gets_the_same_fingerprint(project, tmp_path):
    cache = tmp_path / "cache"
    first = _probe(project, cache)
    assert first["parsed"]  # the first process parsed the package's files
    assert list(cache.glob("*.json"))  # and kept what it read from them
    second = _probe(project, cache)
    assert second["parsed"] == []  # answered from the cache
    assert first["digest"] == second["digest"] == _truth(project)


def test_an_edit_of_the_same_size_changes_the_fingerprint(project, tmp_path):
    cache = tmp_path / "cache"
    before = _probe(project, cache)["digest"]
    tasks = project / "mypkg" / "tasks.py"
    text = tasks.read_text()
    edited = text.replace("LIMIT = 3", "LIMIT = 4")
    assert len(edited) == len(text)
    tasks.write_text(edited)
    after = _probe(project, cache)
    assert after["digest"] != before
    assert after["digest"] == _truth(project)


def test_an_edit_of_a_helper_in_another_module_changes_the_fingerprint(project, tmp_path):
    cache = tmp_path / "cache"
    before = _probe(project, cache)["digest"]
    helpers = project / "mypkg" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("return x * 2", "return x * 5"))
    after = _probe(project, cache)["digest"]
    assert after != before
    assert after == _truth(project)


def test_a_comment_only_edit_keeps_the_fingerprint(project, tmp_path):
    cache = tmp_path / "cache"
    before = _probe(project, cache)["digest"]
    tasks = project / "mypkg" / "tasks.py"
    tasks.write_text(tasks.read_text().replace("LIMIT = 3", "LIMIT = 3  # the cap"))
    assert _probe(project, cache)["digest"] == before


def test_what_a_name_is_bound_to_is_looked_up_in_each_process(project, tmp_path):
    # The same files, a name bound to another function at import: a cached fact must not
    # stand for the binding.
    cache = tmp_path / "cache"
    doubled = _probe(project, cache, PICK="double")
    assert _probe(project, cache, PICK="double")["parsed"] == []  # warm
    tripled = _probe(project, cache, PICK="triple")
    assert tripled["digest"] != doubled["digest"]
    assert tripled["digest"] == _truth(project, PICK="triple")
    assert _probe(project, cache, PICK="double")["digest"] == doubled["digest"]


def test_a_damaged_or_foreign_entry_is_ignored(project, tmp_path):
    cache = tmp_path / "cache"
    truth = _probe(project, cache)["digest"]
    for entry in cache.glob("*.json"):
        entry.write_text("{not json")
    assert _probe(project, cache)["digest"] == truth
    for entry in cache.glob("*.json"):  # rewritten whole by the last process
        doc = json.loads(entry.read_text())
        doc["python"] = "2.7.18"
        for key in doc["defs"]:
            doc["defs"][key] = ["class Forged: pass", []]
        entry.write_text(json.dumps(doc))
    again = _probe(project, cache)
    assert again["parsed"]  # another Python's facts are not used
    assert again["digest"] == truth


def test_a_file_younger_than_the_racy_window_is_not_cached(tmp_path):
    pkg = tmp_path / "proj" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    _write(pkg / "tasks.py", TASKS)
    _write(pkg / "helpers.py", HELPERS)
    cache = tmp_path / "cache"
    _probe(tmp_path / "proj", cache, racy=None)
    assert not list(cache.glob("*.json"))


def test_the_default_place_off_and_an_unwritable_cache(project, tmp_path):
    xdg = tmp_path / "xdg"
    _probe(project, None, XDG_CACHE_HOME=str(xdg))
    assert list((xdg / "tasuki" / "code").glob("*.json"))  # the default place
    _probe(project, "off", XDG_CACHE_HOME=str(tmp_path / "xdg2"))
    assert not (tmp_path / "xdg2").exists()  # off: nothing written anywhere
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    assert _probe(project, blocked / "code")["digest"] == _truth(project)


BOUND_TASKS = """
import functools
import tasuki
from mypkg.lists import OPS

TOTAL = 0
for i in range(3):
    TOTAL += i


@functools.cache
def cached(x):
    return x + 1


class Train(tasuki.Task):
    def run(self):
        from mypkg.helpers import triple
        self.dump([cached(1), OPS[0](1), TOTAL, triple(1)])
"""

LISTS = """
def inc(x):
    return x + 1


OPS = [inc]
"""


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("tasks.py", "return x + 1", "return x + 2"),  # a helper behind functools.cache
        ("tasks.py", "range(3)", "range(4)"),  # a loop that fills a constant
        ("lists.py", "return x + 1", "return x + 2"),  # a list imported from a sibling
        ("helpers.py", "return x * 3", "return x * 4"),  # imported inside run()
    ],
    ids=["decorated", "loop", "imported object", "import in run"],
)
def test_cached_facts_keep_what_binds_a_name(tmp_path, path, old, new):
    """The facts of decorated helpers, later statements and imports (format 2) come back
    from the cache whole: a warm process parses nothing and fingerprints as a cold one,
    and an edit of any of them moves the fingerprint."""
    pkg = tmp_path / "proj" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    _write(pkg / "tasks.py", BOUND_TASKS)
    _write(pkg / "lists.py", LISTS)
    _write(pkg / "helpers.py", HELPERS)
    _age(pkg)  # older than the racy window, so that the facts are cached
    project, cache = tmp_path / "proj", tmp_path / "cache"
    cold = _probe(project, cache)
    warm = _probe(project, cache)
    assert warm["parsed"] == [] and warm["digest"] == cold["digest"] == _truth(project)
    edited = pkg / path
    assert old in edited.read_text()
    edited.write_text(edited.read_text().replace(old, new))
    after = _probe(project, cache)["digest"]
    assert after != cold["digest"]
    assert after == _truth(project)
