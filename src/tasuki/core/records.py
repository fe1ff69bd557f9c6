"""Run records: one JSON document per task run, the cache's metadata.

Records live apart from the output bytes (hamilton keeps key -> metadata apart from
artifacts the same way): on a local folder in one SQLite file, ``.tasuki/records.db``, one
row per task (:mod:`tasuki.core._record_db`: no file created per record); on remote
workspaces and network file systems at ``<workspace>/.tasuki/records/<unique id>.json``.
Read and write them through :meth:`RunRecord.read`, :meth:`RunRecord.write`,
:func:`delete_record`, :func:`record_ids` and :func:`read_records`, never by key. The
record is what ``show``, ``why``, reproduce-by-id, notifications and the catalog read.

A run that finished writes ``status = "done"`` with its outputs; a run whose ``run()`` raised
(or left a declared output unwritten) writes ``status = "failed"`` with the error and the log
tail, and lists no outputs. A task is complete only when its record says ``done`` and every
output it lists exists: a failed record never makes a task look complete, and the next
successful run replaces it. Records written before tasuki wrote failures have no ``status``
key and read as ``done``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import xxhash

from tasuki._clock import utcnow
from tasuki.core._git import git_commit
from tasuki.core._record_db import DB_KEY, RecordDB, open_db
from tasuki.errors import OutputGoneError, RecordNotFoundError
from tasuki.storage._keys import host_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasuki.storage.base import Store

__all__ = [
    "CODE_PREFIX",
    "RECORDS_PREFIX",
    "RunRecord",
    "StateInfo",
    "amend_record",
    "delete_record",
    "environment",
    "expected_output",
    "find_record",
    "forget_outputs",
    "inputs_text",
    "read_code",
    "read_records",
    "read_states",
    "record_ids",
    "record_key",
    "remember_outputs",
    "save_code",
]

logger = logging.getLogger(__name__)

RECORDS_PREFIX = ".tasuki/records"
CODE_PREFIX = ".tasuki/code"
SCHEMA = "tasuki-record/1"


def record_key(uid: str) -> str:
    """Where the record of ``uid`` lives as a file (remote workspaces, network file systems,
    workspaces made before the records database; see :func:`records_db`), and its name in
    messages and ``tasuki gc`` listings wherever it is kept."""
    return f"{RECORDS_PREFIX}/{uid}.json"


# workspace url -> (database path, durable) of its records database, or None: records are
# files there.
_DB_OF: dict[str, tuple[str, bool] | None] = {}


def records_db(store: Store) -> RecordDB | None:
    """The records database of ``store``, or None where records are files.

    Files where SQLite's locks do not hold (a remote workspace, a local folder on a network
    file system) and in a workspace that already keeps files (made by an earlier version,
    or shared over a network: every host then keeps reading and writing the same files).

    Raises:
        StorageError: the database cannot be opened (never a silent switch to files).
        WorkspaceUnreachableError: the folder is on a network file system and holds a records
            database (made on the host that has the folder locally): SQLite cannot share it
            over the network, and keeping files here would split the workspace's records.
    """
    url = store.url
    if url in _DB_OF:
        found = _DB_OF[url]
        return None if found is None else open_db(found[0], durable=found[1])
    spec: tuple[str, bool] | None = None
    root = getattr(store, "root", None)
    if store.is_local and isinstance(root, str):
        from tasuki.storage._mounts import network_file_system

        path = os.path.join(root, DB_KEY)
        kind = network_file_system(root)
        if kind is not None:
            if os.path.exists(path):
                from tasuki.errors import WorkspaceUnreachableError

                raise WorkspaceUnreachableError(
                    f"the workspace {root} is on {kind} and keeps its run records in {path}, "
                    "a SQLite database, which cannot be shared over a network file system. "
                    "Run tasuki on the host that has the folder on a local disk, or use an "
                    "object store (s3://, gs://) as the workspace for several hosts.",
                    url=root,
                    file_system=kind,
                )
        elif not os.path.isdir(os.path.join(root, RECORDS_PREFIX)):
            spec = (path, bool(getattr(store, "fsync", False)))
    db = None
    if spec is not None:
        try:
            db = open_db(spec[0], durable=spec[1])
        except Exception as exc:
            # Never records elsewhere instead: another process may be using this database,
            # and records kept in two places would let a task run twice.
            from tasuki.errors import StorageError

            raise StorageError(
                f"cannot open the run records database {spec[0]} ({type(exc).__name__}: "
                f"{exc}); check that the workspace folder is writable and that the file is "
                "a tasuki records database (move a broken one aside: the tasks it recorded "
                "will run again)",
                path=spec[0],
            ) from exc
    _DB_OF[url] = spec
    return db


def delete_record(store: Store, uid: str) -> None:
    """Remove the record of ``uid`` (its task becomes incomplete); nothing when absent."""
    db = records_db(store)
    if db is not None:
        db.delete(uid)
        return
    try:
        store.remove(record_key(uid))
    except FileNotFoundError:
        pass


def record_ids(store: Store, prefix: str = "") -> list[str]:
    """The unique ids of every record in ``store`` (or those starting with ``prefix``)."""
    db = records_db(store)
    if db is not None:
        return db.uids(prefix)
    found: set[str] = set()
    for key in store.list(RECORDS_PREFIX):
        name = key.rsplit("/", 1)[-1]
        if name.endswith(".json") and name.startswith(prefix):
            found.add(name.removesuffix(".json"))
    return sorted(found)


def read_records(store: Store) -> Iterator[RunRecord]:
    """Every readable record of ``store`` (unreadable ones are skipped)."""
    db = records_db(store)
    if db is not None:
        for uid, body in db.items():
            try:
                yield RunRecord.from_bytes(body)
            except ValueError:
                logger.debug("skipping the unreadable record of %s", uid)
        return
    for key in store.list(RECORDS_PREFIX):
        if not key.endswith(".json"):
            continue
        try:
            yield RunRecord.from_bytes(store.read_bytes(key))
        except (FileNotFoundError, ValueError):
            continue


@dataclass
class RunRecord:
    """Everything tasuki remembers about the last run of one task (see the module docstring)."""

    unique_id: str
    task: str
    params: dict[str, Any]
    significant: list[str]
    version: str | None
    requires: list[str]
    outputs: list[dict[str, Any]]
    code_fingerprint: str
    status: str
    started_at: str
    finished_at: str
    duration_s: float
    task_log: dict[str, Any] = field(default_factory=dict)
    log_tail: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    code_key: str | None = None
    """The code of this task and of everything upstream, combined (``tasuki.core.code``);
    None in records written before tasuki recorded it."""
    schema: str = SCHEMA
    build_id: str | None = None
    """The build that wrote this record (``BuildResult.build_id``); None in older records."""
    error: dict[str, Any] | None = None
    """For ``status = "failed"``: ``type``, ``message``, ``traceback`` (redacted) and
    ``retryable`` of the error that ended the run; None for a done run."""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """What ``Task.log_metric`` logged during the run, in order: ``key``, ``value`` (a float,
    or ``"NaN"``, ``"Infinity"``, ``"-Infinity"``), ``step`` (int or None), ``timestamp``
    (ms since the epoch). Kept in failed runs too, and whether or not a tracker is on."""
    adopted: dict[str, Any] | None = None
    """Set when the outputs were not computed by tasuki but adopted from another tool's
    workspace (``tasuki adopt-gokart``): ``from`` (``"gokart"``), ``gokart_unique_id``,
    ``gokart_workspace`` and ``files`` (the source files). None for a run."""
    exact: dict[str, Any] = field(default_factory=dict)
    """Parameters whose annotation says ``Any`` somewhere, as the unique id encodes them
    (``{"$date": "2024-01-02"}``), when ``params`` cannot say their type (``Any`` given a
    date reads back as text): what ``tasuki rerun`` and ``load_output`` make the task from.
    Empty for most tasks, and in records written before tasuki kept it."""
    inputs: dict[str, str] | None = None
    """What the run read: the :attr:`state` of each task it required (by unique id) when it
    started, for those that had a record. A later build compares them with the records
    there now: an upstream that ran again since and made other bytes makes this output out
    of date. None in records written before tasuki kept it (nothing to compare: trusted)."""

    @property
    def state(self) -> str:
        """What a task that reads this run's outputs records about it (see :attr:`inputs`).

        The outputs' sizes and content hashes when every one has a hash, so a rerun that
        makes the same bytes changes nothing downstream; else (a folder, a table, a file
        written outside ``dump``) this run's own identity, so any rerun counts as a change.
        A run that did not finish has a state no finished run has.
        """
        return _state_of(self)

    @property
    def done(self) -> bool:
        """Whether this run finished (``status == "done"``); only such a record can make its
        task complete."""
        return self.status == "done"

    def to_bytes(self) -> bytes:
        """The JSON form written to the workspace."""
        # Not dataclasses.asdict: it deep-copies every nested value, a measurable cost per task.
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return _ENCODER.encode(doc).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RunRecord:
        """Parse a record; unknown keys from newer versions are kept out."""
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError(f"a run record is a JSON object, not {type(doc).__name__}")
        # Every record was "done" before failed runs were recorded.
        doc.setdefault("status", "done")
        known = cls.__dataclass_fields__
        if not all(k in known for k in doc):  # keys from a newer version are dropped
            doc = {k: v for k, v in doc.items() if k in known}
        try:
            return cls(**doc)
        except TypeError as exc:  # a field missing: not a record this version can read
            raise ValueError(f"not a readable run record: {exc}") from exc

    def write(self, store: Store, *, check: Callable[[], list[str]] | None = None) -> list[str]:
        """Write atomically (last step of a task: a ``done`` record is what marks it
        complete).

        ``check`` returns reasons not to write (nothing is written; they are returned):
        in a records database, called inside the write's transaction, so no record of
        another process lands between the check and the write; else just before it.
        """
        db = records_db(store)
        if db is None:
            moved = check() if check is not None else []
            if not moved:
                store.write_bytes(record_key(self.unique_id), self.to_bytes())
            return moved
        return db.put(
            self.unique_id, self.to_bytes(), self.state, inputs_text(self.inputs), check=check
        )

    @classmethod
    def read(cls, store: Store, uid: str) -> RunRecord:
        """Read the record of ``uid``; FileNotFoundError when absent."""
        db = records_db(store)
        if db is not None:
            body = db.get(uid)
            if body is None:
                raise FileNotFoundError(f"no run record of {uid} in {store.url}")
            return cls.from_bytes(body)
        return cls.from_bytes(store.read_bytes(record_key(uid)))


def _state_of(record: RunRecord) -> str:
    ident = f"{record.unique_id}|{record.build_id}|{record.started_at}|{record.finished_at}"
    if not record.done:
        return "f" + xxhash.xxh3_128_hexdigest(f"{record.status}|{ident}".encode())
    parts = []
    for out in record.outputs:
        digest = out.get("xxh3")
        if digest is None:
            return "r" + xxhash.xxh3_128_hexdigest(ident.encode())
        parts.append(f"{out.get('key')}\0{out.get('size')}\0{digest}")
    if not parts:
        return "r" + xxhash.xxh3_128_hexdigest(ident.encode())
    return "c" + xxhash.xxh3_128_hexdigest("\n".join(parts).encode())


#: What :func:`read_states` says of one record: its state, and what its run read as
#: :func:`inputs_text` writes it (None in a record that does not say: written before tasuki
#: kept it, or adopted).
StateInfo = tuple[str, str | None]


def inputs_text(inputs: dict[str, str] | None) -> str | None:
    """``uid=state`` pairs joined by ``;``, in the order the run listed them (its
    requirements' order): the form the records database keeps and the cache check compares
    whole, without making a dict per record."""
    if inputs is None:
        return None
    return ";".join(f"{uid}={state}" for uid, state in inputs.items())


def read_states(store: Store, uids: list[str]) -> dict[str, StateInfo]:
    """The :attr:`RunRecord.state` and :attr:`RunRecord.inputs` (as :func:`inputs_text`)
    of each of ``uids`` that has a readable record (absent ones are left out; others may be
    in: reading most of a records database reads it whole).

    From the records database's two columns where there is one (no record parsed: the cache
    check of a warm build reads every record below its roots); else from the record files,
    concurrently on a remote workspace.
    """
    found: dict[str, StateInfo] = {}
    if not uids:
        return found
    db = records_db(store)
    if db is not None:
        rows = db.states(uids)
        found = {uid: (state, inputs) for uid, state, inputs, _ in rows if state is not None}
        for uid, state, _, body in rows:
            if state is None:  # written before the columns: parse it
                try:
                    record = RunRecord.from_bytes(body or b"")
                except ValueError:
                    continue
                found[uid] = (record.state, inputs_text(record.inputs))
        return found

    def one(uid: str) -> StateInfo | None:
        try:
            record = RunRecord.from_bytes(store.read_bytes(record_key(uid)))
        except (FileNotFoundError, ValueError):
            return None
        return record.state, inputs_text(record.inputs)

    if store.is_local or len(uids) < 2:
        answers = [one(uid) for uid in uids]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(16, len(uids)), thread_name_prefix="tasuki-states") as pool:
            answers = list(pool.map(one, uids))
    return {uid: a for uid, a in zip(uids, answers, strict=True) if a is not None}


# What records say about outputs, by (workspace, key): filled when a record is read or
# written, so that loading an upstream output in the same process verifies it without
# reading its record again. Bounded: a huge build simply reads some records twice.
_OUTPUTS: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
_OUTPUTS_LIMIT = 200_000


def remember_outputs(store: Store, record: RunRecord) -> None:
    """Keep what ``record`` says about its outputs for :func:`expected_output`."""
    if len(_OUTPUTS) > _OUTPUTS_LIMIT:
        _OUTPUTS.clear()
    for entry in record.outputs:
        key = entry.get("key")
        if isinstance(key, str):
            _OUTPUTS[(store.url, key)] = (record.unique_id, record.task, entry)


def forget_outputs(store: Store, keys: list[str]) -> None:
    """Drop what :func:`remember_outputs` kept for ``keys`` (their task's last run failed)."""
    for key in keys:
        _OUTPUTS.pop((store.url, key), None)


def expected_output(
    store: Store, key: str, uid: str, *, fresh: bool = False, states: list[str] | None = None
) -> tuple[str, dict[str, Any]] | None:
    """``(task name, record entry)`` for output ``key`` of task ``uid``, or None when the
    task has no record (nothing to verify against).

    ``fresh`` reads the record even when this process remembers it: outside a build (a
    notebook, a server), another process may have run the task again since. ``states``
    gets the :attr:`RunRecord.state` of a record read here (nothing when remembered).

    Raises:
        OutputGoneError: the task's record says its last run failed: whatever it left at
            ``key`` is not its output.
    """
    known = None if fresh else _OUTPUTS.get((store.url, key))
    if known is None or known[0] != uid:
        try:
            record = RunRecord.read(store, uid)
        except (FileNotFoundError, ValueError):
            return None
        if not record.done:
            err = record.error or {}
            what = f" ({err.get('type')}: {err.get('message')})" if err.get("type") else ""
            raise OutputGoneError(
                f"{key} is not an output of {record.task} [{uid[:12]}]: its last run "
                f"{'failed' if record.status == 'failed' else 'did not finish'}{what}. "
                "Build the task again; `tasuki why` explains.",
                key=key,
                uid=uid,
                task=record.task,
            )
        remember_outputs(store, record)
        if states is not None:
            states.append(record.state)
        # From the record just read, not the map: it may still hold what an earlier run of
        # this task wrote at a key its last run did not (output() declares other files).
        entry = next((o for o in record.outputs if o.get("key") == key), None)
        return None if entry is None else (record.task, entry)
    return known[1], known[2]


_SAVED_CODE: set[tuple[str, str]] = set()


def save_code(store: Store, digest: str, text: str) -> None:
    """Keep the normalised code behind a fingerprint once per workspace, for ``why`` diffs:
    in the records database where the workspace has one, else as a file."""
    if (store.url, digest) in _SAVED_CODE:
        return
    from tasuki._redact import redact

    # A value in the code texts (a constant read from a file at import, a literal DSN) may
    # hold a secret: the workspace is shared, so what it keeps is masked.
    text = redact(text)
    db = records_db(store)
    if db is not None:
        db.put_code(digest, text.encode())
    else:
        key = f"{CODE_PREFIX}/{digest}.txt"
        if not store.exists(key):
            store.write_bytes(key, text.encode())
    _SAVED_CODE.add((store.url, digest))


def read_code(store: Store, digest: str) -> str | None:
    """The normalised code saved for ``digest``, or None."""
    db = records_db(store)
    try:
        found = db.get_code(digest) if db is not None else None
        if found is None:  # a file: kept by an earlier version, or no database here
            found = store.read_bytes(f"{CODE_PREFIX}/{digest}.txt")
        return found.decode()
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars in task_log
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


# One encoder for every record: ``json.dumps`` with options builds a new one per call, a
# tenth of the encoding's cost; compact separators make each record ~5 % smaller.
_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))


