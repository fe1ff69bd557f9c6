"""What the first build of a fresh process pays for: no pydantic, no fsspec, no
multiprocessing, no scan of installed packages' entry points, no git process outside a
repository (issue 12: one small build costs <= 5 ms of CPU beyond ``import tasuki``;
the time itself is measured in benchmarks/, these pin what would make it grow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, subprocess, sys
    started = []
    real_run = subprocess.run
    subprocess.run = lambda *a, **k: started.append(a[0]) or real_run(*a, **k)
    import tasuki
    at_import = set(sys.modules)
    from tests.unit.core.tasks_for_tests import TaskA
    tasuki.build(TaskA(param="x"), workspace=sys.argv[1], progress="off")
    from tasuki.formats.registry import default_registry
    print(json.dumps({
        "import": sorted(at_import),
        "build": sorted(set(sys.modules) - at_import),
        "scanned": default_registry.entry_points_loaded,
        "processes": started,
    }))
    """
)

# platform and socket: only the first record or temporary file of a process needs them;
# shutil, tempfile and zipfile (with bz2 and lzma): only model targets and folder removals.
HEAVY_AT_IMPORT = (
    "pydantic",
    "fsspec",
    "multiprocessing",
    "importlib.metadata",
    "tomllib",
    "platform",
    "socket",
    "shutil",
    "tempfile",
    "zipfile",
)
# platform and socket: ~5 ms, a cold one-task build's whole budget (records and temporary
# names read the Python version and the host name without them).
HEAVY_IN_BUILD = (
    "pydantic",
    "fsspec",
    "multiprocessing",
    "importlib.metadata",
    "email",
    "uuid",
    "platform",
    "socket",
)


IN_A_REPOSITORY = textwrap.dedent(
    """
    import json, sys
    import tasuki
    at_import = set(sys.modules)
    from tests.unit.core.tasks_for_tests import TaskA
    tasuki.build(TaskA(param="x"), workspace=sys.argv[1], progress="off")
    built = sorted(set(sys.modules) - at_import)
    from tasuki.core.records import environment
    print(json.dumps({"build": built, "git_commit": environment()["git_commit"]}))
    """
)


def _child(tmp_path, cwd=None, script=CHILD):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ws")],
        cwd=cwd or tmp_path,  # not a git repository unless told
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_first_build_imports_and_scans_only_what_it_needs(tmp_path):
    got = _child(tmp_path)
    for name in HEAVY_AT_IMPORT:
        assert name not in got["import"], f"import tasuki imports {name}"
    for name in HEAVY_IN_BUILD:
        assert name not in got["build"], f"a small local build imports {name}"
    assert got["scanned"] is False  # a .pkl output: built in, no entry point can replace it
    assert got["processes"] == []  # outside a git repository: no git started


def test_a_first_build_in_a_git_repository_asks_git_without_subprocess(tmp_path):
    # Where users build: a project under git. The dirty check is one git process started
    # without the subprocess module (its import alone was 4 ms of the 5 ms budget).
    project = tmp_path / "project"
    project.mkdir()

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=project, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    (project / "a.txt").write_text("a")
    git("add", "a.txt")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "one")
    got = _child(tmp_path, cwd=project, script=IN_A_REPOSITORY)
    assert got["git_commit"] == git("rev-parse", "HEAD")  # the workspace is untracked: clean
    for name in ("subprocess", "selectors", "locale", *HEAVY_IN_BUILD):
        assert name not in got["build"], f"a small local build in a repository imports {name}"
