"""Running one task: lease, run(), verify outputs, write the record.

The same function runs in the scheduling process (``workers=1``) and in worker processes,
so both paths keep the same guarantees: outputs appear atomically, the record is written
last (a task killed at any point is simply incomplete), and a task someone else finished
while we waited for its lease is reported as cached, not run twice.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki.core import context
from tasuki.core.fingerprint import code_fingerprint
from tasuki.core.params import to_jsonable
from tasuki.core.records import RunRecord, environment, now_iso, record_key
from tasuki.core.results import ErrorInfo, TaskResult
from tasuki.core.targets import OutputInfo, Target
from tasuki.core.task import declared_outputs
from tasuki.errors import MissingOutputError, TaskError

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = ["Completeness", "execute", "targets_of"]

logger = logging.getLogger(__name__)

#: Built-in exceptions worth retrying besides errors whose ``retryable`` is True.
_TRANSIENT = (ConnectionError, TimeoutError)


def targets_of(outputs: Any) -> list[Target]:
    """The targets in an ``output()`` structure (single, list, tuple, dict)."""
    if outputs is None:
        return []
    if isinstance(outputs, Target):
        return [outputs]
    if isinstance(outputs, dict):
        return [t for v in outputs.values() for t in targets_of(v)]
    if isinstance(outputs, list | tuple):
        return [t for v in outputs for t in targets_of(v)]
    raise TaskError(
        f"output() returned a {type(outputs).__name__}; it may return a target from "
        "make_target(), None, or a list / tuple / dict of targets",
    )


def output_keys(task: Task) -> list[str]:
    """Workspace keys of a task's declared outputs (cached on the task value)."""
    keys: list[str] | None = task.__dict__.get("_tasuki_output_keys")
    if keys is None:
        targets = targets_of(declared_outputs(task))
        keys = [t.key for t in targets if t.in_store]
        task.__dict__["_tasuki_output_keys"] = keys
        task.__dict__["_tasuki_external"] = [t for t in targets if not t.in_store]
    return keys


def external_targets(task: Task) -> list[Target]:
    """Declared outputs that live outside the workspace (warehouse tables)."""
    output_keys(task)
    external: list[Target] = task.__dict__["_tasuki_external"]
    return external


@dataclass
class Completeness:
    """Decides whether a task's cached output can be used."""

    store: Store
    on_code_change: str

    def __post_init__(self) -> None:
        self._warned: set[str] = set()

    def keys(self, task: Task) -> list[str]:
        """The keys whose presence makes ``task`` complete: record first, then outputs."""
        return [record_key(task.unique_id), *output_keys(task)]

    def accept(self, task: Task) -> bool:
        """Whether a present record may be trusted given the code-change policy."""
        if self.on_code_change == "ignore":
            return True
        try:
            record = RunRecord.read(self.store, task.unique_id)
        except (FileNotFoundError, ValueError):
            return False
        current = code_fingerprint(type(task))
        if record.code_fingerprint == current:
            return True
        name = type(task).task_name()
        if self.on_code_change == "rerun":
            logger.info("code of %s changed since its output was made: running again", name)
            return False
        if name not in self._warned:
            self._warned.add(name)
            logger.warning(
                "code of %s changed since its cached output %s was made; using the cache. "
                "Bump the task's `version` to recompute, or set on_code_change = 'rerun'.",
                name,
                task.unique_id[:12],
            )
        return True

    def check(self, task: Task) -> bool:
        """Record and every output present (and accepted by the code-change policy)."""
        exists = self.store.exists
        return (
            all(exists(k) for k in self.keys(task))
            and all(t.exists(self.store) for t in external_targets(task))
            and self.accept(task)
        )

    def check_many(self, tasks: list[Task]) -> list[bool]:
        """``check`` for many tasks; remote stores look the keys up concurrently."""
        if self.store.is_local or len(tasks) < 2:
            return [self.check(t) for t in tasks]
        all_keys = [self.keys(t) for t in tasks]
        flat = self.store.exists_many([k for keys in all_keys for k in keys])
        out, i = [], 0
        for task, keys in zip(tasks, all_keys, strict=True):
            present = all(flat[i : i + len(keys)])
            i += len(keys)
            present = present and all(t.exists(self.store) for t in external_targets(task))
            out.append(present and self.accept(task))
        return out


