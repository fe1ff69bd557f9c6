"""Compile the tasks a build still needs into an Argo Workflow, through hera.

The manifest stays small however large the graph: one container template per (image,
resources) pair, and each DAG task names that template and passes the task's unique id as its
one argument (hera with one template per task measured 277 KB for 1,000 tasks here). Above
``max_manifest_bytes`` the steps are cut, in dependency order, into parts; each part becomes a
``WorkflowTemplate`` and a parent workflow runs the parts as child workflows in dependency
order (Argo's "workflow of workflows"), so no object comes near Kubernetes' ~1 MB limit.

Only the tasks that are not cached are exported: the graph is planned with the runner's own
completeness check, so a rerun of a 1,000-task workflow with 990 cached launches 10 steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tasuki._redact import redact
from tasuki.argo._errors import ArgoError
from tasuki.argo._names import check_image, dns_subdomain_problem
from tasuki.argo._resources import k8s_resources
from tasuki.argo._yaml import to_yaml

if TYPE_CHECKING:
    from tasuki.config import Settings
    from tasuki.core.graph import Graph
    from tasuki.core.task import Task
    from tasuki.storage.base import Store

__all__ = [
    "CHAIN_BLOCK",
    "RETRYABLE_EXIT_CODE",
    "Export",
    "ExportOptions",
    "Step",
    "compile_steps",
    "export_workflow",
    "plan_steps",
    "to_yaml",
]

logger = logging.getLogger(__name__)

#: The build id each step's run record carries: the workflow's own uid, so that the records
#: of one workflow run (a CronWorkflow's daily run, a resubmission) are one build, as those
#: of one `tasuki run` are. A workflow split into parts gives each part its own uid.
_BUILD_ID = "{{workflow.uid}}"

#: ``run-one`` exits with EX_TEMPFAIL when the task failed with a retryable error; the
#: retry strategy retries only that exit code (a bug in ``run()`` is not retried).
RETRYABLE_EXIT_CODE = 75
#: The cheap-chain length packed into one pod when ``pack`` is not given.
DEFAULT_CHEAP_PACK = 20
#: Most steps of a linear chain one ``steps`` template runs (one pod each, in order); the
#: inputs are named by one letter each, so at most 20.
CHAIN_BLOCK = 20
_UID_PARAM = "u"
_API = "argoproj.io/v1alpha1"
# Settings that change how a step runs its task, passed to every step as environment.
_ENV_SETTINGS = ("on_code_change", "lock_timeout", "fail_on_empty_dump", "retries")


@dataclass(frozen=True)
class ExportOptions:
    """How to compile the plan.

    Attributes:
        image: Image of every component without its own entry in ``images``.
        images: Component (the top-level package of a task's module) -> image reference;
            switching a component's version is one entry here.
        name: Workflow name (``generateName`` prefix of a Workflow; ``name`` of a
            WorkflowTemplate or CronWorkflow; prefix of the parts' templates).
        kind: ``Workflow``, ``WorkflowTemplate`` or ``CronWorkflow``.
        schedule: Cron schedule of a ``CronWorkflow`` (``"0 3 * * *"``).
        namespace: ``metadata.namespace``, when given.
        pack: Most tasks of a linear chain run in one pod. ``1`` packs only chains of
            tasks whose class says ``cheap = True`` (up to 20); ``N > 1`` packs any chain.
        retries: Retries of a step whose task failed with a retryable error.
        env: Extra environment for every step.
        secrets: Kubernetes secrets whose keys become every step's environment (credentials
            of the workspace, the warehouse...): never written into the manifest.
        service_account: ``serviceAccountName`` of the pods.
        max_manifest_bytes: Above this the workflow is split into parts.
    """

    image: str
    images: Mapping[str, str] = field(default_factory=dict)
    name: str = "tasuki"
    kind: Literal["Workflow", "WorkflowTemplate", "CronWorkflow"] = "Workflow"
    schedule: str | None = None
    namespace: str | None = None
    pack: int = 1
    retries: int = 2
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()
    service_account: str | None = None
    max_manifest_bytes: int = 500_000
    bundle: str | None = None

    def check(self) -> None:
        """Refuse bad options before any work.

        Raises:
            ArgoError: a bad image, name, kind, schedule or pack.
        """
        check_image(self.image)
        for component, ref in self.images.items():
            check_image(ref)
            if not component.isidentifier():
                raise ArgoError(
                    f"images: {component!r} is not a component name (a top-level package)",
                    component=component,
                )
        problem = dns_subdomain_problem(self.name, 40)
        if problem:
            raise ArgoError(f"workflow name {self.name!r} {problem}", name=self.name)
        if self.kind == "CronWorkflow" and not self.schedule:
            raise ArgoError("a CronWorkflow needs a schedule, e.g. --schedule '0 3 * * *'")
        if self.pack < 1:
            raise ArgoError(f"pack = {self.pack}; it must be 1 or more", pack=self.pack)


@dataclass(frozen=True, slots=True)
class Step:
    """One pod: the unique ids it runs in order, its template key and the steps before it."""

    uids: tuple[str, ...]
    image: str
    resources: str  # canonical JSON of the k8s resources, part of the template key
    deps: tuple[int, ...]  # indexes of earlier steps


@dataclass
class Export:
    """What :func:`export_workflow` made.

    Attributes:
        documents: Manifests in the order to create them (parts' templates first).
        steps: The pods the workflow launches, dependencies first.
        tasks: Tasks in the graph; ``cached`` of them were found complete.
    """

    documents: list[dict[str, Any]]
    steps: list[Step]
    tasks: int
    cached: int
    _texts: list[str] | None = field(default=None, repr=False, compare=False)

    def _text_of_each(self) -> list[str]:
        # Written once: the documents are not meant to change after the export.
        if self._texts is None:
            self._texts = [to_yaml([d]) for d in self.documents]
        return self._texts

    def to_yaml(self) -> str:
        """All documents as one multi-document YAML text."""
        return "---\n".join(self._text_of_each())

    def sizes(self) -> list[int]:
        """Bytes of each document's YAML."""
        return [len(t.encode()) for t in self._text_of_each()]


def _component(task_cls: type) -> str:
    return task_cls.__module__.split(".", 1)[0]


def plan_steps(
    graph: Graph, needed: Sequence[str] | set[str] | Mapping[str, Any], options: ExportOptions
) -> list[Step]:
    """Group the needed tasks into steps (packing linear chains), dependencies first.

    Raises:
        ResourcesError: a task class's ``resources`` is of the wrong type.
    """
    need = set(needed)
    order = [u for u in graph.order if u in need]
    nodes = graph.nodes
    per_class: dict[type, tuple[str, str, bool]] = {}
    group_of: dict[str, int] = {}
    groups: list[list[str]] = []
    keys: list[tuple[str, str]] = []
    for uid in order:
        cls = type(nodes[uid].task)
        info = per_class.get(cls)
        if info is None:
            image = options.images.get(_component(cls), options.image)
            res = json.dumps(
                k8s_resources(cls.task_name(), getattr(cls, "resources", None)), sort_keys=True
            )
            info = per_class[cls] = (image, res, bool(getattr(cls, "cheap", False)))
        image, res, cheap = info
        limit = options.pack if options.pack > 1 else (DEFAULT_CHEAP_PACK if cheap else 1)
        deps = [d for d in nodes[uid].deps if d in need]
        joined = False
        if limit > 1 and len(deps) == 1:
            prev = deps[0]
            g = group_of[prev]
            group = groups[g]
            if (
                group[-1] == prev
                and len(group) < limit
                and keys[g] == (image, res)
                and sum(1 for p in nodes[prev].dependents if p in need) == 1
                and (options.pack > 1 or per_class[type(nodes[prev].task)][2])
            ):
                group.append(uid)
                group_of[uid] = g
                joined = True
        if not joined:
            group_of[uid] = len(groups)
            groups.append([uid])
            keys.append((image, res))
    steps: list[Step] = []
    for g, group in enumerate(groups):
        members = set(group)
        dep_groups = sorted(
            {group_of[d] for u in group for d in nodes[u].deps if d in need and d not in members}
        )
        steps.append(
            Step(tuple(group), keys[g][0], keys[g][1], tuple(x for x in dep_groups if x != g))
        )
    return steps


def _step_name(i: int) -> str:
    return f"t{i:x}"


def _templates(
    steps: Sequence[Step], options: ExportOptions, env: list[Any]
) -> tuple[list[Any], dict[tuple[str, str, bool], str]]:
    from hera.workflows import Container, Env, Parameter, RetryStrategy
    from hera.workflows import models as m

    names: dict[tuple[str, str, bool], str] = {}
    out: list[Any] = []
    retry = (
        RetryStrategy(
            limit=options.retries,
            retry_policy="Always",
            expression=f"asInt(lastRetry.exitCode) == {RETRYABLE_EXIT_CODE}",
        )
        if options.retries
        else None
    )
    env_from = [m.EnvFromSource(secret_ref=m.SecretEnvSource(name=s)) for s in options.secrets]
    for step in steps:
        key = (step.image, step.resources, len(step.uids) > 1)
        if key in names:
            continue
        name = names[key] = f"{'pack' if key[2] else 'run'}-{len(names)}"
        res = json.loads(step.resources)
        if key[2]:
            # Several ids in one pod, one after the other; ids are hex, so the shell sees
            # nothing but words. The first failure ends the pod with its exit code.
            command = ["sh", "-c"]
            bundle = f" --bundle {options.bundle}" if options.bundle else ""
            args = [
                f'for u in {{{{inputs.parameters.{_UID_PARAM}}}}}; do tasuki run-one "$u"'
                f"{bundle} --build-id {_BUILD_ID} || exit $?; done"
            ]
        else:
            command = ["tasuki"]
            args = ["run-one", f"{{{{inputs.parameters.{_UID_PARAM}}}}}"]
            if options.bundle:  # every definition of this export in one file
                args += ["--bundle", options.bundle]
            args += ["--build-id", _BUILD_ID]
        out.append(
            Container(
                name=name,
                image=step.image,
                command=command,
                args=args,
                inputs=[Parameter(name=_UID_PARAM)],
                # TASUKI_IMAGE: run records say which image version produced each output.
                env=[Env(name=k, value=v) for k, v in [*env, ("TASUKI_IMAGE", step.image)]],
                env_from=env_from or None,
                resources=m.ResourceRequirements(**res) if res else None,
                retry_strategy=retry,
            )
        )
    return out, names


def _dag_tasks(
    steps: Sequence[Step], names: Mapping[tuple[str, str, bool], str], offset: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """DAG tasks for ``steps`` and the chain templates they call: plain dicts in the shape of
    hera's models (building 1,000 hera objects is most of the second hera's
    one-template-per-task export takes).

    Steps with the same template, the same dependencies and the same dependents (the leaves
    of a fan-in, the branches of a fan-out) become one task with ``withItems``: Argo still
    runs one pod per item and schedules them exactly as separate tasks, and each costs the
    manifest its id and two bytes instead of ~90 bytes of task around the id.

    A linear run of steps with the same template (each the only dependent of the one before,
    which is its only dependency) is cut into blocks of up to :data:`CHAIN_BLOCK`; a block is
    one DAG task calling a ``steps`` template that runs the container once per id, one after
    the other (a failure stops the block, as it stops the DAG): one pod per task as before,
    and each costs the manifest its id and ~20 bytes instead of ~100 bytes of task.
    """
    end = offset + len(steps)
    template_of = [names[(s.image, s.resources, len(s.uids) > 1)] for s in steps]
    local_deps = [tuple(d for d in s.deps if d >= offset) for s in steps]
    dependents: dict[int, list[int]] = {}
    for i, deps in enumerate(local_deps, offset):
        for d in deps:
            dependents.setdefault(d, []).append(i)
    # Linear runs: i follows j when j is i's only dependency and i is j's only dependent.
    next_of: dict[int, int] = {}
    for i, deps in enumerate(local_deps, offset):
        if len(deps) == 1:
            j = deps[0]
            if dependents.get(j) == [i] and template_of[j - offset] == template_of[i - offset]:
                next_of[j] = i
    followed = set(next_of.values())
    block_of: dict[int, list[int]] = {}
    for i in range(offset, end):
        if i in followed or i not in next_of:
            continue
        run = [i]
        while run[-1] in next_of:
            run.append(next_of[run[-1]])
        for a in range(0, len(run), CHAIN_BLOCK):
            block = run[a : a + CHAIN_BLOCK]
            if len(block) > 1:
                for member in block:
                    block_of[member] = block
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i in range(offset, end):
        if i in block_of:
            if block_of[i][0] == i:
                groups[("block", i)] = block_of[i]
            continue
        key = (template_of[i - offset], local_deps[i - offset], tuple(dependents.get(i, ())))
        groups.setdefault(key, []).append(i)
    group_name = {i: _step_name(members[0]) for members in groups.values() for i in members}
    tasks: list[dict[str, Any]] = []
    chain_templates: dict[str, dict[str, Any]] = {}
    for key, members in sorted(groups.items(), key=lambda kv: kv[1][0]):
        first = members[0]
        template = template_of[first - offset]
        values = [" ".join(steps[i - offset].uids) for i in members]
        deps = local_deps[first - offset]
        task: dict[str, Any] = {"name": group_name[first]}
        if key[0] == "block":
            chain = f"{template}-c{len(members)}"
            if chain not in chain_templates:
                chain_templates[chain] = _chain_template(chain, template, len(members))
            task["template"] = chain
            params = [{"name": _chain_param(k), "value": v} for k, v in enumerate(values)]
        elif len(members) == 1:
            task["template"] = template
            params = [{"name": _UID_PARAM, "value": values[0]}]
        else:
            task["template"] = template
            params = [{"name": _UID_PARAM, "value": "{{item}}"}]
        if deps:
            task["dependencies"] = sorted({group_name[d] for d in deps if d < end}, key=_by_index)
        task["arguments"] = {"parameters": params}
        if key[0] != "block" and len(members) > 1:
            task["withItems"] = values
        tasks.append(task)
    return tasks, list(chain_templates.values())


# Letters YAML reads as plain strings without quotes (not b, e, n, o, x, y).
_CHAIN_PARAMS = "acdfghijklmpqrstuvwz"


def _chain_param(k: int) -> str:
    return _CHAIN_PARAMS[k]


def _chain_template(name: str, template: str, length: int) -> dict[str, Any]:
    """A ``steps`` template running ``template`` once per input, in order."""
    return {
        "name": name,
        "inputs": {"parameters": [{"name": _chain_param(k)} for k in range(length)]},
        "steps": [
            [
                {
                    "name": _chain_param(k),
                    "template": template,
                    "arguments": {
                        "parameters": [
                            {
                                "name": _UID_PARAM,
                                "value": f"{{{{inputs.parameters.{_chain_param(k)}}}}}",
                            }
                        ]
                    },
                }
            ]
            for k in range(length)
        ],
    }


def _by_index(name: str) -> int:
    return int(name[1:], 16)


def _step_env(settings: Settings | None, options: ExportOptions) -> list[tuple[str, str]]:
    env: list[tuple[str, str]] = []
    if settings is not None:
        if redact(settings.workspace) != settings.workspace:
            raise ArgoError(
                f"the workspace {redact(settings.workspace)} holds credentials; they would be "
                "written into the manifest. Keep them in a Kubernetes secret and pass "
                "--secret NAME (its keys become the pods' environment).",
                workspace=redact(settings.workspace),
            )
        env.append(("TASUKI_WORKSPACE", settings.workspace))
        for key in _ENV_SETTINGS:
            value = getattr(settings, key)
            env.append(
                (
                    f"TASUKI_{key.upper()}",
                    str(value).lower() if isinstance(value, bool) else str(value),
                )
            )
    env.extend(options.env.items())
    return env


def _skeleton(
    kind: str, name: str, options: ExportOptions, templates: list[Any], generate: bool
) -> Any:
    from hera.workflows import CronWorkflow, Workflow, WorkflowTemplate

    common: dict[str, Any] = {
        "entrypoint": "main",
        "namespace": options.namespace,
        "service_account_name": options.service_account,
        "annotations": {"tasuki.dev/images": json.dumps(_images(options), sort_keys=True)},
        "labels": {"app.kubernetes.io/managed-by": "tasuki"},
    }
    if kind == "CronWorkflow":
        wf: Any = CronWorkflow(name=name, schedule=options.schedule, **common)
    elif kind == "WorkflowTemplate":
        wf = WorkflowTemplate(name=name, **common)
    else:
        naming: dict[str, Any] = {"generate_name": f"{name}-"} if generate else {"name": name}
        wf = Workflow(**naming, **common)
    for template in templates:
        wf._add_sub(template)
    return wf


def _images(options: ExportOptions) -> dict[str, str]:
    return {"*": options.image, **options.images}


def _with_dag(doc: dict[str, Any], tasks: list[dict[str, Any]]) -> dict[str, Any]:
    spec = doc["spec"]["workflowSpec"] if doc["kind"] == "CronWorkflow" else doc["spec"]
    spec.setdefault("templates", []).append({"name": "main", "dag": {"tasks": tasks}})
    return doc


def _require_hera() -> None:
    try:
        import hera.workflows  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        raise ArgoError(
            f"the Argo export needs hera and PyYAML ({exc.name} is missing): "
            "pip install 'tasuki[argo]'",
            missing=exc.name,
        ) from None


def compile_steps(
    steps: Sequence[Step], options: ExportOptions, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Manifests running ``steps``: one document, or parts plus a parent when too large.

    Raises:
        ArgoError: bad options, credentials in the workspace URL, or hera not installed.
    """
    options.check()
    _require_hera()
    env = _step_env(settings, options)
    one = _document(steps, options, env, options.kind, options.name, 0, generate=True)
    size = len(to_yaml([one]).encode())
    if size <= options.max_manifest_bytes:
        return [one]
    # Parts of equal step counts, in dependency order: every edge points to the same or a
    # later part, so the parts form a DAG too. Aim at 80 % of the limit, then halve on miss.
    parts = math.ceil(size / (0.8 * options.max_manifest_bytes))
    digest = hashlib.sha256("".join(s.uids[0] for s in steps).encode()).hexdigest()[:8]
    while True:
        per = math.ceil(len(steps) / parts)
        bounds = [(i, min(i + per, len(steps))) for i in range(0, len(steps), per)]
        docs = [
            _document(
                steps[a:b], options, env, "WorkflowTemplate", f"{options.name}-{digest}-p{k}", a
            )
            for k, (a, b) in enumerate(bounds)
        ]
        if all(len(to_yaml([d]).encode()) <= options.max_manifest_bytes for d in docs):
            break
        if per == 1:
            raise ArgoError(
                f"one step alone is over max_manifest_bytes={options.max_manifest_bytes}",
                max_manifest_bytes=options.max_manifest_bytes,
            )
        parts *= 2
    part_of = [k for k, (a, b) in enumerate(bounds) for _ in range(a, b)]
    parent_tasks: list[dict[str, Any]] = []
    for k, (a, b) in enumerate(bounds):
        before = sorted({part_of[d] for s in steps[a:b] for d in s.deps if part_of[d] != k})
        task: dict[str, Any] = {
            "name": f"p{k}",
            "template": "part",
            "arguments": {
                "parameters": [{"name": "template", "value": docs[k]["metadata"]["name"]}]
            },
        }
        if before:
            task["dependencies"] = [f"p{j}" for j in before]
        parent_tasks.append(task)
    parent = _skeleton(options.kind, options.name, options, [_part_template()], True).to_dict()
    return [*docs, _with_dag(parent, parent_tasks)]


def _part_template() -> Any:
    from hera.workflows import Parameter, Resource

    manifest = (
        f"apiVersion: {_API}\nkind: Workflow\nmetadata:\n"
        "  generateName: '{{inputs.parameters.template}}-'\n"
        "spec:\n  workflowTemplateRef:\n    name: '{{inputs.parameters.template}}'\n"
    )
    return Resource(
        name="part",
        inputs=[Parameter(name="template")],
        action="create",
        manifest=manifest,
        success_condition="status.phase == Succeeded",
        failure_condition="status.phase in (Failed, Error)",
    )


def _document(
    steps: Sequence[Step],
    options: ExportOptions,
    env: list[tuple[str, str]],
    kind: str,
    name: str,
    offset: int,
    generate: bool = False,
) -> dict[str, Any]:
    templates, names = _templates(steps, options, env)
    doc = _skeleton(kind, name, options, templates, generate).to_dict()
    tasks, chains = _dag_tasks(steps, names, offset)
    spec = doc["spec"]["workflowSpec"] if doc["kind"] == "CronWorkflow" else doc["spec"]
    spec.setdefault("templates", []).extend(chains)
    return _with_dag(doc, tasks)


def _write_definitions(
    store: Store, graph: Graph, uids: list[str], keys: Mapping[str, str]
) -> str | None:
    """Each step runs its task by id: the definitions go to the workspace as one bundle (one
    file creation, not one per task); returns its name, which every step passes to
    ``run-one --bundle``."""
    if not uids:
        return None
    from tasuki.core.definitions import write_bundle

    return write_bundle(store, graph, uids, keys)


def export_workflow(
    roots: Task | Sequence[Task],
    *,
    options: ExportOptions,
    settings: Settings,
    store: Store,
) -> Export:
    """Plan ``roots`` against the workspace and compile what still has to run.

    Args:
        roots: The task(s) to build.
        options: Images, kind, packing and the rest of :class:`ExportOptions`.
        settings: The build's settings (the workspace and the settings steps inherit).
        store: The opened workspace, where the cache is checked.

    Returns:
        An :class:`Export`; with nothing to run, a workflow with an empty DAG.

    Raises:
        ArgoError: bad options (image reference, name), or ``ResourcesError``.

    Example:
        >>> export = export_workflow(Train(), options=ExportOptions(image="ghcr.io/a/b:1"),
        ...                          settings=settings, store=store)
        >>> open("wf.yaml", "w").write(export.to_yaml())
    """
    from tasuki.core._plan_checks import check_plan
    from tasuki.core.code import code_keys
    from tasuki.core.execute import Completeness
    from tasuki.core.graph import build_graph
    from tasuki.core.runner import plan
    from tasuki.core.task import Task as TaskBase

    options.check()
    graph = build_graph([roots] if isinstance(roots, TaskBase) else list(roots))
    keys = code_keys(graph)
    completeness = Completeness(store, settings.on_code_change, keys)
    needed, complete = plan(graph, completeness, set())
    check_plan(graph, needed, complete)  # what a local build refuses, the cluster would race
    steps = plan_steps(graph, needed, options)
    bundle = _write_definitions(store, graph, list(needed), keys)
    options = dataclasses.replace(options, bundle=bundle)
    documents = compile_steps(steps, options, settings)
    return Export(documents, steps, len(graph), len(graph) - len(needed))
