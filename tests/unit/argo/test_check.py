from __future__ import annotations

import copy

import pytest

from tasuki.argo import WorkflowCheckError, check_documents, problems_of, validate_with_hera


def _doc() -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "tasuki-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "run-0",
                    "inputs": {"parameters": [{"name": "u"}]},
                    "container": {
                        "image": "x:1",
                        "command": ["tasuki"],
                        "args": ["run-one", "{{inputs.parameters.u}}"],
                    },
                },
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "t0",
                                "template": "run-0",
                                "arguments": {"parameters": [{"name": "u", "value": "a"}]},
                            },
                            {
                                "name": "t1",
                                "template": "run-0",
                                "dependencies": ["t0"],
                                "arguments": {"parameters": [{"name": "u", "value": "b"}]},
                            },
                            {
                                "name": "t2",
                                "template": "run-0",
                                "dependencies": ["t1"],
                                "arguments": {"parameters": [{"name": "u", "value": "c"}]},
                            },
                        ]
                    },
                },
            ],
        },
    }


def _tasks(doc: dict) -> list[dict]:
    return doc["spec"]["templates"][1]["dag"]["tasks"]


def test_a_good_workflow_has_no_problems() -> None:
    doc = _doc()
    assert problems_of([doc]) == []
    check_documents([doc])
    validate_with_hera([doc])


def test_missing_template() -> None:
    doc = _doc()
    _tasks(doc)[1]["template"] = "run-9"
    with pytest.raises(WorkflowCheckError) as info:
        check_documents([doc])
    assert info.value.problems == [
        "Workflow tasuki-: task 't1' names template 'run-9', which does not exist in this document"
    ]


def test_unresolved_dependency() -> None:
    doc = _doc()
    _tasks(doc)[2]["dependencies"] = ["t1", "t7"]
    assert problems_of([doc]) == [
        "Workflow tasuki-: task 't2' depends on 't7', which is not a task of DAG 'main'"
    ]


def test_cycle() -> None:
    doc = _doc()
    _tasks(doc)[0]["dependencies"] = ["t2"]
    [problem] = problems_of([doc])
    assert "has a cycle" in problem
    assert "t0 -> t2 -> t1 -> t0" in problem or "t2 -> t1 -> t0 -> t2" in problem


def test_a_long_chain_is_checked_without_recursion() -> None:
    doc = _doc()
    tasks = [
        {
            "name": f"t{i}",
            "template": "run-0",
            "dependencies": [f"t{i - 1}"] if i else [],
            "arguments": {"parameters": [{"name": "u", "value": str(i)}]},
        }
        for i in range(50_000)
    ]
    doc["spec"]["templates"][1]["dag"]["tasks"] = tasks
    assert problems_of([doc]) == []
    tasks[0]["dependencies"] = ["t49999"]
    assert "has a cycle" in problems_of([doc])[0]


@pytest.mark.parametrize(
    ("where", "name"),
    [("task", "T_1"), ("template", "Run.0"), ("generateName", "Tasuki_-")],
)
def test_invalid_kubernetes_names(where: str, name: str) -> None:
    doc = _doc()
    if where == "task":
        _tasks(doc)[0]["name"] = name
        _tasks(doc)[1]["dependencies"] = [name]
    elif where == "template":
        doc["spec"]["templates"][0]["name"] = name
        for task in _tasks(doc):
            task["template"] = name
    else:
        doc["metadata"]["generateName"] = name
    [problem] = problems_of([doc])
    assert repr(name) in problem and "lower-case" in problem


def test_entrypoint_duplicates_and_kind() -> None:
    doc = _doc()
    doc["spec"]["entrypoint"] = "nope"
    _tasks(doc)[1]["name"] = "t0"
    _tasks(doc)[2]["dependencies"] = ["t0"]
    other = copy.deepcopy(_doc())
    other["kind"] = "Pod"
    problems = problems_of([doc, other])
    assert any("entrypoint 'nope'" in p for p in problems)
    assert any("two tasks named 't0'" in p for p in problems)
    assert any("kind must be one of" in p for p in problems)


def test_a_part_must_be_among_the_documents() -> None:
    doc = _doc()
    doc["spec"]["templates"][0] = {
        "name": "part",
        "inputs": {"parameters": [{"name": "template"}]},
        "resource": {"action": "create", "manifest": "kind: Workflow\n"},
    }
    for task in _tasks(doc):
        task["template"] = "part"
        task["arguments"] = {"parameters": [{"name": "template", "value": "tasuki-ab-p0"}]}
    problems = problems_of([doc])
    assert len(problems) == 3
    assert all("starts WorkflowTemplate 'tasuki-ab-p0'" in p for p in problems)


def test_hera_refuses_a_field_of_the_wrong_type() -> None:
    doc = _doc()
    doc["spec"]["templates"][0]["container"]["args"] = "run-one"
    with pytest.raises(WorkflowCheckError, match="hera's models refuse"):
        validate_with_hera([doc])


def _with_chain(doc: dict) -> dict:
    """``doc`` whose DAG runs t1 and t2 through a two-step ``steps`` template."""
    doc["spec"]["templates"].append(
        {
            "name": "run-0-c2",
            "inputs": {"parameters": [{"name": "a"}, {"name": "c"}]},
            "steps": [
                [
                    {
                        "name": k,
                        "template": "run-0",
                        "arguments": {
                            "parameters": [{"name": "u", "value": f"{{{{inputs.parameters.{k}}}}}"}]
                        },
                    }
                ]
                for k in ("a", "c")
            ],
        }
    )
    tasks = _tasks(doc)
    tasks[1] = {
        "name": "t1",
        "template": "run-0-c2",
        "dependencies": ["t0"],
        "arguments": {"parameters": [{"name": "a", "value": "b"}, {"name": "c", "value": "c"}]},
    }
    del tasks[2]
    return doc


def test_a_steps_template_is_checked() -> None:
    doc = _with_chain(_doc())
    assert problems_of([doc]) == []
    validate_with_hera([doc])
    steps = doc["spec"]["templates"][2]["steps"]
    steps[1][0]["name"] = "a"  # two steps named a
    steps[0][0]["template"] = "gone"
    steps[1][0]["arguments"]["parameters"][0]["value"] = "{{inputs.parameters.q}}"
    del _tasks(doc)[1]["arguments"]["parameters"][1]  # input c not given
    problems = "\n".join(problems_of([doc]))
    assert "two steps named 'a'" in problems
    assert "names template 'gone'" in problems
    assert "inputs.parameters.q, which 'run-0-c2' does not declare" in problems
    assert "task 't1' calls template 'run-0-c2' without its input(s) 'c'" in problems
    del steps[0][0]["arguments"]
    steps[0][0]["template"] = "run-0"
    assert "calls template 'run-0' without its input(s) 'u'" in "\n".join(problems_of([doc]))