def find_record(store: Store, uid_or_prefix: str) -> RunRecord:
    """The record whose unique id is ``uid_or_prefix`` or starts with it (git-style).

    Raises:
        RecordNotFoundError: none or several records match.
    """
    prefix = uid_or_prefix.strip().lower()
    if len(prefix) == 64:
        try:
            return RunRecord.read(store, prefix)
        except FileNotFoundError:
            pass
    matches = record_ids(store, prefix)
    if len(matches) == 1:
        return RunRecord.read(store, matches[0])
    if not matches:
        raise RecordNotFoundError(
            f"no run record with id {uid_or_prefix!r} in workspace {store.url}. "
            "`tasuki ls` lists what the workspace holds; check --workspace.",
            uid=uid_or_prefix,
            workspace=store.url,
        )
    raise RecordNotFoundError(
        f"id prefix {uid_or_prefix!r} matches {len(matches)} records "
        f"({', '.join(m[:12] for m in matches[:5])}...); give more characters",
        uid=uid_or_prefix,
    )


def now_iso() -> str:
    """The current UTC time in ISO 8601, to the millisecond (records, results)."""
    return utcnow().isoformat(timespec="milliseconds")


def environment() -> dict[str, Any]:
    """Versions, host and git commit for a record: the versions of the libraries imported by
    now (a task that imported pandas has its record say which), the rest computed once per
    build (:func:`forget_environment`; records must stay cheap)."""
    return {**_build_environment(), "versions": _versions()}


