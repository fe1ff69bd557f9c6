"""Queries over a workspace's run records for the runs pages: lists, builds, graphs.

Records are kept for lookup by unique id (``tasuki.core.records``): ``uid -> JSON`` in
``.tasuki/records.db``, with no index on task, status, time or build. Each app process
keeps a summary index of its own in an in-memory SQLite database (:class:`RunIndex`): the
fields a list shows and the ``requires`` edges, indexed by time, family, status and build.

It follows the records database incrementally: ``PRAGMA data_version`` says whether anything
was committed since the last look, and a rewritten record is deleted and inserted again (a
new rowid), so a refresh reads rows from the last seen rowid on; a count that does not match
after that (records deleted by ``tasuki gc``) makes it compare the ``(rowid, uid)`` list
once. Workspaces that keep records as files (remote, network file systems) have no such
signal: their index is rebuilt from every record at most every :data:`FILE_TTL_S`.

A build is what ``BuildResult.build_id`` names (``20261206T001749055Z-e6e2654a``), written
into every record the build produced. A record holds the *last* run of its task only, so a
build shows the tasks whose latest run it was; tasks it reused from the cache, or that a
later build ran again, appear as upstream nodes outside it.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki.core.records import read_records, records_db

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tasuki.storage.base import Store

__all__ = [
    "FILE_TTL_S",
    "BuildRow",
    "FamilyEdge",
    "FamilyRow",
    "Page",
    "RunIndex",
    "RunRow",
    "family_name",
    "run_index",
]

logger = logging.getLogger(__name__)

FILE_TTL_S = 15.0  # how old the index of a file-kept workspace may get before a reread

_SCHEMA = """
CREATE TABLE runs (
    uid TEXT PRIMARY KEY, task TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL, duration_s REAL NOT NULL, build_id TEXT, src_rowid INTEGER);
CREATE INDEX runs_started ON runs (started_at DESC);
CREATE INDEX runs_task ON runs (task, started_at DESC);
CREATE INDEX runs_status ON runs (status, started_at DESC);
CREATE INDEX runs_build ON runs (build_id, started_at);
CREATE TABLE edges (dst TEXT NOT NULL, src TEXT NOT NULL, PRIMARY KEY (dst, src)) WITHOUT ROWID;
CREATE INDEX edges_src ON edges (src);
"""
_COLUMNS = "uid, task, status, started_at, finished_at, duration_s, build_id"
# The fields a list needs, read by SQLite's JSON functions (3x faster than parsing each
# record in Python: 10,000 records in ~0.15 s). Records without a status predate failed
# runs and are done (as RunRecord.from_bytes reads them); malformed JSON is skipped.
_EXTRACT = """
SELECT rowid, uid, json_extract(b, '$.task'), coalesce(json_extract(b, '$.status'), 'done'),
    json_extract(b, '$.started_at'), json_extract(b, '$.finished_at'),
    json_extract(b, '$.duration_s'), json_extract(b, '$.build_id'), json_extract(b, '$.requires')
FROM (SELECT rowid, uid, CAST(body AS TEXT) AS b FROM records WHERE {where})
WHERE json_valid(b)
"""


def family_name(task: str) -> str:
    """The class name shown for a recorded task name (``pkg.models:TrainSVD`` -> ``TrainSVD``)."""
    return task.rpartition(":")[2] or task


@dataclass(frozen=True)
class RunRow:
    """One recorded task run, as lists and graphs show it."""

    uid: str
    task: str
    status: str
    started_at: str
    finished_at: str
    duration_s: float
    build_id: str | None

    @property
    def family(self) -> str:
        """The task's class name."""
        return family_name(self.task)


@dataclass(frozen=True)
class BuildRow:
    """One build: when it ran and how many of its task runs are still the latest."""

    build_id: str
    started_at: str
    finished_at: str
    tasks: int
    failed: int


@dataclass(frozen=True)
class FamilyRow:
    """The runs of one task family in one build, summarised."""

    task: str
    count: int
    failed: int
    started_at: str
    finished_at: str

    @property
    def family(self) -> str:
        """The task's class name."""
        return family_name(self.task)


