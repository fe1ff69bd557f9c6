"""Builds refused once planned, before anything runs: two tasks of one build that would
write one output, or write and read one table outside the workspace in no order.

Either would make what a task reads depend on which task the scheduler ran first; the
records would say the run was right either way, and later builds would trust them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from tasuki._table_keys import any_schema
from tasuki.errors import TaskError

if TYPE_CHECKING:
    from tasuki.core.graph import Graph

__all__ = ["check_plan"]

logger = logging.getLogger(__name__)


def check_plan(graph: Graph, needed: Collection[str], complete: Collection[str]) -> None:
    """Refuse a planned build whose tasks (those that run and those found complete) would
    write one output twice, or write a table outside the workspace that another of them
    reads or writes, with neither task after the other.

    Raises:
        TaskError: naming both tasks, what they share, and how to fix it.
    """
    writers = _check_own_outputs(graph, needed, complete)
    if writers:
        _check_outside_order(graph, writers, (needed, complete))


#: table key -> (task, whether it replaces the table)
Writers = dict[str, list[tuple[str, bool]]]


def _check_own_outputs(graph: Graph, needed: Iterable[str], complete: Iterable[str]) -> Writers:
    """Refuse a build in which a task would write a file another task of the build declares
    as its output: one would overwrite the other, and a task reading the first would get
    the second's data, or a damaged-output error. Returns who writes each table outside
    the workspace: tasks whose outputs are tables (``Target.touches()``), and tasks whose
    class says what it writes besides its outputs (``_writes_outside()``, a migration's
    target table), for :func:`_check_outside_order`.

    Only tasks that run and tasks found complete are compared: their output keys are known
    by now (the check read them), so a warm build pays one dict lookup per output.
    """
    owner: dict[str, str] = {}
    nodes = graph.nodes
    writers: Writers = {}
    hooks: dict[type, Any] = {}
    for group in (needed, complete):
        for uid in group:
            node = nodes[uid]
            claims = node.output_keys()
            outside = node.external_targets()
            if outside:  # a table replaced is the task's own too
                claims = claims + [c for t in outside if (c := t.claim()) is not None]
                for target in outside:
                    if (key := target.touches()) is not None:
                        writers.setdefault(key, []).append((uid, target.claim() is not None))
                    if (anywhere := target.touches_any_schema()) is not None:
                        writers.setdefault(anywhere, []).append((uid, False))
            cls = type(node.task)
            if (hook := hooks.get(cls, _UNASKED)) is _UNASKED:
                hook = hooks[cls] = getattr(cls, "_writes_outside", None)
            if hook is not None:
                for key, replaces in hook(node.task):
                    writers.setdefault(key, []).append((uid, replaces))
                    if replaces:
                        claims = [*claims, f"table {key}"]
            for key in claims:
                first = owner.setdefault(key, uid)
                if first != uid:
                    raise _shared_output_error(graph, key, first, uid)
    return writers


_UNASKED = object()


def _shared_output_error(graph: Graph, key: str, first: str, second: str) -> TaskError:
    a, b = graph.nodes[first].task, graph.nodes[second].task
    if key.startswith("table "):
        what = f"both replace {key[len('table ') :]}: the second would undo the first"
        fix = "write them to other tables, or append or merge (mode='append' / 'merge')"
    else:
        what = (
            f"both declare the output {key}: a build would write one over the other and hand "
            "each reader whichever came last"
        )
        fix = (
            "give each task an output of its own: self.make_target(name) puts the task's "
            "unique id in the file name (a FileTarget made by hand needs the parameters in "
            "its key)"
        )
    return TaskError(
        f"{a!r} [{first[:10]}] and {b!r} [{second[:10]}] {what}. To fix it, {fix}",
        task=type(b).task_name(),
        name=key,
    )


def _check_outside_order(graph: Graph, writers: Writers, groups: tuple[Iterable[str], ...]) -> None:
    """Refuse a table written by one task of the build and read (a query task's
    ``_reads_outside()``, through views too) or replaced-and-appended-to by another, where
    neither depends on the other, directly or not: the reader would see the table before or
    after the write, and the table end up with or without the other write's rows, as the
    scheduler happened to order them. A write made from a query of its own table is in
    order, and warned of (:func:`_warn_loop`). Only builds with a task writing outside the
    workspace get here."""
    nodes = graph.nodes
    order = _Order(graph)
    for key, tasks in writers.items():
        replaces = [uid for uid, replaced in tasks if replaced]
        for first in replaces:
            for second, replaced in tasks:
                if not replaced and order.unordered(first, second):
                    raise _order_error(graph, key, first, second, reads=False)
    asked: dict[type, Any] = {}
    for group in groups:
        for uid in group:
            cls = type(nodes[uid].task)
            if cls not in asked:
                asked[cls] = getattr(cls, "_reads_outside", None)
            reads = asked[cls]
            if reads is None:
                continue
            for key, via in reads(nodes[uid].task):
                # A write of the name without a schema may be this table (its search path).
                written = [*writers.get(key, ()), *writers.get(any_schema(key) or "", ())]
                for writer, _ in written:
                    if writer == uid:
                        continue
                    if order.unordered(writer, uid):
                        raise _order_error(graph, key, writer, uid, reads=True, via=via)
                    if order.above(uid, writer):
                        _warn_loop(graph, key, writer, uid)


class _Order:
    """Whether two tasks are ordered, from each one's dependents, walked once per task (a
    table appended to by many tasks and read by many queries asks for the same ones)."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._walked: dict[str, set[str]] = {}

    def _dependents(self, uid: str) -> set[str]:
        found = self._walked.get(uid)
        if found is None:
            found = self._walked[uid] = self.graph.ancestors_of([uid])
        return found

    def unordered(self, a: str, b: str) -> bool:
        """Whether neither of ``a`` and ``b`` depends on the other, directly or not."""
        return b not in self._dependents(a) and a not in self._dependents(b)

    def above(self, a: str, b: str) -> bool:
        """Whether ``b`` depends on ``a``, directly or not."""
        return b in self._dependents(a)


