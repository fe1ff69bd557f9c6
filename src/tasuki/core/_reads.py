"""What a run read, and whether it still holds: the records below a complete task.

A run record keeps the state of each requirement's record when its run started
(:attr:`~tasuki.core.records.RunRecord.inputs`). An upstream task that ran again since
(``tasuki rerun``, a build of it alone, its output deleted and made anew) and made other bytes
leaves every output made from the old ones out of date, however far downstream. The cache
check (:class:`~tasuki.core.execute.Completeness`) asks :class:`Reads`, one per build, to
compare: for one task what its run read with its requirements' records now (under its lease,
again, fresh), and below each complete task the whole way down (:meth:`Reads.stale_upstream`),
from the two columns of the records database that hold each record's state and what it
read, never a whole record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasuki.core.records import StateInfo, inputs_text, read_states
from tasuki.core.task import flatten

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tasuki.core.graph import Graph, Node
    from tasuki.core.records import RunRecord
    from tasuki.storage.base import Store

__all__ = ["NO_RECORD_NOW", "READ_CHANGED", "Reads", "made_from", "requirement_name"]

#: In the reason of a task whose run read a requirement that ran again since.
READ_CHANGED = "ran again after"

#: In the reason of a task whose run read a requirement that has no record now: the
#: requirement runs first, and the task only if that made other bytes than it read.
NO_RECORD_NOW = "has no run record now"


class Reads:
    """The record states one build has read, and what it decided from them.

    Args:
        store: The workspace whose records are read.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        # uid -> (state, inputs) of its record, or None without one: what this build read.
        self._states: dict[str, StateInfo | None] = {}
        # uid -> why what its run read (or read upstream) changed since, None if nothing did.
        self._upstream: dict[str, str | None] = {}
        # uid -> what its own check found of what its run read (its requirements only).
        self._direct: dict[str, str | None] = {}
        self._order_of: Graph | None = None
        self._pos: dict[str, int] = {}

    def states(self, uids: list[str], *, fresh: bool = False) -> dict[str, StateInfo | None]:
        """The record state of each of ``uids`` (None: no readable record), read once per
        build unless ``fresh``; missing ones are read together."""
        known = self._states
        self._fetch(list(uids) if fresh else [u for u in uids if u not in known])
        return {u: known[u] for u in uids}

    def _fetch(self, uids: list[str]) -> None:
        if uids:
            found = read_states(self.store, uids)
            self._states.update(dict.fromkeys(uids))
            self._states.update(found)

    def forget(self, uids: Iterable[str]) -> None:
        """Drop what was read of ``uids`` (tasks this build runs: their records change)."""
        for uid in uids:
            self._states.pop(uid, None)
            self._upstream.pop(uid, None)
            self._direct.pop(uid, None)

    def remember(self, record: RunRecord) -> None:
        """Keep the state of a record this process just wrote."""
        self._states[record.unique_id] = (record.state, inputs_text(record.inputs))

    def inputs_of(self, node: Node, *, fresh: bool = False) -> dict[str, str]:
        """What a run of ``node``'s task reads: the state of each requirement that has a
        record (taken before ``run()`` starts: a requirement that runs again meanwhile can
        only make this look older than what was read, so a later build runs it again)."""
        if not node.deps:
            return {}
        now = self.states(node.deps, fresh=fresh)
        return {uid: info[0] for uid, info in now.items() if info is not None}

    def input_change(
        self, node: Node, inputs: dict[str, str] | None, *, fresh: bool = False
    ) -> str | None:
        """Why what ``node``'s recorded run read is not what its requirements hold now."""
        if inputs is None or not node.deps:
            return None
        changed = _changed_input(
            node.deps, inputs_text(inputs), self.states(node.deps, fresh=fresh)
        )
        reason = None if changed is None else _read_changed(node, *changed)
        if not fresh:  # what the walk below it would find again (stale_upstream)
            self._direct[node.uid] = reason
        return reason

    def mixed_reads(self, node: Node) -> tuple[str, str] | None:
        """``(requirement, why)`` when two requirements of ``node`` were made from two runs
        of one upstream task, as their records say now: the requirement whose read is not
        that upstream's record now, which must run again before ``node``'s task reads both.
        None when they agree.

        A build keeps what it plans consistent; another build may not (its ``rerun`` of the
        upstream, then of one requirement, between this build's plan and this task's
        start). Read fresh, one query for the requirements; the upstream's record only
        when two reads differ.
        """
        now = self.states(node.deps, fresh=True)
        seen: dict[str, tuple[str, str]] = {}  # upstream -> (state read, requirement)
        for dep in node.deps:
            info = now.get(dep)
            if info is None or not info[1]:
                continue  # no record, or one that does not say what it read
            for pair in info[1].split(";"):
                up, _, state = pair.partition("=")
                first = seen.setdefault(up, (state, dep))
                if first[0] == state:
                    continue
                current = self.states([up], fresh=True).get(up)
                stale, other = (dep, first[1])
                if current is not None and state == current[0]:
                    stale, other = first[1], dep  # this one read the upstream as it is now
                stale_name = requirement_name(node, stale)
                return stale, (
                    f"{stale_name}[{stale[:10]}] was made from another run of [{up[:10]}] "
                    f"than {requirement_name(node, other)}[{other[:10]}] (it ran again, in "
                    f"another build, after {stale_name} read it): "
                    f"{type(node.task).__qualname__} would read both"
                )
        return None

    def changed_inputs(
        self, node: Node, inputs: dict[str, str], *, fresh: bool = False
    ) -> list[str]:
        """The requirements of ``node`` whose record's state now is not what its recorded
        run read (``inputs``): run again since, first run since, or their record gone.
        ``fresh`` reads their records again (after a run: another build may have run one
        again while it ran)."""
        now = self.states(node.deps, fresh=fresh)
        changed = []
        for dep in node.deps:
            info = now.get(dep)
            if (dep in inputs or info is not None) and inputs.get(dep) != (info and info[0]):
                changed.append(dep)
        return changed

    def stale_upstream(self, graph: Graph, uids: list[str]) -> dict[str, str]:
        """Of the complete tasks ``uids``, those made from an output that has changed since,
        directly or anywhere upstream, each with the reason.

        Reads the states of every record below them (once per build, together), then
        decides from the bottom up: a task is out of date when what its run read differs
        from its requirement's record now (or that record is gone), or when a requirement
        is out of date. The walk stops at a task without a record (its reader is compared
        with it, and it runs again).
        """
        memo = self._upstream
        nodes = graph.nodes
        for uid in uids:  # a task that requires nothing read nothing
            if uid not in memo and not nodes[uid].deps:
                memo[uid] = None
        todo = {u for u in uids if u not in memo}
        if todo:
            below: set[str] = set(todo)
            # The state of each task below and of each requirement they name (one decided
            # earlier, or a fan-in's leaves: compared with what was read of them), together.
            wanted: set[str] = set(todo)
            stack = list(todo)
            while stack:
                deps = nodes[stack.pop()].deps
                wanted.update(deps)
                for dep in deps:
                    if dep not in below and dep not in memo:
                        below.add(dep)
                        stack.append(dep)
            states = self._states
            self._fetch([u for u in wanted if u not in states])
            direct = self._direct
            for uid in self._deps_first(graph, below):
                info = states.get(uid)
                deps = nodes[uid].deps
                if info is None or not deps:  # no record, or it read nothing
                    memo[uid] = None
                    continue
                if uid in direct:  # its own check compared what it read (a root)
                    found = direct[uid]
                    memo[uid] = found or next(
                        (r for d in deps if (r := memo.get(d)) is not None), None
                    )
                    continue
                read = info[1]
                if len(deps) == 1 and read is not None:  # a chain's link: no list, no join
                    dep = deps[0]
                    got = states.get(dep)
                    if read == ("" if got is None else f"{dep}={got[0]}"):
                        memo[uid] = memo.get(dep)
                        continue
                changed = _changed_input(deps, read, states)
                if changed is not None:
                    memo[uid] = _read_changed(nodes[uid], *changed)
                    continue
                memo[uid] = next((r for d in deps if (r := memo.get(d)) is not None), None)
        return {u: r for u in uids if (r := memo.get(u)) is not None}

    def _deps_first(self, graph: Graph, uids: set[str]) -> list[str]:
        """``uids`` in the graph's dependencies-first order."""
        if 4 * len(uids) >= len(graph.order):  # most of the graph: one pass, no sort
            return [u for u in graph.order if u in uids]
        if self._order_of is not graph:
            self._pos = {uid: i for i, uid in enumerate(graph.order)}
            self._order_of = graph
        return sorted(uids, key=self._pos.__getitem__)


