"""Local replay: run an exported workflow's steps as subprocesses, in dependency order.

What the replay runs is read from the YAML alone, as Argo would: the entrypoint's DAG, each
task's template (a ``steps`` template runs its groups in order, its steps' arguments seeing
its inputs), the container's ``command`` and ``args`` with ``{{inputs.parameters.X}}``
replaced by the task's arguments, the container's ``env`` on top of this process's
environment, and for a part of a workflow of workflows, the DAG of the WorkflowTemplate it
starts. Only the image is not used: its ``tasuki`` is this interpreter's
(``python -m tasuki``), so a replay checks the manifest against the project as installed here.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tasuki._redact import redact
from tasuki.argo._check import check_documents, spec_of
from tasuki.argo._errors import ReplayError

__all__ = ["ReplayResult", "ReplayStep", "load_documents", "replay"]

logger = logging.getLogger(__name__)

_PARAM = re.compile(r"\{\{\s*inputs\.parameters\.([A-Za-z0-9_-]+)\s*\}\}")
_TEMPLATE_REF = re.compile(r"workflowTemplateRef:\s*\n\s*name:\s*'?([^'\n]+)'?")


@dataclass(frozen=True)
class ReplayStep:
    """One pod the replay ran: where it sits, its argv and its exit code."""

    document: str
    task: str
    argv: tuple[str, ...]
    returncode: int
    attempts: int


@dataclass
class ReplayResult:
    """Every step run, in the order run."""

    steps: list[ReplayStep] = field(default_factory=list)

    @property
    def launched(self) -> int:
        """How many steps (pods) ran."""
        return len(self.steps)


def load_documents(text: str) -> list[dict[str, Any]]:
    """The documents of a (multi-document) YAML text, empty ones left out."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(text, Loader=loader) if d]


