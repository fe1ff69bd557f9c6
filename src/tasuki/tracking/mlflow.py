"""MLflow tracking as a runner hook: each build an MLflow run, each task a nested run.

Attach it from settings (``tracking = "mlflow"``, ``tracking_uri = "http://mlflow:5000"``;
the runner finds it through the tracker registry) or by hand::

    tasuki.build(Train(), hooks=[MlflowTracker("http://127.0.0.1:5000")])

What lands where is described in ``docs/tracking.md``. The hook only queues work on the
build's thread; MLflow is imported and called on background threads, and a server that is
down, slow or failing stops the logging with one warning while the build goes on (the run
records keep what was not logged).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki._registry import spec_of
from tasuki.core.targets import ModelTarget
from tasuki.errors import ConfigError
from tasuki.tracking._flatten import MAX_TAG_VALUE, batches, clip, flatten_params, metric_value
from tasuki.tracking._outputs import flavoured, importable, tracked_outputs, unpack_model
from tasuki.tracking._session import Session, TrackingStats

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.graph import Graph
    from tasuki.core.records import RunRecord
    from tasuki.core.results import BuildResult, TaskResult
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = ["MlflowTracker"]

logger = logging.getLogger("tasuki.tracking")

#: Task statuses logged as a nested run of their own, with MLflow's status for them.
_LOGGED = {"ran": "FINISHED", "failed": "FAILED"}
#: Statuses logged as a bare nested run (tags only): the task did not run in this build.
_NOT_RUN = {"upstream_failed": "KILLED", "interrupted": "KILLED"}
#: Cached tasks gathered before their lookup goes to a background thread in one job.
_CACHED_BATCH = 500
#: Builds whose stats a tracker keeps.
_STATS_KEPT = 100


@dataclass
class _Build:
    """One build's state on the tracker (a tracker may serve several builds in turn)."""

    session: Session
    graph: Graph
    store: Store
    experiment: str
    parent: Future[Any] | None = None
    cached: list[tuple[Task, str, RunRecord | None]] = field(default_factory=list)


