"""The unit tests under every other Python this machine has, from the oldest one supported.

The README's test command stays the single entry point: this test, run by it, makes a virtual
environment per other interpreter (``.venv-py3XY`` in the repository root, kept between runs so
that a second run only checks it), installs the package with uv, and runs ``tests/unit`` and the
API pins there. It runs when ``CI`` is set or ``TASUKI_ALL_PYTHONS=1`` (``.ci/run`` sets it);
elsewhere it is skipped, as it takes minutes. Interpreters are looked for in pyenv's versions
folder, among uv's installed Pythons and on PATH (``python3.XY``); a machine with none besides
the running one skips it and says so.

The oldest and the newest Python found run nearly all of it (what a newer Python removed, or an
older one lacks, shows at the ends): all but ``web``, ``catalog``, ``template`` and ``argo``,
layers of our own over HTTP pages, SQL, file templates and YAML whose behaviour the language
version does not change (a third of the time, measured: 105 of 288 s on Python 3.13), and
which the interpreter running the suite tests in full. A Python between them runs the parts
that follow the language itself: ``tests/unit/core`` (code fingerprints read the ``ast`` of
each version, identity, records), ``compat`` (libcst rewrites), ``formats`` and the pins. The
CI budget (20 minutes on two cores) has no room for more. ``TASUKI_ALL_PYTHONS=full`` runs all
of it on every Python. The inner pytest runs in one process (``-p no:xdist``): the outer run
already keeps both cores busy, and a controller with one worker cost 14 % more (measured).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FULL = os.environ.get("TASUKI_ALL_PYTHONS") == "full"
ENABLED = (
    FULL
    or os.environ.get("CI", "").lower() in ("1", "true", "yes")
    or (os.environ.get("TASUKI_ALL_PYTHONS") == "1")
)
PINS = ["tests/test_public_api.py", "tests/test_packaging.py"]
INNER = ["tests/unit", *PINS]
# What the oldest and the newest Python leave out (see the module doc).
LEFT_AT_THE_ENDS = ["web", "catalog", "template", "argo"]
ENDS = [*INNER, *(f"--ignore=tests/unit/{name}" for name in LEFT_AT_THE_ENDS)]
# What a Python between the oldest and the newest runs (see the module doc).
BETWEEN = ["tests/unit/core", "tests/unit/compat", "tests/unit/formats", *PINS]
SUITES = {"all": INNER, "most": ENDS, "core": BETWEEN}
INNER_TIMEOUT_S = 900


def _minimum() -> tuple[int, int]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert match, f"requires-python {spec!r}: this test understands '>=3.N' only"
    return (3, int(match[1]))


def _uv() -> str | None:
    return shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")


def _candidates() -> dict[tuple[int, int], tuple[tuple[int, int, int], str]]:
    """The newest CPython found for each 3.N: {(3, N): ((3, N, patch), path)}."""
    seen: list[tuple[tuple[int, int, int], str]] = []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        for folder in pyenv.iterdir():
            # plain releases only: no 3.13t, 3.14-dev, pypy3.10, miniconda...
            match = re.fullmatch(r"3\.(\d+)\.(\d+)", folder.name)
            exe = folder / "bin" / "python3"
            if match and exe.is_file():
                seen.append(((3, int(match[1]), int(match[2])), str(exe)))
    uv = _uv()
    if uv:
        out = subprocess.run(
            [uv, "python", "list", "--only-installed", "--output-format", "json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        try:
            entries = json.loads(out.stdout) if out.returncode == 0 else []
        except json.JSONDecodeError:
            entries = []
        for entry in entries:
            parts = entry.get("version_parts") or {}
            if (
                entry.get("implementation") == "cpython"
                and entry.get("variant", "default") == "default"
                and parts.get("major") == 3
                and "/shims/" not in entry.get("path", "")  # pyenv's shims may not resolve
            ):
                seen.append(((3, parts["minor"], parts["patch"]), entry["path"]))
    for minor in range(_minimum()[1], 30):
        exe = shutil.which(f"python3.{minor}")
        if exe and "/shims/" not in exe:
            seen.append(((3, minor, -1), exe))  # patch unknown: any other find wins
    best: dict[tuple[int, int], tuple[tuple[int, int, int], str]] = {}
    for version, path in seen:
        key = version[:2]
        if key not in best or version > best[key][0]:
            best[key] = (version, path)
    return best


def _others() -> list[tuple[tuple[int, int, int], str]]:
    if not ENABLED:
        return []
    current = sys.version_info[:2]
    return [
        found
        for key, found in sorted(_candidates().items())
        if key >= _minimum() and key != current
    ]


def _suite_for(minor: tuple[int, int]) -> str:
    """Which part of the tests runs under Python ``minor`` (a key of :data:`SUITES`): nearly
    all at the ends of the versions tested (this one included), the language-bound parts
    between them (see the module doc)."""
    tested = [found[0][:2] for found in OTHERS] + [sys.version_info[:2]]
    if FULL:
        return "all"
    return "most" if minor in (min(tested), max(tested)) else "core"


OTHERS = _others()


def _params() -> list[object]:
    if not ENABLED:
        reason = "other Pythons run in CI, or with TASUKI_ALL_PYTHONS=1 (minutes each)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="off")]
    if not OTHERS:
        here = ".".join(map(str, sys.version_info[:2]))
        reason = (
            f"no Python >= {'.'.join(map(str, _minimum()))} besides {here} on this machine "
            "(looked in pyenv, uv and PATH): only this one was tested"
        )
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="none")]
    return [
        pytest.param(
            found,
            id=f"py3.{found[0][1]}-{_suite_for(found[0][:2])}",
        )
        for found in OTHERS
    ]


def _run(args: list[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{output[-12000:]}"
    return output


def _minor_version_of(python: Path) -> tuple[int, ...] | None:
    if not python.is_file():
        return None
    done = subprocess.run(
        [str(python), "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return tuple(map(int, done.stdout.split())) if done.returncode == 0 else None


@pytest.mark.slow
@pytest.mark.timeout(INNER_TIMEOUT_S + 600)
@pytest.mark.parametrize("found", _params())
def test_unit_tests_pass_on_another_python(found: tuple[tuple[int, int, int], str]) -> None:
    version, interpreter = found
    uv = _uv()
    assert uv, "uv is needed to make the environments (the README's command installs it)"
    venv = ROOT / f".venv-py{version[0]}{version[1]}"
    python = venv / "bin" / "python"
    if _minor_version_of(python) != version[:2]:  # missing, broken, or another Python's
        _run([uv, "venv", "--clear", "-q", "--python", interpreter, str(venv)], timeout=300)
    # Not --compile-bytecode (as the README's command): these unit tests start few
    # interpreters, and compiling every installed package cost more than it saved (measured).
    install = [uv, "pip", "install", "-q", "--python", str(python)]
    _run([*install, "-e", ".[dev]"], timeout=900)
    # As the README's command: MovieLens-100k from recbole's wheel, without torch and ray.
    _run([*install, "--no-deps", "recbole==1.2.1"], timeout=300)
    # tasuki's own modules, for the interpreters these tests start (the README's command
    # compiles them for the Python that runs it; each version has its own files).
    _run([str(python), "-m", "compileall", "-q", "src"], timeout=300)
    # The inner pytest must not think it is an xdist worker or a test of ours.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_"))}
    # The cache model's random sequences (a fresh interpreter per build, ~10 s each) test
    # tasuki's decisions, not the Python running them: the main run has them. (Not a
    # TASUKI_ variable: tasuki's settings would refuse an unknown key.)
    env.setdefault("CACHE_MODEL_SEEDS", "0")
    out = _run(
        [
            str(python),
            "-m",
            "pytest",
            *SUITES[_suite_for(version[:2])],
            "-q",
            "-x",
            "-p",
            "no:xdist",
        ],
        timeout=INNER_TIMEOUT_S,
        env=env,
    )
    assert re.search(r"\d+ passed", out), out[-4000:]
