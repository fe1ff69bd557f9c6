"""Adopting a gokart workspace (files laid out as gokart 1.12 lays them out; the ids are the
ones tests/unit/compat/test_gokart_id.py checks against the real gokart)."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tasuki
from tasuki.compat._adopt import adopt_gokart, gokart_file
from tasuki.compat._gokart_id import gokart_params, gokart_unique_id
from tasuki.config import load_settings
from tasuki.core.records import RunRecord, record_ids
from tasuki.errors import ConfigError
from tasuki.storage import open_store
from tests.unit.compat._adopt_tasks import Frame, Load, Model, Report

MODULE = "tests/unit/compat/_adopt_tasks"


def _pickle(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=4)  # gokart: dill.dumps(obj, protocol=4)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()  # gokart: to_csv(index=False, header=True)


def _model_zip(model: Any) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.pkl", pickle.dumps(model))
        archive.writestr("load_function.pkl", b"not read by tasuki")
    return buffer.getvalue()


def _put(ws: Path, relative: str, task: tasuki.Task, data: bytes) -> Path:
    path = ws / gokart_file(relative, gokart_unique_id(task))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _params_log(ws: Path, task: tasuki.Task, params: dict[str, str] | None = None) -> Path:
    gid = gokart_unique_id(task)
    path = ws / "log" / "task_params" / f"{type(task).__name__}_{gid}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_pickle(gokart_params(task) if params is None else params))
    return path


def _gokart_run(ws: Path) -> None:
    """What gokart leaves after building Report(): outputs and logs of every task."""
    frame = pd.DataFrame({"x": [0.0, 2.0, 4.0]})
    _put(ws, f"{MODULE}/Load.pkl", Load(), _pickle([0, 1, 2]))
    _put(ws, f"{MODULE}/Load.pkl", Load(n=4), _pickle([0, 1, 2, 3]))
    _put(ws, "frames/frame.csv", Frame(data=Load()), _csv(frame))
    _put(ws, "report/summary.txt", Report(), b"r: 3 rows")
    _put(ws, "report/numbers.pkl", Report(), _pickle([0, 1, 2, 3]))
    for task in (Load(), Load(n=4), Frame(data=Load()), Report()):
        _params_log(ws, task)
        gid = gokart_unique_id(task)
        log = ws / "log" / "task_log" / f"{type(task).__name__}_{gid}.pkl"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(_pickle({"file_path": ["..."], "rows": 3}))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "gokart-ws"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> tasuki.Settings:
    return load_settings({"workspace": str(tmp_path / "tasuki-ws"), "progress": "off"})


def _build(task: tasuki.Task, settings: tasuki.Settings) -> tasuki.BuildResult:
    result: tasuki.BuildResult = tasuki.build(
        task, settings=settings, executor="inline", return_value=False
    )
    return result


def test_adopts_a_whole_pipeline_and_build_runs_nothing(
    ws: Path, settings: tasuki.Settings
) -> None:
    _gokart_run(ws)
    report = adopt_gokart(Report(), ws, settings=settings)
    assert report.counts() == {"adopted": 4}, report.lines()
    assert report.unmatched == []
    result = _build(Report(), settings)
    # The root is complete, so nothing below it is even looked at (luigi's top-down check).
    assert result.results[Report().unique_id].status == "cached"
    assert {r.status for r in result.results.values()} == {"cached", "not_needed"}
    store = open_store(settings.workspace)
    assert tasuki.load(Report(), store=store) == {"text": "r: 3 rows", "numbers": [0, 1, 2, 3]}
    assert tasuki.load(Load(n=4), store=store) == [0, 1, 2, 3]
    loaded = tasuki.load(Frame(data=Load()), store=store)
    assert loaded["x"].tolist() == [0.0, 2.0, 4.0]


def test_record_says_adopted(ws: Path, settings: tasuki.Settings) -> None:
    _gokart_run(ws)
    adopt_gokart(Report(), ws, settings=settings)
    store = open_store(settings.workspace)
    record = RunRecord.read(store, Report().unique_id)
    assert record.done
    assert record.adopted is not None
    assert record.adopted["from"] == "gokart"
    assert record.adopted["gokart_unique_id"] == gokart_unique_id(Report())
    assert sorted(record.adopted["files"]) == sorted(
        [
            gokart_file("report/summary.txt", gokart_unique_id(Report())),
            gokart_file("report/numbers.pkl", gokart_unique_id(Report())),
        ]
    )
    assert record.task_log == {"file_path": ["..."], "rows": 3}  # gokart's task_log
    assert [o["key"] for o in record.outputs] == [t.key for t in Report().output().values()]
    # Sizes and hashes are those of the bytes tasuki wrote (verify reads them back), and
    # stamps those of the files, so a build's check finds a same-size change.
    for out in record.outputs:
        assert store.stat(out["key"]) == (out["size"], out["stamp"])
    numbers = Path(settings.workspace) / record.outputs[1]["key"]
    data = bytearray(numbers.read_bytes())
    data[len(data) // 2] ^= 0x01
    numbers.write_bytes(bytes(data))
    assert _build(Report(), settings).results[Report().unique_id].status == "ran"


def test_one_parameter_different_is_not_adopted(ws: Path, settings: tasuki.Settings) -> None:
    _put(ws, f"{MODULE}/Load.pkl", Load(n=3), _pickle([0, 1, 2]))
    with pytest.raises(ConfigError) as caught:
        adopt_gokart(Load(n=5), ws, settings=settings)
    message = str(caught.value)
    assert str(ws) in message
    assert "1 file(s) seen" in message
    assert "Load(n=5" in message
    assert f"Load_{gokart_unique_id(Load(n=3))}.pkl" in message  # the near miss is named
    assert "Check that the parameters" in message
    assert record_ids(open_store(settings.workspace)) == []


def test_insignificant_parameter_may_differ(ws: Path, settings: tasuki.Settings) -> None:
    _put(ws, f"{MODULE}/Load.pkl", Load(quiet=1), _pickle([0, 1, 2]))
    report = adopt_gokart(Load(quiet=7), ws, settings=settings)
    assert report.counts() == {"adopted": 1}


def test_upstream_adopted_downstream_left_to_run(ws: Path, settings: tasuki.Settings) -> None:
    _gokart_run(ws)
    report = adopt_gokart(Frame(data=Load(), scale=3.0), ws, settings=settings)
    by_task = {t.task.rsplit(":", 1)[1]: t for t in report.tasks}
    assert by_task["Load"].status == "adopted"
    assert by_task["Frame"].status == "not_found"
    assert "frames/frame_" in by_task["Frame"].reason
    result = _build(Frame(data=Load(), scale=3.0), settings)
    assert sorted(r.status for r in result.results.values()) == ["cached", "ran"]


def test_params_log_must_match_exactly(ws: Path, settings: tasuki.Settings) -> None:
    _put(ws, f"{MODULE}/Load.pkl", Load(), _pickle([0, 1, 2]))
    _params_log(ws, Load(), {"n": "3", "extra": "1"})
    report = adopt_gokart(Load(), ws, settings=settings)
    (entry,) = report.tasks
    assert entry.status == "params_differ"
    assert "extra: gokart '1', here None" in entry.reason
    assert record_ids(open_store(settings.workspace)) == []


def test_unmatched_files_are_listed_and_left_alone(ws: Path, settings: tasuki.Settings) -> None:
    _gokart_run(ws)
    other = _put(ws, f"{MODULE}/Load.pkl", Load(n=99), _pickle([1]))
    stray = ws / "notes" / "readme.txt"
    stray.parent.mkdir()
    stray.write_text("hi")
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    report = adopt_gokart(Report(), ws, settings=settings)
    assert sorted(report.unmatched) == sorted([str(other.relative_to(ws)), "notes/readme.txt"])
    assert report.files_seen == len(before)
    assert {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()} == before
    text = "\n".join(report.lines())
    assert "2 file(s) of the gokart workspace match no task" in text
    assert "notes/readme.txt" in text


def test_partial_outputs_are_not_adopted(ws: Path, settings: tasuki.Settings) -> None:
    _put(ws, "report/summary.txt", Report(), b"r: 3 rows")
    report = adopt_gokart(Report(), ws, settings=settings)
    entry = next(t for t in report.tasks if t.task.endswith(":Report"))
    assert entry.status == "partial"
    assert "report/numbers_" in entry.reason
    assert record_ids(open_store(settings.workspace)) == []


def test_dry_run_writes_nothing(ws: Path, settings: tasuki.Settings) -> None:
    _gokart_run(ws)
    report = adopt_gokart(Report(), ws, settings=settings, dry_run=True)
    assert report.counts() == {"would_adopt": 4}
    store = open_store(settings.workspace)
    assert record_ids(store) == []
    assert [k for k in store.list("") if not k.startswith(".tasuki/")] == []


def test_second_adoption_leaves_complete_tasks(ws: Path, settings: tasuki.Settings) -> None:
    _gokart_run(ws)
    adopt_gokart(Report(), ws, settings=settings)
    again = adopt_gokart(Report(), ws, settings=settings)
    assert again.counts() == {"already_complete": 4}


def test_unreadable_file_leaves_task_incomplete(ws: Path, settings: tasuki.Settings) -> None:
    _put(ws, "report/summary.txt", Report(), b"r: 3 rows")
    _put(ws, "report/numbers.pkl", Report(), b"not a pickle")
    report = adopt_gokart(Report(), ws, settings=settings)
    entry = next(t for t in report.tasks if t.task.endswith(":Report"))
    assert entry.status == "unreadable"
    assert "numbers" in entry.reason
    store = open_store(settings.workspace)
    assert record_ids(store) == []
    # The output written before the failure is gone too: nothing half-adopted remains.
    assert [k for k in store.list("") if not k.startswith(".tasuki/")] == []


def test_model_target(ws: Path, settings: tasuki.Settings) -> None:
    _put(ws, "model/m.zip", Model(k=2), _model_zip({"k": 2, "w": [1.5]}))
    report = adopt_gokart(Model(k=2), ws, settings=settings)
    assert report.counts() == {"adopted": 1}
    store = open_store(settings.workspace)
    assert tasuki.load(Model(k=2), store=store) == {"k": 2, "w": [1.5]}


def test_empty_workspace_error(tmp_path: Path, settings: tasuki.Settings) -> None:
    with pytest.raises(ConfigError, match=r"\(0 file\(s\) seen\).*workspace_directory"):
        adopt_gokart(Load(), tmp_path / "nothing-here", settings=settings)


def test_cli_adopts_and_show_why_say_so(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tasuki.cli import app

    _gokart_run(ws)
    monkeypatch.setenv("TASUKI_PROGRESS", "off")
    into = str(tmp_path / "cli-ws")
    runner = CliRunner()
    task = "tests.unit.compat._adopt_tasks:Load"
    dry = runner.invoke(
        app, ["adopt-gokart", "--workspace", str(ws), "--into", into, task, "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "would adopt" in dry.output
    out = runner.invoke(
        app, ["adopt-gokart", "-w", str(ws), "--into", into, task, "--n", "4", "-f", "json"]
    )
    assert out.exit_code == 0, out.output
    import json

    doc = json.loads(out.stdout[out.stdout.index("{") :])
    assert doc["counts"] == {"adopted": 1}
    uid = Load(n=4).unique_id
    assert doc["tasks"][0]["unique_id"] == uid
    assert len(doc["unmatched"]) > 0  # the other tasks' files
    shown = runner.invoke(app, ["show", uid[:12], "--workspace", into])
    assert shown.exit_code == 0, shown.output
    assert f"adopted:     from gokart {ws}" in shown.output
    why = runner.invoke(app, ["why", task, "--n", "4", "--workspace", into])
    assert why.exit_code == 0, why.output
    assert "adopted from gokart" in why.output
    bad = runner.invoke(app, ["adopt-gokart", "-w", str(ws), "--into", into, task, "--n", "7"])
    assert bad.exit_code == 2
    assert "belongs to" in bad.output and "Check that the parameters" in bad.output


def test_gokart_file_is_gokarts_naming() -> None:
    # gokart.target._make_file_path: os.path.splitext of the declared path.
    gid = "0" * 32
    assert gokart_file("a/b.csv.gz", gid) == f"a/b.csv_{gid}.gz"
    assert gokart_file("./x.pkl", gid) == f"x_{gid}.pkl"
    assert gokart_file("noext", gid) == f"noext_{gid}"
    assert os.path.splitext("m.zip")[1] == ".zip"


def test_value_the_target_cannot_hold_is_unreadable(ws: Path, settings: tasuki.Settings) -> None:
    from tests.unit.compat._adopt_tasks import JsonOut

    # gokart writes .json through pandas; tasuki's .json holds JSON values, not frames.
    _put(ws, "j/out.json", JsonOut(), pd.DataFrame({"a": [1]}).to_json().encode())
    (entry,) = adopt_gokart(JsonOut(), ws, settings=settings).tasks
    assert entry.status == "unreadable"
    assert "j/out_" in entry.reason and "DataFrame" in entry.reason
    assert record_ids(open_store(settings.workspace)) == []


def test_definition_check_is_unsupported(ws: Path, settings: tasuki.Settings) -> None:
    gokart = pytest.importorskip("tasuki.compat.gokart", reason="compat layer not landed")
    from tests.unit.compat import _adopt_compat_tasks as m

    assert issubclass(m.Checked, gokart.TaskOnKart)
    _put(ws, "tests/unit/compat/_adopt_compat_tasks/Checked.pkl", m.Checked(), _pickle(1))
    with pytest.raises(ConfigError, match=r"could not be looked for.*serialized_task_def"):
        adopt_gokart(m.Checked(serialized_task_definition_check=True), ws, settings=settings)
    report = adopt_gokart(m.Checked(), ws, settings=settings)
    assert report.counts() == {"adopted": 1}


def test_two_candidate_files_are_ambiguous(ws: Path, settings: tasuki.Settings) -> None:
    # A native target's key says nothing of whether gokart declared the path with the module
    # folder or without: when gokart has both, tasuki does not guess.
    _put(ws, f"{MODULE}/Load.pkl", Load(), _pickle([0, 1, 2]))
    _put(ws, "Load.pkl", Load(), _pickle([9]))
    (entry,) = adopt_gokart(Load(), ws, settings=settings).tasks
    assert entry.status == "ambiguous"
    assert "Load_" in entry.reason
    assert record_ids(open_store(settings.workspace)) == []


def test_compat_targets_take_gokarts_bytes(ws: Path, settings: tasuki.Settings) -> None:
    pytest.importorskip("tasuki.compat.gokart", reason="compat layer not landed")
    from tests.unit.compat._adopt_compat_tasks import Texts

    frame_json = pd.DataFrame({"a": [1, 2]}).to_json().encode()  # gokart: to_json()
    text = _put(ws, "c/t.txt", Texts(), b"a\nb")
    _put(ws, "c/f.json", Texts(), frame_json)
    assert adopt_gokart(Texts(), ws, settings=settings).counts() == {"adopted": 1}
    store = open_store(settings.workspace)
    outputs = Texts().output()
    assert store.read_bytes(outputs["t"].key) == text.read_bytes()
    assert store.read_bytes(outputs["j"].key) == frame_json
    loaded = tasuki.load(Texts(), store=store)
    assert loaded["t"] == ["a", "b"]  # gokart's reader: the lines
    assert loaded["j"]["a"].tolist() == [1, 2]


def test_long_unmatched_lists_are_cut_in_text(ws: Path, settings: tasuki.Settings) -> None:
    _gokart_run(ws)
    for i in range(60):
        (ws / f"other_{i:02d}.txt").write_text("x")
    report = adopt_gokart(Report(), ws, settings=settings, dry_run=True)
    assert len(report.unmatched) == 60
    assert len(report.to_json()["unmatched"]) == 60
    lines = report.lines()
    assert "  ... and 10 more (--format json lists all)" in lines
    assert "  other_49.txt" in lines and "  other_50.txt" not in lines


def test_copied_bytes_the_target_cannot_read(ws: Path, settings: tasuki.Settings) -> None:
    pytest.importorskip("tasuki.compat.gokart", reason="compat layer not landed")
    from tests.unit.compat._adopt_compat_tasks import Texts

    _put(ws, "c/t.txt", Texts(), b"fine")
    _put(ws, "c/f.json", Texts(), b"{not json")
    (entry,) = adopt_gokart(Texts(), ws, settings=settings).tasks
    assert entry.status == "unreadable"
    assert "c/f_" in entry.reason
    store = open_store(settings.workspace)
    assert record_ids(store) == []
    assert [k for k in store.list("") if not k.startswith(".tasuki/")] == []
