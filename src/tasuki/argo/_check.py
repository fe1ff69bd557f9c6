"""The structural check of exported manifests, without a cluster.

hera's models check each field's shape (:func:`validate_with_hera`); what they cannot see is
the structure across fields, which Argo only reports once the workflow is submitted: every
template a DAG task or a step names exists and gets the inputs it declares, every dependency
names a task of the same DAG, the DAG has no cycle, step names are unique in their template,
names are names Kubernetes accepts, and a part a parent workflow starts is among the
documents. :func:`check_documents` finds every problem in one pass and reports them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from tasuki.argo._errors import WorkflowCheckError
from tasuki.argo._names import dns_label_problem, dns_subdomain_problem

__all__ = ["check_documents", "problems_of", "spec_of", "validate_with_hera"]

_KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow")
_TEMPLATE_REF = re.compile(r"workflowTemplateRef:\s*\n\s*name:\s*'?([^'\n]+)'?")


def spec_of(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The workflow spec of a Workflow, WorkflowTemplate or CronWorkflow document."""
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronWorkflow":
        return spec.get("workflowSpec") or {}
    return spec


def _doc_name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    return str(meta.get("name") or meta.get("generateName") or "?")


def _cycle(tasks: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle among the tasks (names in order), or None; iterative (100,000 tasks)."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for start in tasks:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            deps = [d for d in tasks.get(node, ()) if d in tasks]
            if i < len(deps):
                stack.append((node, i + 1))
                dep = deps[i]
                if state.get(dep) == 1:
                    return [*path[path.index(dep) :], dep]
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[node] = 2
                path.pop()
    return None


_INPUT = re.compile(r"\{\{\s*inputs\.parameters\.([A-Za-z0-9_-]+)\s*\}\}")


def _argument_problems(where: str, call: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    """Inputs of ``target`` without a value that ``call`` does not give (Argo refuses it)."""
    given = {str(p.get("name")) for p in (call.get("arguments") or {}).get("parameters") or []}
    missing = [
        str(p.get("name"))
        for p in (target.get("inputs") or {}).get("parameters") or []
        if "value" not in p and "default" not in p and str(p.get("name")) not in given
    ]
    if not missing:
        return []
    return [
        f"{where} calls template {target.get('name')!r} without its input(s) "
        f"{', '.join(repr(m) for m in missing)}"
    ]


def _steps_problems(
    where: str, tname: str, template: Mapping[str, Any], templates: Mapping[str, Any]
) -> list[str]:
    """A ``steps`` template: groups are lists, step names are unique labels, each names a
    template of the document with the inputs it needs, and every input it refers to is one
    of its own."""
    problems: list[str] = []
    declared = {str(p.get("name")) for p in (template.get("inputs") or {}).get("parameters") or []}
    seen: set[str] = set()
    groups = template.get("steps")
    if not isinstance(groups, list):
        return [f"{where}: steps of template {tname!r} must be a list of lists of steps"]
    for group in groups:
        if not isinstance(group, list):
            problems.append(f"{where}: template {tname!r} has a step group that is not a list")
            continue
        for step in group:
            name = str(step.get("name"))
            if name in seen:
                problems.append(f"{where}: template {tname!r} has two steps named {name!r}")
            seen.add(name)
            problem = dns_label_problem(name)
            if problem:
                problems.append(f"{where}: step name {name!r} {problem}")
            target = step.get("template")
            if target not in templates:
                problems.append(
                    f"{where}: step {name!r} of {tname!r} names template {target!r}, which "
                    "does not exist in this document"
                )
            else:
                problems.extend(
                    _argument_problems(
                        f"{where}: step {name!r} of {tname!r}", step, templates[target]
                    )
                )
            for arg in (step.get("arguments") or {}).get("parameters") or []:
                for ref in _INPUT.findall(str(arg.get("value", ""))):
                    if ref not in declared:
                        problems.append(
                            f"{where}: step {name!r} of {tname!r} refers to "
                            f"inputs.parameters.{ref}, which {tname!r} does not declare"
                        )
    return problems


def problems_of(documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every structural problem of ``documents`` (one exported set), as sentences."""
    problems: list[str] = []
    template_names = {
        str((d.get("metadata") or {}).get("name"))
        for d in documents
        if d.get("kind") == "WorkflowTemplate"
    }
    for doc in documents:
        where = f"{doc.get('kind', '?')} {_doc_name(doc)}"
        if doc.get("kind") not in _KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(_KINDS)}")
            continue
        meta = doc.get("metadata") or {}
        if meta.get("name"):
            problem = dns_subdomain_problem(str(meta["name"]))
            if problem:
                problems.append(f"{where}: metadata.name {meta['name']!r} {problem}")
        elif meta.get("generateName"):
            problem = dns_subdomain_problem(str(meta["generateName"]).rstrip("-"), 58)
            if problem:
                problems.append(f"{where}: generateName {meta['generateName']!r} {problem}")
        else:
            problems.append(f"{where}: metadata has neither name nor generateName")
        spec = spec_of(doc)
        templates = {str(t.get("name")): t for t in spec.get("templates") or []}
        for name in templates:
            problem = dns_label_problem(name)
            if problem:
                problems.append(f"{where}: template name {name!r} {problem}")
        entry = spec.get("entrypoint")
        if entry not in templates:
            problems.append(f"{where}: entrypoint {entry!r} is not a template of this document")
        for tname, template in templates.items():
            resource = template.get("resource")
            if resource:
                for ref in _TEMPLATE_REF.findall(str(resource.get("manifest", ""))):
                    if "{{" not in ref and ref not in template_names:
                        problems.append(
                            f"{where}: template {tname!r} starts WorkflowTemplate {ref!r}, "
                            "which is not among the documents"
                        )
            steps = template.get("steps")
            if steps is not None:
                problems.extend(_steps_problems(where, tname, template, templates))
            dag = template.get("dag")
            if dag is None:
                continue
            deps: dict[str, list[str]] = {}
            for task in dag.get("tasks") or []:
                name = str(task.get("name"))
                if name in deps:
                    problems.append(f"{where}: DAG {tname!r} has two tasks named {name!r}")
                deps[name] = [str(d) for d in task.get("dependencies") or []]
                problem = dns_label_problem(name)
                if problem:
                    problems.append(f"{where}: task name {name!r} {problem}")
                target = task.get("template")
                if target not in templates:
                    problems.append(
                        f"{where}: task {name!r} names template {target!r}, which does not "
                        "exist in this document"
                    )
                else:
                    problems.extend(
                        _argument_problems(f"{where}: task {name!r}", task, templates[target])
                    )
                for arg in (task.get("arguments") or {}).get("parameters") or []:
                    ref = str(arg.get("value", ""))
                    if arg.get("name") == "template" and ref not in template_names:
                        problems.append(
                            f"{where}: task {name!r} starts WorkflowTemplate {ref!r}, which is "
                            "not among the documents"
                        )
            for name, names in deps.items():
                for dep in names:
                    if dep not in deps:
                        problems.append(
                            f"{where}: task {name!r} depends on {dep!r}, which is not a task "
                            f"of DAG {tname!r}"
                        )
            cycle = _cycle(deps)
            if cycle:
                problems.append(f"{where}: DAG {tname!r} has a cycle: {' -> '.join(cycle)}")
    return problems


def check_documents(documents: Sequence[Mapping[str, Any]]) -> None:
    """Raise when ``documents`` have structural problems.

    Raises:
        WorkflowCheckError: with every problem in ``problems`` and in the message.

    Example:
        >>> check_documents(export.documents)
    """
    problems = problems_of(documents)
    if problems:
        shown = "\n  - ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise WorkflowCheckError(
            f"the workflow has {len(problems)} structural problem(s):\n  - {shown}{more}",
            problems=problems,
        )


def validate_with_hera(documents: Sequence[Mapping[str, Any]]) -> None:
    """Parse each document with hera's Argo models (field names and types).

    Raises:
        WorkflowCheckError: the model's validation errors.
    """
    from hera.workflows import models as m

    kinds: dict[str, Any] = {
        "Workflow": m.Workflow,
        "WorkflowTemplate": m.WorkflowTemplate,
        "CronWorkflow": m.CronWorkflow,
    }
    problems: list[str] = []
    for doc in documents:
        model = kinds.get(str(doc.get("kind")))
        if model is None:
            problems.append(f"{doc.get('kind')!r} is not an Argo workflow kind")
            continue
        try:
            model.model_validate(doc)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            problems.append(f"{doc.get('kind')} {_doc_name(doc)}: {exc}")
    if problems:
        raise WorkflowCheckError(
            "hera's models refuse the workflow:\n" + "\n".join(problems), problems=problems
        )
