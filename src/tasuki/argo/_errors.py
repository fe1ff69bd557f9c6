"""Errors of the Argo export, check, replay and submit.

They sit under :class:`~tasuki.errors.TasukiError` like every tasuki error (fields as
attributes, picklable)::

    ArgoError
    ├── ImageReferenceError     an image name that is not a valid reference
    ├── ResourcesError          a task's ``resources`` value of the wrong type
    ├── WorkflowCheckError      the structural check found problems (listed in ``problems``)
    ├── ReplayError             a step of a local replay failed
    └── SubmitError             the Argo server refused or could not be reached (retryable)
"""

from __future__ import annotations

from typing import ClassVar

from tasuki.errors import TasukiError

__all__ = [
    "ArgoError",
    "ImageReferenceError",
    "ReplayError",
    "ResourcesError",
    "SubmitError",
    "WorkflowCheckError",
]


class ArgoError(TasukiError):
    """Root of the errors of :mod:`tasuki.argo`."""


class ImageReferenceError(ArgoError):
    """An image name is not a valid container image reference (``value``, ``reason``)."""


class ResourcesError(ArgoError):
    """A task class declares ``resources`` that cannot become Kubernetes resources."""


class WorkflowCheckError(ArgoError):
    """An exported workflow failed the structural check; ``problems`` lists every one."""


class ReplayError(ArgoError):
    """A step of a local replay exited non-zero (``step``, ``returncode``, ``stderr_tail``)."""


class SubmitError(ArgoError):
    """The Argo server refused the workflow or could not be reached (``status``)."""

    retryable: ClassVar[bool] = True
