"""Running one task: lease, run(), verify outputs, write the record.

The same function runs in the scheduling process (``workers=1``) and in worker processes,
so both paths keep the same guarantees: outputs appear atomically, the record is written
last (a task killed at any point is simply incomplete), and a task someone else finished
while we waited for its lease is reported as cached, not run twice.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from tasuki._backoff import backoff_delay
from tasuki._redact import redact, redact_json
from tasuki.core import context
from tasuki.core._moved import (
    GONE,
    MOVED_TRIES,
    await_requirements,
    damaged_requirement,
    moved_error,
    moved_inputs,
    moved_under_load,
)
from tasuki.core._output_check import output_change, record_stamps
from tasuki.core._reads import Reads, requirement_name
from tasuki.core.code import code_fingerprint, code_keys, code_of
from tasuki.core.fingerprint import encode
from tasuki.core.graph import Graph, Node, build_graph
from tasuki.core.params import to_jsonable
from tasuki.core.records import (
    RunRecord,
    delete_record,
    environment,
    forget_outputs,
    now_iso,
    remember_outputs,
    save_code,
)
from tasuki.core.results import ErrorInfo, TaskResult
from tasuki.core.targets import OutputInfo, Target, targets_of
from tasuki.core.task import flatten
from tasuki.errors import MissingOutputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tasuki.config import Settings
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = ["RECHECK", "Completeness", "TaskLogHandler", "code_change", "execute", "targets_of"]

logger = logging.getLogger(__name__)

#: Built-in exceptions worth retrying besides errors whose ``retryable`` is True.
_TRANSIENT = (ConnectionError, TimeoutError)

#: The error type of a task that did not run because two of its requirements were made from
#: two runs of one upstream (:meth:`Reads.mixed_reads`): the build repairs it.
MIXED = "MixedInputsError"
#: What :meth:`Completeness.verdict` says of a task that has no run record.
NO_RECORD = "it has no run record in this workspace"
#: The start of the reason a complete task is planned with when a task below it runs first
#: in the same build (``runner.plan``) or is run again there (a damaged output's producer).
RECHECK = "checked again once a task below it has run"


@dataclass
class Completeness:
    """Decides whether a task's cached output can be used, and says why not.

    A task is complete when its run record exists and says ``done`` (a ``failed`` record
    never makes a task complete, whatever outputs its run left), every output the record
    lists is there with the size the record says (a stat: a truncated or replaced file is
    not done) and, where its stamp changed since, the bytes too (:func:`output_change`),
    its warehouse outputs exist, and the record's code key matches the code of
    the task and of everything upstream (``on_code_change``: ``rerun`` treats a change as
    out of date, ``warn`` uses the output and says so once per task class, ``ignore`` uses
    it silently), and what its run read of each requirement (the state of its record then)
    is what that requirement's record holds now.
    Only the records of the tasks checked are read whole: a warm build reads the roots'
    records, and the state of each record below them (:meth:`stale_upstream`).
    """

    store: Store
    on_code_change: str = "rerun"
    code_keys: dict[str, str] = field(default_factory=dict)
    build_id: str | None = None
    """The build whose records :func:`execute` stamps. It rides here because this is the one
    per-build object every executor already hands to :func:`execute`, in whatever process."""

    def __post_init__(self) -> None:
        self._warned: set[str] = set()
        self.reads = Reads(self.store)
        # uid -> output keys whose record entries this check remembered (remember_outputs).
        self._remembered: dict[str, list[str]] = {}
        #: When this check began: a record finished later was written while it ran.
        self.since = now_iso()

    def code_key(self, task: Task) -> str:
        """The code key of ``task`` (from the build's graph, or computed on its own)."""
        uid = task.unique_id
        key = self.code_keys.get(uid)
        if key is None:
            self.code_keys.update(code_keys(build_graph([task])))
            key = self.code_keys[uid]
        return key

    def verdict(self, node: Node, *, fresh: bool = False) -> str | None:
        """None when ``node``'s task is complete, else why it must run (one short sentence).

        ``fresh`` reads the states of its requirements again rather than what this check
        read before (under the task's lease, where a requirement may have run since).
        """
        store = self.store
        task = node.task
        keys = node.output_keys()
        external = node.external_targets()
        try:
            record = RunRecord.read(store, task.unique_id)
        except FileNotFoundError:
            record = None
        except ValueError:
            return "its run record is unreadable"
        if record is None:
            if not keys and external and all(t.exists(store) for t in external):
                # A write-back: the table's lineage row is the marker, from any workspace,
                # and it keeps the code key the table was written with.
                return self._external_code(task, external)
            return NO_RECORD
        if record.status == "failed":
            # Checked before the outputs: a failed run may have written some of them.
            err = record.error or {}
            what = f" ({err.get('type')}: {err.get('message')})" if err.get("type") else ""
            return f"its last run failed{what}"
        if not record.done:
            return f"its last run did not finish (status {record.status!r})"
        recorded = {o.get("key"): o for o in record.outputs}
        restamp: dict[str, str] = {}
        for key in keys:
            entry = recorded.get(key)
            if entry is None:
                return f"its record does not list the output {key} (output() changed)"
            try:
                changed = output_change(store, key, entry, restamp)
            except FileNotFoundError:
                return f"its output {key} is missing"
            if changed is not None:
                return changed
        if restamp:
            record_stamps(store, record, restamp)
        remember_outputs(store, record)
        self._remembered[task.unique_id] = keys
        for target in external:
            if not target.exists(store):
                return f"its output {target!r} is missing"
        if record.code_key != self.code_key(task) and self.on_code_change != "ignore":
            reason = code_change(task, record)
            if self.on_code_change != "warn":
                return reason
            name = type(task).task_name()
            if name not in self._warned:
                self._warned.add(name)
                logger.warning(
                    "%s: %s since its cached output %s was made; using the cache "
                    "(on_code_change = 'warn'). `tasuki why` shows the change.",
                    name,
                    reason,
                    task.unique_id[:12],
                )
        changed = self.reads.input_change(node, record.inputs, fresh=fresh)
        if changed is None and fresh:
            # Under the lease, a task planned to run whose record is complete may be there for
            # an input outside the workspace: ask again (another build may have run it since;
            # a worker that runs tasks by id has no plan to look at).
            check = getattr(type(task), "_stale_outside", None)
            changed = None if check is None else check(task, record, self.store)
        return changed

    def outside_changes(self, graph: Graph) -> dict[str, str]:
        """Tasks of ``graph`` whose inputs outside the workspace moved since their last run
        (a query task: a table it reads was written back since), each with the reason, and
        every task downstream of one ("upstream runs"). Only tasks whose class can date
        such inputs (a ``_stale_outside(record, store)`` method) and that have a finished run are
        asked: a build with none pays one attribute lookup per task class."""
        moved: dict[str, str] = {}
        asked: dict[type, Any] = {}
        for uid, node in graph.nodes.items():
            cls = type(node.task)
            if cls not in asked:
                asked[cls] = getattr(cls, "_stale_outside", None)
            check = asked[cls]
            if check is None:
                continue
            try:
                record = RunRecord.read(self.store, uid)
            except (FileNotFoundError, ValueError):
                continue  # no finished run: the task runs anyway
            if record.done and (reason := check(node.task, record, self.store)) is not None:
                moved[uid] = reason
        if not moved:
            return moved
        for uid in graph.order:  # dependencies first: what reads a moved task runs too
            if uid in moved:
                continue
            node = graph.nodes[uid]
            up = next((d for d in node.deps if d in moved), None)
            if up is not None:
                moved[uid] = f"{type(graph.nodes[up].task).__qualname__}[{up[:10]}] upstream runs"
        return moved

    # What a run read (tasuki.core._reads): kept per build, compared below complete tasks.

    def forget(self, uids: Iterable[str]) -> None:
        """Drop what was read of ``uids`` (tasks this build runs: their records change)."""
        uids = list(uids)
        self.reads.forget(uids)
        for uid in uids:
            keys = self._remembered.pop(uid, None)
            if keys:  # a complete task found out of date: loads must read its new record
                forget_outputs(self.store, keys)

    def remember(self, record: RunRecord) -> None:
        """Keep the state of a record this process just wrote."""
        self.reads.remember(record)

    def inputs_of(self, node: Node, *, fresh: bool = False) -> dict[str, str]:
        """What a run of ``node``'s task reads (see :meth:`Reads.inputs_of`)."""
        return self.reads.inputs_of(node, fresh=fresh)

    def stale_upstream(self, graph: Graph, uids: list[str]) -> dict[str, str]:
        """Of the complete tasks ``uids``, those made from an upstream output that has
        changed since, each with the reason (see :meth:`Reads.stale_upstream`)."""
        return self.reads.stale_upstream(graph, uids)

    def _external_code(self, task: Task, external: list[Target]) -> str | None:
        if self.on_code_change == "ignore":
            return None
        current = self.code_key(task)
        recorded = [t.recorded_code_key(self.store) for t in external]
        if all(key is None or key == current for key in recorded):
            return None
        reason = "the code behind its table changed since the table was written (lineage row)"
        if self.on_code_change == "warn":
            name = type(task).task_name()
            if name not in self._warned:
                self._warned.add(name)
                logger.warning("%s: %s; using the table (on_code_change = 'warn')", name, reason)
            return None
        return reason

    def check(self, node: Node, *, fresh: bool = False) -> bool:
        """Whether ``node``'s task is complete (see the class docstring)."""
        return self.verdict(node, fresh=fresh) is None

    def check_many(self, nodes: list[Node]) -> list[bool]:
        """``check`` for many nodes; remote stores are asked concurrently."""
        return [v is None for v in self.verdicts(nodes)]

    def verdicts(self, nodes: list[Node]) -> list[str | None]:
        """``verdict`` for many nodes; remote stores are asked concurrently."""
        if self.store.is_local or len(nodes) < 2:
            return [self.verdict(n) for n in nodes]
        from concurrent.futures import ThreadPoolExecutor

        for node in nodes:  # compute outside the threads (fills self.code_keys)
            self.code_key(node.task)
        workers = min(16, len(nodes))
        # Each check runs in a copy of this thread's context: output() may ask for the
        # build's settings (tasuki.config.active_settings), which pool threads lack. One
        # copy per node, made here: a context can be entered by one thread at a time.
        contexts = [contextvars.copy_context() for _ in nodes]
        with ThreadPoolExecutor(workers, thread_name_prefix="tasuki-check") as pool:
            return list(pool.map(lambda c, n: c.run(self.verdict, n), contexts, nodes))


def _cached_after_all(store: Store, uid: str, completeness: Completeness) -> str:
    """Why a task the plan said must run was complete when its turn came."""
    try:
        finished = RunRecord.read(store, uid).finished_at
    except (FileNotFoundError, ValueError):
        finished = ""
    if finished >= completeness.since:
        return "finished by another process"
    # Planned because an upstream output it read changed; the upstream ran again in this
    # build and made the same bytes as the run this output was made from.
    return "what it reads came out unchanged"


def code_change(task: Task, record: RunRecord) -> str:
    """What changed in the code behind ``task`` since ``record`` was written."""
    if record.code_key is None:
        return "its record was written by a tasuki that did not record upstream code"
    if record.code_fingerprint != code_fingerprint(type(task)):
        return f"the code of {type(task).__qualname__} changed"
    return "the code of a task upstream changed"


_TAIL: contextvars.ContextVar[deque[str] | None] = contextvars.ContextVar(
    "tasuki_task_log_tail", default=None
)
_TAIL_LINES = 50

# The id of the build running the task, for the records it writes: set by execute() around
# one task's run (in whatever process runs it), read where the records are made.
_BUILD_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tasuki_build_id", default=None
)


