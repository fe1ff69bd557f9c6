from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tasuki.argo import ReplayError, WorkflowCheckError, replay

STANDIN = """
import json, os, sys
log, codes = os.environ["LOG"], os.environ["CODES"]
with open(log, "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "mode": os.environ.get("MODE")}) + "\\n")
table = json.load(open(codes))
key = sys.argv[sys.argv.index("run-one") + 1]
left = table.get(key, [])
code = left.pop(0) if left else 0
json.dump(table, open(codes, "w"))
print("stderr of", key, file=sys.stderr)
sys.exit(code)
"""


def _uid(argv) -> str:
    """The task id a step ran (the word after ``run-one``)."""
    return list(argv)[list(argv).index("run-one") + 1]


def _workflow(retry: dict | None = None) -> list[dict]:
    run = {
        "name": "run-0",
        "inputs": {"parameters": [{"name": "u"}]},
        "container": {
            "image": "x:1",
            "command": ["tasuki"],
            "args": ["run-one", "{{inputs.parameters.u}}"],
            "env": [{"name": "MODE", "value": "from-{{inputs.parameters.u}}"}],
        },
    }
    if retry:
        run["retryStrategy"] = retry

    def task(name, deps=()):
        t = {
            "name": name,
            "template": "run-0",
            "arguments": {"parameters": [{"name": "u", "value": f"id-{name}"}]},
        }
        if deps:
            t["dependencies"] = list(deps)
        return t

    # declared out of order: the replay must order by dependencies
    tasks = [task("t3", ["t1", "t2"]), task("t1", ["t0"]), task("t0"), task("t2", ["t0"])]
    return [
        {
            "kind": "Workflow",
            "metadata": {"generateName": "w-"},
            "spec": {
                "entrypoint": "main",
                "templates": [run, {"name": "main", "dag": {"tasks": tasks}}],
            },
        }
    ]


@pytest.fixture
def standin(tmp_path: Path):
    script = tmp_path / "standin.py"
    script.write_text(STANDIN)
    log, codes = tmp_path / "log.jsonl", tmp_path / "codes.json"
    codes.write_text("{}")
    env = {"LOG": str(log), "CODES": str(codes), "PATH": "/usr/bin:/bin"}

    def command(argv: list[str]) -> list[str]:
        assert argv[0] == "tasuki"
        return [sys.executable, str(script), *argv[1:]]

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return env, command, codes, calls


def test_steps_run_in_dependency_order_with_arguments_and_env(standin) -> None:
    env, command, _codes, calls = standin
    result = replay(_workflow(), env=env, command=command)
    assert result.launched == 4
    seen = calls()
    order = [_uid(c["argv"]) for c in seen]
    assert order[0] == "id-t0" and order[-1] == "id-t3" and set(order[1:3]) == {"id-t1", "id-t2"}
    assert seen[0] == {"argv": ["run-one", "id-t0"], "mode": "from-id-t0"}
    assert next(s.argv for s in result.steps) == ("tasuki", "run-one", "id-t0")


def test_a_retryable_exit_is_retried_up_to_the_limit(standin) -> None:
    env, command, codes, calls = standin
    codes.write_text(json.dumps({"id-t1": [75, 75]}))
    retry = {"limit": 2, "retryPolicy": "Always", "expression": "asInt(lastRetry.exitCode) == 75"}
    result = replay(_workflow(retry), env=env, command=command)
    assert [s.attempts for s in result.steps if s.task == "t1"] == [3]
    assert len(calls()) == 6


def test_a_failure_stops_the_replay_with_the_step_and_stderr(standin) -> None:
    env, command, codes, calls = standin
    codes.write_text(json.dumps({"id-t1": [1]}))  # not the retryable code: no retry
    retry = {"limit": 2, "retryPolicy": "Always", "expression": "asInt(lastRetry.exitCode) == 75"}
    with pytest.raises(ReplayError) as info:
        replay(_workflow(retry), env=env, command=command)
    assert info.value.step == "t1" and info.value.returncode == 1
    assert "stderr of id-t1" in info.value.stderr_tail
    assert "t3" not in [_uid(c["argv"]) for c in calls()]  # nothing after the failure


