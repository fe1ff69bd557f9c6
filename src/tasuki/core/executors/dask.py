"""The Dask executor: each task that must run is one task on a ``dask.distributed`` cluster.

``tasuki run ... --executor dask --scheduler tcp://HOST:8786`` (or ``executor = "dask"`` and
``dask_scheduler = "tcp://..."`` in settings) submits to an existing scheduler; with no
scheduler a ``LocalCluster`` of ``workers`` processes (one thread each) is started for the
build and closed after it.

Only ids travel. The runner has already pruned every cached task and written the
definitions of the tasks that must run into the workspace as one bundle
(:mod:`tasuki.core.definitions`); each Dask task is ``run_one(unique_id, bundle=...)`` on a
worker (which parses the bundle once), with the futures of its upstream tasks as
dependencies, so Dask orders them and the scheduler never carries data: workers read and
write the shared workspace (a shared folder, ``s3://``, ``gs://``), and what comes back is a
small :class:`~tasuki.core.results.TaskResult`, fed to the schedule in this process as with
the local executor (hooks, progress, the summary, records). The results of tasks finishing
within :data:`COALESCE_S` of each other are fetched in one round trip.

- **Resources:** ``resources = {"gpu": 1, "memory": "8GiB"}`` on a task class becomes Dask
  worker resources for its tasks (sizes as strings become bytes); workers declare theirs
  (``dask worker --resources "gpu=2 memory=64e9"``). A ``LocalCluster`` started for the build
  gives each worker the largest amount any task asks for, so such pipelines run locally.
- **Retries:** a failure whose error is retryable (``retryable = True`` on tasuki errors,
  ``ConnectionError``, ``TimeoutError``) is raised to Dask, which retries it up to
  ``retries`` times (``retry_backoff`` is not applied). A worker lost mid-task is Dask's to
  handle: the task reruns on another worker, and its lease and atomic writes keep its output
  written once.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tasuki.core.results import ErrorInfo, TaskResult
from tasuki.errors import ConfigError, TasukiError

if TYPE_CHECKING:
    from distributed import Client, Future

    from tasuki.config import Settings
    from tasuki.core.schedule import Schedule
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = ["DaskExecutor", "task_resources"]

logger = logging.getLogger(__name__)

_OK = ("ran", "cached")

#: Seconds the results of tasks finishing close together are collected for, to be fetched
#: from the cluster in one round trip (each costs the scheduler and a worker a message pair).
COALESCE_S = 0.02
#: A task still running this many seconds after it began has its start reported at once;
#: quicker ones are reported with their result.
START_REPORT_S = 0.05


class RetryableTaskFailure(TasukiError):
    """A task failed with a retryable error on a worker: raised so that Dask retries it.

    Attributes:
        result: The failed :class:`TaskResult` of the last attempt.
    """

    retryable = True


def task_resources(cls: type[Task]) -> dict[str, float]:
    """The Dask resources ``cls.resources`` declares (``{}`` when none), validated.

    Amounts are numbers; a string is a size (``"8GiB"``) and becomes bytes.

    Raises:
        ConfigError: ``resources`` is not a mapping, a key is not a string, or an amount is
            not a non-negative number or size string (the message names the class and key).
    """
    declared = getattr(cls, "resources", None)
    name = cls.task_name()
    if declared is None:
        return {}
    if not isinstance(declared, Mapping):
        raise ConfigError(
            f"{name}.resources is a {type(declared).__name__} ({declared!r}); it must be a "
            'dict such as {"gpu": 1, "memory": "8GiB"}',
            task=name,
            key=None,
        )
    out: dict[str, float] = {}
    for key, value in declared.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(
                f"{name}.resources has the key {key!r} ({type(key).__name__}); resource "
                "names are non-empty strings such as 'gpu'",
                task=name,
                key=repr(key),
            )
        amount: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            amount = float(value)
        elif isinstance(value, str):
            from dask.utils import parse_bytes

            try:
                amount = float(parse_bytes(value))
            except (ValueError, TypeError):
                amount = None
        if amount is None or amount < 0 or amount != amount:
            raise ConfigError(
                f"{name}.resources[{key!r}] is {value!r} ({type(value).__name__}); an amount "
                "is a non-negative number (1, 0.5) or a size such as '8GiB'",
                task=name,
                key=key,
                value=repr(value),
            )
        out[key] = amount
    return out


def _importable(cls: type[Task]) -> None:
    """Refuse a class a worker could not import by its name (only names travel)."""
    from tasuki.core.task import import_task

    name = cls.task_name()
    where = ""
    if "<locals>" in cls.__qualname__:
        where = "it is defined inside a function"
    elif cls.__module__ == "__main__":
        where = "it is defined in __main__ (the script being run)"
    else:
        try:
            found = import_task(name)
        except TasukiError as exc:
            where = str(exc)
        else:
            if found is not cls:
                where = f"{name} names another class when imported"
    if where:
        raise ConfigError(
            f"{name} cannot be run by a Dask worker: workers import task classes by name and "
            f"{where}. Move the class to a module of an installed package (or one on the "
            "workers' PYTHONPATH).",
            task=name,
        )


# --------------------------------------------------------------------------- on the worker

_STORES: dict[str, tuple[Settings, Store, str | None]] = {}
# The build id rides in the settings document sent to workers, under a key no setting has.
_BUILD_ID_KEY = "_tasuki_build_id"


def _worker_context(settings_doc: str) -> tuple[Settings, Store, str | None]:
    """Settings, an open workspace (opened once per worker process, reused) and the build id
    its records are stamped with."""
    known = _STORES.get(settings_doc)
    if known is None:
        from tasuki.config import Settings
        from tasuki.storage import open_store

        doc = json.loads(settings_doc)
        build_id = doc.pop(_BUILD_ID_KEY, None)
        settings = Settings(**doc)
        store = open_store(
            settings.workspace,
            redis_url=settings.redis_url,
            lease=settings.lease,
            lease_ttl=settings.lease_ttl,
        )
        _keep_log_tails()
        known = _STORES[settings_doc] = (settings, store, build_id)
    return known


def _keep_log_tails() -> None:
    """Keep each task's last log lines for its record and result, as the ``tasuki`` command
    does: a worker process is tasuki's to run tasks in. The handler records nothing outside
    a running task, and levels stay the worker's own."""
    from tasuki.core.execute import TaskLogHandler

    root = logging.getLogger()
    if not any(isinstance(h, TaskLogHandler) for h in root.handlers):
        root.addHandler(TaskLogHandler())


