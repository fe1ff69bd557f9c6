"""The run records of a local workspace, in one SQLite file: one file for all records.

A record written as its own file costs a file creation per task (temporary, then rename):
0.07-0.5 ms of kernel time on this machine's ext4 disk, more than tasuki's whole per-task
CPU, and twice the files a task's output needs. On a local folder the records live instead
in ``<workspace>/.tasuki/records.db``, one row per task (``uid`` -> the record's JSON, with
its state and what its run read in two more columns, which the cache check reads for a
whole graph without parsing a record), written by SQLite (in WAL mode) in one transaction
per record:

- **complete only when durable**: a row is committed after the task's outputs are written,
  as the record file was renamed into place after them; a process killed mid-commit leaves
  no row (SQLite drops a transaction whose WAL frames are incomplete, checksummed frame by
  frame), so the task is incomplete and runs again. ``synchronous = NORMAL`` keeps a commit
  against a killed process, like the unsynced rename before it; a workspace opened with
  ``fsync=True`` gets ``FULL`` (a commit survives power loss, as the fsynced files did);
- **concurrent builds and workers** append at once: SQLite serialises writers with its locks
  (``busy_timeout`` waits); readers never block writers (WAL);
- **forked workers** open their own connection (a connection must not cross a fork: the
  inherited one is kept open and unused, never closed in the child, where closing could
  checkpoint a database the parent is writing).

Not used where SQLite's locks do not hold: remote workspaces (``s3://``, ``gs://``,
``memory://``) and local folders on a network file system (NFS, SMB, FUSE: WAL needs shared
memory on one host) keep one file per record, and so does a workspace that already keeps
record files (made by an earlier version). A database that cannot be opened is an error,
never a reason to keep records elsewhere: two places would let a task run twice. The
database is made aside and linked into place whole, so builds starting together on a new
workspace cannot race to set it up.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

__all__ = ["DB_KEY", "RecordDB"]

logger = logging.getLogger(__name__)

DB_KEY = ".tasuki/records.db"
_CHECKPOINT_PAGES = 8000
_BUSY_TIMEOUT_S = 120.0  # a writer waits this long for another's commit (each takes ~30 us)


class RecordDB:
    """One workspace's record table, through this process's own connection.

    Args:
        path: The database file.
        durable: Commit with ``synchronous = FULL`` (survives power loss) instead of
            ``NORMAL`` (survives a killed process).

    Raises:
        sqlite3.Error: the database cannot be opened or created.
    """

    def __init__(self, path: str, *, durable: bool = False) -> None:
        import sqlite3  # ~1 ms: only a build on a local workspace needs it

        self.path = path
        # Reentrant: put(check=...) runs the check, which reads through this object, inside
        # the write's transaction.
        self._lock = threading.RLock()
        # Read-only (a teammate's results on a read-only mount, a folder this user may only
        # read): reading commands and load() work; nothing here is written.
        self.read_only = _read_only(path)
        # A snapshot of the file alone (SQLite's immutable mode): see _connect_read_only.
        self.snapshot = False
        self._con: sqlite3.Connection
        if self.read_only:
            self._con, self.snapshot = _connect_read_only(path)
            st = os.stat(path)
            self.identity = (st.st_dev, st.st_ino)
            return
        _create(path, durable)
        con = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            # Per connection, no lock needed (the file is in WAL mode and has its table).
            con.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            # A checkpoint syncs the files: every 8,000 pages (~32 MB of log) rather than
            # SQLite's 1,000, which on this disk made a record's cost grow with the build.
            con.execute(f"PRAGMA wal_autocheckpoint={_CHECKPOINT_PAGES}")
            con.execute(f"PRAGMA journal_size_limit={_CHECKPOINT_PAGES * 4096}")
        except Exception:
            con.close()
            raise
        self._con = con
        st = os.stat(path)
        self.identity = (st.st_dev, st.st_ino)

    def get(self, uid: str) -> bytes | None:
        """The record of ``uid`` as written, or None."""
        with self._lock:
            row = self._con.execute("SELECT body FROM records WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(
        self,
        uid: str,
        body: bytes,
        state: str | None = None,
        inputs: str | None = None,
        *,
        check: Callable[[], list[str]] | None = None,
    ) -> list[str]:
        """Write (or replace) the record of ``uid``; committed when this returns.

        ``state`` and ``inputs`` repeat two things the body says, in columns that the
        cache check reads for a whole graph without parsing bodies: the record's output
        state and ``uid=state`` pairs (``;``-separated) of what its run read (None: the
        record does not say, as an adopted one).

        ``check``, called inside the write's transaction (no other connection commits
        meanwhile; reads through this object see the records as they are), returns
        reasons not to write: then nothing is written and they are returned.
        """
        with self._lock:
            if check is not None:
                return self._put_checked(uid, body, state, inputs, check)
            try:
                self._con.execute(_PUT, (uid, body, state, inputs))
            except Exception as exc:
                if not _needs_columns(exc):
                    raise
                self._add_columns()
                self._con.execute(_PUT, (uid, body, state, inputs))
        return []

    def _put_checked(
        self,
        uid: str,
        body: bytes,
        state: str | None,
        inputs: str | None,
        check: Callable[[], list[str]],
    ) -> list[str]:
        con = self._con
        con.execute("BEGIN IMMEDIATE")  # the write lock: no commit lands between both
        try:
            moved = check()
            if not moved:
                try:
                    con.execute(_PUT, (uid, body, state, inputs))
                except Exception as exc:
                    if not _needs_columns(exc):
                        raise
                    self._add_columns()  # (in this transaction: SQLite allows it)
                    con.execute(_PUT, (uid, body, state, inputs))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("ROLLBACK" if moved else "COMMIT")
        return moved

    def replace(self, uid: str, old: bytes, new: bytes) -> bool:
        """Write ``new`` as the record of ``uid`` only if its record is still ``old`` (a
        build that ran the task since keeps its own); whether it was written. The columns
        are kept: only what they do not repeat may differ between ``old`` and ``new``."""
        with self._lock:
            cursor = self._con.execute(
                "UPDATE records SET body = ? WHERE uid = ? AND body = ?", (new, uid, old)
            )
        return bool(cursor.rowcount)

    def states(self, uids: list[str]) -> list[tuple[str, str | None, str | None, bytes | None]]:
        """``(uid, state, inputs, body)`` of each record among ``uids`` that exists (and of
        others, when asking for most of the table reads all of it); the body only where the
        columns are empty (a row written before they were: parse it)."""
        with self._lock:
            try:
                return self._select_states(uids)
            except Exception as exc:
                if not _needs_columns(exc):
                    raise
                self._add_columns()
                return self._select_states(uids)

    def _select_states(
        self, uids: list[str]
    ) -> list[tuple[str, str | None, str | None, bytes | None]]:
        if len(uids) > _IN_LIMIT and 3 * len(uids) >= self._rows():
            # Most of the table: one scan (1.5 us a row) beats looking each id up in the
            # index (4-5 us a row, measured on 10,000 records).
            return self._con.execute(_STATES.format(where="1")).fetchall()
        found: list[tuple[str, str | None, str | None, bytes | None]] = []
        for start in range(0, len(uids), _IN_LIMIT):
            chunk = uids[start : start + _IN_LIMIT]
            sql = _STATES.format(where=f"uid IN ({','.join('?' * len(chunk))})")
            found.extend(self._con.execute(sql, chunk).fetchall())
        return found

    def _rows(self) -> int:
        """About how many records there are (the largest rowid: no count of the table)."""
        row = self._con.execute("SELECT max(rowid) FROM records").fetchone()
        return int(row[0] or 0)

    def _add_columns(self) -> None:
        """Give a database made before the state columns existed its two columns (once,
        by whichever process gets there first; the others find them there)."""
        for column in ("state", "inputs"):
            try:
                self._con.execute(f"ALTER TABLE records ADD COLUMN {column} TEXT")
            except Exception as exc:
                if "duplicate column" not in str(exc):
                    raise

    def delete(self, uid: str) -> None:
        """Remove the record of ``uid`` (nothing when there is none)."""
        with self._lock:
            self._con.execute("DELETE FROM records WHERE uid = ?", (uid,))

    def put_code(self, digest: str, text: bytes) -> None:
        """Keep the normalised code behind a fingerprint (``why`` shows its diff later)."""
        with self._lock:
            try:
                self._con.execute("INSERT OR IGNORE INTO code VALUES (?, ?)", (digest, text))
            except Exception as exc:
                if "no such table" not in str(exc):
                    raise
                # A database made before the table was: add it (once, by whoever is first).
                self._con.execute(_CODE_TABLE.replace("TABLE", "TABLE IF NOT EXISTS", 1))
                self._con.execute("INSERT OR IGNORE INTO code VALUES (?, ?)", (digest, text))

    def get_code(self, digest: str) -> bytes | None:
        """The code kept for ``digest``, or None."""
        with self._lock:
            try:
                row = self._con.execute(
                    "SELECT text FROM code WHERE digest = ?", (digest,)
                ).fetchone()
            except Exception as exc:
                if "no such table" not in str(exc):
                    raise
                return None
        return None if row is None else bytes(row[0])

    def uids(self, prefix: str = "") -> list[str]:
        """The ids of every record, or of those starting with ``prefix``, sorted."""
        with self._lock:
            if not prefix:
                rows = self._con.execute("SELECT uid FROM records ORDER BY uid").fetchall()
            else:
                # A range scan of the key: ids are lowercase hex, so prefix + "~" is above
                # every id that starts with the prefix.
                rows = self._con.execute(
                    "SELECT uid FROM records WHERE uid >= ? AND uid < ? ORDER BY uid",
                    (prefix, prefix + "~"),
                ).fetchall()
        return [str(r[0]) for r in rows]

    def items(self) -> list[tuple[str, bytes]]:
        """Every (uid, record) pair."""
        with self._lock:
            rows = self._con.execute("SELECT uid, body FROM records ORDER BY uid").fetchall()
        return [(str(u), bytes(b)) for u, b in rows]


class UnmergedLogError(OSError):
    """A read-only records database whose write-ahead log SQLite cannot read without writing."""


def _read_only(path: str) -> bool:
    """Whether the database at ``path`` exists and this process may not write it (its folder
    or the file: SQLite writes its log and index beside it)."""
    if not os.path.exists(path):
        return False  # made by _create, or an error naming the folder when it cannot be
    return not (os.access(os.path.dirname(path), os.W_OK) and os.access(path, os.W_OK))


def _connect_read_only(path: str) -> tuple[sqlite3.Connection, bool]:
    """A connection that reads the database at ``path`` and writes nothing, and whether it
    is a snapshot of the main file alone.

    Where a writer has the database open (its ``-shm`` index is there), SQLite reads through
    that index and sees every commit, the log's included. Where nobody has it open, a
    read-only open cannot make the index, so the file is read as immutable: exact, since a
    database nobody has open keeps everything in the main file (the last connection to close
    merges the log into it and removes it). A log left beside it (a build killed while the
    folder was writable) holds records the main file lacks: an error, never a read without
    them (tasks that were built would read as not built).
    """
    import sqlite3
    from urllib.parse import quote

    uri = f"file:{quote(path)}?mode=ro"
    kwargs: dict[str, Any] = {"uri": True, "isolation_level": None, "check_same_thread": False}
    try:
        con = sqlite3.connect(uri, timeout=_BUSY_TIMEOUT_S, **kwargs)
        con.execute("SELECT 1 FROM records LIMIT 1").fetchall()  # SQLite opens lazily
        return con, False
    except sqlite3.OperationalError:
        pass
    try:
        unmerged = os.path.getsize(path + "-wal") > 0
    except FileNotFoundError:
        unmerged = False
    if unmerged:
        raise UnmergedLogError(
            f"the workspace is read-only here and its records database has a log its last "
            f"writer did not merge ({path}-wal: a build stopped, or was running, when the "
            "folder became read-only); open the workspace once where it is writable (any "
            "tasuki command, such as `tasuki ls`) to merge it"
        )
    return sqlite3.connect(uri + "&immutable=1", **kwargs), True


def _create(path: str, durable: bool = False) -> None:
    """Make the database at ``path`` if there is none, whole or not at all.

    Two builds starting together on a new workspace must not race to set it up: switching a
    new file to WAL takes an exclusive lock, and SQLite may answer a second process "database
    is locked" at once instead of waiting (which once sent that process to keep its records
    elsewhere: a task ran twice). So the database is made under a temporary name, in WAL mode
    with its table, and linked into place only if nothing is there yet.

    The file is written in one piece from the image of an empty database made in memory
    (:func:`_empty_image`), not by SQLite switching a new file to WAL: that synced and made
    and removed a log and an index file, 3 ms of a one-task build's 8 on this disk (0.3 ms
    now).
    """
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}-{os.urandom(4).hex()}.new"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, _empty_image())
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic: fails if another process made it first
        except FileExistsError:
            pass
        else:
            if durable:
                _fsync_dir(os.path.dirname(path))
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


# Named columns: a database made before ``state`` and ``inputs`` existed answers "no column
# named state", and gets them (RecordDB._add_columns). A tasuki older than them fails to write
# here ("4 columns but 2 values") rather than write records without what they read.
_PUT = "INSERT OR REPLACE INTO records (uid, body, state, inputs) VALUES (?, ?, ?, ?)"
_STATES = (
    "SELECT uid, state, inputs, CASE WHEN state IS NULL THEN body END FROM records WHERE {where}"
)
_IN_LIMIT = 900  # bound parameters per statement (SQLite's default limit was 999)


def _needs_columns(exc: Exception) -> bool:
    text = str(exc)
    return "no column named state" in text or "no such column: state" in text


_IMAGE: list[bytes] = []
# The normalised code behind each fingerprint a record names (a file each, before: one more
# folder and file for every cold build of a new task class).
_CODE_TABLE = "CREATE TABLE code (digest TEXT PRIMARY KEY, text BLOB NOT NULL)"


def _empty_image() -> bytes:
    """The bytes of an empty records database in WAL mode.

    Made by SQLite itself in memory (``serialize``), then marked for WAL the way ``PRAGMA
    journal_mode=WAL`` marks a file: the file format's read and write versions (header
    bytes 18 and 19) set to 2, which is what makes every later connection use the log.
    """
    if not _IMAGE:
        import sqlite3

        con = sqlite3.connect(":memory:")
        try:
            # A rowid table: records (~1-2 KB) are appended in rowid order and only the index
            # is keyed by id; as a WITHOUT ROWID table keyed by random ids, each insert split
            # pages of whole records (twice the CPU per record, measured).
            con.execute(
                "CREATE TABLE records (uid TEXT PRIMARY KEY, body BLOB NOT NULL, "
                "state TEXT, inputs TEXT)"
            )
            con.execute(_CODE_TABLE)
            image = bytearray(con.serialize())
        finally:
            con.close()
        image[18] = image[19] = 2  # WAL (1: the rollback journal)
        _IMAGE.append(bytes(image))
    return _IMAGE[0]


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# (pid, path) -> the database of a workspace in this process; the pid keeps a forked child
# from using its parent's connection.
_OPEN: dict[tuple[int, str], RecordDB] = {}
_OPEN_LOCK = threading.Lock()
_INHERITED: list[Any] = []  # connections a forked child inherited: kept, never closed


def _after_fork_in_child() -> None:
    _INHERITED.extend(_OPEN.values())
    _OPEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def open_db(path: str, *, durable: bool) -> RecordDB:
    """This process's :class:`RecordDB` for ``path``, opened on first use, and again when
    the file was removed or replaced since (a workspace deleted and made anew in the same
    process: records written through the old connection would land in a deleted file)."""
    key = (os.getpid(), path)
    db = _OPEN.get(key)
    if db is not None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        # A snapshot is opened again for each use: a writer may have opened the database
        # since (a read-only mount of a folder a build writes elsewhere).
        if st is not None and (st.st_dev, st.st_ino) == db.identity and not db.snapshot:
            return db
    with _OPEN_LOCK:
        if _OPEN.get(key) is db:
            if db is not None and not db.snapshot:
                _INHERITED.append(db)  # stale: not closed (see the module docstring)
            # (a snapshot is left to be closed when unused: it reads, it never merges a log)
            db = _OPEN[key] = RecordDB(path, durable=durable)
        else:
            db = _OPEN[key]
    return db