@dataclass(frozen=True)
class FamilyEdge:
    """``count`` dependencies from runs of ``src`` to runs of ``dst``."""

    src: str
    dst: str
    count: int


@dataclass(frozen=True)
class Page:
    """One page of a list: ``rows`` from ``offset``, of ``total`` matching rows."""

    rows: list[Any]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, or None on the last one."""
        return self.offset + self.limit if self.offset + self.limit < self.total else None

    @property
    def prev_offset(self) -> int | None:
        """The offset of the previous page, or None on the first one."""
        return max(0, self.offset - self.limit) if self.offset > 0 else None


class RunIndex:
    """The summary index of one workspace's run records (see the module docstring).

    Args:
        store: The workspace. Its records database is read through a read-only connection
            of this index's own, never through the one builds write with.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._con = sqlite3.connect(":memory:", check_same_thread=False)
        self._con.executescript(_SCHEMA)
        db = records_db(store)
        self._source: sqlite3.Connection | None = None
        self._path = None if db is None else db.path
        self._identity: tuple[int, int] | None = None
        if self._path is not None:
            self._open_source(self._path)
        self._data_version: int | None = None
        self._last_rowid = 0
        # Build summaries (a 10,000-run build takes ~40 ms to summarise) are kept until the
        # records change: finished builds are what people look at, and they do not change.
        self._generation = 0
        self._memo: dict[tuple[str, str], tuple[int, Any]] = {}
        self._loaded_at = float("-inf")

    # -- keeping up with the records --------------------------------------------------------

    def _open_source(self, path: str) -> None:
        if self._source is not None:
            self._source.close()
        self._source = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10
        )
        st = os.stat(path)
        self._identity = (st.st_dev, st.st_ino)

    def _replaced(self) -> bool:
        """Whether the records database was removed and made anew (a workspace reset)."""
        assert self._path is not None
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) != self._identity

    def refresh(self) -> None:
        """Take in what was recorded since the last call (cheap when nothing was)."""
        with self._lock:
            if self._source is None:
                if time.monotonic() - self._loaded_at >= FILE_TTL_S:
                    self._reload_files()
                return
            if self._replaced():
                assert self._path is not None
                self._open_source(self._path)
                self._con.execute("DELETE FROM runs")
                self._con.execute("DELETE FROM edges")
                self._data_version = None
                self._last_rowid = 0
            assert self._source is not None
            version = int(self._source.execute("PRAGMA data_version").fetchone()[0])
            if version == self._data_version:
                return
            # The row at the last seen rowid is read again: a task rewritten while its
            # record was the newest row gets the same rowid back.
            self._take(
                self._source.execute(_EXTRACT.format(where="rowid >= ?"), (self._last_rowid,))
            )
            total = int(self._source.execute("SELECT count(*) FROM records").fetchone()[0])
            mine = int(self._con.execute("SELECT count(*) FROM runs").fetchone()[0])
            if total != mine:
                self._reconcile()
            self._con.commit()
            self._data_version = version
            self._generation += 1

    def _take(self, rows: Iterable[tuple[Any, ...]]) -> None:
        runs: list[tuple[Any, ...]] = []
        edges: list[tuple[str, str]] = []
        for rowid, uid, task, status, started, finished, duration, build_id, requires in rows:
            if None in (task, started, finished, duration):
                logger.debug("runs index: skipping the unreadable record of %s", uid)
                continue
            try:
                upstream = [str(u) for u in json.loads(requires or "[]")]
            except (ValueError, TypeError):
                upstream = []
            runs.append((uid, task, status, started, finished, float(duration), build_id, rowid))
            edges.extend((uid, src) for src in upstream)
            self._last_rowid = max(self._last_rowid, int(rowid))
        self._put(runs, edges)

    def _reconcile(self) -> None:
        """Match the index to the records' ``(rowid, uid)`` list (deletions, reused rowids)."""
        assert self._source is not None
        there = dict(self._source.execute("SELECT uid, rowid FROM records").fetchall())
        here = dict(self._con.execute("SELECT uid, src_rowid FROM runs").fetchall())
        gone = [(uid,) for uid in here if uid not in there]
        self._con.executemany("DELETE FROM runs WHERE uid = ?", gone)
        self._con.executemany("DELETE FROM edges WHERE dst = ?", gone)
        stale = [rowid for uid, rowid in there.items() if here.get(uid) != rowid]
        for start in range(0, len(stale), 500):
            chunk = stale[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self._take(self._source.execute(_EXTRACT.format(where=f"rowid IN ({marks})"), chunk))

    def _reload_files(self) -> None:
        self._con.execute("DELETE FROM runs")
        self._con.execute("DELETE FROM edges")
        runs: list[tuple[Any, ...]] = []
        edges: list[tuple[str, str]] = []
        for r in read_records(self.store):
            runs.append(
                (
                    r.unique_id,
                    r.task,
                    r.status,
                    r.started_at,
                    r.finished_at,
                    r.duration_s,
                    r.build_id,
                    None,
                )
            )
            edges.extend((r.unique_id, src) for src in r.requires)
        self._put(runs, edges)
        self._con.commit()
        self._loaded_at = time.monotonic()
        self._generation += 1

    def _put(self, runs: list[tuple[Any, ...]], edges: list[tuple[str, str]]) -> None:
        """Index records: ``runs`` rows hold :data:`_COLUMNS` and the source rowid,
        ``edges`` their ``(uid, upstream uid)`` pairs (all of them: old ones are replaced)."""
        self._con.executemany(
            f"INSERT OR REPLACE INTO runs ({_COLUMNS}, src_rowid) VALUES (?,?,?,?,?,?,?,?)", runs
        )
        self._con.executemany("DELETE FROM edges WHERE dst = ?", [(r[0],) for r in runs])
        self._con.executemany("INSERT OR IGNORE INTO edges VALUES (?, ?)", edges)

    # -- queries ----------------------------------------------------------------------------

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._con.execute(sql, args).fetchall()

    def _memoised(self, what: str, build_id: str, sql: str) -> list[Any]:
        """``sql`` run for one build, kept until the next change to the records."""
        key = (what, build_id)
        with self._lock:
            kept = self._memo.get(key)
            if kept is not None and kept[0] == self._generation:
                return list(kept[1])
            rows = self._con.execute(sql, (build_id,)).fetchall()
            if len(self._memo) > 256:  # a bound: old builds' summaries are cheap to redo
                self._memo.clear()
            self._memo[key] = (self._generation, rows)
            return list(rows)

    def runs(
        self,
        *,
        task: str | None = None,
        status: str | None = None,
        build_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page:
        """Task runs, newest first, filtered by task name, status and build; one page."""
        where, args = _where(task=task, status=status, build_id=build_id)
        total = self._all(f"SELECT count(*) FROM runs{where}", args)[0][0]
        rows = self._all(
            f"SELECT {_COLUMNS} FROM runs{where} ORDER BY started_at DESC, uid LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return Page([RunRow(*r) for r in rows], int(total), offset, limit)

    def tasks(self) -> list[tuple[str, int]]:
        """Every recorded task name with its number of records, by name."""
        return [
            (str(t), int(n))
            for t, n in self._all("SELECT task, count(*) FROM runs GROUP BY task ORDER BY task")
        ]

    def statuses(self) -> list[str]:
        """The statuses the records hold (``done``, ``failed``...)."""
        return [str(r[0]) for r in self._all("SELECT DISTINCT status FROM runs ORDER BY 1")]

    def builds(self, *, offset: int = 0, limit: int = 50) -> Page:
        """Builds, newest first (build ids start with their UTC start time)."""
        total = self._all("SELECT count(DISTINCT build_id) FROM runs")[0][0]
        rows = self._all(
            "SELECT build_id, min(started_at), max(finished_at), count(*), "
            "sum(status = 'failed') FROM runs WHERE build_id IS NOT NULL "
            "GROUP BY build_id ORDER BY build_id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return Page([BuildRow(*r) for r in rows], int(total), offset, limit)

    def build(self, build_id: str) -> BuildRow | None:
        """The summary of one build, or None when no record names it."""
        rows = self._memoised(
            "build",
            build_id,
            "SELECT build_id, min(started_at), max(finished_at), count(*), "
            "sum(status = 'failed') FROM runs WHERE build_id = ? GROUP BY build_id",
        )
        return BuildRow(*rows[0]) if rows else None

    def run(self, uid: str) -> RunRow | None:
        """The index row of one record, or None."""
        rows = self._all(f"SELECT {_COLUMNS} FROM runs WHERE uid = ?", (uid,))
        return RunRow(*rows[0]) if rows else None

    def uids(self, prefix: str, limit: int = 2) -> list[str]:
        """Unique ids starting with ``prefix`` (at most ``limit``)."""
        rows = self._all(
            "SELECT uid FROM runs WHERE uid >= ? AND uid < ? ORDER BY uid LIMIT ?",
            (prefix, prefix + "~", limit),
        )
        return [str(r[0]) for r in rows]

    def families(self, build_id: str) -> list[FamilyRow]:
        """The task families of a build with counts and time spans, by first start."""
        rows = self._memoised(
            "families",
            build_id,
            "SELECT task, count(*), sum(status = 'failed'), min(started_at), max(finished_at) "
            "FROM runs WHERE build_id = ? GROUP BY task ORDER BY min(started_at)",
        )
        return [FamilyRow(*r) for r in rows]

    def family_edges(self, build_id: str) -> list[FamilyEdge]:
        """Dependencies between the families of a build's runs (upstream runs outside the
        build are grouped by their own family, or ``?`` without a record)."""
        rows = self._memoised(
            "family_edges",
            build_id,
            "SELECT coalesce(s.task, '?'), d.task, count(*) FROM runs d "
            "JOIN edges e ON e.dst = d.uid LEFT JOIN runs s ON s.uid = e.src "
            "WHERE d.build_id = ? GROUP BY 1, 2",
        )
        return [FamilyEdge(str(s), str(d), int(n)) for s, d, n in rows]

    def build_runs(
        self, build_id: str, *, task: str | None = None, limit: int = 10_000
    ) -> list[RunRow]:
        """The runs of a build (of one task family when ``task`` is given), by start."""
        where, args = _where(task=task, build_id=build_id)
        rows = self._all(
            f"SELECT {_COLUMNS} FROM runs{where} ORDER BY started_at, uid LIMIT ?", (*args, limit)
        )
        return [RunRow(*r) for r in rows]

    def _in(self, sql: str, ids: list[str], *, repeat: int = 1) -> list[Any]:
        """``sql`` run for ``ids`` 400 at a time, ``{marks}`` standing for their ``?``s."""
        out: list[Any] = []
        for start in range(0, len(ids), 400):
            chunk = ids[start : start + 400]
            out += self._all(sql.format(marks=",".join("?" * len(chunk))), tuple(chunk) * repeat)
        return out

    def edges_of(self, uids: list[str]) -> list[tuple[str, str]]:
        """``(upstream, downstream)`` pairs touching any of ``uids`` (either end)."""
        sql = "SELECT src, dst FROM edges WHERE dst IN ({marks}) OR src IN ({marks})"
        return sorted({(str(s), str(d)) for s, d in self._in(sql, uids, repeat=2)})

    def runs_of(self, uids: list[str]) -> dict[str, RunRow]:
        """The index rows of ``uids`` that have a record."""
        rows = self._in(f"SELECT {_COLUMNS} FROM runs WHERE uid IN ({{marks}})", uids)
        return {str(r[0]): RunRow(*r) for r in rows}


def _where(**filters: str | None) -> tuple[str, tuple[Any, ...]]:
    parts = [f"{name} = ?" for name, value in filters.items() if value]
    args = tuple(value for value in filters.values() if value)
    return (" WHERE " + " AND ".join(parts) if parts else ""), args


_INDEXES: dict[str, RunIndex] = {}
_INDEXES_LOCK = threading.Lock()


def run_index(store: Store) -> RunIndex:
    """The (refreshed) run index of ``store``, made on first use and kept for the process."""
    with _INDEXES_LOCK:
        index = _INDEXES.get(store.url)
        if index is None:
            index = _INDEXES[store.url] = RunIndex(store)
    index.refresh()
    return index