def run_task(
    settings_doc: str,
    uid: str,
    name: str,
    forced: bool,
    topic: str,
    bundle: str | None,
    *upstream: Any,
) -> TaskResult:
    """What each Dask task runs: :func:`~tasuki.core.definitions.run_one` by id, its
    definition from the build's ``bundle`` (parsed once per worker process).

    ``upstream`` holds the results of the upstream tasks: they order the tasks, skip this one
    when one of them failed, and vouch for the ones that finished in this build (their
    completeness is not checked again: a fan-in's root would check hundreds). A retryable
    failure is raised for Dask to retry.
    """
    vouched: set[str] = set()
    for up in upstream:
        if isinstance(up, TaskResult):
            if up.status not in _OK:
                return TaskResult(uid, name, "upstream_failed", note=up.uid)
            vouched.add(up.uid)
    from tasuki.core.definitions import run_one

    settings, store, build_id = _worker_context(settings_doc)
    reporter = _start_reporter()
    try:
        result = run_one(
            uid,
            store=store,
            settings=settings,
            forced=forced,
            on_start=lambda u: reporter.started(topic, u),
            build_id=build_id,
            bundle=bundle,
            vouched=vouched,
        )
    except Exception as exc:  # the definition, the code check, the upstream check
        retryable = bool(getattr(exc, "retryable", False)) or isinstance(
            exc, ConnectionError | TimeoutError
        )
        error = ErrorInfo(type(exc).__name__, str(exc), traceback.format_exc(), retryable)
        result = TaskResult(uid, name, "failed", error=error, attempts=1)
    finally:
        reporter.finished(uid)
    if result.status == "failed" and result.error is not None and result.error.retryable:
        raise RetryableTaskFailure(
            f"{name} [{uid[:12]}] failed with a retryable error: {result.error.type}: "
            f"{result.error.message}",
            result=result,
        )
    return result


