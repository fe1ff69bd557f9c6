"""The CLI in-process: every command, its output and its exit codes."""

from __future__ import annotations

import json

import tasuki
from tests.unit.core.tasks_for_tests import TaskA, TaskB

M = "tests.unit.core.tasks_for_tests"


def test_run_then_cached(cli):
    first = cli("run", f"{M}:TaskB", "--param", "world", "--log-level", "WARNING")
    assert first.exit_code == 0, first.output
    assert TaskB(param="world").unique_id in first.output
    second = cli("run", f"{M}:TaskB", "--param", "world", "--tree")
    assert second.exit_code == 0
    assert "(CACHED) TaskB" in second.output


def test_run_with_workers_and_rerun(cli):
    assert cli("run", f"{M}:FanIn", "--n", "6", "--workers", "2").exit_code == 0
    again = cli("run", f"{M}:FanIn", "--n", "6", "--rerun", "Leaf", "--tree")
    assert again.exit_code == 0
    assert again.output.count("(RAN) Leaf") == 6


def test_exit_codes(cli):
    missing = cli("run", "nope.module:Task")
    assert missing.exit_code == 2 and "cannot import module 'nope.module'" in missing.output
    typo = cli("run", f"{M}:TaskBB")
    assert typo.exit_code == 2 and "Did you mean 'TaskB'" in typo.output
    bad_param = cli("run", f"{M}:TaskB", "--parm", "x")
    assert bad_param.exit_code == 2 and "Did you mean --param" in bad_param.output
    bad_value = cli("run", f"{M}:Leaf", "--i", "many")
    assert bad_value.exit_code == 2 and "'many'" in bad_value.output
    missing_param = cli("run", f"{M}:TaskB")
    assert (
        missing_param.exit_code == 2 and "missing required parameter param" in missing_param.output
    )
    failed = cli("run", f"{M}:Boom")
    assert failed.exit_code == 1


def test_a_module_named_instead_of_a_task_lists_its_tasks(cli):
    result = cli("run", M)  # the module, without ':TaskClass'
    assert result.exit_code == 2
    assert f"{M!r} is a module, not a task" in result.output
    assert f"{M}:TaskA" in result.output and f"{M}:TaskB" in result.output
    result = cli("run", "tests.unit.core")  # a package that defines no task
    assert result.exit_code == 2 and "is a module, not a task" in result.output
    assert "(it defines none)" in result.output


def test_config_error_exit_2(cli, monkeypatch):
    monkeypatch.setenv("TASUKI_WORKERS", "zero")
    result = cli("run", f"{M}:TaskB", "--param", "x")
    assert result.exit_code == 2 and "workers" in result.output


def test_tree_formats(cli, tmp_path):
    cli("run", f"{M}:TaskA", "--param", "t")
    text = cli("tree", f"{M}:TaskB", "--param", "t")
    assert "(PENDING) TaskB" in text.output and "(COMPLETE) TaskA" in text.output
    assert "params: param='t'" in text.output
    doc = json.loads(cli("tree", f"{M}:TaskB", "--param", "t", "--format", "json").stdout)
    assert {n["status"] for n in doc["nodes"]} == {"pending", "complete"}
    mermaid = cli("tree", f"{M}:TaskB", "--param", "t", "-f", "mermaid").stdout
    assert mermaid.startswith("flowchart BT") and "-->" in mermaid
    out = tmp_path / "g.dot"
    cli("tree", f"{M}:TaskB", "--param", "t", "-f", "dot", "-o", str(out))
    assert out.read_text().startswith("digraph tasuki {")


def test_show_and_rerun_by_id(cli):
    cli("run", f"{M}:Multi")
    from tests.unit.core.tasks_for_tests import Multi

    uid = Multi().unique_id
    shown = cli("show", uid[:8])
    assert shown.exit_code == 0
    assert "task:        tests.unit.core.tasks_for_tests:Multi" in shown.output
    assert 'note: "two outputs"' in shown.output
    raw = json.loads(cli("show", uid, "--json").stdout)
    assert raw["unique_id"] == uid
    rerun = cli("rerun", uid[:8])
    assert rerun.exit_code == 0 and uid in rerun.output
    assert cli("show", "ffffffffff").exit_code == 2


def test_rerun_rebuilds_task_parameters_from_records(cli):
    cli(
        "run",
        f"{M}:TaskB",
        "--param",
        "x",
        "--upstream",
        f'{{"task": "{M}:TaskA", "params": {{"param": "y"}}}}',
    )
    task = TaskB(param="x", upstream=TaskA(param="y"))
    result = cli("rerun", task.unique_id)
    assert result.exit_code == 0, result.output
    assert tasuki.load(task) == "hello y!!"


