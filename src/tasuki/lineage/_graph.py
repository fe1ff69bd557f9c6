"""Walking lineage across run records, published datasets and the model zoo.

Nodes are tasks (their run records), dataset versions (``dataset_info.json``), model
versions (``version.json``) and the warehouse queries tasks and datasets record. Upstream of
a node is what made it; downstream is what tasuki knows used it: tasks whose records require
it, tasks that read a dataset version or a zoo model (their ``DatasetInput`` / ``ZooModel``
records carry its content hash), and model versions trained on a dataset version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki.errors import ConfigError, RecordNotFoundError

if TYPE_CHECKING:
    from tasuki.core.records import RunRecord
    from tasuki.storage.base import Store

__all__ = ["Edge", "Lineage", "Node", "lineage"]

_HEX = re.compile(r"^[0-9a-f]{6,64}$")
_MODEL_VERSION = re.compile(r"^[^:#@]+/\d+$")
_SHORT_ID = re.compile(r"^[0-9][0-9a-f]{0,4}$")  # no dataset name starts with a digit


@dataclass(frozen=True)
class Node:
    """One thing in a lineage: ``kind`` is task, dataset, model or query."""

    key: str
    """Unique within the lineage: ``task:<id>``, ``dataset:<name#config:version>``,
    ``model:<name>/<n>``, ``query:<sha>``."""
    kind: str
    label: str
    """What a person reads: ``mypkg.train:Train [3f2a9c1d04]``, ``product_a/clicks:1.2.0``."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Kind-specific facts: a task's parameters and status, a dataset's rows, a model's
    metrics, a query's SQL and warehouse."""


@dataclass(frozen=True)
class Edge:
    """``source`` went into ``target`` (``relation``: requires, trained on, produced by,
    read, reads)."""

    source: str
    target: str
    relation: str


@dataclass
class Lineage:
    """The nodes and edges around one root, upstream and downstream."""

    root: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> bool:
        """Add ``node``; False when it was there already."""
        if node.key in self.nodes:
            return False
        self.nodes[node.key] = node
        return True

    def link(self, source: str, target: str, relation: str) -> None:
        """Record that ``source`` went into ``target``."""
        edge = Edge(source, target, relation)
        if edge not in self._edge_set:
            self._edge_set.add(edge)
            self.edges.append(edge)

    def __post_init__(self) -> None:
        self._edge_set: set[Edge] = set(self.edges)

    def upstream_of(self, key: str) -> list[Edge]:
        """Edges into ``key``."""
        return [e for e in self.edges if e.target == key]

    def downstream_of(self, key: str) -> list[Edge]:
        """Edges out of ``key``."""
        return [e for e in self.edges if e.source == key]


