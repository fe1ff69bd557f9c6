"""Argo Workflows: export a build's remaining tasks through hera, check, replay, submit.

Each step of an exported workflow is ``tasuki run-one UNIQUE_ID`` in the component's image
(``tasuki image`` writes its Dockerfile); only tasks that are not cached are exported. See
``docs/argo.md``.
"""

from tasuki.argo._check import check_documents, problems_of, validate_with_hera
from tasuki.argo._errors import (
    ArgoError,
    ImageReferenceError,
    ReplayError,
    ResourcesError,
    SubmitError,
    WorkflowCheckError,
)
from tasuki.argo._export import (
    CHAIN_BLOCK,
    RETRYABLE_EXIT_CODE,
    Export,
    ExportOptions,
    Step,
    compile_steps,
    export_workflow,
    plan_steps,
    to_yaml,
)
from tasuki.argo._image import ImageFiles, write_image_files
from tasuki.argo._names import check_image
from tasuki.argo._replay import ReplayResult, ReplayStep, load_documents, replay
from tasuki.argo._resources import k8s_resources
from tasuki.argo._submit import ArgoSettings, submit

__all__ = [
    "CHAIN_BLOCK",
    "RETRYABLE_EXIT_CODE",
    "ArgoError",
    "ArgoSettings",
    "Export",
    "ExportOptions",
    "ImageFiles",
    "ImageReferenceError",
    "ReplayError",
    "ReplayResult",
    "ReplayStep",
    "ResourcesError",
    "Step",
    "SubmitError",
    "WorkflowCheckError",
    "check_documents",
    "check_image",
    "compile_steps",
    "export_workflow",
    "k8s_resources",
    "load_documents",
    "plan_steps",
    "problems_of",
    "replay",
    "submit",
    "to_yaml",
    "validate_with_hera",
    "write_image_files",
]