def _changed_input(
    deps: list[str], read: str | None, states: dict[str, StateInfo | None]
) -> tuple[str, str] | None:
    """The requirement among ``deps`` whose record's state now is not what a run read
    (``read``, as :func:`~tasuki.core.records.inputs_text` wrote it), with that state; or
    None.

    Whole strings are compared first (a run lists its requirements in this order): one
    join per task, no dict per record. A requirement that had none then and has one now ran
    since. One that had a record when the run read it and has none now (its rerun was
    killed after the old record was dropped, a record removed by hand) is a change too,
    with the state ``""``: what was read cannot be checked, and a sibling may have read
    the requirement's later output (a task reading both would mix two versions of it);
    the requirement, without a record, runs again first.
    """
    if read is None or not deps:
        return None  # a record that does not say what its run read: trusted
    now = [(d, info[0]) for d in deps if (info := states.get(d)) is not None]
    if read == ";".join(f"{d}={state}" for d, state in now):
        return None
    then = dict(part.split("=", 1) for part in read.split(";")) if read else {}
    changed = next(((d, state) for d, state in now if then.get(d) != state), None)
    if changed is None:  # the same states, fewer of them: a requirement's record is gone
        changed = next(((d, "") for d in deps if d in then and states.get(d) is None), None)
    return changed