def forget_environment() -> None:
    """Compute the git commit, argv and image again for the next record: each build starts
    with this, so a notebook or service that builds again after a commit (or an edit) names
    the commit as it is then, not as it was at the process's first build."""
    _build_environment.cache_clear()


def _versions() -> dict[str, str]:
    # Read from the modules themselves: importlib.metadata scans site-packages per call
    # (~50 ms each on a busy disk).
    from tasuki import __version__

    versions: dict[str, str] = {"tasuki": __version__}
    for dist, module in (
        ("pandas", "pandas"),
        ("pyarrow", "pyarrow"),
        ("numpy", "numpy"),
        ("polars", "polars"),
        ("scikit-learn", "sklearn"),
        ("fsspec", "fsspec"),
    ):
        version = getattr(sys.modules.get(module), "__version__", None)
        if isinstance(version, str):
            versions[dist] = version
    return versions


@functools.cache
def _build_environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        # What platform.python_version() and socket.gethostname() answer, without importing
        # them (~5 ms, a cold one-task build's whole budget): the first token of sys.version,
        # and the node name the kernel gives gethostname().
        "python": sys.version.split()[0],
        "host": host_name(),  # tasuki.storage._keys
        "platform": sys.platform,
        "git_commit": git_commit(),
        "argv": sys.argv[:20],
    }
    # The image a containerised step runs in (`tasuki argo export` sets it per template), so
    # a record says which version of a component produced its output.
    image = os.environ.get("TASUKI_IMAGE")
    if image:
        env["image"] = image
    return env


def amend_record(store: Store, record: RunRecord, **changes: Any) -> bool:
    """Rewrite ``record`` with ``changes`` (fields that keep what it says of its run: an
    output's new stamp, a query's new view of its database) only where the records database
    can be written, and only if no build rewrote the record since it was read (compare and
    swap); whether it was written. Records kept as files are left as they are."""
    db = records_db(store)
    if db is None or db.read_only:
        return False
    return db.replace(record.unique_id, record.to_bytes(), replace(record, **changes).to_bytes())
