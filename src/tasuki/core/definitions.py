"""Task definitions: how a task travels between processes and machines by its unique id.

When a build is planned for an executor whose workers run tasks by id (one whose
``travels_by_id`` is True, such as ``dask``; ``tasuki argo export`` writes them too), every
task that must run gets a *definition* in the workspace, at
``<workspace>/.tasuki/definitions/<unique id>.json``: its class path, its parameters in the
canonical encoding that unique ids hash (:func:`tasuki.core.fingerprint.encode`: exact floats,
typed dates, enums by path, task-valued parameters as ``{"$task": <unique id>}``), the ids,
class names and code keys of its requirements, its code fingerprint and code key, and the
fingerprint of every task class behind it. Any process with the project installed and the
workspace reachable can then run it with :func:`run_one` (``tasuki run-one UNIQUE_ID``):

1. the definition is read (a missing one is a :class:`~tasuki.errors.RecordNotFoundError`
   naming where it was looked for);
2. the code here is compared with the code the planner had, class by class: a definition
   written by other code is refused with the fingerprints on both sides, never run;
3. the task is rebuilt from its class and parameters (task-valued parameters from their own
   definitions, or their run records) and its unique id must equal the one asked for;
4. every requirement must be complete (run record, outputs, the code key the plan expected),
   else a :class:`~tasuki.errors.TaskError` lists the incomplete ones by id and class;
5. the task runs under its lease and writes its outputs and run record, as in any build.

A build for such an executor writes all of them as one *bundle*
(``.tasuki/definitions/bundles/<content hash>.json``, :func:`write_bundle`), as an Argo export
does: one file creation per build instead of one per task (0.2-0.9 ms each on a shared disk,
which made a Dask fan-in of 1,000 small tasks 23 % slower than plain Dask). Workers name the
bundle and parse it once per process (:func:`read_bundle` keeps the last few: a bundle's name
is its content's hash, so it never changes). ``tasuki run-one ID`` without ``--bundle`` also
finds a task in the bundles of the workspace. Builds whose tasks never leave the scheduling
process (``local``, ``inline``) write none.

Only ids and this small JSON travel, never data: the Dask executor submits
``run_one(unique_id)`` per task, and an Argo step is ``tasuki run-one UNIQUE_ID``.

The upstream ids a definition lists are trusted, not recomputed (recomputing them costs a
walk of the whole upstream graph per task, quadratic over a chain): every class behind the
task is checked to have the code the planner had, and the task's own id is recomputed from
its parameters and those ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki.core._identity import UID, _uid, flatten
from tasuki.core.code import code_fingerprint, combine_code_key
from tasuki.core.execute import Completeness, execute
from tasuki.core.fingerprint import decode, encode
from tasuki.core.graph import Node
from tasuki.core.loading import task_refs
from tasuki.core.records import RunRecord
from tasuki.core.task import Task, import_task
from tasuki.errors import RecordNotFoundError, TaskError

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.graph import Graph
    from tasuki.core.results import TaskResult
    from tasuki.storage.base import Store

__all__ = [
    "BUNDLES_PREFIX",
    "DEFINITIONS_PREFIX",
    "Definition",
    "bundle_key",
    "bundle_names",
    "check_code",
    "definition_key",
    "definitions_of",
    "find_in_bundles",
    "read_bundle",
    "read_definition",
    "rebuild_task",
    "run_one",
    "write_bundle",
    "write_definitions",
]

logger = logging.getLogger(__name__)

DEFINITIONS_PREFIX = ".tasuki/definitions"
BUNDLES_PREFIX = f"{DEFINITIONS_PREFIX}/bundles"
_UNSET: Any = object()
SCHEMA = "tasuki-definition/1"
#: Parsed bundles kept per process, by (workspace, name): a worker runs many tasks of one.
_BUNDLE_CACHE_SIZE = 4
_bundles: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_bundles_lock = threading.Lock()


def definition_key(uid: str) -> str:
    """Where the definition of ``uid`` lives in the workspace."""
    return f"{DEFINITIONS_PREFIX}/{uid}.json"


@dataclass(frozen=True)
class Definition:
    """Everything a process needs to rebuild and run one planned task.

    Attributes:
        unique_id: The task's unique id.
        task: Its class path, ``module:QualName``.
        version: The class's ``version``.
        params: Every parameter (significant or not), encoded as for ids.
        requires: Its requirements in ``requires()`` order (flattened, repeats kept), each
            ``{"id": ..., "task": ..., "code_key": ...}``.
        code_fingerprint: The fingerprint of its own class when it was planned.
        code_key: Its code key (its code and everything upstream's) when it was planned;
            None for a task met only as another task's parameter.
        classes: ``module:QualName`` -> fingerprint, for its class and every class upstream.
    """

    unique_id: str
    task: str
    version: str | None
    params: dict[str, Any]
    requires: list[dict[str, Any]]
    code_fingerprint: str
    code_key: str | None
    classes: dict[str, str]
    schema: str = SCHEMA

    def to_bytes(self) -> bytes:
        """The JSON form written to the workspace."""
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Definition:
        """Parse a definition.

        Raises:
            ValueError: not a definition this version of tasuki can read.
        """
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document")
        known = cls.__dataclass_fields__
        try:
            return cls(**{k: v for k, v in doc.items() if k in known})
        except TypeError as exc:
            raise ValueError(f"not a readable task definition: {exc}") from exc


# --------------------------------------------------------------------------- writing


def definitions_of(
    graph: Graph, uids: Iterable[str], code_keys: Mapping[str, str]
) -> list[Definition]:
    """The definitions of the tasks ``uids`` of ``graph`` and of the tasks their task-valued
    parameters hold (which may be cached, yet are needed to rebuild them)."""
    nodes = graph.nodes
    wanted = list(uids)
    classes = _class_closures(graph, wanted)
    out: list[Definition] = []
    seen: set[str] = set()
    stack: list[Task] = [nodes[u].task for u in reversed(wanted)]
    while stack:
        task = stack.pop()
        uid = task.unique_id
        if uid in seen:
            continue
        seen.add(uid)
        node = nodes.get(uid)
        cls = type(task)
        own = code_fingerprint(cls)
        requires: list[dict[str, Any]] = []
        closure = {cls.task_name(): own}
        if node is not None:
            requires = [
                {
                    "id": d.unique_id,
                    "task": type(d).task_name(),
                    "code_key": code_keys.get(d.unique_id),
                }
                for d in flatten(node.requires)
            ]
            closure = classes.get(uid) or closure
        for name in cls._info().task_params:
            stack.extend(flatten(task.__dict__[name]))
        out.append(
            Definition(
                unique_id=uid,
                task=cls.task_name(),
                version=cls.version,
                params={n: encode(v) for n, v in task.param_values.items()},
                requires=requires,
                code_fingerprint=own,
                code_key=code_keys.get(uid),
                classes=dict(sorted(closure.items())),
            )
        )
    return out


def _class_closures(graph: Graph, wanted: list[str]) -> dict[str, dict[str, str]]:
    """Class name -> fingerprint for each task class at or upstream of each wanted task."""
    nodes = graph.nodes
    relevant: set[str] = set()
    stack = list(wanted)
    while stack:
        uid = stack.pop()
        if uid in relevant or uid not in nodes:
            continue
        relevant.add(uid)
        stack.extend(nodes[uid].deps)
    closures: dict[str, dict[str, str]] = {}
    for uid in graph.order:  # dependencies first
        if uid not in relevant:
            continue
        node = nodes[uid]
        cls = type(node.task)
        name = cls.task_name()
        merged: dict[str, str] | None = None
        for dep in node.deps:
            theirs = closures[dep]
            if merged is None:
                merged = theirs
            elif theirs is not merged and not theirs.items() <= merged.items():
                merged = {**merged, **theirs}
        if merged is None:
            merged = {name: code_fingerprint(cls)}
        elif name not in merged:
            merged = {**merged, name: code_fingerprint(cls)}
        closures[uid] = merged  # shared between tasks whose closures are equal
    return closures


def write_definitions(
    store: Store, graph: Graph, uids: Iterable[str], code_keys: Mapping[str, str]
) -> int:
    """Write the definitions of ``uids`` (see :func:`definitions_of`), each atomically.

    Returns:
        How many were written.
    """
    docs = definitions_of(graph, uids, code_keys)
    if store.is_local or len(docs) < 2:
        for d in docs:
            store.write_bytes(definition_key(d.unique_id), d.to_bytes())
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(16, len(docs)), thread_name_prefix="tasuki-def") as pool:
            list(
                pool.map(
                    lambda d: store.write_bytes(definition_key(d.unique_id), d.to_bytes()), docs
                )
            )
    return len(docs)


def bundle_key(name: str) -> str:
    """Where the bundle ``name`` lives in the workspace."""
    return f"{BUNDLES_PREFIX}/{name}.json"


def write_bundle(
    store: Store, graph: Graph, uids: Iterable[str], code_keys: Mapping[str, str]
) -> str:
    """Write the definitions of ``uids`` as one file, a bundle; returns its name.

    An exported workflow runs thousands of tasks that each need a definition; one file for
    all of them costs one file creation instead of one per task (0.04-0.9 ms each on a
    shared disk). Steps name the bundle (``tasuki run-one ID --bundle NAME``). The name is
    the content's hash, so writing the same plan twice writes the same file.
    """
    docs = definitions_of(graph, uids, code_keys)
    body = (
        b"{"
        + b",".join(json.dumps(d.unique_id).encode() + b":" + d.to_bytes() for d in docs)
        + b"}"
    )
    name = hashlib.sha256(body).hexdigest()[:20]
    store.write_bytes(bundle_key(name), body)
    return name


def read_bundle(store: Store, name: str) -> dict[str, Any]:
    """The definitions in bundle ``name``, by unique id (parsed lazily by
    :func:`read_definition`).

    Read once per process: the last few bundles read are kept (a name is its content's hash,
    so what it names never changes). Treat the mapping as read-only.

    Raises:
        RecordNotFoundError: no such bundle, or it is unreadable; the message names the path.
    """
    with _bundles_lock:
        known = _bundles.get((store.url, name))
        if known is not None:
            _bundles.move_to_end((store.url, name))
            return known
    doc = _parse_bundle(store, name)
    with _bundles_lock:
        _bundles[store.url, name] = doc
        while len(_bundles) > _BUNDLE_CACHE_SIZE:
            _bundles.popitem(last=False)
    return doc


def _parse_bundle(store: Store, name: str) -> dict[str, Any]:
    key = bundle_key(name)
    try:
        doc = json.loads(store.read_bytes(key))
    except FileNotFoundError:
        raise RecordNotFoundError(
            f"no task definitions bundle {name!r} at {store.full_path(key)}: a build for a "
            "cluster executor or an exported workflow names the bundle it wrote; check the "
            "workspace (--workspace / TASUKI_WORKSPACE), or plan or export the build again",
            bundle=name,
            path=store.full_path(key),
        ) from None
    except ValueError as exc:
        raise RecordNotFoundError(
            f"the task definitions bundle at {store.full_path(key)} is unreadable ({exc}); "
            "plan or export the build again",
            bundle=name,
            path=store.full_path(key),
        ) from None
    if not isinstance(doc, dict):
        raise RecordNotFoundError(
            f"the task definitions bundle at {store.full_path(key)} is not a mapping of ids "
            "to definitions; plan or export the build again",
            bundle=name,
            path=store.full_path(key),
        )
    return doc


def bundle_names(store: Store) -> list[str]:
    """The names of the definitions bundles in the workspace."""
    prefix = BUNDLES_PREFIX + "/"
    return sorted(
        k[len(prefix) : -len(".json")]
        for k in store.list(BUNDLES_PREFIX)
        if k.startswith(prefix) and k.endswith(".json") and "/" not in k[len(prefix) :]
    )


def find_in_bundles(store: Store, uid: str) -> Definition | None:
    """The definition of ``uid`` from a bundle of the workspace, or None when none holds it.

    Where several bundles hold it (planned again after its code changed), the one whose code
    matches the code here is preferred; else any, for :func:`check_code` to refuse with the
    difference. Unreadable bundles are skipped (with a debug log line).
    """
    found: Definition | None = None
    for name in bundle_names(store):
        try:
            doc = read_bundle(store, name)
        except RecordNotFoundError:
            logger.debug("skipping the unreadable bundle %s", name, exc_info=True)
            continue
        if uid not in doc:
            continue
        definition = read_definition(store, uid, doc)
        try:
            check_code(definition)
        except Exception:  # other code, or a class not importable here: run_one says which
            found = found or definition
            continue
        return definition
    return found


# --------------------------------------------------------------------------- reading


def read_definition(store: Store, uid: str, bundle: Mapping[str, Any] | None = None) -> Definition:
    """The definition of ``uid``: from ``bundle`` (see :func:`read_bundle`) when it holds
    it, else from its own file.

    Raises:
        RecordNotFoundError: there is none, or it is unreadable; the message names where it
            was looked for.
    """
    if bundle is not None and uid in bundle:
        try:
            return Definition.from_bytes(json.dumps(bundle[uid]).encode())
        except ValueError as exc:
            raise RecordNotFoundError(
                f"the definition of {uid!r} in its bundle is unreadable ({exc}); export the "
                "workflow again",
                uid=uid,
            ) from None
    key = definition_key(uid)
    try:
        data = store.read_bytes(key)
    except FileNotFoundError:
        raise RecordNotFoundError(
            f"no task definition for {uid!r} at {store.full_path(key)}: a task gets one when a "
            "build plans it to run (`tasuki run ...` or tasuki.build on this workspace). Check "
            "the id and the workspace (--workspace / TASUKI_WORKSPACE).",
            uid=uid,
            path=store.full_path(key),
        ) from None
    try:
        return Definition.from_bytes(data)
    except ValueError as exc:
        raise RecordNotFoundError(
            f"the task definition at {store.full_path(key)} is unreadable ({exc}); plan the "
            "build again to rewrite it",
            uid=uid,
            path=store.full_path(key),
        ) from None


def check_code(definition: Definition) -> None:
    """Refuse a definition written by other code than this process has.

    Raises:
        TaskError: a class behind the task has another fingerprint here (each is named,
            with the fingerprint the definition says and the one the code here gives), or
            cannot be imported here.
    """
    changed = []
    for name, planned in definition.classes.items():
        here = code_fingerprint(import_task(name))
        if here != planned:
            changed.append((name, planned, here))
    if changed:
        listed = "; ".join(f"{n}: definition {p}, code here {h}" for n, p, h in changed)
        raise TaskError(
            f"the definition of {definition.task} [{definition.unique_id[:12]}] was written by "
            f"other code than this process has; classes changed: {listed}. Install the code "
            "the build was planned with, or plan the build again with this code. A value the "
            "planning process set at run time (`Train.lr = 0.7` in a script's main block, "
            "`config.THRESH = 0.9` in a notebook) is not in a worker that imports the code: "
            "make it a parameter.",
            uid=definition.unique_id,
            changed=[n for n, _, _ in changed],
            definition_fingerprints={n: p for n, p, _ in changed},
            here_fingerprints={n: h for n, _, h in changed},
        )


def rebuild_task(store: Store, definition: Definition) -> Task:
    """The task value ``definition`` describes, with its unique id checked.

    Task-valued parameters are rebuilt from their own definitions, else from their run
    records. Iterative: tasks nested deeply through parameters do not meet the recursion
    limit. The ids of the task's requirements are taken from the definition.

    Raises:
        TaskNotFoundError: the class cannot be imported here.
        RecordNotFoundError: a task-valued parameter has neither definition nor record.
        TaskError: the rebuilt task's id differs from the definition's.
    """
    return _rebuild(store, definition)[0]


def _rebuild(
    store: Store, definition: Definition, bundle: Mapping[str, Any] | None = None
) -> tuple[Task, Any]:
    """:func:`rebuild_task`, and the structure the task's ``requires()`` returned, its
    tasks carrying the ids the definition lists (``_UNSET`` when it was not asked)."""
    from tasuki.core.loading import task_from_record
    from tasuki.core.params import coerce

    defs: dict[str, Definition] = {definition.unique_id: definition}
    built: dict[str, Task] = {}
    requires: Any = _UNSET
    stack = [definition.unique_id]
    while stack:
        uid = stack[-1]
        d = defs[uid]
        missing = [ref for ref in task_refs(d.params) if ref not in built]
        for ref in missing:
            if ref in defs:
                continue
            try:
                defs[ref] = read_definition(store, ref, bundle)
            except RecordNotFoundError:
                try:
                    built[ref] = task_from_record(RunRecord.read(store, ref), store)
                except FileNotFoundError:
                    raise RecordNotFoundError(
                        f"{d.task} [{uid[:12]}] takes task {ref[:12]} as a parameter, which "
                        "has neither a definition nor a run record in this workspace",
                        uid=ref,
                    ) from None
        missing = [ref for ref in missing if ref not in built]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        if uid not in built:
            built[uid], structure = _build_one(d, built, coerce)
            if uid == definition.unique_id:
                requires = structure
    return built[definition.unique_id], requires


def _build_one(
    d: Definition, built: dict[str, Task], coerce: Callable[..., Any]
) -> tuple[Task, Any]:
    cls = import_task(d.task)
    specs = cls.param_specs()
    params = {}
    for name, raw in d.params.items():
        if name not in specs:
            raise TaskError(
                f"the definition of {d.task} [{d.unique_id[:12]}] has a parameter {name!r} "
                "the class here does not declare: it was written by other code",
                uid=d.unique_id,
                parameter=name,
            )
        value = decode(raw, built.__getitem__)
        params[name] = coerce(value, specs[name].annotation, task=d.task, name=name)
    task = cls(**params)
    requires: Any = _UNSET
    if d.code_key is not None:  # a task of the planned graph: its requirements are listed
        requires = _seeded_requires(task, d)
        # The id from the listed upstream ids: computing theirs would walk everything
        # upstream, for every task (quadratic along a chain).
        task.__dict__[UID] = _uid(task, type(task)._info(), requires)
    if task.unique_id != d.unique_id:
        raise TaskError(
            f"rebuilt {task!r} from its definition but got id {task.unique_id[:12]}, not "
            f"{d.unique_id[:12]}: the task's parameters or requires() differ here from where "
            "the build was planned",
            uid=d.unique_id,
        )
    return task, requires


def _seeded_requires(task: Task, d: Definition) -> Any:
    """What ``task.requires()`` returns, its tasks given the ids the definition lists."""
    structure = task.requires()
    deps = flatten(structure)
    names = [type(t).task_name() for t in deps]
    planned = [r["task"] for r in d.requires]
    if names != planned:
        raise TaskError(
            f"{d.task} [{d.unique_id[:12]}]: requires() here returns {names}, the plan had "
            f"{planned}: it was written by other code",
            uid=d.unique_id,
        )
    for dep, entry in zip(deps, d.requires, strict=True):
        dep.__dict__.setdefault(UID, entry["id"])
    return structure


# --------------------------------------------------------------------------- running


def run_one(
    unique_id: str,
    *,
    store: Store,
    settings: Settings,
    forced: bool = False,
    on_start: Callable[[str], None] | None = None,
    build_id: str | None = None,
    bundle: str | None = None,
    vouched: Collection[str] = (),
) -> TaskResult:
    """Run exactly the task ``unique_id`` from its definition (``tasuki run-one``).

    Args:
        unique_id: The full unique id of a planned task.
        store: The workspace holding its definition, its upstream's outputs, its lease.
        settings: ``lock_timeout``, ``retries``, ``on_code_change``...
        forced: Run it although it is complete (``--rerun``).
        on_start: Called with the id when ``run()`` begins.
        build_id: The build this run belongs to, stamped on its record (the Dask executor
            passes its build's; ``tasuki run-one --build-id``).
        bundle: The name of a definitions bundle to look in first (``--bundle``; an Argo
            export writes one per workflow, see :func:`write_bundle`).
        vouched: Ids of requirements this build saw finish (``ran`` or ``cached``, as the
            Dask executor's upstream results say): not checked for completeness again.
            Loading them still reads their records and refuses a failed run's outputs.

    Returns:
        Its result: ``ran``, ``cached`` (complete already, or finished by another process
        while we waited for its lease) or ``failed`` (the error, the log tail).

    Raises:
        RecordNotFoundError: no definition of ``unique_id`` in the workspace.
        TaskNotFoundError: its class (or a class upstream) cannot be imported here.
        TaskError: the definition was written by other code (the fingerprints on both
            sides), or its upstream is incomplete (which tasks, by id and class).

    Example:
        >>> run_one("3d5b7a50a2...", store=store, settings=settings).status  # doctest: +SKIP
        'ran'
    """
    raw = read_bundle(store, bundle) if bundle else None
    try:
        definition = read_definition(store, unique_id, raw)
    except RecordNotFoundError:
        # Planned for a cluster executor (one bundle per build) and asked for by id alone.
        found = find_in_bundles(store, unique_id) if raw is None else None
        if found is None:
            raise
        definition = found
    check_code(definition)
    task, requires = _rebuild(store, definition, raw)
    if requires is _UNSET:
        requires = task.requires()
    deps = flatten(requires)
    keys = {r["id"]: r["code_key"] for r in definition.requires if r.get("code_key")}
    own_key = definition.code_key or combine_code_key(
        definition.code_fingerprint, [r["code_key"] for r in definition.requires]
    )
    completeness = Completeness(
        store, settings.on_code_change, {**keys, unique_id: own_key}, build_id=build_id
    )
    incomplete = []
    seen: set[str] = set()
    for dep in deps:
        uid = dep.unique_id
        if uid in seen or uid in vouched:
            continue
        seen.add(uid)
        reason = completeness.verdict(Node(dep, uid))
        if reason is not None:
            incomplete.append(f"{type(dep).task_name()} [{uid}]: {reason}")
    if incomplete:
        raise TaskError(
            f"cannot run {task!r} [{unique_id[:12]}]: {len(incomplete)} of its requirements "
            "are not complete in this workspace: " + "; ".join(incomplete) + ". Run them "
            "first (tasuki run-one ID for each, or tasuki run on the root).",
            uid=unique_id,
            incomplete=incomplete,
        )
    # Its requirements' ids, distinct and in order, as a build's graph gives them: the run
    # record keeps what it read of each.
    node = Node(task, unique_id, requires, deps=list(dict.fromkeys(d.unique_id for d in deps)))
    return execute(node, store, settings, completeness, forced=forced, on_start=on_start)