def requirement_name(node: Node, uid: str) -> str:
    """The class name of the requirement ``uid`` of ``node``'s task."""
    for dep in flatten(node.requires):
        if dep.unique_id == uid:
            return type(dep).__qualname__
    return "a requirement"


def _read_changed(reader: Node, uid: str, state: str) -> str:
    name = requirement_name(reader, uid)
    if not state:
        return (
            f"{name}[{uid[:10]}] {NO_RECORD_NOW} (a rerun of it stopped, or its record was "
            f"removed): what {type(reader.task).__qualname__} read of it is checked once it "
            "has run again"
        )
    how = "and failed" if state.startswith("f") else "and made other outputs"
    return (
        f"{name}[{uid[:10]}] {READ_CHANGED} {type(reader.task).__qualname__} read its output, {how}"
    )


def made_from(store: Store, uid: str, source: str, state: str, *, limit: int = 10_000) -> bool:
    """Whether the run of ``uid`` that its record holds now was made from the run of
    ``source`` whose record state is ``state``: its record, or one of the records below it,
    says it read ``source`` in that state.

    A query task asks it of the write-back that wrote a table it reads, to tell its own
    pipeline's write (made from the query's result) from a write that changed its input.
    Walks at most ``limit`` records, one read per level; False where the way down ends
    (a record missing, or not saying what its run read) before reaching ``source``.
    """
    seen = {uid}
    level = [uid]
    while level and len(seen) <= limit:
        states = read_states(store, level)
        below: list[str] = []
        for at in level:
            info = states.get(at)
            if info is None or not info[1]:
                continue
            for pair in info[1].split(";"):
                up, _, read = pair.partition("=")
                if up == source:
                    if read == state:
                        return True
                elif up not in seen:  # another run of source stops this way down
                    seen.add(up)
                    below.append(up)
        level = below
    return False
