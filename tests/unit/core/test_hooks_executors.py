"""The same small graph (cached, fresh, failed, skipped tasks) under every executor gives the
same hook events, progress events, summary, notification document and run records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core import runner
from tasuki.core.progress import Progress
from tasuki.core.records import RunRecord
from tasuki.notify import webhook_payload
from tasuki.storage import open_store

from .test_hooks import Bad, Base, Mid, Recorder, Root


class RecordingProgress(Progress):
    log: list[tuple[str, str, str]] = []

    def started(self, uid: str) -> None:
        super().started(uid)
        self.log.append(("started", uid, ""))

    def finished(self, uid: str, status: str) -> None:
        super().finished(uid, status)
        self.log.append(("finished", uid, status))


def _run(tmp_path: Path, executor: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ws = str(tmp_path / executor)
    tasuki.run_build(Mid(), workspace=ws, progress="off")  # Mid, Base: cached next time
    hook = Recorder()
    progress: list[tuple[str, str, str]] = []
    monkeypatch.setattr(RecordingProgress, "log", progress)
    monkeypatch.setattr(
        runner.Progress, "create", staticmethod(lambda mode, **kw: RecordingProgress(**kw))
    )
    result = tasuki.run_build(
        Root(), workspace=ws, hooks=[hook], executor=executor, workers=2, progress="off"
    )
    monkeypatch.undo()
    per_task: dict[str, list[tuple[str, str]]] = {}
    for name, kw in hook.events:
        if "uid" in kw:
            status = kw["result"].status if "result" in kw else "start"
            per_task.setdefault(kw["uid"], []).append((name, status))
    recorded = {
        (kw["uid"], kw["result"].status, kw["record"].status if kw["record"] else None)
        for kw in hook.of("on_task_end")
    }
    store = open_store(ws)
    records = {}
    for uid in result.graph.nodes:
        try:
            records[uid] = RunRecord.read(store, uid).status
        except FileNotFoundError:
            records[uid] = None
    payload = webhook_payload(result)
    steady = {k: payload[k] for k in ("event", "ok", "counts")}
    steady["resume_command"] = payload["resume_command"].replace(ws, "WS")
    steady["failed"] = [(f["unique_id"], f["error"], f["log_tail"]) for f in payload["failed"]]
    return {
        "events": {(name, uid, s) for uid, seq in per_task.items() for name, s in seq},
        "per_task": per_task,
        "recorded": recorded,
        "build": [name for name, kw in hook.events if "uid" not in kw],
        "progress": sorted(progress),
        "summary": result.summary().replace(ws, "WS").splitlines()[2:],  # after the timing
        "records": records,
        "payload": steady,
    }


@pytest.mark.parametrize("other", ["local", pytest.param("dask", marks=pytest.mark.slow)])
def test_every_executor_reports_the_same_events(tmp_path, monkeypatch, other):
    if other == "dask":
        pytest.importorskip("distributed")  # a LocalCluster of two worker processes (~10 s)
    inline = _run(tmp_path, "inline", monkeypatch)
    assert ("on_task_end", Mid().unique_id, "cached") in inline["events"]
    assert ("on_task_end", Base().unique_id, "not_needed") in inline["events"]
    assert ("on_task_start", Root().unique_id, "start") not in inline["events"]
    assert {s for _, _, s in inline["events"]} == {
        "start",
        "ran",
        "cached",
        "not_needed",
        "failed",
        "upstream_failed",
    }
    assert inline["build"] == ["on_build_start", "on_build_end"]
    assert inline["records"][Mid().unique_id] == "done"
    assert inline["records"][Root().unique_id] is None
    assert "failed" in inline["records"].values()
    assert (Bad().unique_id, "failed", "failed") in inline["recorded"]
    assert (Mid().unique_id, "cached", "done") in inline["recorded"]
    seen = _run(tmp_path, other, monkeypatch)
    keys = ("events", "per_task", "recorded", "build", "progress", "summary", "records", "payload")
    for key in keys:
        assert seen[key] == inline[key], key
