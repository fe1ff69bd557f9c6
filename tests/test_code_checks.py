"""The code bar the project keeps, checked in CI like any behaviour: ``mypy --strict`` on
``src/``, ``ruff`` on everything Python, and import-linter's contracts (the layers of the
package and of ``core``). A change that breaks one of them fails the build here, not in a
later reader's checkout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_import_contracts_are_kept() -> None:
    code = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
    done = _run("-c", code)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_ruff_finds_nothing() -> None:
    done = _run("-m", "ruff", "check", "src", "tests", "benchmarks", "examples")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    formatted = _run("-m", "ruff", "format", "--check", "src", "tests", "benchmarks", "examples")
    assert formatted.returncode == 0, formatted.stdout[-4000:] + formatted.stderr[-2000:]


@pytest.mark.slow
def test_mypy_strict_on_src(tmp_path: Path) -> None:
    # A cache of its own: the repository's may belong to another mypy or another checkout.
    done = _run("-m", "mypy", "--cache-dir", str(tmp_path / "mypy"), "src")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