class MlflowTracker:
    """Logs builds to an MLflow tracking server (see the module docstring).

    Args:
        tracking_uri: The MLflow tracking server (``http://host:5000``) or store URI.
        experiment: The MLflow experiment of every build; default: the root task's family
            (``package.module:Class``).
        threads: Runs logged at once on background threads.
        timeout: Seconds the first request to the server may take before tracking is given
            up for the build (a server that accepts and never answers).
        drain_timeout: Seconds the build's end waits for the logging still queued.

    Raises:
        ConfigError: an empty URI, or a bad number.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        experiment: str | None = None,
        threads: int = 4,
        timeout: float = 5.0,
        drain_timeout: float = 60.0,
    ) -> None:
        if not isinstance(tracking_uri, str) or not tracking_uri.strip():
            raise ConfigError(
                f"MlflowTracker needs a tracking URI, got {tracking_uri!r}: pass the MLflow "
                "server's address (http://host:5000), or set tracking_uri in settings",
                key="tracking_uri",
            )
        if threads < 1 or timeout <= 0 or drain_timeout < 0:
            raise ConfigError(
                f"MlflowTracker: threads={threads!r} must be >= 1, timeout={timeout!r} > 0 and "
                f"drain_timeout={drain_timeout!r} >= 0",
                key="tracking",
            )
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.threads = threads
        self.timeout = float(timeout)
        self.drain_timeout = float(drain_timeout)
        self.stats: dict[str, TrackingStats] = {}
        """Each build's :class:`TrackingStats`, by build id (the last 100 builds)."""
        self._builds: dict[str, _Build] = {}
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()  # (what, task family) said once

    @classmethod
    def from_settings(cls, settings: Settings) -> MlflowTracker:
        """The tracker ``tracking = "mlflow"`` asks for.

        Raises:
            ConfigError: ``tracking_uri`` is not set.
        """
        if not settings.tracking_uri:
            raise ConfigError(
                "tracking = 'mlflow' needs tracking_uri: the MLflow server's address "
                "(tasuki.toml: tracking_uri = 'http://mlflow:5000', or the environment "
                "variable TASUKI_TRACKING_URI); or set tracking = 'off'",
                key="tracking_uri",
                source=settings.source.get("tracking", "defaults"),
            )
        return cls(settings.tracking_uri)

    def __repr__(self) -> str:
        return f"MlflowTracker({redact(self.tracking_uri)!r})"

    @property
    def last_stats(self) -> TrackingStats | None:
        """The stats of the latest build this tracker saw."""
        return next(reversed(self.stats.values()), None)

    # ------------------------------------------------------------ hook events (build thread)

    def on_build_start(self, *, build_id: str, graph: Graph, store: Store, **kwargs: Any) -> None:
        """Start the build's MLflow run (on a background thread)."""
        t0 = time.perf_counter()
        name = redact(self.tracking_uri)
        session = Session(
            name,
            build_id,
            threads=self.threads,
            on_failure=lambda reason: self._warn(build_id, reason),
        )
        root = graph.nodes[graph.roots[0]].task if graph.roots else None
        experiment = self.experiment or (type(root).task_name() if root else "tasuki")
        build = _Build(session, graph, store, experiment)
        self._builds[build_id] = build
        self.stats[build_id] = session.stats
        while len(self.stats) > _STATS_KEPT:  # a long-lived tracker (a service) keeps the last
            del self.stats[next(iter(self.stats))]
        build.parent = session.submit(self._start_build, build, [*graph.roots])
        self._spent(session, t0)

    def on_task_end(
        self,
        *,
        build_id: str,
        task: Task,
        uid: str,
        result: TaskResult,
        record: RunRecord | None,
        **kwargs: Any,
    ) -> None:
        """Queue the task's nested run (cached tasks: a link to the run that made them)."""
        t0 = time.perf_counter()
        build = self._builds.get(build_id)
        if build is None or build.session.failed:
            return
        status = result.status
        if status == "cached":
            build.cached.append((task, uid, record))
            if len(build.cached) >= _CACHED_BATCH:
                self._flush_cached(build)
        elif status in _LOGGED or status in _NOT_RUN:
            self._flush_cached(build)
            build.session.submit(self._log_task, build, task, uid, result, record)
        self._spent(build.session, t0)

    def on_build_end(self, *, build_id: str, result: BuildResult, **kwargs: Any) -> None:
        """Close the build's run and wait (within ``drain_timeout``) for the logging."""
        t0 = time.perf_counter()
        build = self._builds.pop(build_id, None)
        if build is None:
            return
        session = build.session
        self._flush_cached(build)
        session.submit(self._finish_build, build, result)
        self._spent(session, t0)
        finished = session.drain(self.drain_timeout)
        stats = session.stats
        if finished and stats.failure is None:
            logger.info(
                "MLflow %s: %d runs logged for build %s in %.2f s on background threads; the "
                "build waited %.2f s for them at its end; the hook took %.3f ms per event on "
                "the build's thread",
                session.name,
                stats.jobs_done,
                build_id,
                stats.mlflow_s,
                stats.drain_s,
                stats.hook_ms_per_call,
            )

    def _spent(self, session: Session, t0: float) -> None:
        session.stats.hook_s += time.perf_counter() - t0
        session.stats.hook_calls += 1

    def _flush_cached(self, build: _Build) -> None:
        if build.cached:
            items, build.cached = build.cached, []
            build.session.submit(self._link_cached, build, items)

    def _warn(self, build_id: str, reason: str) -> None:
        logger.warning(
            "MLflow tracking at %s failed for build %s (%s); nothing more is logged to MLflow "
            "in this build, which goes on. What was not logged (parameters, metrics, log "
            "tails, errors) stays in the run records: `tasuki show ID` prints them.",
            redact(self.tracking_uri),
            build_id,
            reason,
        )

    # ------------------------------------------------------------ jobs (background threads)

    def client(self) -> Any:
        """The ``mlflow.MlflowClient`` of this tracker (imported on first use)."""
        with self._client_lock:
            if self._client is None:
                from mlflow import MlflowClient  # ~1-3 s: only here, off the build's thread

                self._client = MlflowClient(tracking_uri=self.tracking_uri)
            return self._client

    def _probe(self, experiment: str) -> None:
        """Ask the server once with a short timeout: MLflow's own client retries a refused
        or silent server for minutes before it gives up."""
        parts = urllib.parse.urlsplit(self.tracking_uri)
        if parts.scheme not in ("http", "https"):
            return
        query = urllib.parse.urlencode({"experiment_name": experiment})
        url = f"{self.tracking_uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?{query}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as exc:
            # 404: no such experiment yet; 401/403: the client below brings credentials.
            if exc.code not in (401, 403, 404):
                raise
        except TimeoutError as exc:
            raise TimeoutError(f"no answer within {self.timeout:g} s") from exc

    def _start_build(self, build: _Build, roots: list[str]) -> tuple[str, str]:
        self._probe(build.experiment)
        client = self.client()
        found = client.get_experiment_by_name(build.experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            try:
                experiment_id = client.create_experiment(build.experiment)
            except Exception:  # made meanwhile by another build
                found = client.get_experiment_by_name(build.experiment)
                if found is None:
                    raise
                experiment_id = found.experiment_id
        tags = {
            "tasuki.kind": "build",
            "tasuki.build_id": build.session.build_id,
            "tasuki.workspace": redact(build.store.url),
            "tasuki.roots": clip(",".join(roots), MAX_TAG_VALUE),
        }
        run = client.create_run(
            experiment_id, tags=tags, run_name=f"build {build.session.build_id}"
        )
        return experiment_id, run.info.run_id

    def _parent(self, build: _Build) -> tuple[str, str]:
        assert build.parent is not None  # set in on_build_start, before any job is queued
        parent: tuple[str, str] | None = build.parent.result()
        if parent is None:  # the build's run could not be made: the session failed
            raise _Stopped
        return parent

    def _terminate(self, run_id: str, status: str, end_ms: int | None) -> None:
        from mlflow.entities import RunStatus

        client = self.client()
        store = getattr(getattr(client, "_tracking_client", None), "store", None)
        if store is None:
            client.set_terminated(run_id, status, end_ms)
            return
        # One request: MlflowClient.set_terminated first reads the run back (to print its
        # URL on stdout), and update_run cannot set the end time.
        store.update_run_info(
            run_id, run_status=RunStatus.from_string(status), end_time=end_ms, run_name=None
        )

    def _log_batch(
        self,
        run_id: str,
        params: list[tuple[str, str]],
        tags: list[tuple[str, str]],
        metrics: list[tuple[str, float, int, int]],
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        client = self.client()
        for batch in batches(params, tags, metrics):
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, ts, step) for k, v, ts, step in batch.metrics],
                params=[Param(k, v) for k, v in batch.params],
                tags=[RunTag(k, v) for k, v in batch.tags],
            )

    def _log_task(
        self,
        build: _Build,
        task: Task,
        uid: str,
        result: TaskResult,
        record: RunRecord | None,
    ) -> None:
        experiment_id, parent_id = self._parent(build)
        client = self.client()
        status = result.status
        cls = type(task)
        tags = {
            "mlflow.parentRunId": parent_id,
            "tasuki.kind": "task" if status in _LOGGED else "skipped",
            "tasuki.unique_id": uid,
            "tasuki.task": cls.task_name(),
            "tasuki.build_id": build.session.build_id,
            "tasuki.status": status,
        }
        if record is not None:
            tags["tasuki.code_fingerprint"] = record.code_fingerprint
            tags["tasuki.requires"] = clip(",".join(record.requires), MAX_TAG_VALUE)
            if record.version:
                tags["tasuki.version"] = record.version
        error = result.error
        if error is not None:
            tags["tasuki.error.type"] = error.type
            tags["tasuki.error.message"] = clip(error.message, MAX_TAG_VALUE)
        started = _millis(result.started_at or (record.started_at if record else None))
        run = client.create_run(
            experiment_id,
            start_time=started,
            tags=tags,
            run_name=f"{cls.__qualname__}[{uid[:10]}]",
        )
        run_id = run.info.run_id
        if status in _NOT_RUN:
            self._terminate(run_id, _NOT_RUN[status], started)
            return
        params: list[tuple[str, str]] = []
        metrics: list[tuple[str, float, int, int]] = []
        if record is not None:
            params = flatten_params(record.params, record.significant)
            metrics = [
                (m["key"], metric_value(m["value"]), int(m["timestamp"]), int(m["step"] or 0))
                for m in record.metrics
            ]
        else:
            from tasuki._redact import redact_json
            from tasuki.core.params import to_jsonable

            info = cls.param_specs()
            params = flatten_params(
                {n: redact_json(to_jsonable(v)) for n, v in task.param_values.items()},
                [n for n, s in info.items() if s.significant],
            )
        metrics.append(("tasuki.duration_s", float(result.duration_s), started or 0, 0))
        self._log_batch(run_id, params, [], metrics)
        self._log_files(build, task, uid, run, record, result)
        ended = _millis(result.finished_at or (record.finished_at if record else None))
        self._terminate(run_id, _LOGGED[status], ended)

    def _log_files(
        self,
        build: _Build,
        task: Task,
        uid: str,
        run: Any,
        record: RunRecord | None,
        result: TaskResult,
    ) -> None:
        """The log tail, the error, opted-in outputs and model targets, as artifacts."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        tail = record.log_tail if record is not None else result.log_tail
        files: list[tuple[str, str, bytes]] = []  # (artifact folder, file name, bytes)
        if tail:
            files.append(("tasuki", "log_tail.txt", ("\n".join(tail) + "\n").encode()))
        if result.error is not None and result.error.traceback:
            files.append(("tasuki", "error.txt", result.error.traceback.encode()))
        models: list[tuple[str, ModelTarget]] = []
        if record is not None and record.done:
            node = build.graph.nodes.get(uid)
            outputs = node.outputs if node is not None else task.output()
            for name, target in tracked_outputs(outputs, type(task), self._warned):
                if isinstance(target, ModelTarget):
                    models.append((name, target))
                else:
                    base = target.key.rsplit("/", 1)[-1]
                    files.append(("outputs", base, build.store.read_bytes(target.key)))
        if not files and not models:
            return
        repo: Any = get_artifact_repository(run.info.artifact_uri, tracking_uri=self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="tasuki-mlflow-") as tmp:
            for folder, name, data in files:
                path = os.path.join(tmp, folder, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                repo.log_artifact(path, folder)
            tags: list[tuple[str, str]] = []
            for name, target in models:
                folder = os.path.join(tmp, "models", name)
                unpack_model(build.store, target, folder, uid)
                load_function = spec_of(target.load_function)
                if importable(load_function, target.load_function):
                    # The python_function flavour fits any model a function can load.
                    family = type(task).task_name()
                    made = flavoured(family, folder, tmp, name, load_function, uid, self._warned)
                    if made is not None:
                        folder = made
                        tags.append((f"tasuki.model.{name}.flavor", "python_function"))
                repo.log_artifacts(folder, f"models/{name}")
                tags.append((f"tasuki.model.{name}.load_function", load_function))
            if tags:
                self._log_batch(run.info.run_id, [], tags, [])

    def _link_cached(self, build: _Build, items: list[tuple[Task, str, RunRecord | None]]) -> None:
        """Nested runs that point at the runs that produced the cached tasks, found by their
        ``tasuki.unique_id`` tag in one search per producing build."""
        experiment_id, parent_id = self._parent(build)
        client = self.client()
        producers = self._producers(items)
        for task, uid, record in items:
            made_by = producers.get(uid)
            tags = {
                "mlflow.parentRunId": parent_id,
                "tasuki.kind": "link",
                "tasuki.unique_id": uid,
                "tasuki.task": type(task).task_name(),
                "tasuki.build_id": build.session.build_id,
                "tasuki.status": "cached",
                "tasuki.produced_by_run": made_by[0] if made_by else "",
                "tasuki.produced_by_experiment": made_by[1] if made_by else "",
                "tasuki.produced_by_build": (record.build_id or "") if record else "",
            }
            if record is not None:
                tags["tasuki.code_fingerprint"] = record.code_fingerprint
            run = client.create_run(
                experiment_id,
                tags=tags,
                run_name=f"{type(task).__qualname__}[{uid[:10]}] (cached)",
            )
            self._terminate(run.info.run_id, "FINISHED", None)

    def _producers(
        self, items: list[tuple[Task, str, RunRecord | None]]
    ) -> dict[str, tuple[str, str]]:
        """unique id -> (run id, experiment id) of the task run that made each output."""
        client = self.client()
        by_build: dict[str, set[str]] = {}
        by_task: dict[str, set[str]] = {}
        for task, uid, record in items:
            if record is not None and record.build_id:
                by_build.setdefault(record.build_id, set()).add(uid)
            else:  # a record from before build ids: search by the task's family
                by_task.setdefault(type(task).task_name(), set()).add(uid)
        experiments = [e.experiment_id for e in client.search_experiments(max_results=50000)]
        found: dict[str, tuple[str, str, int]] = {}
        searches = [("tasuki.build_id", k, v) for k, v in by_build.items()]
        searches += [("tasuki.task", k, v) for k, v in by_task.items()]
        for tag, value, uids in searches:
            quoted = value.replace("'", "\\'")
            token = None
            while True:
                page = client.search_runs(
                    experiments,
                    f"tags.`{tag}` = '{quoted}' and tags.`tasuki.kind` = 'task' "
                    "and tags.`tasuki.status` = 'ran'",
                    max_results=50000,
                    page_token=token,
                )
                for run in page:
                    uid = run.data.tags.get("tasuki.unique_id")
                    start = run.info.start_time or 0
                    if uid in uids and (uid not in found or start > found[uid][2]):
                        found[uid] = (run.info.run_id, run.info.experiment_id, start)
                token = page.token
                if not token:
                    break
        return {uid: (run_id, exp) for uid, (run_id, exp, _) in found.items()}

    def _finish_build(self, build: _Build, result: BuildResult) -> None:
        _, parent_id = self._parent(build)
        counts = result.counts()
        now = int(time.time() * 1000)
        metrics = [(f"tasuki.tasks.{s}", float(n), now, 0) for s, n in counts.items() if n]
        metrics.append(("tasuki.duration_s", float(result.duration_s), now, 0))
        self._log_batch(parent_id, [], [("tasuki.ok", str(result.ok).lower())], metrics)
        status = "KILLED" if result.interrupted else "FINISHED" if result.ok else "FAILED"
        self._terminate(parent_id, status, now)


class _Stopped(Exception):
    """The build's run was not made; its tasks are not logged (already warned)."""


def _millis(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)