def _order(tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    by_name = {str(t["name"]): t for t in tasks}
    waiting = {n: len(t.get("dependencies") or []) for n, t in by_name.items()}
    dependents: dict[str, list[str]] = {n: [] for n in by_name}
    for name, task in by_name.items():
        for dep in task.get("dependencies") or []:
            dependents[str(dep)].append(name)
    ready = [n for n in by_name if waiting[n] == 0]
    out: list[Mapping[str, Any]] = []
    while ready:
        name = ready.pop(0)
        out.append(by_name[name])
        for parent in dependents[name]:
            waiting[parent] -= 1
            if waiting[parent] == 0:
                ready.append(parent)
    return out


def _local_command(argv: list[str]) -> list[str]:
    if argv and argv[0] == "tasuki":
        return [sys.executable, "-m", "tasuki", *argv[1:]]
    if len(argv) >= 3 and argv[0] == "sh" and argv[1] == "-c":
        # A packed step's shell loop calls `tasuki`: give it this interpreter's.
        script = re.sub(r"\btasuki run-one\b", f"{sys.executable} -m tasuki run-one", argv[2])
        return ["sh", "-c", script, *argv[3:]]
    return argv


def replay(
    documents: Sequence[Mapping[str, Any]],
    *,
    env: Mapping[str, str] | None = None,
    command: Callable[[list[str]], list[str]] = _local_command,
    on_step: Callable[[ReplayStep], None] | None = None,
) -> ReplayResult:
    """Run the workflow in ``documents`` here, one step at a time, in dependency order.

    Args:
        documents: An export's documents (or :func:`load_documents` of its YAML).
        env: Environment of every step instead of this process's (the container's ``env``
            goes on top, as in the pod).
        command: Maps the container's argv to the local one (default: ``tasuki`` is
            ``python -m tasuki`` of this interpreter).
        on_step: Called after each step.

    Returns:
        The steps run.

    Raises:
        WorkflowCheckError: the documents fail the structural check.
        ReplayError: a step still failed after its retries (the step, exit code, stderr).
    """
    check_documents(documents)
    templates_docs = {
        str(d["metadata"]["name"]): d for d in documents if d.get("kind") == "WorkflowTemplate"
    }
    started = {id(d) for d in templates_docs.values()}
    mains = [d for d in documents if id(d) not in started] or list(documents[-1:])
    result = ReplayResult()
    base_env = dict(os.environ if env is None else env)
    for doc in mains:
        _run_document(doc, templates_docs, base_env, command, on_step, result)
    return result


def _run_document(
    doc: Mapping[str, Any],
    parts: Mapping[str, Mapping[str, Any]],
    base_env: dict[str, str],
    command: Callable[[list[str]], list[str]],
    on_step: Callable[[ReplayStep], None] | None,
    result: ReplayResult,
) -> None:
    spec = spec_of(doc)
    templates = {str(t["name"]): t for t in spec.get("templates") or []}
    name = str(doc["metadata"].get("name") or doc["metadata"].get("generateName"))
    workflow_uid = str(uuid.uuid4())  # Argo's uids are UUIDs: one per workflow run

    def run(template_name: str, params: Mapping[str, str], label: str) -> None:
        template = templates[template_name]
        if "dag" in template:
            for task in _order((template.get("dag") or {}).get("tasks") or []):
                calls(task, params, f"{label}{task['name']}")
            return
        if "steps" in template:
            # Groups one after the other; the steps of a group would run in parallel in Argo,
            # here one after the other.
            for group in template.get("steps") or []:
                for step in group:
                    calls(step, params, f"{label}{step['name']}")
            return
        if "resource" in template:
            manifest = _substitute(str(template["resource"]["manifest"]), params)
            refs = _TEMPLATE_REF.findall(manifest)
            if not refs or refs[0] not in parts:
                raise ReplayError(
                    f"{name}/{label}: starts a workflow this replay cannot find", step=label
                )
            _run_document(parts[refs[0]], parts, base_env, command, on_step, result)
            return
        container = template.get("container")
        if container is None:
            raise ReplayError(
                f"{name}/{label}: template {template_name!r} is neither a container, a DAG, "
                "steps nor a part; the replay runs only those",
                step=label,
            )
        step = _run_container(
            name, label, template, container, params, base_env, command, workflow_uid
        )
        result.steps.append(step)
        if on_step is not None:
            on_step(step)

    def calls(task: Mapping[str, Any], outer: Mapping[str, str], label: str) -> None:
        # A DAG task or a step: its arguments see the caller's inputs and the item.
        items = task.get("withItems")
        for item in [None] if items is None else items:
            params = {
                str(p["name"]): _substitute(_item(str(p.get("value", "")), item), outer)
                for p in (task.get("arguments") or {}).get("parameters") or []
            }
            here = label if item is None else f"{label}({item})"
            run(str(task["template"]), params, f"{here}/" if _calls_more(task) else here)

    def _calls_more(task: Mapping[str, Any]) -> bool:
        target = templates.get(str(task["template"])) or {}
        return "steps" in target or "dag" in target

    run(str(spec["entrypoint"]), {}, "")


def _item(value: str, item: Any) -> str:
    if item is None:
        return value
    return re.sub(r"\{\{\s*item\s*\}\}", lambda _: str(item), value)


def _run_container(
    doc: str,
    task: str,
    template: Mapping[str, Any],
    container: Mapping[str, Any],
    params: Mapping[str, str],
    base_env: dict[str, str],
    command: Callable[[list[str]], list[str]],
    workflow_uid: str,
) -> ReplayStep:
    def sub(text: str) -> str:
        return _substitute(text, params)

    argv = _with_uid(
        [sub(str(a)) for a in [*(container.get("command") or []), *(container.get("args") or [])]],
        workflow_uid,
    )
    env = {
        **base_env,
        **{str(e["name"]): sub(str(e.get("value", ""))) for e in container.get("env") or []},
    }
    retry = template.get("retryStrategy") or {}
    limit = int(retry.get("limit", 0) or 0)
    only = _retry_exit_code(str(retry.get("expression", "")))
    local = command(argv)
    attempts = 0
    while True:
        attempts += 1
        logger.info("replay %s/%s: %s", doc, task, redact(" ".join(argv)))
        proc = subprocess.run(local, env=env, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return ReplayStep(doc, task, tuple(argv), 0, attempts)
        retryable = only is None or proc.returncode == only
        if not retryable or attempts > limit:
            tail = redact("\n".join(proc.stderr.splitlines()[-20:]))
            raise ReplayError(
                f"{doc}/{task} exited {proc.returncode} after {attempts} attempt(s): "
                f"{redact(' '.join(argv))}\n{tail}",
                step=task,
                returncode=proc.returncode,
                stderr_tail=tail,
            )


def _substitute(text: str, params: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise ReplayError(f"no argument {name!r} for {match.group(0)} in {text!r}")
        return params[name]

    return _PARAM.sub(value, text)


_WORKFLOW_UID = re.compile(r"\{\{\s*workflow\.uid\s*\}\}")


def _with_uid(argv: list[str], uid: str) -> list[str]:
    """``{{workflow.uid}}`` in ``argv`` replaced by the uid this replay gave the workflow (as
    Argo gives each workflow it runs one)."""
    return [_WORKFLOW_UID.sub(uid, a) for a in argv]


def _retry_exit_code(expression: str) -> int | None:
    match = re.fullmatch(r"\s*asInt\(lastRetry\.exitCode\)\s*==\s*(\d+)\s*", expression)
    return int(match.group(1)) if match else None
