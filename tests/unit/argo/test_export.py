from __future__ import annotations

import json

import pytest

import tasuki
from tasuki.argo import (
    CHAIN_BLOCK,
    ArgoError,
    ExportOptions,
    ImageReferenceError,
    ResourcesError,
    Step,
    check_documents,
    compile_steps,
    export_workflow,
    load_documents,
    to_yaml,
    validate_with_hera,
)
from tasuki.argo._check import spec_of
from tasuki.core.records import delete_record
from tests.unit.argo.argo_tasks import BadResources, Heavy, Leaf, Sum, chain

IMAGE = "ghcr.io/acme/recsys:1.4.2"


def _uids(tasks) -> list[str]:
    """The ids the DAG tasks run, one per pod (a task with withItems runs one per item)."""
    out = []
    for t in tasks:
        out.extend(t.get("withItems") or [p["value"] for p in t["arguments"]["parameters"]])
    return out


def _dag(doc):
    templates = {t["name"]: t for t in spec_of(doc)["templates"]}
    return templates, templates["main"]["dag"]["tasks"]


def test_fan_in_exports_one_template_and_every_task_by_id(settings, store) -> None:
    root = Sum(n=5)
    export = export_workflow(
        root, options=ExportOptions(image=IMAGE), settings=settings, store=store
    )
    [doc] = export.documents
    templates, tasks = _dag(doc)
    assert doc["kind"] == "Workflow"
    assert doc["metadata"]["generateName"] == "tasuki-"
    assert [n for n in templates if n != "main"] == ["run-0"]  # one template per image
    container = templates["run-0"]["container"]
    assert container["image"] == IMAGE
    assert container["command"] == ["tasuki"]
    # Every definition of the export in one bundle file, named by every step.
    assert container["args"][:3] == ["run-one", "{{inputs.parameters.u}}", "--bundle"]
    from tasuki.core.definitions import DEFINITIONS_PREFIX, bundle_key, read_bundle

    bundle = read_bundle(store, container["args"][3])
    assert set(bundle) == {root.unique_id, *(Leaf(i=i).unique_id for i in range(5))}
    # ... and no file per task: one file creation for the whole export.
    assert list(store.list(DEFINITIONS_PREFIX)) == [bundle_key(container["args"][3])]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TASUKI_WORKSPACE"] == settings.workspace
    assert env["TASUKI_ON_CODE_CHANGE"] == "rerun"
    retry = templates["run-0"]["retryStrategy"]
    assert retry == {
        "expression": "asInt(lastRetry.exitCode) == 75",
        "limit": 2,
        "retryPolicy": "Always",
    }
    # The leaves share template, dependencies and dependents: one task, one pod per item.
    leaves, last = tasks
    assert leaves["withItems"] == [Leaf(i=i).unique_id for i in range(5)]
    assert leaves["arguments"] == {"parameters": [{"name": "u", "value": "{{item}}"}]}
    assert "dependencies" not in leaves
    assert last["arguments"]["parameters"][0]["value"] == root.unique_id
    assert last["dependencies"] == [leaves["name"]]
    assert len(export.steps) == 6
    # The YAML reads back as the same documents, and passes hera's models and our check.
    assert load_documents(export.to_yaml()) == export.documents
    validate_with_hera(export.documents)
    check_documents(export.documents)


def test_only_tasks_not_cached_are_exported(settings, store) -> None:
    root = Sum(n=20)
    tasuki.build(root, settings=settings, executor="inline")
    for i in range(9):  # 9 leaves and the root lose their records: 10 tasks to run
        delete_record(store, Leaf(i=i).unique_id)
    delete_record(store, root.unique_id)
    export = export_workflow(
        root, options=ExportOptions(image=IMAGE), settings=settings, store=store
    )
    _, tasks = _dag(export.documents[0])
    assert len(_uids(tasks)) == 10 == len(export.steps)
    assert export.tasks == 21 and export.cached == 11
    assert set(_uids(tasks)) == {
        *(Leaf(i=i).unique_id for i in range(9)),
        root.unique_id,
    }


def test_nothing_to_run_gives_an_empty_dag(settings, store) -> None:
    tasuki.build(Leaf(i=1), settings=settings, executor="inline")
    export = export_workflow(
        Leaf(i=1), options=ExportOptions(image=IMAGE), settings=settings, store=store
    )
    assert export.steps == []
    check_documents(export.documents)


