"""A raw file as a task whose unique id follows its bytes (`tasuki.FileInput`).

A path parameter (``Clean(path="raw.csv")``) says where the data is, not what it is: a new
export of the file at that path got the cached output of the old one. A `FileInput` is
hashed when made, so what is built from it moves with the bytes, comes back with the old
bytes, and is never recorded under bytes it did not read.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

import tasuki
from tasuki.core._file_hash import forget_file_digests
from tasuki.errors import TaskError
from tasuki.storage import open_store


class Clean(tasuki.Task):
    raw: str

    def requires(self) -> tasuki.FileInput:
        return tasuki.FileInput(path=self.raw)

    def output(self) -> tasuki.FileTarget:
        return self.make_target("clean.pkl")

    def run(self) -> None:
        frame = self.load()
        self.dump(int(frame["x"].sum()))


class PathOnly(tasuki.Task):
    raw: str

    def requires(self) -> tasuki.FileInput:
        return tasuki.FileInput(path=self.raw, as_="path")

    def output(self) -> tasuki.FileTarget:
        return self.make_target("names.pkl")

    def run(self) -> None:
        folder = self.load()
        self.dump(sorted(p.read_text() for p in folder.rglob("*.txt")))


class AsParameter(tasuki.Task):
    data: tasuki.FileInput

    def requires(self) -> tasuki.FileInput:
        return self.data

    def output(self) -> tasuki.FileTarget:
        return self.make_target("rows.pkl")

    def run(self) -> None:
        self.dump(len(self.load()))


def _build(task: tasuki.Task, ws: Path) -> tuple[object, str]:
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    return tasuki.load(task, workspace=ws), result.results[task.unique_id].status


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text("x\n1\n2\n")
    return path


def test_a_new_export_of_the_file_reruns_what_is_built_from_it(tmp_path: Path, raw: Path):
    ws = tmp_path / "ws"
    assert _build(Clean(raw=str(raw)), ws) == (3, "ran")
    assert _build(Clean(raw=str(raw)), ws) == (3, "cached")
    raw.write_text("x\n1\n5\n")  # same size, other bytes
    assert _build(Clean(raw=str(raw)), ws) == (6, "ran")
    raw.write_text("x\n1\n2\n")  # the old bytes back: the old outputs
    assert _build(Clean(raw=str(raw)), ws) == (3, "cached")


def test_same_size_and_modification_time_restored_is_still_seen(tmp_path: Path, raw: Path):
    """``tar x``, ``rsync -t`` and ``cp -p`` restore a file's modification time; a hash
    remembered by (path, size, mtime) then stood for the old bytes."""
    ws = tmp_path / "ws"
    old = time.time_ns() - 3600 * 10**9
    os.utime(raw, ns=(old, old))
    assert _build(Clean(raw=str(raw)), ws) == (3, "ran")
    raw.write_text("x\n1\n5\n")
    os.utime(raw, ns=(old, old))
    assert _build(Clean(raw=str(raw)), ws) == (6, "ran")


def test_identity_is_the_bytes_not_the_path(tmp_path: Path, raw: Path):
    ws = tmp_path / "ws"
    a = tasuki.FileInput(path=str(raw))
    as_path = tasuki.FileInput(path=raw)  # a Path is taken, and kept as text
    assert as_path.unique_id == a.unique_id and as_path.path == str(raw)
    moved = tmp_path / "elsewhere" / "raw.csv"
    moved.parent.mkdir()
    moved.write_bytes(raw.read_bytes())
    assert tasuki.FileInput(path=str(moved)).unique_id == a.unique_id
    assert tasuki.FileInput(path=str(raw), as_="path").unique_id != a.unique_id
    tsv = tmp_path / "raw.tsv"
    tsv.write_bytes(raw.read_bytes())  # read by another format: another input
    assert tasuki.FileInput(path=str(tsv)).unique_id != a.unique_id
    assert _build(AsParameter(data=a), ws) == (2, "ran")
    assert _build(AsParameter(data=tasuki.FileInput(path=str(moved))), ws) == (2, "cached")


def test_a_folder_counts_each_file_and_name(tmp_path: Path):
    ws = tmp_path / "ws"
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    assert _build(PathOnly(raw=str(folder)), ws) == (["a", "b"], "ran")
    assert _build(PathOnly(raw=str(folder)), ws) == (["a", "b"], "cached")
    (folder / "sub" / "b.txt").rename(folder / "sub" / "c.txt")  # a name changed, no bytes
    first = tasuki.FileInput(path=str(folder), as_="path").unique_id
    assert _build(PathOnly(raw=str(folder)), ws) == (["a", "b"], "ran")
    (folder / "new.txt").write_text("n")
    assert tasuki.FileInput(path=str(folder), as_="path").unique_id != first
    assert _build(PathOnly(raw=str(folder)), ws) == (["a", "b", "n"], "ran")


def test_bytes_changed_after_planning_are_never_recorded_under_the_old_id(
    tmp_path: Path, raw: Path
):
    ws = tmp_path / "ws"
    task = AsParameter(data=tasuki.FileInput(path=str(raw)))  # hashed now
    raw.write_text("x\n9\n9\n9\n")
    with pytest.raises(tasuki.TasukiError, match="changed since the task was made"):
        tasuki.build(task, workspace=ws, progress="off")
    made_anew = AsParameter(data=tasuki.FileInput(path=str(raw)))
    assert _build(made_anew, ws) == (3, "ran")


def test_loading_checks_the_bytes(tmp_path: Path, raw: Path):
    ws = tmp_path / "ws"
    source = tasuki.FileInput(path=str(raw))
    tasuki.build(source, workspace=ws, progress="off")
    assert list(tasuki.load(source, workspace=ws)["x"]) == [1, 2]
    raw.write_text("x\n7\n7\n")
    with pytest.raises(TaskError, match=r"raw\.csv changed since the task was made"):
        tasuki.load(source, workspace=ws)
    raw.unlink()
    with pytest.raises(TaskError, match="is not there now"):
        tasuki.load(source, workspace=ws)


def test_a_large_file_is_checked_as_the_format_streams_it(tmp_path: Path):
    ws = tmp_path / "ws"
    big = tmp_path / "big.csv"
    pd.DataFrame({"x": range(1_500_000)}).to_csv(big, index=False)
    assert big.stat().st_size > 8 << 20
    source = tasuki.FileInput(path=str(big))
    tasuki.build(source, workspace=ws, progress="off")
    assert len(tasuki.load(source, workspace=ws)) == 1_500_000
    with big.open("r+b") as f:  # same size, one digit changed near the end
        f.seek(-3, os.SEEK_END)
        f.write(b"8")
    forget_file_digests()
    with pytest.raises(TaskError, match="changed since the task was made"):
        tasuki.load(source, workspace=ws)


def test_bad_input_says_what_and_how(tmp_path: Path):
    with pytest.raises(TaskError, match=r"no such file or folder \(looked for .*nope\.csv\)"):
        tasuki.FileInput(path=str(tmp_path / "nope.csv"))
    (tmp_path / "d").mkdir()
    with pytest.raises(TaskError, match="is a folder: pass as_='path'"):
        tasuki.FileInput(path=str(tmp_path / "d"))
    odd = tmp_path / "raw.xyz"
    odd.write_text("?")
    with pytest.raises(TaskError, match="Pass as_='path' to read the file yourself"):
        tasuki.FileInput(path=str(odd))
    assert tasuki.FileInput(path=str(odd), as_="path").suffix == ".xyz"
    with pytest.raises(TaskError, match="only files on this machine"):
        tasuki.FileInput(path="s3://bucket/raw.csv")
    with pytest.raises(TaskError, match="filled in when the task is made"):
        tasuki.FileInput(path=str(odd), as_="path", suffix=".csv")


def test_a_relative_path_is_read_from_the_current_folder(
    tmp_path: Path, raw: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(raw.parent)
    ws = tmp_path / "ws"
    relative = AsParameter(data=tasuki.FileInput(path="raw.csv"))
    assert _build(relative, ws) == (2, "ran")
    absolute = AsParameter(data=tasuki.FileInput(path=str(raw)))
    assert _build(absolute, ws) == (2, "cached")


def test_run_again_from_another_folder_nothing_downstream_reruns(tmp_path: Path, raw: Path):
    ws = tmp_path / "ws"
    assert _build(AsParameter(data=tasuki.FileInput(path=str(raw))), ws) == (2, "ran")
    moved = tmp_path / "checkout2" / "raw.csv"
    moved.parent.mkdir()
    moved.write_bytes(raw.read_bytes())
    task = AsParameter(data=tasuki.FileInput(path=str(moved)))
    alone = tasuki.build(task.data, workspace=ws, rerun=True, return_value=False, progress="off")
    assert alone.results[task.data.unique_id].status == "ran"
    result = tasuki.build(task, workspace=ws, return_value=False, progress="off")
    assert result.results[task.unique_id].status == "cached"  # the marker came out the same
    record = tasuki.RunRecord.read(open_store(str(ws)), task.data.unique_id)
    assert record.task_log["path"] == str(moved)


def test_bytes_that_fail_the_decoder_are_named_as_changed(tmp_path: Path):
    """A large Parquet file whose bytes changed fails pyarrow before the hash is known: the
    error says the file changed, not that it cannot be read."""
    import numpy as np

    ws = tmp_path / "ws"
    big = tmp_path / "big.parquet"
    pd.DataFrame({"x": np.random.default_rng(0).random(1_500_000)}).to_parquet(big)
    assert big.stat().st_size > 8 << 20
    source = tasuki.FileInput(path=str(big))
    tasuki.build(source, workspace=ws, progress="off")
    assert len(tasuki.load(source, workspace=ws)) == 1_500_000
    with big.open("r+b") as f:  # the footer's length and magic: no reader gets past them
        f.seek(-8, os.SEEK_END)
        f.write(b"\0\0\0\0XXXX")
    with pytest.raises(TaskError, match="changed since the task was made"):
        tasuki.load(source, workspace=ws)


def test_a_file_input_travels_by_id_without_hashing_again(
    tmp_path: Path, raw: Path, monkeypatch: pytest.MonkeyPatch
):
    """Dask and Argo workers rebuild the task from its definition: the hash the planner
    took is kept (not taken again on the worker), and the worker's run checks the bytes."""
    from tasuki.config import Settings
    from tasuki.core import file_input
    from tasuki.core.code import code_keys
    from tasuki.core.definitions import run_one, write_definitions
    from tasuki.core.graph import build_graph

    ws = str(tmp_path / "ws")
    store = open_store(ws)
    task = AsParameter(data=tasuki.FileInput(path=str(raw)))
    graph = build_graph([task])
    write_definitions(store, graph, list(graph.order), code_keys(graph))
    hashed: list[str] = []
    real = file_input.content_of
    monkeypatch.setattr(file_input, "content_of", lambda p: hashed.append(p) or real(p))
    settings = Settings(workspace=ws)
    assert run_one(task.data.unique_id, store=store, settings=settings).status == "ran"
    assert hashed == [str(raw)]  # once, by the run's check; not when the task was rebuilt
    assert run_one(task.unique_id, store=store, settings=settings).status == "ran"
    assert tasuki.load(task, workspace=ws) == 2


def test_a_workspace_inside_a_folder_input_is_left_out(tmp_path: Path):
    """The project template keeps its workspace in data/: a FileInput of data/ would be a
    new input after every build (the build writes into it)."""
    data = tmp_path / "data"
    (data / "sample").mkdir(parents=True)
    (data / "sample" / "a.txt").write_text("a")
    ws = data / "workspace"
    task = PathOnly(raw=str(data))
    assert _build(task, ws) == (["a"], "ran")
    assert _build(PathOnly(raw=str(data)), ws) == (["a"], "cached")
