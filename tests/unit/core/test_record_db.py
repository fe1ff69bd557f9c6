"""Run records of a local workspace live in one SQLite file: what that must keep true.

A record is complete only when committed; a process killed while writing leaves no partial
record; concurrent writers lose nothing; a write-ahead log cut short loses only what was not
committed whole; workspaces where SQLite's locks do not hold keep one file per record."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tasuki
import tasuki.core.records as records
from tasuki.core._record_db import DB_KEY
from tasuki.core.records import (
    RECORDS_PREFIX,
    RunRecord,
    delete_record,
    find_record,
    record_ids,
    records_db,
)
from tasuki.errors import WorkspaceUnreachableError
from tasuki.storage import open_store

ROOT = Path(__file__).resolve().parents[3]


class Step(tasuki.Task):
    """Step n of a chain: n + 1 tasks, one small output each."""

    n: int

    def requires(self):  # type: ignore[no-untyped-def]
        return Step(n=self.n - 1) if self.n > 0 else None

    def output(self):  # type: ignore[no-untyped-def]
        return self.make_target("step.pkl")

    def run(self) -> None:
        self.dump(self.n)


def _record(uid: str, n: int = 0) -> RunRecord:
    return RunRecord(
        unique_id=uid,
        task="pkg:T",
        params={"n": n, "pad": "x" * 300},
        significant=["n"],
        version=None,
        requires=[],
        outputs=[],
        code_fingerprint="f" * 64,
        status="done",
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00",
        duration_s=1.0,
    )


def _uid(i: int, tag: str = "a") -> str:
    return f"{tag}{i:063x}"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_a_build_creates_one_file_per_task_and_keeps_records_in_the_database(tmp_path):
    ws = tmp_path / "ws"
    tasuki.build(Step(n=9), workspace=str(ws), progress="off")  # 10 tasks
    first = len(_files(ws))
    tasuki.build(Step(n=29), workspace=str(ws), progress="off")  # 20 more
    assert len(_files(ws)) - first == 20  # their outputs only: no record files
    assert not (ws / RECORDS_PREFIX).exists()
    assert (ws / DB_KEY).is_file()
    store = open_store(str(ws))
    assert len(record_ids(store)) == 30
    assert find_record(store, Step(n=29).unique_id[:10]).task.endswith(":Step")
    # A second process (another connection) sees them all: they are committed.
    code = (
        "import sys; from tasuki.core.records import record_ids; "
        "from tasuki.storage import open_store; print(len(record_ids(open_store(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ws)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "30"


def test_delete_makes_the_task_incomplete_and_gc_names_the_record(tmp_path):
    ws = str(tmp_path / "ws")
    tasuki.build(Step(n=1), workspace=ws, progress="off")
    store = open_store(ws)
    delete_record(store, Step(n=1).unique_id)
    with pytest.raises(FileNotFoundError):
        RunRecord.read(store, Step(n=1).unique_id)
    result = tasuki.build(Step(n=1), workspace=ws, progress="off", return_value=False)
    assert result.counts()["ran"] == 1


CHILD_WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from tasuki.storage import open_store
    from tests.unit.core.test_record_db import _record, _uid
    store = open_store(sys.argv[1])
    tag = sys.argv[2]
    for i in range(100000):
        _record(_uid(i, tag), i).write(store)
        print(i, flush=True)
    """
)


def _writer(ws: Path, tag: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_WRITER, str(ws), tag, str(ROOT)],
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("after", [0.3, 0.7])
def test_kill_9_while_writing_records_leaves_only_whole_committed_ones(tmp_path, after):
    ws = tmp_path / "ws"
    proc = _writer(ws, "a")
    time.sleep(after)
    acknowledged = -1
    assert proc.stdout is not None
    while acknowledged < 50:  # let it write for a while
        acknowledged = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = open_store(str(ws))
    uids = record_ids(store)
    assert len(uids) >= acknowledged + 1  # every write that returned is there
    for uid in uids:  # and every record there is whole
        assert RunRecord.read(store, uid).unique_id == uid


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    ws = tmp_path / "ws"
    open_store(str(ws))  # nothing to create up front: both race to create the database
    procs = [_writer(ws, tag) for tag in ("b", "c")]
    seen = {}
    for tag, proc in zip(("b", "c"), procs, strict=True):
        assert proc.stdout is not None
        n = -1
        while n < 300:
            n = int(proc.stdout.readline())
        seen[tag] = n
    for proc in procs:
        proc.kill()
        proc.wait()
    uids = set(record_ids(open_store(str(ws))))
    for tag, n in seen.items():
        assert {_uid(i, tag) for i in range(n + 1)} <= uids