def test_a_broken_workflow_is_refused_before_running(standin) -> None:
    env, command, _codes, calls = standin
    docs = _workflow()
    docs[0]["spec"]["templates"][1]["dag"]["tasks"][2]["dependencies"] = ["t3"]  # a cycle
    with pytest.raises(WorkflowCheckError, match="cycle"):
        replay(docs, env=env, command=command)
    assert calls() == []


def test_a_workflow_of_workflows_replays_every_part_in_order(standin) -> None:
    from tasuki.argo import ExportOptions, Step, compile_steps

    env, command, _codes, calls = standin
    # a fan-in of 40 leaves and a chain of 10 after it, cut into parts of a few KB
    leaves = [Step((f"{i:064x}",), "x:1", "{}", ()) for i in range(40)]
    join = Step(("a" * 64,), "x:1", "{}", tuple(range(40)))
    chain = [Step((f"b{i:063x}",), "x:1", "{}", (40 + i,)) for i in range(10)]
    steps = [*leaves, join, *chain]
    docs = compile_steps(steps, ExportOptions(image="x:1", max_manifest_bytes=2_000))
    assert len(docs) > 3 and docs[-1]["kind"] == "Workflow"
    result = replay(docs, env=env, command=command)
    order = [_uid(c["argv"]) for c in calls()]
    assert sorted(order) == sorted(s.uids[0] for s in steps) and result.launched == 51
    position = {uid: i for i, uid in enumerate(order)}
    for step in steps:
        for dep in step.deps:
            assert position[steps[dep].uids[0]] < position[step.uids[0]]


def _chain_workflow(n: int) -> list[dict]:
    from tasuki.argo import ExportOptions, Step, compile_steps

    # Ids in reverse order of their names: the replay must follow the chain, not sort.
    steps = [Step((f"c{n - i:063x}",), "x:1", "{}", (i - 1,) if i else ()) for i in range(n)]
    return compile_steps(steps, ExportOptions(image="x:1"))


def test_a_chain_in_steps_blocks_replays_in_order(standin) -> None:
    env, command, _codes, calls = standin
    docs = _chain_workflow(45)  # blocks of 20, 20 and 5
    templates = {t["name"] for t in docs[0]["spec"]["templates"]}
    assert {"run-0-c20", "run-0-c5"} <= templates
    result = replay(docs, env=env, command=command)
    expected = [f"c{45 - i:063x}" for i in range(45)]
    assert [_uid(c["argv"]) for c in calls()] == expected and result.launched == 45
    assert [_uid(s.argv) for s in result.steps] == expected
    assert result.steps[21].task == "t14/c"  # the block's DAG task, then its step
    # Every step's record is stamped with the workflow's uid, one per workflow run.
    build_ids = {c["argv"][c["argv"].index("--build-id") + 1] for c in calls()}
    assert len(build_ids) == 1 and "{{" not in next(iter(build_ids))
    again = replay(docs, env=env, command=command)
    assert again.steps[0].argv[again.steps[0].argv.index("--build-id") + 1] not in build_ids


def test_a_failure_inside_a_chain_block_stops_the_rest(standin) -> None:
    env, command, codes, calls = standin
    docs = _chain_workflow(45)
    failing = f"c{45 - 3:063x}"
    codes.write_text(json.dumps({failing: [1]}))
    with pytest.raises(ReplayError) as info:
        replay(docs, env=env, command=command)
    assert info.value.step == "t0/f" and info.value.returncode == 1
    assert [_uid(c["argv"]) for c in calls()] == [f"c{45 - i:063x}" for i in range(4)]
