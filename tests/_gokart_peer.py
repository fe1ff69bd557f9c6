"""The real gokart (1.12.2, luigi 3.8.1) in its own virtual environment, for side-by-side tests.

``gokart_python`` is a session fixture returning the peer interpreter
(``benchmarks/.venv-gokart/bin/python``), made with ``bash benchmarks/setup_peers.sh gokart``
when it is missing (idempotent, ~30 s with a warm pip cache). When it cannot be made the test
is skipped with the reason, unless TASUKI_REQUIRE_SERVICES=1 (CI), where it fails.

Use it in a test module with ``from tests._gokart_peer import gokart_python  # noqa: F401``
and run code there with :func:`run_peer`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PEER_PYTHON = REPO / "benchmarks" / ".venv-gokart" / "bin" / "python"
_PROBE = "import gokart, luigi; print(gokart.__version__ if hasattr(gokart, '__version__') else '')"


def _unavailable(reason: str) -> None:
    if os.environ.get("TASUKI_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (TASUKI_REQUIRE_SERVICES=1, so this fails instead of skipping)")
    pytest.skip(reason)


def _works(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def gokart_python() -> Path:
    """The interpreter of the peer gokart environment (made when missing)."""
    if _works(PEER_PYTHON):
        return PEER_PYTHON
    try:
        made = subprocess.run(
            ["bash", str(REPO / "benchmarks" / "setup_peers.sh"), "gokart"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"the peer gokart environment could not be made: {exc}")
    if made.returncode != 0 or not _works(PEER_PYTHON):
        _unavailable(
            "the peer gokart environment could not be made with `bash benchmarks/setup_peers.sh "
            f"gokart` (exit {made.returncode}): {made.stderr.strip()[-500:]}"
        )
    return PEER_PYTHON


def run_peer(python: Path, script: str, *, cwd: Path, timeout: float = 300) -> Any:
    """Run ``script`` with the peer interpreter in ``cwd`` (on ``sys.path``) and return the
    JSON its last stdout line holds; a failing script fails the test with its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASUKI_", "LUIGI_"))}
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONHASHSEED"] = "0"
    proc = subprocess.run(
        [str(python), "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"the gokart peer script failed (exit {proc.returncode}):\n{proc.stderr}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        pytest.fail(f"the gokart peer script printed nothing; stderr:\n{proc.stderr}")
    return json.loads(lines[-1])
