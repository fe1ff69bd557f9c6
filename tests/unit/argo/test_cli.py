from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tasuki.argo import load_documents
from tasuki.cli import app
from tests.unit.argo.argo_tasks import Leaf, Sum

TASK = "tests.unit.argo.argo_tasks:Sum"


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def test_export_then_check(cli, tmp_path: Path) -> None:
    out = tmp_path / "wf.yaml"
    ws = str(tmp_path / "ws")
    result = cli(
        "argo",
        "export",
        TASK,
        "--n",
        "3",
        "--image",
        "ghcr.io/acme/recsys:1.0",
        "--component-image",
        "tests=ghcr.io/acme/tests:2.1",
        "--env",
        "MODE=daily",
        "--secret",
        "warehouse",
        "-o",
        str(out),
        "-w",
        ws,
    )
    assert result.exit_code == 0, result.output
    assert "4 to run in 4 step(s); 1 document(s)" in result.output
    [doc] = load_documents(out.read_text())
    container = doc["spec"]["templates"][0]["container"]
    assert container["image"] == "ghcr.io/acme/tests:2.1"
    assert {"name": "MODE", "value": "daily"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "warehouse"}}]
    tasks = doc["spec"]["templates"][1]["dag"]["tasks"]
    uids = [
        u for t in tasks for u in t.get("withItems") or [t["arguments"]["parameters"][0]["value"]]
    ]
    assert Sum(n=3).unique_id in uids and Leaf(i=0).unique_id in uids
    # each step's definition is in the workspace, for run-one: in the bundle the steps name
    from tasuki.core.definitions import read_bundle
    from tasuki.storage import open_store

    assert container["args"][2] == "--bundle"
    assert set(uids) <= set(read_bundle(open_store(ws), container["args"][3]))
    result = cli("argo", "check", str(out))
    assert result.exit_code == 0 and "no problems found" in result.output


def test_export_of_a_cached_build_writes_nothing(cli, tmp_path: Path) -> None:
    import tasuki

    ws = str(tmp_path / "ws")
    tasuki.build(Leaf(i=7), workspace=ws, executor="inline")
    out = tmp_path / "wf.yaml"
    result = cli(
        "argo",
        "export",
        "tests.unit.argo.argo_tasks:Leaf",
        "--i",
        "7",
        "--image",
        "x:1",
        "-o",
        str(out),
        "-w",
        ws,
    )
    assert result.exit_code == 0
    assert "nothing to run: all 1 task(s) are cached" in result.output
    assert not out.exists()


def test_bad_input_exits_2_with_the_reason(cli, tmp_path: Path) -> None:
    out = str(tmp_path / "wf.yaml")
    result = cli("argo", "export", TASK, "--image", "Bad Image!", "-o", out)
    assert result.exit_code == 2
    assert "invalid image reference 'Bad Image!'" in result.output
    result = cli("argo", "export", TASK, "--image", "x:1", "--kind", "Job", "-o", out)
    assert result.exit_code == 2 and "Workflow, WorkflowTemplate or CronWorkflow" in result.output
    result = cli("argo", "export", TASK, "--image", "x:1", "--env", "NOEQUALS", "-o", out)
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
    result = cli(
        "argo", "export", "tests.unit.argo.argo_tasks:BadResources", "--image", "x:1", "-o", out
    )
    assert result.exit_code == 2 and "is a list" in result.output
    assert not Path(out).exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: Workflow\nmetadata: {generateName: x-}\nspec: {entrypoint: main, templates: []}\n"
    )
    result = cli("argo", "check", str(bad))
    assert result.exit_code == 2 and "entrypoint 'main'" in result.output


def test_image_command(cli, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    result = cli("image", "--project", str(tmp_path))
    assert result.exit_code == 0 and "installs from none" in result.output
    result = cli("image", "--project", str(tmp_path))
    assert result.exit_code == 2 and "--force" in result.output
    assert cli("image", "--project", str(tmp_path), "--force").exit_code == 0
