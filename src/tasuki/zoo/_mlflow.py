"""The MLflow Model Registry mirror of zoo versions.

The registry store is the source of truth; MLflow gets a copy for the people and tools that
read MLflow. Each mirrored version is one MLflow run in the ``tasuki-zoo`` experiment (the
artifact files under ``model/``, the metrics as run metrics, the task parameters as run
parameters) and one model version of the registered model of the same name, whose tags carry
the zoo version, content hash, task unique id, task family, parameters, dataset versions,
metrics and owner. Aliases are set with ``set_registered_model_alias``.

MLflow numbers its versions itself; the zoo keeps the mapping in
``models/<name>/mirror/<n>.json`` and tags each MLflow version with ``tasuki.zoo_version``,
so a mirror that is redone (``tasuki zoo mirror NAME``) finds what an earlier, interrupted
attempt created instead of registering the version twice.

mlflow is imported inside these functions only.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.zoo._errors import MirrorError

if TYPE_CHECKING:
    from pathlib import Path

    from tasuki.zoo._version import ModelVersion

__all__ = ["EXPERIMENT", "client_for", "mirror_version", "probe", "set_alias", "within"]

EXPERIMENT = "tasuki-zoo"
_TAG_LIMIT = 5000  # MLflow's limit on a model version tag value
_PARAM_LIMIT = 6000


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 14] + "...(truncated)"


def tags_of(version: ModelVersion) -> dict[str, str]:
    """The tags of the MLflow model version that mirrors ``version``."""
    task = version.task or {}
    tags = {
        "tasuki.zoo_version": str(version.version),
        "tasuki.content_hash": version.content_hash,
        "tasuki.loader": version.describe_loader(),
        "tasuki.owner": version.owner,
        "tasuki.datasets": json.dumps(list(version.datasets), ensure_ascii=False),
        "tasuki.metrics": json.dumps(version.metrics, sort_keys=True),
        "tasuki.task_unique_id": str(task.get("unique_id", "")),
        "tasuki.task": str(task.get("name", "")),
        "tasuki.params": json.dumps(task.get("params", {}), sort_keys=True, ensure_ascii=False),
        "tasuki.requires": json.dumps(task.get("requires", [])),
        "tasuki.created_at": version.created_at,
    }
    return {k: _fit(v, _TAG_LIMIT) for k, v in tags.items()}


def probe(tracking_uri: str, timeout: float) -> None:
    """Raise MirrorError unless an HTTP tracking server answers ``/health`` in ``timeout``."""
    if not tracking_uri.startswith(("http://", "https://")):
        return  # a local store URI (sqlite:, file:) has no server to be down
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout) as r:
            if r.status == 200:
                return
            status = f"HTTP {r.status}"
    except OSError as exc:
        status = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise MirrorError(
        f"the MLflow tracking server {redact(tracking_uri)} did not answer /health within "
        f"{timeout:g} s ({status})",
        tracking_uri=redact(tracking_uri),
    )


def within(seconds: float, what: str, tracking_uri: str, fn: Any) -> Any:
    """``fn()`` in a daemon thread, waited for at most ``seconds``: MirrorError past that.

    MLflow's client retries for minutes by default; a push must not wait that long. A call
    left running finishes (or fails) in the background; mirroring is idempotent, so a later
    ``tasuki zoo mirror`` completes or reuses what it did.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="tasuki-zoo-mirror", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise MirrorError(
            f"{what} at the MLflow tracking server {redact(tracking_uri)} did not finish "
            f"within {seconds:g} s",
            tracking_uri=redact(tracking_uri),
        )
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, MirrorError):
            raise exc
        raise MirrorError(
            f"{what} at the MLflow tracking server {redact(tracking_uri)} failed: "
            f"{type(exc).__name__}: {redact(str(exc))[:500]}",
            tracking_uri=redact(tracking_uri),
        ) from exc
    return box.get("value")


def _client(tracking_uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise MirrorError(
            "mirroring zoo versions into MLflow needs the MLflow client: "
            "pip install 'tasuki[mlflow]'",
            tracking_uri=redact(tracking_uri),
        ) from exc
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _already_exists(exc: Exception) -> bool:
    return "RESOURCE_ALREADY_EXISTS" in str(getattr(exc, "error_code", "")) or (
        "already exists" in str(exc)
    )


def client_for(tracking_uri: str) -> Any:
    """An ``MlflowClient`` for the server (importing mlflow takes seconds: done before any
    deadline on the server's answers starts)."""
    client = _client(tracking_uri)
    import mlflow.entities  # noqa: F401  (imported here, not in the timed mirror thread)

    return client


def mirror_version(
    client: Any,
    version: ModelVersion,
    folder: Path,
    tracking_uri: str,
    aliases: dict[str, int],
) -> dict[str, Any]:
    """Register ``version`` (its files in ``folder``) in MLflow; returns the mapping kept in
    ``mirror/<n>.json``. Reuses an MLflow version an interrupted earlier mirror created."""
    from mlflow.entities import Metric, Param

    name = version.name
    try:
        client.create_registered_model(
            name, description=f"tasuki zoo model {name} (source of truth: the tasuki registry)"
        )
    except Exception as exc:
        if not _already_exists(exc):
            raise
    found = [
        mv
        for mv in client.search_model_versions(f"name='{name}'")
        if (mv.tags or {}).get("tasuki.content_hash") == version.content_hash
        and (mv.tags or {}).get("tasuki.zoo_version") == str(version.version)
    ]
    if found:
        mv = found[0]
        run_id = mv.run_id
    else:
        experiment = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
        )
        tags = tags_of(version)
        run = client.create_run(experiment_id, run_name=version.ref, tags=tags)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        params = [
            Param(str(k)[:250], _fit(json.dumps(v, ensure_ascii=False), _PARAM_LIMIT))
            for k, v in sorted(((version.task or {}).get("params") or {}).items())
        ]
        metrics = [Metric(k[:250], float(v), now, 0) for k, v in sorted(version.metrics.items())]
        client.log_batch(run_id, metrics=metrics, params=params[:100])
        client.log_artifacts(run_id, str(folder), "model")
        client.set_terminated(run_id)
        source = f"{run.info.artifact_uri.rstrip('/')}/model"
        mv = client.create_model_version(
            name, source, run_id=run_id, tags=tags, description=version.description or None
        )
    for alias, number in aliases.items():
        if number == version.version:
            client.set_registered_model_alias(name, alias, str(mv.version))
    return {
        "tracking_uri": redact(tracking_uri),
        "registered_model": name,
        "model_version": str(mv.version),
        "run_id": run_id,
    }


def set_alias(client: Any, name: str, alias: str, mlflow_version: str | None) -> None:
    """Point (or, with None, remove) the MLflow alias of a registered model."""
    if mlflow_version is None:
        client.delete_registered_model_alias(name, alias)
    else:
        client.set_registered_model_alias(name, alias, mlflow_version)
