"""examples/from_gokart end to end, as a user runs it: gokart code on tasuki.compat, `why`,
then `tasuki upgrade-gokart` to typed tasks whose build finds everything already done."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_from_gokart_example(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "examples.from_gokart.run", "--folder", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout
    assert "1. gokart code on tasuki: accuracy " in lines and "max_depth=4" in lines  # param.ini
    assert "again: 0 ran" in lines
    assert "parameter 'max_depth': 4 -> 5" in lines
    assert "class TrainModel(tasuki.Task):" in lines and "max_depth: int = 3" in lines
    assert '[tasks."examples.from_gokart.pipeline:Report"] max_depth = 4' in lines
    assert "the typed pipeline (native/examples/from_gokart/pipeline.py): 0 ran" in lines
    converted = (tmp_path / "native/examples/from_gokart/pipeline.py").read_text()
    assert "tasuki.compat" not in converted and "luigi." not in converted