def test_each_component_has_its_image_and_resources_their_template(settings, store) -> None:
    options = ExportOptions(image=IMAGE, images={"tests": "ghcr.io/acme/tests:2.0.0"})
    export = export_workflow(Heavy(n=1), options=options, settings=settings, store=store)
    templates, _ = _dag(export.documents[0])
    images = {n: t["container"]["image"] for n, t in templates.items() if "container" in t}
    assert set(images.values()) == {"ghcr.io/acme/tests:2.0.0"}
    assert len(images) == 2  # Heavy's resources make a second template
    heavy = next(t for t in templates.values() if t.get("container", {}).get("resources"))
    assert heavy["container"]["resources"] == {
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"memory": "8Gi", "nvidia.com/gpu": "1"},
    }
    validate_with_hera(export.documents)
    annotation = json.loads(export.documents[0]["metadata"]["annotations"]["tasuki.dev/images"])
    assert annotation == {"*": IMAGE, "tests": "ghcr.io/acme/tests:2.0.0"}


def test_a_chain_of_cheap_tasks_runs_in_one_pod(settings, store) -> None:
    export = export_workflow(
        Heavy(n=3), options=ExportOptions(image=IMAGE), settings=settings, store=store
    )
    assert [len(s.uids) for s in export.steps] == [3, 1]
    templates, tasks = _dag(export.documents[0])
    packed = templates[tasks[0]["template"]]["container"]
    assert packed["command"] == ["sh", "-c"]
    assert "tasuki run-one" in packed["args"][0]
    link = Heavy(n=3).requires()
    assert tasks[0]["arguments"]["parameters"][0]["value"] == " ".join(
        [link.prev.prev.unique_id, link.prev.unique_id, link.unique_id]
    )
    assert tasks[1]["dependencies"] == [tasks[0]["name"]]


def test_pack_limits_the_chain_per_pod_and_packs_any_task(settings, store) -> None:
    opts = ExportOptions(image=IMAGE, pack=4)
    export = export_workflow(chain(10), options=opts, settings=settings, store=store)
    assert [len(s.uids) for s in export.steps] == [4, 4, 2]
    export = export_workflow(Sum(n=3), options=opts, settings=settings, store=store)
    assert [len(s.uids) for s in export.steps] == [1, 1, 1, 1]  # a fan-in is no chain


def test_workflow_template_and_cron_forms(settings, store) -> None:
    for kind, extra in (("WorkflowTemplate", {}), ("CronWorkflow", {"schedule": "0 3 * * *"})):
        opts = ExportOptions(image=IMAGE, kind=kind, name="daily-sync", **extra)
        export = export_workflow(Sum(n=2), options=opts, settings=settings, store=store)
        [doc] = export.documents
        assert doc["kind"] == kind
        assert doc["metadata"]["name"] == "daily-sync"
        validate_with_hera(export.documents)
        check_documents(export.documents)
    assert doc["spec"]["schedules"] == ["0 3 * * *"]
    with pytest.raises(ArgoError, match="schedule"):
        ExportOptions(image=IMAGE, kind="CronWorkflow").check()


def test_large_graphs_split_into_a_workflow_of_workflows(settings, store) -> None:
    opts = ExportOptions(image=IMAGE, max_manifest_bytes=4_000)
    export = export_workflow(Sum(n=60), options=opts, settings=settings, store=store)
    *parts, parent = export.documents
    assert len(parts) > 1
    assert all(size <= 4_000 for size in export.sizes())
    assert {p["kind"] for p in parts} == {"WorkflowTemplate"} and parent["kind"] == "Workflow"
    templates, tasks = _dag(parent)
    assert templates["part"]["resource"]["action"] == "create"
    names = [p["metadata"]["name"] for p in parts]
    assert [t["arguments"]["parameters"][0]["value"] for t in tasks] == names
    assert tasks[-1]["dependencies"] == [t["name"] for t in tasks[:-1]]  # the root's part
    uids = [u for p in parts for u in _uids(_dag(p)[1])]
    assert len(uids) == 61 == len(set(uids))
    check_documents(export.documents)
    validate_with_hera(export.documents)


def test_bad_image_and_resources_are_refused_before_any_work(settings, store) -> None:
    with pytest.raises(ImageReferenceError, match="Not An Image"):
        export_workflow(
            Leaf(i=0), options=ExportOptions(image="Not An Image"), settings=settings, store=store
        )
    with pytest.raises(ImageReferenceError):
        ExportOptions(image=IMAGE, images={"tests": "ghcr.io/UPPER/x"}).check()
    with pytest.raises(ResourcesError, match=r"resources\['memory'\] = \['8Gi'\] is a list"):
        export_workflow(
            BadResources(), options=ExportOptions(image=IMAGE), settings=settings, store=store
        )


