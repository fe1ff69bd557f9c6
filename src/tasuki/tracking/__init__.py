"""Experiment tracking as a runner hook: each build an MLflow run, each task a nested run.

Turn it on in settings (``tracking = "mlflow"`` and ``tracking_uri``) or pass the hook to a
build (``tasuki.build(task, hooks=[MlflowTracker(uri)])``); see ``docs/tracking.md``.
Trackers are found by name in :data:`trackers` (built-in ``mlflow``, the entry-point group
``tasuki.trackers``, :func:`register_tracker`). Nothing here imports MLflow until a build
logs to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasuki._registry import lazy_attribute
from tasuki.core.hooks import register_tracker, trackers

if TYPE_CHECKING:
    from tasuki.tracking._session import TrackingStats
    from tasuki.tracking.mlflow import MlflowTracker

__all__ = ["MlflowTracker", "TrackingStats", "register_tracker", "trackers"]

_LAZY = {
    "MlflowTracker": "tasuki.tracking.mlflow",
    "TrackingStats": "tasuki.tracking._session",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)