class _LogTail(logging.Handler):
    """Keeps the last lines logged by the running task's thread."""

    def __init__(self, limit: int = 50) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.lines: deque[str] = deque(maxlen=limit)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            try:
                self.lines.append(self.format(record))
            except Exception:  # a broken log call must not fail the task
                self.lines.append(str(record.msg))


def _is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False)) or isinstance(exc, _TRANSIENT)


def execute(
    task: Task,
    store: Store,
    settings: Settings,
    completeness: Completeness,
    *,
    forced: bool,
) -> TaskResult:
    """Run one task under its lease and return what happened."""
    uid = task.unique_id
    name = type(task).task_name()
    lease = store.lease(uid)
    lease.acquire(timeout=settings.lock_timeout)
    try:
        if not forced and completeness.check(task):
            return TaskResult(uid, name, "cached", note="finished by another process")
        if forced:
            # Drop the old record first: until the new one is written the task is incomplete,
            # so a crash in the middle of a rerun cannot leave old and new outputs mixed.
            store.remove(record_key(uid))
        return _run_with_retries(task, store, settings)
    finally:
        lease.release()


def _run_with_retries(task: Task, store: Store, settings: Settings) -> TaskResult:
    uid = task.unique_id
    name = type(task).task_name()
    attempt = 0
    while True:
        attempt += 1
        started_at = now_iso()
        t0 = time.perf_counter()
        ctx = context.RunContext(store, fail_on_empty_dump=settings.fail_on_empty_dump)
        tail = _LogTail()
        root = logging.getLogger()
        root.addHandler(tail)
        token = context.activate(ctx)
        try:
            task.run()
            outputs = _verify_outputs(task, store, ctx)
        except Exception as exc:
            duration = time.perf_counter() - t0
            error = ErrorInfo(
                type(exc).__name__, str(exc), traceback.format_exc(), _is_retryable(exc)
            )
            if error.retryable and attempt <= settings.retries:
                delay = settings.retry_backoff * 2 ** (attempt - 1)
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
            return TaskResult(
                uid,
                name,
                "failed",
                started_at=started_at,
                finished_at=now_iso(),
                duration_s=duration,
                attempts=attempt,
                error=error,
                log_tail=list(tail.lines),
            )
        finally:
            context.deactivate(token)
            root.removeHandler(tail)
        duration = time.perf_counter() - t0
        finished_at = now_iso()
        _write_record(task, store, outputs, ctx, started_at, finished_at, duration, tail)
        return TaskResult(
            uid,
            name,
            "ran",
            started_at=started_at,
            finished_at=finished_at,
            duration_s=duration,
            attempts=attempt,
            log_tail=list(tail.lines),
        )


def _verify_outputs(task: Task, store: Store, ctx: context.RunContext) -> list[OutputInfo]:
    infos = []
    for target in targets_of(declared_outputs(task)):
        info = ctx.written.get(target.key)
        if info is None:
            if not target.exists(store):
                raise MissingOutputError(
                    f"{task!r}.run() finished without writing its output {target.key}. "
                    "Call self.dump(value) (or self.dump(value, name) for one of several "
                    "outputs) for every target output() declares.",
                    task=type(task).task_name(),
                    key=target.key,
                )
            info = target.info(store)
        infos.append(info)
    return infos


def _write_record(
    task: Task,
    store: Store,
    outputs: list[OutputInfo],
    ctx: context.RunContext,
    started_at: str,
    finished_at: str,
    duration: float,
    tail: _LogTail,
) -> None:
    from tasuki.core.task import flatten

    info = type(task)._info()
    record = RunRecord(
        unique_id=task.unique_id,
        task=info.name,
        params={n: to_jsonable(v) for n, v in task.param_values.items()},
        significant=list(info.significant),
        version=type(task).version,
        requires=[t.unique_id for t in flatten(task.__dict__.get("_tasuki_requires"))],
        outputs=[o.to_json() for o in outputs],
        code_fingerprint=code_fingerprint(type(task)),
        status="done",
        started_at=started_at,
        finished_at=finished_at,
        duration_s=round(duration, 6),
        task_log=dict(ctx.task_log),
        log_tail=list(tail.lines),
        environment=environment(),
    )
    record.write(store)