def test_credentials_in_the_workspace_url_are_not_written(settings, store) -> None:
    from tasuki.argo import compile_steps

    secret = settings.model_copy(update={"workspace": "s3://key:hunter2@bucket/ws"})
    with pytest.raises(ArgoError, match="--secret") as info:
        compile_steps([], ExportOptions(image=IMAGE), secret)
    assert "hunter2" not in str(info.value)
    docs = compile_steps([], ExportOptions(image=IMAGE, secrets=("warehouse-creds",)), settings)
    validate_with_hera(docs)
    run = [t for t in spec_of(docs[0])["templates"] if "container" in t]
    assert run == []  # no steps, no container template


def test_without_hera_the_error_says_what_to_install(monkeypatch) -> None:
    import sys

    from tasuki.argo import compile_steps

    monkeypatch.setitem(sys.modules, "hera.workflows", None)
    with pytest.raises(ArgoError, match=r"pip install 'tasuki\[argo\]'"):
        compile_steps([], ExportOptions(image=IMAGE))


def _chain_steps(n: int) -> list[Step]:
    """A synthetic linear chain of ``n`` steps (one pod each), ids of 64 hex digits."""
    uid = [f"{i:064x}" for i in range(n)]
    return [Step((uid[i],), IMAGE, "{}", (i - 1,) if i else ()) for i in range(n)]


def _chain_order(doc) -> list[str]:
    """The ids ``doc`` runs, in the order its DAG and its steps templates run them."""
    templates, tasks = _dag(doc)
    order = []
    for task in tasks:  # a chain's DAG tasks are in dependency order
        target = templates[task["template"]]
        if "steps" in target:
            given = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
            for group in target["steps"]:
                (step,) = group
                ref = step["arguments"]["parameters"][0]["value"]
                order.append(given[ref.removeprefix("{{inputs.parameters.").removesuffix("}}")])
        else:
            order.extend(_uids([task]))
    return order


def test_a_1000_task_chain_is_under_100_kb() -> None:
    steps = _chain_steps(1000)
    docs = compile_steps(steps, ExportOptions(image=IMAGE))
    text = to_yaml(docs)
    assert len(docs) == 1 and len(text.encode()) < 100_000
    assert load_documents(text) == docs
    check_documents(docs)
    validate_with_hera(docs)
    templates, tasks = _dag(docs[0])
    # 50 DAG tasks, each a block of 20 pods run one after the other by a steps template.
    assert len(tasks) == 1000 // CHAIN_BLOCK
    assert len(templates["run-0-c20"]["steps"]) == CHAIN_BLOCK
    assert [t.get("dependencies") for t in tasks[1:3]] == [["t0"], ["t14"]]
    assert _chain_order(docs[0]) == [s.uids[0] for s in steps]


def test_a_chain_block_ends_where_the_template_or_the_line_changes() -> None:
    steps = _chain_steps(25)
    # Step 5 runs on another image; step 12 has a second dependent (12 -> 13 and 12 -> 24).
    steps[5] = Step(steps[5].uids, "ghcr.io/acme/other:1", "{}", (4,))
    steps[24] = Step(steps[24].uids, IMAGE, "{}", (12, 23))
    docs = compile_steps(steps, ExportOptions(image=IMAGE))
    check_documents(docs)
    validate_with_hera(docs)
    _, tasks = _dag(docs[0])
    assert [(t["name"], t["template"], t.get("dependencies")) for t in tasks] == [
        ("t0", "run-0-c5", None),
        ("t5", "run-1", ["t0"]),
        ("t6", "run-0-c7", ["t5"]),
        ("td", "run-0-c11", ["t6"]),
        ("t18", "run-0", ["t6", "td"]),
    ]
    assert sorted(_uids(tasks)) == sorted(s.uids[0] for s in steps)


def test_a_split_chain_keeps_its_blocks_in_every_part() -> None:
    steps = _chain_steps(300)
    docs = compile_steps(steps, ExportOptions(image=IMAGE, max_manifest_bytes=10_000))
    *parts, _parent = docs
    assert len(parts) > 1 and all(len(to_yaml([d]).encode()) <= 10_000 for d in docs)
    check_documents(docs)
    validate_with_hera(docs)
    assert [u for p in parts for u in _chain_order(p)] == [s.uids[0] for s in steps]


def test_an_export_refuses_what_a_local_build_refuses(settings, store) -> None:
    # Two tasks declaring one file: a local build refused it, an export shipped a
    # workflow whose pods wrote one over the other.
    from tasuki.errors import TaskError
    from tests.unit.core.test_what_a_build_is_given import BothFixed

    with pytest.raises(TaskError, match=r"both declare the output shared/fixed\.pkl"):
        export_workflow(
            BothFixed(), options=ExportOptions(image=IMAGE), settings=settings, store=store
        )
    with pytest.raises(TaskError, match=r"both declare the output shared/fixed\.pkl"):
        tasuki.build(BothFixed(), settings=settings, executor="inline")
