"""gc removes only files tasuki names; a user's own files in the workspace folder stay.

A workspace is often a folder people also keep things in: ``workspace = "data"`` beside the
raw exports, the project folder itself, a registry set inside it. gc used to count every
file that no record names as left by a stopped run and removed it with ``--delete``: the
raw exports, the project's sources, published dataset versions. A stopped run leaves what
tasuki names (``<stem>_<unique id>.<ext>``, a folder of parts under such a name); only
those are removed now, and the rest is listed as kept.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

import tasuki
from tasuki.cli import app_for
from tasuki.report.inventory import collect_garbage, named_by_tasuki, read_inventory
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskB

UID = "0123456789abcdef" * 4
OLD = time.time() - 7200


def _file(root: Path, key: str, data: bytes = b"x" * 10) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (OLD, OLD))
    return path


def test_files_tasuki_names_are_told_from_a_users_files() -> None:
    assert named_by_tasuki(f"mypkg/tasks/model_{UID}.pkl")
    assert named_by_tasuki(f"mypkg/tasks/frame_{UID}.csv.gz")
    assert named_by_tasuki(f"mypkg/tasks/parts_{UID}/part-00000.parquet")  # a folder target
    assert named_by_tasuki(f"__main__/out_{UID}")
    assert not named_by_tasuki("raw/export.csv")
    assert not named_by_tasuki("notes.txt")
    assert not named_by_tasuki(f"registry/blobs/{UID}")  # a content address, not a task's name
    assert not named_by_tasuki(f"mypkg/tasks/model_{UID[:-1]}.pkl")
    assert not named_by_tasuki(f"mypkg/tasks/model_{UID.upper()}.pkl")


def test_gc_keeps_a_users_files_and_removes_what_a_stopped_run_left(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    keep = TaskB(param="keep")
    tasuki.build(keep, workspace=str(ws), progress="off")
    raw = _file(ws, "raw/export.csv", b"id,v\n1,2\n")
    notes = _file(ws, "notes.txt")
    left = _file(ws, f"tests/unit/core/tasks_for_tests/stopped_{UID}.pkl")
    parts = _file(ws, f"tests/unit/core/tasks_for_tests/parts_{UID}/part-00000.parquet")
    store = open_store(str(ws))
    inv = read_inventory(store)
    assert sorted(inv.stray) == sorted(str(p.relative_to(ws)) for p in (left, parts)), (
        "only what tasuki names is left by a stopped run"
    )
    assert sorted(inv.other_files) == ["notes.txt", "raw/export.csv"]
    garbage = collect_garbage(store, [keep.unique_id], delete=True, keep_newer_than=0)
    assert not left.exists() and not parts.exists()
    assert raw.read_bytes() == b"id,v\n1,2\n" and notes.exists()
    assert garbage.other_files == ["notes.txt", "raw/export.csv"]
    assert "raw/export.csv" not in garbage.removed
    assert tasuki.load(keep, workspace=str(ws)) == "hello keep!!"


def test_the_commands_say_which_files_they_leave_alone(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    keep = TaskB(param="keep")
    tasuki.build(keep, workspace=str(ws), progress="off")
    _file(ws, "raw/export.csv")
    runner = CliRunner()
    done = runner.invoke(
        app_for(["gc"]), ["gc", keep.unique_id, "-w", str(ws), "--keep-newer-than", "0", "--delete"]
    )
    assert done.exit_code == 0, done.output
    assert "raw/export.csv" not in [
        line.split()[-1] for line in done.output.splitlines() if line.startswith("removed ")
    ]
    assert "kept 1 files tasuki did not write" in done.output
    assert "raw/export.csv" in done.output
    assert (ws / "raw/export.csv").exists()
    listed = runner.invoke(app_for(["ls"]), ["ls", "-w", str(ws), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.stdout)
    assert body["stray"] == [] and body["other_files"] == ["raw/export.csv"]