class _Walker:
    def __init__(self, store: Store | None, registry: str | None, depth: int) -> None:
        self.store = store
        self.registry = registry
        self.depth = depth
        self.out: Lineage = Lineage(root="")
        self._records: dict[str, RunRecord | None] = {}
        self._all: list[RunRecord] | None = None
        self._zoo: Any = None

    # -- sources of facts

    def record(self, uid: str) -> RunRecord | None:
        if self.store is None:
            return None
        if uid not in self._records:
            from tasuki.core.records import RunRecord

            try:
                self._records[uid] = RunRecord.read(self.store, uid)
            except (FileNotFoundError, ValueError):
                self._records[uid] = None
        return self._records[uid]

    def all_records(self) -> list[RunRecord]:
        if self._all is None:
            from tasuki.core.records import read_records

            self._all = [] if self.store is None else list(read_records(self.store))
            for rec in self._all:
                self._records.setdefault(rec.unique_id, rec)
        return self._all

    def zoo(self) -> Any:
        if self._zoo is None:
            from tasuki.zoo import Zoo

            self._zoo = Zoo(registry=self.registry, tracking_uri="")
        return self._zoo

    # -- nodes

    def task_node(self, uid: str) -> Node:
        rec = self.record(uid)
        if rec is None:
            return Node(f"task:{uid}", "task", f"task [{uid[:10]}] (no record here)", {"id": uid})
        detail: dict[str, Any] = {
            "id": uid,
            "task": rec.task,
            "status": rec.status,
            "params": {k: rec.params[k] for k in rec.significant if k in rec.params},
            "finished_at": rec.finished_at,
        }
        if rec.build_id:
            detail["build_id"] = rec.build_id
        return Node(f"task:{uid}", "task", f"{rec.task} [{uid[:10]}]", detail)

    def dataset_node(self, resolved: str, content_hash: str = "") -> tuple[Node, Any]:
        from tasuki.datasets import info as dataset_info

        try:
            found = dataset_info(resolved, registry=self.registry)
        except (ConfigError, RecordNotFoundError, FileNotFoundError):
            found = None
        detail: dict[str, Any] = {"ref": resolved}
        if found is not None:
            detail.update(rows=found.rows, content_hash=found.content_hash)
        elif content_hash:
            detail["content_hash"] = content_hash
        label = resolved.replace("#default:", ":")
        return Node(f"dataset:{label}", "dataset", label, detail), found

    def model_node(self, version: Any) -> Node:
        detail = {
            "content_hash": version.content_hash,
            "metrics": dict(version.metrics),
            "owner": version.owner,
            "created_at": version.created_at,
        }
        return Node(f"model:{version.ref}", "model", version.ref, detail)

    def query_node(self, sql: str, warehouse: str | None, extra: dict[str, Any]) -> Node:
        import hashlib

        key = hashlib.sha256(f"{warehouse}\0{sql}".encode()).hexdigest()[:16]
        first = " ".join(sql.split())
        label = (first[:60] + "...") if len(first) > 60 else first
        return Node(f"query:{key}", "query", label, {"sql": sql, "warehouse": warehouse, **extra})

    # -- upstream

    def up_task(self, uid: str, depth: int) -> str:
        node = self.task_node(uid)
        if not self.out.add(node) or depth >= self.depth:
            return node.key
        rec = self.record(uid)
        if rec is None:
            return node.key
        for dep in rec.requires:
            self.out.link(self.up_task(dep, depth + 1), node.key, "requires")
        params = rec.params
        if _is_dataset_input(rec):
            key = self.up_dataset(str(params["resolved"]), str(params["content_hash"]), depth + 1)
            self.out.link(key, node.key, "read")
        if _is_zoo_model(rec):
            found = self.up_model_by_hash(str(params["model"]), str(params["content_hash"]), depth)
            if found is not None:
                self.out.link(found, node.key, "read")
        sql = params.get("sql") or params.get("query")
        if isinstance(sql, str) and sql.strip():
            warehouse = params.get("warehouse")
            query = self.query_node(sql, warehouse if isinstance(warehouse, str) else None, {})
            self.out.add(query)
            self.out.link(query.key, node.key, "reads")
        return node.key

    def up_dataset(self, resolved: str, content_hash: str, depth: int) -> str:
        node, found = self.dataset_node(resolved, content_hash)
        if not self.out.add(node) or depth >= self.depth or found is None:
            return node.key
        for split, info in found.splits.items():
            for uid in info.tasks:
                key = self.up_task(uid, depth + 1)
                self.out.link(key, node.key, f"built split {split}")
        for source in found.sources:
            sql = source.get("query") or source.get("sql")
            if isinstance(sql, str) and sql.strip():
                extra = {k: v for k, v in source.items() if k not in {"query", "sql"}}
                query = self.query_node(sql, source.get("warehouse"), extra)
                self.out.add(query)
                self.out.link(query.key, node.key, "source")
        return node.key

    def up_model(self, version: Any, depth: int) -> str:
        node = self.model_node(version)
        if not self.out.add(node) or depth >= self.depth:
            return node.key
        task = version.task or {}
        uid = task.get("unique_id")
        if isinstance(uid, str) and uid:
            self.out.link(self.up_task(uid, depth + 1), node.key, "produced")
        for ref in version.datasets:
            resolved, content_hash = _split_dataset_ref(str(ref))
            self.out.link(
                self.up_dataset(resolved, content_hash, depth + 1), node.key, "trained on"
            )
        return node.key

    def up_model_by_hash(self, name: str, content_hash: str, depth: int) -> str | None:
        try:
            version = self.zoo().by_hash(name, content_hash)
        except Exception:  # a zoo that cannot be read here: the task still shows
            return None
        return None if version is None else self.up_model(version, depth + 1)

    # -- downstream

    def trained_on(self, ref: str, content_hash: str) -> list[Any]:
        """Model versions trained on the dataset version ``ref`` with ``content_hash``: those
        whose record names its hash, and those that name the version without a hash
        (``datasets=["product_a/clicks:1.2.0"]`` given to ``zoo.push``); not those naming
        the same version with another hash (a dataset of that name in another registry)."""
        zoo = self.zoo()
        found = {v.ref: v for v in zoo.find(dataset=content_hash)}
        wanted = ref.replace("#default:", ":")
        for version in zoo.find(dataset=wanted):
            hashes = {
                _split_dataset_ref(d)[1]
                for d in version.datasets
                if _split_dataset_ref(d)[0].replace("#default:", ":") == wanted
            }
            if "" in hashes or content_hash in hashes:
                found.setdefault(version.ref, version)
        return sorted(found.values(), key=lambda v: (v.name, v.version))

    def down_from(self, key: str, content_hash: str | None, depth: int) -> None:
        """Tasks and models that used ``key`` (a task, a dataset or a model version)."""
        if depth >= self.depth:
            return
        users: list[tuple[str, str]] = []  # (task uid, relation)
        for rec in self.all_records():
            if key.startswith("task:") and key[5:] in rec.requires:
                users.append((rec.unique_id, "requires"))
            elif (
                content_hash
                and rec.params.get("content_hash") == content_hash
                and (
                    (key.startswith("dataset:") and _is_dataset_input(rec))
                    or (key.startswith("model:") and _is_zoo_model(rec))
                )
            ):
                users.append((rec.unique_id, "read"))
        for uid, relation in users:
            node = self.task_node(uid)
            new = self.out.add(node)
            self.out.link(key, node.key, relation)
            if new:
                self.down_from(node.key, None, depth + 1)
        if key.startswith("dataset:") and content_hash:
            ref = str(self.out.nodes[key].detail.get("ref") or key[len("dataset:") :])
            try:
                models = self.trained_on(ref, content_hash)
            except Exception:  # no zoo in this registry: nothing trained on it here
                models = []
            for version in models:
                node = self.model_node(version)
                new = self.out.add(node)
                self.out.link(key, node.key, "trained on")
                if new:
                    self.down_from(node.key, version.content_hash, depth + 1)


