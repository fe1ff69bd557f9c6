"""A script that loads a Parquet output exits 0.

pyarrow pre-buffers a Parquet file read from a Python file object on its I/O threads, which
may still be alive when the interpreter exits: about a third of the processes that loaded a
small Parquet output (read into memory, then decoded) ended in SIGABRT ("terminate called
without an active exception", apache/arrow#34314) once their work was done: a notebook
script, a CI job, an Argo step marked failed after its record was written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

import tasuki

LOAD = """
import sys
import tasuki
from tests.unit.formats.test_parquet_exit import Frame
print(len(tasuki.load(Frame(), workspace=sys.argv[1])))
"""


class Frame(tasuki.Task):
    def output(self) -> tasuki.FileTarget:
        return self.make_target("frame.parquet")

    def run(self) -> None:
        self.dump(pd.DataFrame({"item": [f"i{i}" for i in range(50)], "n": range(50)}))


def test_processes_that_load_a_parquet_output_exit_cleanly(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    tasuki.build(Frame(), workspace=ws, progress="off")
    failures = []
    for _ in range(20):  # one after the other: the crash needs a quick exit
        run = subprocess.run(
            [sys.executable, "-c", LOAD, ws],
            cwd=Path(__file__).parents[3],
            env={**os.environ, "TASUKI_CODE_CACHE": "off"},  # nothing shared with other tests
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode != 0 or run.stdout.strip() == "50"
        if run.returncode != 0:
            failures.append((run.returncode, run.stderr[-200:]))
    assert failures == []
