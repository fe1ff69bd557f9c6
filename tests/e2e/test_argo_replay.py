"""An exported Argo workflow, replayed here step by step, builds what ``tasuki run`` builds.

One workspace is built by the real ``tasuki run`` command; another by exporting the same
graph (``tasuki argo export``) and replaying the YAML (``tasuki argo replay``): every step is
``tasuki run-one ID`` (or a packed chain of them) in a subprocess, in dependency order, with
the container's environment. The two workspaces must hold the same unique ids, the same run
records (status, outputs, sizes, content hashes) and the same output bytes. Then the rerun
target: a 1,000-task fan-in with 990 tasks cached launches exactly 10 steps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tasuki
from tasuki.argo import ExportOptions, export_workflow, load_documents, replay
from tasuki.config import load_settings
from tasuki.core.records import RunRecord, delete_record, record_ids
from tasuki.core.runner import open_workspace
from tests.unit.argo.argo_tasks import Hop, Hops, Leaf, Report, Sum

ROOT = Path(__file__).resolve().parents[2]
TASUKI = [sys.executable, "-m", "tasuki"]
TASK = "tests.unit.argo.argo_tasks:Report"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASUKI_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _records(workspace: Path) -> dict[str, RunRecord]:
    store = open_workspace(load_settings({"workspace": str(workspace)}))
    return {uid: RunRecord.read(store, uid) for uid in record_ids(store)}


def _uid_of(argv: tuple[str, ...] | list[str]) -> str:
    """The id a replayed step ran: the argument after ``run-one`` (``--bundle NAME`` follows)."""
    return argv[list(argv).index("run-one") + 1]


def _essence(record: RunRecord) -> tuple:
    outputs = sorted((o["key"], o["size"], o["xxh3"]) for o in record.outputs)
    return (record.task, record.status, tuple(record.requires), tuple(outputs), record.code_key)


def test_replayed_export_builds_what_tasuki_run_builds(tmp_path: Path) -> None:
    ran, replayed = tmp_path / "ran", tmp_path / "replayed"
    env = _env()
    subprocess.run(
        [*TASUKI, "run", TASK, "-w", str(ran), "--executor", "inline", "--progress", "off"],
        check=True,
        env=env,
        capture_output=True,
        cwd=tmp_path,
    )
    wf = tmp_path / "wf.yaml"
    out = subprocess.run(
        [
            *TASUKI,
            "argo",
            "export",
            TASK,
            "--image",
            "ghcr.io/acme/tests:1.0",
            "-w",
            str(replayed),
            "-o",
            str(wf),
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    # 3 leaves + Sum (a fan-in: one step each), a chain of 4 cheap links (one packed step),
    # the report: 6 steps for 9 tasks.
    assert "9 to run in 6 step(s)" in out.stderr
    out = subprocess.run(
        [*TASUKI, "argo", "replay", str(wf)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert "replayed 6 step(s)" in out.stdout

    a, b = _records(ran), _records(replayed)
    assert set(a) == set(b) and len(a) == 9
    assert Report().unique_id in a
    for uid in a:
        assert _essence(a[uid]) == _essence(b[uid]), uid
        for o in a[uid].outputs:
            assert (ran / o["key"]).read_bytes() == (replayed / o["key"]).read_bytes()
        # Each replayed record says which image produced it; a plain run names none.
        assert b[uid].environment.get("image") == "ghcr.io/acme/tests:1.0", uid
        assert "image" not in a[uid].environment, uid
    # One workflow run is one build, as one `tasuki run` is (the workflow's uid).
    assert len({r.build_id for r in b.values()}) == 1 and None not in {
        r.build_id for r in b.values()
    }
    assert len({r.build_id for r in a.values()}) == 1
    assert tasuki.build(Report(), workspace=str(replayed), executor="inline") == {
        "sum": 6,
        "chain": 6,
    }


def test_rerun_of_1000_tasks_with_990_cached_launches_10_steps(tmp_path: Path) -> None:
    settings = load_settings({"workspace": str(tmp_path / "ws"), "progress": "off"})
    store = open_workspace(settings)
    root = Sum(n=999)
    tasuki.build(root, settings=settings, executor="inline")
    gone = [Leaf(i=i).unique_id for i in range(0, 900, 100)] + [root.unique_id]
    for uid in gone:
        delete_record(store, uid)
    export = export_workflow(
        root, options=ExportOptions(image="ghcr.io/a/b:1"), settings=settings, store=store
    )
    assert export.tasks == 1000 and len(export.steps) == 10
    docs = load_documents(export.to_yaml())
    result = replay(docs, env=_env())
    assert result.launched == 10
    assert sorted(_uid_of(s.argv) for s in result.steps) == sorted(gone)
    for uid in gone:
        assert RunRecord.read(store, uid).status == "done"


def test_a_chain_replayed_from_steps_blocks_builds_what_tasuki_run_builds(
    tmp_path: Path, monkeypatch
) -> None:
    import tasuki.argo._export as export_module

    monkeypatch.setattr(export_module, "CHAIN_BLOCK", 3)  # 6 pods: blocks of 3 and 3
    ran = tmp_path / "ran"
    run = [*TASUKI, "run", "tests.unit.argo.argo_tasks:Hops", "-w", str(ran)]
    subprocess.run(
        [*run, "--executor", "inline", "--progress", "off"],
        check=True,
        env=_env(),
        capture_output=True,
        cwd=tmp_path,
    )
    settings = load_settings({"workspace": str(tmp_path / "replayed"), "progress": "off"})
    store = open_workspace(settings)
    export = export_workflow(
        Hops(), options=ExportOptions(image="ghcr.io/a/b:1"), settings=settings, store=store
    )
    docs = load_documents(export.to_yaml())
    templates = {t["name"] for t in docs[0]["spec"]["templates"]}
    assert "run-0-c3" in templates and len(export.steps) == 6
    result = replay(docs, env=_env())
    chain = [Hop(i=0)]
    for i in range(1, 5):
        chain.append(Hop(i=i, prev=chain[-1]))
    assert [_uid_of(s.argv) for s in result.steps] == [t.unique_id for t in chain] + [
        Hops().unique_id
    ]
    a, b = _records(ran), _records(tmp_path / "replayed")
    assert set(a) == set(b) and len(a) == 6
    for uid in a:
        assert _essence(a[uid]) == _essence(b[uid]), uid
        for o in a[uid].outputs:
            assert (ran / o["key"]).read_bytes() == (tmp_path / "replayed" / o["key"]).read_bytes()
    assert tasuki.build(Hops(), workspace=str(tmp_path / "replayed"), executor="inline") == list(
        range(5)
    )