class _StartReporter:
    """Tells the client that a task began, for the tasks still running
    :data:`START_REPORT_S` after they began (one per worker process, with its own thread).

    A start event per task is one more message through the scheduler per task, which is the
    cluster's bottleneck for small tasks; a task that ends sooner is reported as started
    when its result arrives (the client calls ``schedule.started`` before ``finish``).
    Waking the thread for every task would cost each small task a thread switch: while tasks
    come, the thread looks every half :data:`START_REPORT_S` on its own, and is woken only
    when it has gone idle (nothing seen for :data:`_IDLE_AFTER_S`).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[str, tuple[str, float]] = {}
        self._idle = True
        threading.Thread(target=self._loop, name="tasuki-starts", daemon=True).start()

    def started(self, topic: str, uid: str) -> None:
        with self._cond:
            self._due[uid] = (topic, time.monotonic() + START_REPORT_S)
            if self._idle:
                self._idle = False
                self._cond.notify()

    def finished(self, uid: str) -> None:
        with self._cond:
            self._due.pop(uid, None)

    def _loop(self) -> None:
        quiet_since = time.monotonic()
        while True:
            with self._cond:
                now = time.monotonic()
                if self._due:
                    quiet_since = now
                elif now - quiet_since >= _IDLE_AFTER_S:
                    self._idle = True
                    while self._idle:
                        self._cond.wait()
                    continue
                ready = [(u, t) for u, (t, at) in self._due.items() if at <= now]
                for u, _ in ready:
                    del self._due[u]
            for u, topic in ready:
                try:
                    from distributed import get_worker

                    get_worker().log_event(topic, u)
                except Exception:  # progress only; never fail the task over it
                    logger.debug("could not report the start of %s", u, exc_info=True)
            time.sleep(START_REPORT_S / 2)


#: Seconds without a running task after which the start reporter's thread sleeps until woken.
_IDLE_AFTER_S = 1.0

_REPORTER: dict[int, _StartReporter] = {}  # by pid: a forked child makes its own thread


def _start_reporter() -> _StartReporter:
    pid = os.getpid()
    if pid not in _REPORTER:
        _REPORTER[pid] = _StartReporter()
    return _REPORTER[pid]


# --------------------------------------------------------------------------- the executor


class DaskExecutor:
    """Runs the tasks of a build on a Dask cluster (``--executor dask``; see the module doc).

    Unlike executors that take ready tasks one batch at a time, it submits every task the
    schedule must run at once, in dependency order, each with its upstream futures as
    dependencies: Dask then starts each task as soon as its inputs exist, with no round trip
    through this process per task. Results are still reported through
    ``schedule.started`` / ``schedule.finish`` here, and what the schedule hands out again
    (a task reopened to repair a damaged output, its reader retried) is submitted anew.

    Args:
        scheduler: Address of a running scheduler (``tcp://host:8786``); default: the
            ``dask_scheduler`` setting; when neither is set, a ``LocalCluster`` is started.
        client: A connected ``distributed.Client`` to submit through (a notebook's own):
            builds reuse its connection instead of opening one each (about 0.1 s) and leave
            it open. Wins over ``scheduler``.
        connect_timeout: Seconds to reach the scheduler before a ConfigError names it.
    """

    #: The runner writes a definition of each task it plans to run: workers run them by id.
    travels_by_id = True

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        client: Client | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.scheduler = scheduler
        self.client = client
        self.connect_timeout = connect_timeout

    def run(self, schedule: Schedule) -> None:
        """Submit every task the schedule must run, and feed their results back to it.

        Raises:
            ConfigError: the workspace cannot be shared (``memory://``), a task class cannot
                be imported by name or declares malformed or unavailable resources, or the
                scheduler cannot be reached.
        """
        if schedule.done:
            return
        if schedule.store.url.startswith("memory://"):
            raise ConfigError(
                "the dask executor needs a workspace its workers share (a folder they all "
                f"reach, s3://, gs://), not {schedule.store.url!r}, which lives in one process",
                workspace=schedule.store.url,
            )
        resources: dict[type[Any], dict[str, float]] = {}
        for uid in schedule.needed:
            cls = type(schedule.graph.nodes[uid].task)
            if cls not in resources:
                _importable(cls)
                resources[cls] = task_resources(cls)
        with self._client(schedule.settings, resources) as client:
            _check_resources(client, resources)
            _Submission(schedule, client, resources).run()

    @contextmanager
    def _client(
        self, settings: Settings, resources: dict[type[Any], dict[str, float]]
    ) -> Iterator[Client]:
        from distributed import Client, LocalCluster

        if self.client is not None:  # the caller's: used as it is, left open
            if self.client.status != "running":
                raise ConfigError(
                    f"the Dask client given to DaskExecutor(client=...) is {self.client.status!r}"
                    ", not running: pass a connected client, or a scheduler address instead",
                    scheduler=getattr(getattr(self.client, "scheduler", None), "address", None),
                )
            yield self.client
            return
        address = self.scheduler or settings.dask_scheduler
        if address is None:
            most: dict[str, float] = {}
            for wanted in resources.values():
                for key, amount in wanted.items():
                    most[key] = max(most.get(key, 0.0), amount)
            with (
                LocalCluster(
                    n_workers=settings.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # random port: no clash with another cluster on 8787
                    resources=most or None,
                ) as cluster,
                Client(cluster, set_as_default=False) as client,
            ):
                yield client
            return
        try:
            client = Client(address, timeout=self.connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address} within "
                f"{self.connect_timeout:g}s ({type(exc).__name__}: {exc}). Check the address "
                "(--scheduler / dask_scheduler) and that the scheduler is running; leave both "
                "unset to start a LocalCluster for the build.",
                scheduler=address,
            ) from None
        with client:
            yield client


def _check_resources(client: Client, resources: dict[type[Any], dict[str, float]]) -> None:
    """Refuse, before submitting, a task no worker of the cluster could ever run (Dask
    would wait for such a worker forever)."""
    wanted = {cls: r for cls, r in resources.items() if r}
    if not wanted:
        return
    workers = client.scheduler_info().get("workers", {})
    have = [dict(w.get("resources") or {}) for w in workers.values()]
    for cls, needs in wanted.items():
        if not any(all(h.get(k, 0) >= v for k, v in needs.items()) for h in have):
            raise ConfigError(
                f"{cls.task_name()} asks for resources {needs}, which no worker of the Dask "
                f"cluster has (workers have: {have or 'no workers'}). Start workers with "
                '--resources (for example dask worker --resources "gpu=1"), or change the '
                "task's resources.",
                task=cls.task_name(),
                resources=needs,
            )


class _Submission:
    """One build's tasks on a cluster: submit, then feed results back as they come."""

    def __init__(
        self, schedule: Schedule, client: Client, resources: dict[type[Any], dict[str, float]]
    ) -> None:
        self.schedule = schedule
        self.client = client
        self.resources = resources
        self.token = uuid.uuid4().hex[:12]
        self.topic = f"tasuki-started-{self.token}"
        doc = schedule.settings.model_dump(mode="json")
        # Dask retries retryable failures; the worker must not retry them itself too.
        doc.update(workspace=schedule.store.url, retries=0)
        # Records written on the cluster carry this build's id, as records written here do.
        doc[_BUILD_ID_KEY] = schedule.completeness.build_id
        self.settings_doc = json.dumps(doc, sort_keys=True)
        self.futures: dict[str, Future[TaskResult]] = {}
        self.in_flight: set[str] = set()
        self.started: set[str] = set()
        self.events: queue.SimpleQueue[tuple[str, str, Any]] = queue.SimpleQueue()
        self.counter = itertools.count()
        self.defined = set(schedule.needed)
        # Handed out by the schedule (every requirement finished) while still on the cluster.
        self.handed: dict[str, bool] = {}

    def submit(self, uid: str, forced: bool) -> None:
        """Submit one task (a resubmission)."""
        self.submit_many([(uid, forced)])

    def submit_many(self, items: list[tuple[str, bool]]) -> None:
        """Submit tasks given in dependency order: one graph message per run of tasks that
        ask for the same resources (one ``client.submit`` per task costs ~1 ms more each)."""
        schedule = self.schedule
        nodes = schedule.graph.nodes
        fresh = [uid for uid, _ in items if uid not in self.defined]
        if fresh:  # cached tasks reopened (a damaged output): not in the build's bundle
            from tasuki.core.definitions import write_definitions

            write_definitions(
                schedule.store, schedule.graph, fresh, schedule.completeness.code_keys
            )
            self.defined.update(fresh)
        run: list[tuple[str, bool]] = []
        wanted: dict[str, float] | None = None
        for uid, forced in items:
            res = self.resources.get(type(nodes[uid].task)) or None
            if run and res != wanted:
                self._submit_run(run, wanted)
                run = []
            run.append((uid, forced))
            wanted = res
        if run:
            self._submit_run(run, wanted)

    def _submit_run(
        self, items: list[tuple[str, bool]], resources: dict[str, float] | None
    ) -> None:
        schedule = self.schedule
        nodes = schedule.graph.nodes
        keys: dict[str, str] = {}
        graph: dict[str, tuple[Any, ...]] = {}
        for uid, forced in items:
            node = nodes[uid]
            cls = type(node.task)
            upstream: list[Any] = []
            for dep in node.deps:
                if dep in keys:  # in this message: referenced by key
                    upstream.append(keys[dep])
                elif dep in self.in_flight and dep not in schedule.results and dep in self.futures:
                    upstream.append(self.futures[dep])
            key = f"tasuki-{cls.__name__}-{uid[:16]}-{self.token}-{next(self.counter)}"
            keys[uid] = key
            graph[key] = (
                run_task,
                self.settings_doc,
                uid,
                cls.task_name(),
                forced,
                self.topic,
                schedule.bundle,
                *upstream,
            )
        futures = self.client.get(
            _named(graph, f"{self.token}-{next(self.counter)}"),
            list(graph),
            sync=False,
            resources=resources,
            retries=schedule.settings.retries or None,
        )
        for (uid, _), future in zip(items, futures, strict=True):
            self.futures[uid] = future
            self.in_flight.add(uid)
            future.add_done_callback(lambda f, u=uid: self.events.put(("done", u, f)))

    def run(self) -> None:
        schedule = self.schedule
        self.client.subscribe_topic(self.topic, self._on_started)
        try:
            self.submit_many(
                [
                    (u, u in schedule.forced)
                    for u in schedule.graph.order
                    if u in schedule.needed and u not in schedule.results
                ]
            )
            self._take()
            while not schedule.done and self.in_flight:
                try:
                    batch = [self.events.get(timeout=1.0)]
                except queue.Empty:
                    continue
                # Let more results arrive, then fetch them all in one round trip: the cluster
                # never waits for this process (dependencies are Dask's), only the report does.
                time.sleep(COALESCE_S)
                while True:
                    try:
                        batch.append(self.events.get_nowait())
                    except queue.Empty:
                        break
                fetched = self._fetch(batch)
                for kind, uid, payload in batch:
                    if schedule.done:
                        break
                    self._event(kind, uid, payload, fetched)
        finally:
            self.client.unsubscribe_topic(self.topic)
            pending = [self.futures[u] for u in self.in_flight if u in self.futures]
            if pending:
                self.client.cancel(pending)
            # Let the cluster forget this build's results: a client kept across builds
            # (DaskExecutor(client=...)) would otherwise hold every one in worker memory.
            for future in self.futures.values():
                future.release()
            self.futures.clear()

    def _fetch(self, batch: list[tuple[str, str, Any]]) -> dict[str, TaskResult]:
        """The results of the finished futures in ``batch``, fetched in one round trip to
        the cluster (one ``future.result()`` each costs a scheduler round trip per task)."""
        done: list[tuple[str, Future[TaskResult]]] = []
        for kind, uid, payload in batch:
            future = self.futures.get(uid)
            # (a future replaced by a resubmission is skipped: its uid names another now)
            finished = future is not None and future.status == "finished"
            if kind == "done" and finished and payload is future:
                done.append((uid, future))
        if len(done) < 2:
            return {}
        try:
            values = self.client.gather([f for _, f in done])
        except Exception:  # one lost meanwhile: each is asked on its own, as it comes
            logger.debug("could not fetch %d results at once", len(done), exc_info=True)
            return {}
        return {
            uid: value
            for (uid, _), value in zip(done, values, strict=True)
            if isinstance(value, TaskResult)
        }

    def _event(self, kind: str, uid: str, payload: Any, fetched: dict[str, TaskResult]) -> None:
        """Report one event of the cluster (a task started, a future done) to the schedule."""
        schedule = self.schedule
        if kind == "started":
            if uid not in self.started and uid not in schedule.results:
                self.started.add(uid)
                schedule.started(uid)
            return
        future = self.futures.get(uid)
        if future is None or future is not payload:
            return  # a future replaced by a resubmission
        self.in_flight.discard(uid)
        result = self._result(uid, future, fetched.get(uid))
        forced = self.handed.pop(uid, None)
        if result is None and forced is not None and uid not in schedule.results:
            # Its Dask run saw an upstream failure that the schedule has since
            # repaired (a damaged output rebuilt): every requirement is done now.
            self.submit(uid, forced)
        if result is not None and uid not in schedule.results:
            if uid not in self.started and result.attempts:
                self.started.add(uid)
                schedule.started(uid)
            schedule.finish(result)
        self._take()

    def _on_started(self, event: Any) -> None:
        msg = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        if isinstance(msg, str):
            self.events.put(("started", msg, None))

    def _take(self) -> None:
        """Submit what the schedule hands out that is not on the cluster already (a task
        reopened to repair a damaged output, its consumer retried)."""
        for item in self.schedule.take(len(self.schedule.graph)):
            if item.uid in self.in_flight:
                self.handed[item.uid] = item.forced
            else:
                self.started.discard(item.uid)
                self.submit(item.uid, item.forced)

    def _result(
        self, uid: str, future: Future[TaskResult], fetched: TaskResult | None = None
    ) -> TaskResult | None:
        """The task's result (``fetched`` already, or asked of the cluster now), or None
        when its failure is its upstream's (reported there)."""
        name = type(self.schedule.graph.nodes[uid].task).task_name()
        if fetched is not None or future.status == "finished":
            result = fetched if fetched is not None else future.result()
            if result.status == "upstream_failed":
                return None
            return result
        if future.cancelled():
            return None
        exc = future.exception()
        if isinstance(exc, RetryableTaskFailure):
            failed: TaskResult = exc.result  # type: ignore[attr-defined]
            if failed.uid != uid:
                return None
            failed.attempts = (self.schedule.settings.retries or 0) + 1
            return failed
        detail = "".join(traceback.format_exception(exc)) if exc is not None else ""
        return TaskResult(
            uid,
            name,
            "failed",
            error=ErrorInfo(
                type(exc).__name__,
                f"on the Dask cluster: {exc}{_hint(exc)}",
                detail,
                False,
            ),
        )


def _named(graph: dict[str, tuple[Any, ...]], name: str) -> Any:
    """``graph`` for ``client.get``, named here: given a plain dict, Dask tokenizes all of it
    only to name the message (~0.1 ms of client CPU per task). A plain dict where this Dask
    has no ``LLGExpr`` (older releases)."""
    try:
        from dask._expr import LLGExpr

        return LLGExpr(graph, _determ_token=name)
    except (ImportError, TypeError):
        return graph


def _hint(exc: BaseException | None) -> str:
    if type(exc).__name__ == "KilledWorker":
        return (
            " (the workers running it died repeatedly: look for out-of-memory kills or "
            "crashes in the worker logs)"
        )
    return ""