def test_why(cli):
    cli("run", f"{M}:TaskB", "--param", "world")
    same = cli("why", f"{M}:TaskB", "--param", "world").output
    assert "will not run: complete" in same
    other = cli("why", f"{M}:TaskB", "--param", "earth").output
    assert "will run: 2 task(s) would run" in other
    # TaskB hands its parameter to TaskA: one cause line names both tasks.
    assert 'parameter \'param\': "world" -> "earth"' in other
    assert other.count("'param'") == 1 and "TaskA[" in other and "TaskB[" in other
    never = cli("why", f"{M}:Leaf", "--i", "1").output
    assert "never run" in never
    doc = json.loads(cli("why", f"{M}:TaskB", "--param", "earth", "-f", "json").stdout)
    assert doc["root"] == TaskB(param="earth").unique_id
    by_id = {d["unique_id"]: d for d in doc["decisions"]}
    assert by_id[TaskB(param="earth").unique_id]["runs"] is True
    assert by_id[TaskA(param="earth").unique_id]["compared_with"] == TaskA(param="world").unique_id


def test_ls_and_gc(cli):
    cli("run", f"{M}:TaskB", "--param", "keep")
    cli("run", f"{M}:TaskB", "--param", "drop")
    listing = json.loads(cli("ls", "--json").stdout)
    assert len(listing["outputs"]) == 4
    keep = TaskB(param="keep").unique_id
    dry = cli("gc", keep, "--keep-newer-than", "0")
    assert "would remove 4 files" in dry.output
    assert len(json.loads(cli("ls", "--json").stdout)["outputs"]) == 4
    done = cli("gc", keep, "--delete", "--keep-newer-than", "0")
    assert "removed 4 files" in done.output
    left = json.loads(cli("ls", "--json").stdout)["outputs"]
    assert {r["task"].rsplit(":", 1)[1] for r in left} == {"TaskA", "TaskB"}
    assert len(left) == 2
    assert tasuki.load(TaskB(param="keep")) == "hello keep!!"


def test_gc_counts_the_bytes_of_files_no_record_names(cli, tmp_path):
    """A run stopped between its output and its record leaves a file no record names: gc
    removes it, and said "0 bytes" for it."""
    cli("run", f"{M}:TaskB", "--param", "keep")
    key = f"tests/stray_{'0' * 64}.pkl"  # named as a task's output is
    stray = tmp_path / "ws" / key
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"x" * 1234)
    dry = cli("gc", TaskB(param="keep").unique_id, "--keep-newer-than", "0")
    assert f"would remove {key}" in dry.output
    assert "would remove 1 files, 1234 bytes" in dry.output


def test_a_file_input_parameter_takes_the_path(cli, tmp_path):
    from tests.unit.core.test_file_input import AsParameter

    raw = tmp_path / "raw.csv"
    raw.write_text("x\n1\n2\n")
    path = "tests.unit.core.test_file_input:AsParameter"
    first = cli("run", path, "--data", str(raw))
    assert first.exit_code == 0, first.output
    task = AsParameter(data=tasuki.FileInput(path=str(raw)))
    assert task.unique_id in first.output and tasuki.load(task) == 2
    rerun = cli("rerun", task.unique_id[:10])  # the input rebuilt from the record: same bytes
    assert rerun.exit_code == 0, rerun.output
    raw.write_text("x\n1\n2\n3\n")
    assert cli("rerun", task.unique_id[:10]).exit_code != 0  # the recorded bytes are gone


def test_a_bad_task_value_names_the_task_the_parameter_and_the_fix(cli):
    upstream = f"{M}:TaskB"
    no_key = cli("run", upstream, "--param", "x", "--upstream", '{"params": {"param": "y"}}')
    assert no_key.exit_code == 2
    assert f"{M}:TaskB: parameter 'upstream' got" in no_key.output
    assert '{"task": "module:TaskClass", "params": {...}}' in no_key.output
    bad_params = cli(
        "run", upstream, "--param", "x", "--upstream", f'{{"task": "{M}:TaskA", "params": 3}}'
    )
    assert bad_params.exit_code == 2 and "parameter 'upstream' got" in bad_params.output
    no_task = cli("run", upstream, "--param", "x", "--upstream", "nothing")
    assert no_task.exit_code == 2
    assert "parameter 'upstream' got 'nothing', which names no task" in no_task.output
    typo = cli(
        "run",
        upstream,
        "--param",
        "x",
        "--upstream",
        f'{{"task": "{M}:TaskA", "params": {{"parm": "y"}}}}',
    )
    assert typo.exit_code == 2
    assert f"{M}:TaskA has no parameter 'parm'" in typo.output
    assert "Did you mean 'param'?" in typo.output
