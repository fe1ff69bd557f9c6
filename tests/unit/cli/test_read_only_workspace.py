"""A workspace this user may read but not write: a teammate's results on a read-only mount.

Every reading command and ``tasuki.load`` failed on one: the commands checked that the folder
was writable, and SQLite could not open a records database in WAL mode where it cannot make
its index file beside it ("unable to open database file"). They read it now, and see what a
build writing the same folder elsewhere commits; what builds stops with a message saying what
can be done with the workspace.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasuki
from tasuki.cli import app_for
from tasuki.core.records import RunRecord, records_db
from tasuki.errors import StorageError
from tasuki.storage import open_store
from tests._read_only import ReadOnly
from tests.unit.core.tasks_for_tests import TaskA, TaskB

M = "tests.unit.core.tasks_for_tests"


def _tasuki(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app_for(list(args)), list(args), catch_exceptions=False)
    return done.exit_code, done.output


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    ws = tmp_path / "ws"
    assert tasuki.build(TaskB(param="x"), workspace=ws) == "hello x!!"
    return ws


def test_load_and_load_output_read_a_read_only_workspace(built: Path, read_only: ReadOnly):
    view = read_only(built)
    assert tasuki.load(TaskB(param="x"), workspace=view) == "hello x!!"
    assert tasuki.load_output(TaskA(param="x").unique_id[:12], workspace=view) == "hello x"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ls"], "task_b_"),
        (["show", "{b}"], "task_b_"),
        (["verify"], "2 ok"),
        (["verify", f"{M}:TaskB", "--param", "x"], "2 ok"),
        (["tree", f"{M}:TaskB", "--param", "x"], "COMPLETE"),
        (["why", f"{M}:TaskB", "--param", "x"], "will not run"),
        (["lineage", "{b}"], "made from"),
        (["gc", "{a}", "--keep-newer-than", "0"], "would remove 2 files"),
    ],
    ids=lambda a: a[0] if isinstance(a, list) else None,
)
def test_reading_commands_read_a_read_only_workspace(
    built: Path, read_only: ReadOnly, args: list[str], says: str
):
    view = read_only(built)
    ids = {"a": TaskA(param="x").unique_id[:12], "b": TaskB(param="x").unique_id[:12]}
    code, out = _tasuki(*[a.format(**ids) for a in args], "--workspace", str(view))
    assert code == 0, out
    assert says in out


@pytest.mark.parametrize(
    "args",
    [["run", f"{M}:TaskB", "--param", "y"], ["gc", "{a}", "--delete"], ["rerun", "{a}"]],
    ids=lambda a: " ".join(a[:2]),
)
def test_what_writes_says_the_workspace_can_be_read_not_built_in(
    built: Path, read_only: ReadOnly, args: list[str]
):
    view = read_only(built)
    a = TaskA(param="x").unique_id[:12]
    code, out = _tasuki(*[x.format(a=a) for x in args], "--workspace", str(view))
    assert code == 2, out
    assert "is not writable" in out and "It can be read, not built in: `tasuki ls`" in out
    assert sorted(p.name for p in built.rglob("*.pkl")) == sorted(
        p.name for p in view.rglob("*.pkl")
    )  # nothing removed


def _in_another_process(code: str) -> None:
    """Run ``code`` in a fresh interpreter: its SQLite connections close when it exits."""
    repo = Path(__file__).resolve().parents[3]  # where `tests` imports from
    env = {**os.environ, "PYTHONPATH": str(repo)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def _add_record(ws: Path, uid: str) -> str:
    """Python code that copies TaskA's record under ``uid`` into ``ws``'s database."""
    return (
        "import sqlite3\n"
        f"con = sqlite3.connect({str(ws / '.tasuki' / 'records.db')!r}, isolation_level=None)\n"
        "body = con.execute('SELECT body FROM records LIMIT 1').fetchone()[0]\n"
        "con.execute('INSERT INTO records (uid, body, state, inputs) VALUES (?, ?, NULL, NULL)',"
        f" ({uid!r}, body))\n"
    )


def test_records_a_build_commits_elsewhere_are_seen(built: Path, read_only: ReadOnly):
    """A build writing the folder through a writable path while it is read here: with the
    build's connection open, the reader reads through SQLite's index and sees the commits
    still in the log."""
    view = read_only(built)
    reader = open_store(str(view))
    assert len(records_db(reader).uids()) == 2  # type: ignore[union-attr]
    writer = sqlite3.connect(built / ".tasuki" / "records.db", isolation_level=None)
    body = RunRecord.read(open_store(str(built)), TaskA(param="x").unique_id).to_bytes()
    writer.execute(
        "INSERT INTO records (uid, body, state, inputs) VALUES (?, ?, NULL, NULL)", ("f" * 64, body)
    )
    assert (built / ".tasuki" / "records.db-wal").stat().st_size > 0
    assert "f" * 64 in records_db(reader).uids()  # type: ignore[union-attr]  # from the log
    writer.close()


def test_a_snapshot_of_a_database_nobody_had_open_is_read_again(
    tmp_path: Path, read_only: ReadOnly
):
    """Nobody had the database open when the reader came (no index to read through): it read
    the file as immutable. A build that wrote there since, through a writable path, merged
    its records into the file when it closed: the reader opens it again for each read rather
    than keep the pages it held (it listed the records as they were)."""
    ws = tmp_path / "ws"
    _in_another_process(
        "import tasuki\n"
        f"from {M} import TaskB\n"
        f"tasuki.build(TaskB(param='x'), workspace={str(ws)!r}, progress='off')\n"
    )
    assert not (ws / ".tasuki" / "records.db-shm").exists()  # nobody has it open
    reader = open_store(str(read_only(ws)))
    assert len(records_db(reader).uids()) == 2  # type: ignore[union-attr]
    _in_another_process(_add_record(ws, "e" * 64))
    assert not (ws / ".tasuki" / "records.db-wal").exists()  # merged into the file
    assert "e" * 64 in records_db(reader).uids()  # type: ignore[union-attr]


def test_a_log_left_unmerged_is_an_error_not_records_missing(
    built: Path, tmp_path: Path, read_only: ReadOnly
):
    """A build killed while the folder was writable leaves records in the log; read-only,
    SQLite cannot use it, and the main file alone would say those tasks were never built."""
    copy = tmp_path / "copied"
    shutil.copytree(built, copy)
    writer = sqlite3.connect(built / ".tasuki" / "records.db", isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("DELETE FROM records")  # committed to the log only
    shutil.copy(built / ".tasuki" / "records.db-wal", copy / ".tasuki" / "records.db-wal")
    (copy / ".tasuki" / "records.db-shm").unlink(missing_ok=True)  # gone with its process
    writer.close()
    view = read_only(copy)
    with pytest.raises(StorageError, match="a log its last writer did not merge"):
        tasuki.load(TaskB(param="x"), workspace=view)