def _warn_loop(graph: Graph, key: str, writer: str, reader: str) -> None:
    """A write made from a query of the table it writes: say before the first run that the
    pipeline will run again at every build, on its own output."""
    w, r = graph.nodes[writer].task, graph.nodes[reader].task
    logger.warning(
        "%r [%s] writes %s, which %r [%s] upstream of it reads: every build will find the "
        "table written since the query ran and run both again, on the pipeline's own output "
        "(an incremental update would be applied twice). To have it cached, write the result "
        "to another table",
        w,
        writer[:10],
        key.partition(" in ")[0],
        r,
        reader[:10],
    )


def _order_error(
    graph: Graph, key: str, writer: str, other: str, *, reads: bool, via: str | None = None
) -> TaskError:
    w, o = graph.nodes[writer].task, graph.nodes[other].task
    table = key.partition(" in ")[0]
    if reads:
        through = f" (through the view {via})" if via else ""
        what = (
            f"reads {table}{through}, which {w!r} [{writer[:10]}] writes in this build, and "
            "neither runs after the other: the query would read the table before or after the "
            "write, whichever the scheduler ran first"
        )
        fix = (
            "pass after=[<the write task>] to the query task to read what it writes (or, to "
            "read the table as it was, make the write require the query, or build them apart)"
        )
    else:
        what = (
            f"writes {table}, which {w!r} [{writer[:10]}] replaces in this build, and neither "
            "runs after the other: the table would keep or lose these rows, whichever the "
            "scheduler ran first"
        )
        fix = "make one of the two tasks require the other, or write them to other tables"
    return TaskError(
        f"{o!r} [{other[:10]}] {what}. To fix it, {fix}",
        task=type(o).task_name(),
        name=key,
    )