class TaskLogHandler(logging.Handler):
    """Keeps the last lines a running task logs, for its run record and notifications.

    tasuki never adds handlers to its host's loggers: the ``tasuki`` command installs this
    one on the root logger, and a program that calls ``tasuki.build`` can do the same
    (``logging.getLogger().addHandler(TaskLogHandler())``) to keep log tails in its records.
    It costs nothing outside a task: the running task's tail is found in a context variable,
    so only the task's own thread (and what it logs while running) is kept.
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        tail = _TAIL.get()
        if tail is None:
            return
        try:
            tail.append(redact(self.format(record)))
        except Exception:  # a broken log call must not fail the task
            tail.append(redact(record.msg))


def _is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False)) or isinstance(exc, _TRANSIENT)


def execute(
    node: Node,
    store: Store,
    settings: Settings,
    completeness: Completeness,
    *,
    forced: bool,
    on_start: Callable[[str], None] | None = None,
    graph: Graph | None = None,
    fresh_inputs: bool = False,
) -> TaskResult:
    """Run one graph node's task under its lease and return what happened.

    ``on_start(uid)`` is called when ``run()`` is about to begin (after the lease is held and
    the task is found still incomplete), not when the task was queued. ``graph``, the build's
    graph, lets ``load()`` reuse the outputs its nodes computed. ``fresh_inputs`` reads the
    states of the requirements for the record from the records (see ``WorkItem.fresh``).
    """
    task = node.task
    uid = node.uid
    name = type(task).task_name()
    lease = store.lease(uid)
    lease.acquire(timeout=settings.lock_timeout)
    try:
        reason = None if forced else completeness.verdict(node, fresh=True)
        if not forced and reason is None:
            return TaskResult(uid, name, "cached", note=_cached_after_all(store, uid, completeness))
        moved: list[str] = []
        for tries in range(MOVED_TRIES + 1):
            if moved:
                gone = await_requirements(node, moved, store, settings, completeness)
                if gone is not None:  # the build runs that requirement again, then this task
                    return TaskResult(
                        uid, name, "failed", error=ErrorInfo(GONE, gone[1], "", False),
                        damaged=gone[0],
                    )  # fmt: skip
            if len(node.deps) > 1:
                mixed = completeness.reads.mixed_reads(node)
                if mixed is not None:  # the build runs that requirement again, then this task
                    return TaskResult(
                        uid, name, "failed", error=ErrorInfo(MIXED, mixed[1], "", False),
                        damaged=mixed[0],
                    )  # fmt: skip
            if tries == MOVED_TRIES:
                return TaskResult(uid, name, "failed", error=moved_error(node, moved))
            if tries == 0 and reason != NO_RECORD:
                # Drop the old record first (a rerun, a code change, an upstream that
                # changed): until the new one is written the task is incomplete, so a run
                # killed after writing some outputs never leaves them under the old record,
                # which could pass for complete again (the code reverted, the upstream back
                # to what it read).
                delete_record(store, uid)
            if tries == 0 and on_start is not None:
                on_start(uid)
            build_token = _BUILD_ID.set(completeness.build_id)
            try:
                ran = _run_with_retries(
                    node, store, settings, completeness, graph, fresh_inputs or bool(moved)
                )
            finally:
                _BUILD_ID.reset(build_token)
            if isinstance(ran, TaskResult):
                return ran
            moved = ran
            logger.info(
                "%r: %s ran again in another build while it ran, so what it read may be "
                "of two runs; running it again",
                task,
                ", ".join(f"{requirement_name(node, dep)}[{dep[:10]}]" for dep in moved),
            )
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        lease.release()


def _run_with_retries(
    node: Node,
    store: Store,
    settings: Settings,
    completeness: Completeness,
    graph: Graph | None = None,
    fresh_inputs: bool = False,
) -> TaskResult | list[str]:
    """The task run (again after a failure, as ``settings.retries`` allows) and its record
    written; or, without a record, the requirements another build ran again meanwhile."""
    code_key = completeness.code_key(node.task)
    inputs = completeness.inputs_of(node, fresh=fresh_inputs)
    build_id = _BUILD_ID.get()
    task = node.task
    uid = node.uid
    name = type(task).task_name()
    attempt = 0
    while True:
        attempt += 1
        started_at = now_iso()
        t0 = time.perf_counter()
        ctx = context.RunContext(
            store,
            fail_on_empty_dump=settings.fail_on_empty_dump,
            code_key=code_key,
            task=task,
            requires=node.requires,
            outputs=node.outputs,
            outputs_of=graph.outputs_of if graph is not None else None,
            requires_of=graph.requires_of if graph is not None else None,
            inputs=inputs,
        )
        tail: deque[str] = deque(maxlen=_TAIL_LINES)
        tail_token = _TAIL.set(tail)
        token = context.activate(ctx)
        try:
            task.run()
            outputs = _verify_outputs(node, store, ctx)
        except Exception as exc:
            moved = moved_under_load(exc, node, inputs, completeness)
            if moved:  # not damaged: another build runs it again (or did since this began)
                return moved
            duration = time.perf_counter() - t0
            error = ErrorInfo(
                type(exc).__name__, str(exc), traceback.format_exc(), _is_retryable(exc)
            )
            if error.retryable and attempt <= settings.retries:
                delay = backoff_delay(settings.retry_backoff, attempt)
                logger.warning(
                    "%r failed (attempt %d of %d): %s: %s; retrying in %.1fs",
                    task,
                    attempt,
                    settings.retries + 1,
                    error.type,
                    error.message,
                    delay,
                )
                time.sleep(delay)
                continue
            failed = TaskResult(
                uid,
                name,
                "failed",
                started_at=started_at,
                finished_at=now_iso(),
                duration_s=duration,
                attempts=attempt,
                error=error,
                log_tail=list(tail),
                damaged=damaged_requirement(exc, node),
            )
            _write_failure(node, store, ctx, failed, code_key, build_id)
            return failed
        finally:
            context.deactivate(token)
            _TAIL.reset(tail_token)
        duration = time.perf_counter() - t0
        finished_at = now_iso()
        record = _record(node, outputs, ctx, started_at, finished_at, duration, list(tail))
        record.code_key = code_key
        record.build_id = build_id
        record.inputs = inputs
        # A requirement run again (by another build) while this ran: what run() loaded may
        # be of two runs (one output before, one after), and the record would say it read
        # the first. No record; the caller runs the task again.
        moved = record.write(
            store,
            check=partial(moved_inputs, node, inputs, completeness, ctx.moved)
            if node.deps
            else None,
        )
        if moved:
            return moved
        remember_outputs(store, record)
        completeness.remember(record)
        code = code_of(type(task))
        save_code(store, code.digest, code.text)
        return TaskResult(
            uid,
            name,
            "ran",
            started_at=started_at,
            finished_at=finished_at,
            duration_s=duration,
            attempts=attempt,
            log_tail=list(tail),
        )


def _write_failure(
    node: Node,
    store: Store,
    ctx: context.RunContext,
    result: TaskResult,
    code_key: str,
    build_id: str | None,
) -> None:
    """Record a failed run (still under the task's lease, so no other run's record is
    overwritten by it): status ``failed``, the redacted error, the log tail, the timings, no
    outputs. Completeness never takes it for done; the next successful run replaces it.
    A record that cannot be written is logged: the task's own error is what the build reports.
    """
    record = _record(
        node,
        [],
        ctx,
        result.started_at or now_iso(),
        result.finished_at or now_iso(),
        result.duration_s,
        result.log_tail,
    )
    record.status = "failed"
    record.code_key = code_key
    record.build_id = build_id
    if result.error is not None:  # ErrorInfo has redacted its message and traceback already
        record.error = {**result.error.to_json(), "retryable": result.error.retryable}
    # Outputs this process remembered from an earlier done run are not the task's any more.
    forget_outputs(store, node.output_keys())
    try:
        record.write(store)
        code = code_of(type(node.task))
        save_code(store, code.digest, code.text)
    except Exception:
        logger.exception("could not write the failed run record of %r", node.task)


def _verify_outputs(node: Node, store: Store, ctx: context.RunContext) -> list[OutputInfo]:
    task = node.task
    infos = []
    for target in targets_of(node.outputs):
        info = ctx.written.get(target.key)
        if info is None:
            # A workspace output counts only when this run dumped it: a file already there
            # is an earlier run's (other code, other inputs, or a run killed before its
            # record), and taking it would record old bytes as the output of this code. An
            # output outside the workspace (a table) is written by run() itself.
            there = target.exists(store)
            if target.in_store or not there:
                stale = target.in_store and there
                raise MissingOutputError(
                    f"{task!r}.run() finished without writing its output {target.key}"
                    + (
                        " (the file there is from an earlier run, made by other code or "
                        "inputs, so it is not taken as this run's output)"
                        if stale
                        else ""
                    )
                    + ". Call self.dump(value) (or self.dump(value, name) for one of several "
                    "outputs) for every target output() declares.",
                    task=type(task).task_name(),
                    key=target.key,
                )
            info = target.info(store)
        if not target.in_store and info.kind == "file":
            info = dataclasses.replace(info, kind="table")
        elif target.in_store:
            # One stat per output, so a later check notices a same-size rewrite unread.
            info = info.stamped(store)
        infos.append(info)
    return infos


def record_identity(node: Node) -> dict[str, Any]:
    """What a run record says of the task itself (id, name, parameters, requirements, code):
    the fields every record of ``node``'s task has, however its outputs came to be."""
    task = node.task
    info = type(task)._info()
    return {
        "unique_id": task.unique_id,
        "task": info.name,
        "params": {n: redact_json(to_jsonable(v)) for n, v in task.param_values.items()},
        "significant": list(info.significant),
        "version": type(task).version,
        "requires": [t.unique_id for t in flatten(node.requires)],
        "code_fingerprint": code_fingerprint(type(task)),
        "exact": _exact(task, info.loose) if info.loose else {},
    }


_JSON_PLAIN = (str, int, float, bool, type(None))


def _exact(task: Task, names: tuple[str, ...]) -> dict[str, Any]:
    """The values of ``Any``-typed parameters that plain JSON would not give back (see
    :attr:`RunRecord.exact`), as the unique id encodes them."""
    values = task.__dict__
    return {n: redact_json(encode(values[n])) for n in names if not _plain_json(values[n])}


def _plain_json(value: Any) -> bool:
    """Whether JSON gives ``value`` back as it is (a tuple does not: it comes back a list)."""
    if type(value) in _JSON_PLAIN:
        return True
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    return False


def _record(
    node: Node,
    outputs: list[OutputInfo],
    ctx: context.RunContext,
    started_at: str,
    finished_at: str,
    duration: float,
    tail: list[str],
) -> RunRecord:
    return RunRecord(
        **record_identity(node),
        outputs=[o.to_json() for o in outputs],
        status="done",
        started_at=started_at,
        finished_at=finished_at,
        duration_s=round(duration, 6),
        task_log=dict(ctx.task_log),
        log_tail=tail,
        environment=environment(),
        metrics=list(ctx.metrics),
    )