def test_a_write_ahead_log_cut_short_keeps_what_was_committed_whole(tmp_path):
    ws = tmp_path / "ws"
    store = open_store(str(ws))
    for i in range(5):
        _record(_uid(i)).write(store)
    db_path = ws / DB_KEY
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the first five are in the main file
    con.close()
    for i in range(5, 10):
        _record(_uid(i)).write(store)
    # A copy of the workspace as a crash would leave it: the log holds five commits; cut the
    # last one in the middle of its frame.
    crash = tmp_path / "crash"
    shutil.copytree(ws, crash)
    wal = crash / (DB_KEY + "-wal")
    size = wal.stat().st_size
    assert size > 0
    with open(wal, "r+b") as f:
        f.truncate(size - 1000)
    (crash / (DB_KEY + "-shm")).unlink(missing_ok=True)
    copy = open_store(str(crash))
    uids = record_ids(copy)
    assert {_uid(i) for i in range(9)} <= set(uids)  # committed whole: kept
    assert _uid(9) not in uids  # cut short: gone, not half there
    for uid in uids:
        assert RunRecord.read(copy, uid).unique_id == uid


def test_a_workspace_that_keeps_record_files_keeps_them(tmp_path):
    ws = tmp_path / "ws"
    (ws / RECORDS_PREFIX).mkdir(parents=True)  # made by an earlier version
    tasuki.build(Step(n=2), workspace=str(ws), progress="off")
    assert not (ws / DB_KEY).exists()
    names = sorted(p.name for p in (ws / RECORDS_PREFIX).iterdir())
    assert names == sorted(f"{Step(n=i).unique_id}.json" for i in range(3))
    assert len(record_ids(open_store(str(ws)))) == 3


def test_on_a_network_file_system_records_are_files(tmp_path, monkeypatch):
    import tasuki.storage._mounts as mounts

    monkeypatch.setattr(mounts, "network_file_system", lambda path, mountinfo=None: "nfs4")
    ws = tmp_path / "ws"
    tasuki.build(Step(n=1), workspace=str(ws), progress="off")
    assert not (ws / DB_KEY).exists()
    assert len(list((ws / RECORDS_PREFIX).iterdir())) == 2


def test_a_database_seen_over_a_network_file_system_is_refused_by_name(tmp_path, monkeypatch):
    import tasuki.storage._mounts as mounts

    ws = tmp_path / "ws"
    tasuki.build(Step(n=0), workspace=str(ws), progress="off")  # on the local disk
    records._DB_OF.clear()  # as another host would meet it
    monkeypatch.setattr(mounts, "network_file_system", lambda path, mountinfo=None: "nfs4")
    with pytest.raises(WorkspaceUnreachableError, match=r"nfs4.*records\.db.*SQLite"):
        records_db(open_store(str(ws)))


def test_a_database_that_cannot_be_opened_is_an_error_not_files(tmp_path):
    from tasuki.errors import StorageError

    ws = tmp_path / "ws"
    (ws / DB_KEY).mkdir(parents=True)  # cannot be opened as a database, even by root
    store = open_store(str(ws))
    # Records kept as files here while another process uses the database would let a task
    # run twice: refused, naming the file.
    with pytest.raises(StorageError, match=r"records\.db"):
        records_db(store)
    with pytest.raises(StorageError):
        _record(_uid(1)).write(store)
    assert not (ws / RECORDS_PREFIX).exists()