def _split_dataset_ref(ref: str) -> tuple[str, str]:
    """``(reference, content hash)`` of a dataset version as the zoo writes it
    (``name:1.2.0@<hash>``, ``name#config:1.2.0@<hash>``, or ``...#<hash>``); the hash may be
    absent."""
    for mark in ("@", "#"):
        head, _, tail = ref.rpartition(mark)
        if head and _HEX.match(tail.lower()):
            return head, tail.lower()
    return ref, ""


def _is_dataset_input(rec: RunRecord) -> bool:
    return rec.task.endswith(":DatasetInput") and {"resolved", "content_hash"} <= set(rec.params)


def _is_zoo_model(rec: RunRecord) -> bool:
    return rec.task.endswith(":ZooModel") and {"model", "content_hash"} <= set(rec.params)


def lineage(
    ref: str,
    *,
    store: Store | None = None,
    registry: str | None = None,
    depth: int = 50,
    downstream: bool = True,
) -> Lineage:
    """The lineage of ``ref``: what made it (upstream) and what used it (downstream).

    Args:
        ref: A task's unique id (or a prefix of 6+ characters), ``dataset:NAME[:VERSION]``
            (``dataset:product_a/clicks:1.2.0``), or ``model:NAME@ALIAS`` / ``model:NAME/N``
            (``model:`` may be left out when the reference has ``@`` or ends in ``/N``).
        store: The workspace whose run records are read (tasks, and who used what).
        registry: The dataset registry and model zoo (default: the ``registry`` setting).
        depth: How many steps to follow each way.
        downstream: Also follow what used it.

    Raises:
        ConfigError: ``ref`` names nothing this can read (the message says what it tried).
        RecordNotFoundError: a task id with no record in ``store``.
    """
    walker = _Walker(store, registry, depth)
    text = ref.strip()
    kind, _, rest = text.partition(":")
    if kind in {"dataset", "model", "task"} and rest:
        text = rest
    else:
        kind = (
            "model"
            if "@" in text or _MODEL_VERSION.match(text)
            else "task"
            if _HEX.match(text.lower())
            else "dataset"
        )
    if kind == "dataset" and _SHORT_ID.match(text.lower()):
        # Read as a dataset name it would fail on its first character, with a message
        # about dataset names: it is the start of a task id, too short to pick one.
        raise ConfigError(
            f"{text!r} is too short for a task's unique id: give 6 or more of its characters "
            "(`tasuki ls` lists them), or write dataset:NAME[:VERSION] or model:NAME@ALIAS",
            ref=ref,
        )
    if kind == "task":
        if store is None:
            raise ConfigError("a task's lineage needs a workspace to read its records from")
        from tasuki.core.records import find_record

        rec = find_record(store, text)
        walker._records[rec.unique_id] = rec
        key = walker.up_task(rec.unique_id, 0)
        walker.out.root = key
        if downstream:
            walker.down_from(key, None, 0)
    elif kind == "dataset":
        from tasuki.datasets import resolve

        version = resolve(text, registry=registry)
        resolved = f"{version.name}#{version.config}:{version.version}"
        key = walker.up_dataset(resolved, "", 0)
        walker.out.root = key
        if downstream:
            walker.down_from(key, walker.out.nodes[key].detail.get("content_hash"), 0)
    else:
        found = walker.zoo().resolve(text)
        key = walker.up_model(found, 0)
        walker.out.root = key
        if downstream:
            walker.down_from(key, found.content_hash, 0)
    return walker.out


def walk_keys(lin: Lineage, start: str, *, up: bool) -> Iterable[str]:
    """Keys reachable from ``start`` following edges up (into it) or down (out of it)."""
    seen = {start}
    stack = [start]
    while stack:
        key = stack.pop()
        nxt = lin.upstream_of(key) if up else lin.downstream_of(key)
        for edge in nxt:
            other = edge.source if up else edge.target
            if other not in seen:
                seen.add(other)
                stack.append(other)
                yield other
