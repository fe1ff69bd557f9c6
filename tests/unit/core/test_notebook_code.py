"""Code defined in notebook cells: no source file, cells run again and again in one process.

The cells run in a real IPython shell (the kernel behind Jupyter), in a subprocess of their
own (the shell makes itself ``__main__``). A task, its helper and its constant live in
separate cells; each edit runs a cell again and builds in the same process. Every edit must
rerun the task and give the new code's value; before a build started by walking the code
again (and before bytecode fingerprints followed what the functions name), the first value
came back after every helper or constant edit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("IPython")

# The kernel behind Jupyter, and a cell runner that raises what the cell raised.
SHELL = r"""
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()


def cell(src):
    result = shell.run_cell(src)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise error
    return result.result
"""

SCRIPT = (
    SHELL
    + r"""
import json, sys


def build():
    return cell("tasuki.build(T(), workspace=WS, progress='off')")


out = []
cell("import functools, tasuki\nWS = " + repr(sys.argv[1]))
cell("def helper():\n    return 1\nK = 0")
TASK = (
    "class T(tasuki.Task):\n    W = {}\n"
    "    def run(self):\n        self.dump(helper() + K + self.W)"
)
cell(TASK.format(0))
out.append(["first", build()])
cell("def helper():\n    return 2")
out.append(["helper", build()])
cell("K = 10")
out.append(["constant", build()])
cell("@functools.cache\ndef helper():\n    return 3")
out.append(["cached helper", build()])
cell(TASK.format(100))
out.append(["class attribute", build()])
out.append(["again", build()])
statuses = cell("tasuki.build(T(), workspace=WS, progress='off', return_value=False)")
out.append(["statuses", sorted(r.status for r in statuses.results.values())])
print(json.dumps(out))
"""
)


def _run_cells(tmp_path: Path, script_text: str) -> object:
    """Run the cells of ``script_text`` in a shell of their own; what its last line printed."""
    script = tmp_path / "cells.py"
    script.write_text(textwrap.dedent(script_text))
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_edits_of_notebook_cells_rerun_the_task(tmp_path: Path) -> None:
    steps = dict(_run_cells(tmp_path, SCRIPT))  # type: ignore[call-overload]
    assert steps == {
        "first": 1,
        "helper": 2,
        "constant": 12,
        "cached helper": 13,
        "class attribute": 113,
        "again": 113,
        "statuses": ["cached"],
    }


SET_SCRIPT = r"""
import __main__
import tasuki
from tasuki.core.code import code_of

exec("NAMES = {'alpha', 'beta', 'gamma', 'delta', 'epsilon'}\n", __main__.__dict__)
exec(
    "import tasuki\nclass T(tasuki.Task):\n    def run(self):\n        self.dump(sorted(NAMES))\n",
    __main__.__dict__,
)
print(code_of(__main__.T).digest)
"""


def test_a_set_without_source_fingerprints_the_same_in_every_process(tmp_path: Path) -> None:
    """Code without a source file: a set's order follows string hashing, which each process
    seeds anew; the fingerprint must not (a restarted kernel would rerun everything)."""
    digests = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", SET_SCRIPT],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        digests.add(done.stdout.strip().splitlines()[-1])
    assert len(digests) == 1, digests


AUTORELOAD_SCRIPT = (
    SHELL
    + r"""
import json, os, sys


sys.path.insert(0, sys.argv[1])
cell("%load_ext autoreload\n%autoreload 2")
cell("import tasuki\nfrom nbpkg import util\nfrom nbpkg.util import scale")
cell("class T(tasuki.Task):\n    def run(self):\n        self.dump([util.shift(1), scale(1)])")
out = [cell("tasuki.build(T(), workspace=%r, progress='off')" % sys.argv[2])]
path = os.path.join(sys.argv[1], "nbpkg", "util.py")
with open(path, "w") as f:
    f.write("def shift(x):\n    return x + 10\n\n\ndef scale(x):\n    return x * 30\n")
st = os.stat(path)
os.utime(path, (st.st_atime + 5, st.st_mtime + 5))  # a later edit, whatever the clock
cell("1")  # autoreload reloads before a cell runs
out.append(cell("tasuki.build(T(), workspace=%r, progress='off')" % sys.argv[2]))
print(json.dumps(out))
"""
)


def test_a_notebook_task_follows_the_project_module_autoreload_reloads(tmp_path: Path) -> None:
    """Tasks in cells call functions of the project's package (``util.shift``, ``scale``);
    ``%autoreload 2`` reloads the edited file before the next cell: the build must see it
    (the module is project code although the task lives in ``__main__``)."""
    pkg = tmp_path / "nbpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "util.py").write_text(
        "def shift(x):\n    return x + 1\n\n\ndef scale(x):\n    return x * 3\n"
    )
    script = tmp_path / "cells.py"
    script.write_text(AUTORELOAD_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == [2, 3]
    assert second == [11, 30]


KEYS_SCRIPT = (
    SHELL
    + r"""
import json, sys

out = []
cell("import tasuki\nWS = " + repr(sys.argv[1]))
cell("WEIGHTS = {'a': 1, 'b': 2}")
cell("class T(tasuki.Task):\n    def run(self):\n        self.dump(sorted(WEIGHTS))")
out.append(cell("tasuki.build(T(), workspace=WS, progress='off')"))
cell("WEIGHTS = {'a': 1, 'c': 2}")  # other keys, the same values
out.append(cell("tasuki.build(T(), workspace=WS, progress='off')"))
SETS = (
    "class S(tasuki.Task):\n    LABELS = {LABELS}\n"
    "    def run(self):\n        self.dump(sorted(self.LABELS))"
)
cell(SETS.format(LABELS="{'x', 'y'}"))
out.append(cell("tasuki.build(S(), workspace=WS, progress='off')"))
cell(SETS.format(LABELS="{'x', 'z'}"))  # a set in the class body: it was left out
out.append(cell("tasuki.build(S(), workspace=WS, progress='off')"))
print(json.dumps(out))
"""
)


def test_a_dict_cell_whose_keys_change_reruns_the_task(tmp_path: Path) -> None:
    """Values of a dict without source were described by their items only: other keys
    with the same values handed back the output of the old keys; a set in a cell's class
    body was left out of its fingerprint."""
    steps = _run_cells(tmp_path, KEYS_SCRIPT)
    assert steps == [["a", "b"], ["a", "c"], ["x", "y"], ["x", "z"]]