CHILD_OPENER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from tasuki.storage import open_store
    from tests.unit.core.test_record_db import _record, _uid
    store = open_store(sys.argv[1])
    for i in range(20):
        _record(_uid(i, sys.argv[2]), i).write(store)
    """
)


def test_processes_starting_together_on_a_new_workspace_share_one_database(tmp_path):
    """Setting up a new database must not race: a process told "database is locked" while
    another switched the new file to WAL used to keep its records as files, and a task ran
    twice (test_concurrency's two builds failed 2-4 runs in 10). The database now appears
    whole (made aside, linked into place) and an open that fails is an error."""
    ws = tmp_path / "ws"
    tags = "bcdefg"
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD_OPENER, str(ws), tag, str(ROOT)])
        for tag in tags
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert not (ws / RECORDS_PREFIX).exists()
    uids = set(record_ids(open_store(str(ws))))
    assert uids == {_uid(i, tag) for tag in tags for i in range(20)}
    assert not [p for p in (ws / ".tasuki").iterdir() if p.name.endswith(".new")]


def test_a_workspace_deleted_and_made_again_gets_a_fresh_database(tmp_path):
    ws = tmp_path / "ws"
    tasuki.build(Step(n=0), workspace=str(ws), progress="off")
    shutil.rmtree(ws)
    tasuki.build(Step(n=1), workspace=str(ws), progress="off")
    code = (
        "import sys; from tasuki.core.records import record_ids; "
        "from tasuki.storage import open_store; print(len(record_ids(open_store(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ws)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "2"  # written to the new file, not the deleted one


def test_a_commit_by_another_connection_is_seen_by_the_next_read(tmp_path):
    """Each read is its own transaction: a connection that read before must not keep an
    old snapshot (a statement left unreset kept one on Python 3.13, and a second build
    waiting for a lease then ran the task again)."""
    from tasuki.core._record_db import RecordDB

    path = str(tmp_path / "records.db")
    reader, writer = RecordDB(path), RecordDB(path)
    writer.put(_uid(1), b"{}")
    assert reader.get(_uid(1)) == b"{}"  # a read that returns a row
    assert reader.get(_uid(2)) is None
    assert reader.uids() == [_uid(1)]
    writer.put(_uid(2), b"{}")
    assert reader.get(_uid(2)) == b"{}"
    assert reader.uids() == [_uid(1), _uid(2)]
    assert [u for u, _ in reader.items()] == [_uid(1), _uid(2)]
    writer.put(_uid(3), b"{}")
    assert reader.get(_uid(3)) == b"{}"


def test_a_checked_put_writes_only_what_its_check_allows_with_no_commit_in_between(tmp_path):
    """``put(check=...)``: the check runs inside the write's transaction (another
    connection cannot commit until it ends, and reads through the same object work); a
    check that returns reasons, or raises, leaves nothing written and no transaction open."""
    from tasuki.core._record_db import RecordDB

    path = str(tmp_path / "records.db")
    db, other = RecordDB(path), RecordDB(path)
    other._con.execute("PRAGMA busy_timeout = 50")
    seen: list[object] = []

    def check() -> list[str]:
        seen.append(db.states([_uid(1)]))  # reads through the object holding the write
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.put(_uid(2), b"{}")  # no commit of another connection lands meanwhile
        return []

    assert db.put(_uid(1), b"{}", "c1", None, check=check) == []
    assert seen == [[]] and db.get(_uid(1)) == b"{}" and db.get(_uid(2)) is None
    assert db.put(_uid(3), b"{}", check=lambda: ["moved"]) == ["moved"]
    assert db.get(_uid(3)) is None

    def fails() -> list[str]:
        raise RuntimeError("check failed")

    with pytest.raises(RuntimeError, match="check failed"):
        db.put(_uid(4), b"{}", check=fails)
    assert db.get(_uid(4)) is None
    other.put(_uid(2), b"{}")  # nothing left open: the other connection writes again
    assert db.put(_uid(5), b"{}") == [] and db.get(_uid(5)) == b"{}"


def test_a_new_database_is_whole_in_wal_mode_and_leaves_no_temporary_files(tmp_path):
    import sqlite3

    from tasuki.core._record_db import open_db

    path = str(tmp_path / "ws" / DB_KEY)
    db = open_db(path, durable=True)
    db.put(_uid(1), b"{}")
    assert db.get(_uid(1)) == b"{}"
    con = sqlite3.connect(path, isolation_level=None)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT uid FROM records").fetchall() == [(_uid(1),)]
    finally:
        con.close()
    left = sorted(p.name for p in (tmp_path / "ws" / DB_KEY).parent.iterdir())
    assert left == ["records.db", "records.db-shm", "records.db-wal"]


def test_the_code_behind_a_fingerprint_is_kept_in_the_database_not_a_file(tmp_path):
    from tasuki.core.code import code_of
    from tasuki.core.records import CODE_PREFIX, read_code

    ws = tmp_path / "ws"
    tasuki.build(Step(n=0), workspace=str(ws), progress="off")
    assert not (ws / CODE_PREFIX).exists()  # no folder and file per task class
    fp = code_of(Step)
    assert read_code(open_store(str(ws)), fp.digest) == fp.text
    # A workspace whose code texts are files (an earlier version) is still read.
    (ws / CODE_PREFIX).mkdir(parents=True)
    (ws / CODE_PREFIX / "0123456789abcdef.txt").write_text("class Old: pass")
    assert read_code(open_store(str(ws)), "0123456789abcdef") == "class Old: pass"
