"""A task never reads two requirements made from two runs of one upstream, whoever ran them.

A build keeps what it plans consistent; another build need not. With ``Both`` reading
``Left`` and ``Right``, both reading ``Source`` (a run with its own randomness): build B
runs ``Right`` (from ``Source``'s run 0); meanwhile build A reruns ``Source`` (run 1) and
``Left``. B's ``Both`` then read ``Left`` of run 1 and ``Right`` of run 0 and recorded the
mix (a later build found ``Right`` out of date and made it again; B's own result stayed
mixed). Now a task with several requirements compares what their records say they read
before it runs, and the one made from the older run runs again first.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core.records import delete_record, forget_outputs
from tasuki.storage import open_store


class Source(tasuki.Task):
    counter: str

    def output(self):
        return self.make_target("source.pkl")

    def run(self):
        path = Path(self.counter)  # read, not declared: a run's own randomness
        n = int(path.read_text()) if path.exists() else 0
        path.write_text(str(n + 1))
        self.dump(n)


class Left(tasuki.Task):
    counter: str

    def requires(self):
        return Source(counter=self.counter)

    def output(self):
        return self.make_target("left.pkl")

    def run(self):
        if Path(self.counter + ".fail").exists():
            raise RuntimeError("Left fails (a test asked it to)")
        self.dump(("left", self.load()))


class Right(tasuki.Task):
    counter: str

    def requires(self):
        return Source(counter=self.counter)

    def output(self):
        return self.make_target("right.pkl")

    def run(self):
        self.dump(("right", self.load()))


class Both(tasuki.Task):
    counter: str

    def requires(self):
        return {"left": Left(counter=self.counter), "right": Right(counter=self.counter)}

    def output(self):
        return self.make_target("both.pkl")

    def run(self):
        self.dump((self.load("left")[1], self.load("right")[1]))


class OtherBuildAfter:
    """When ``after``'s task ends in this build, another build reruns Source, then Left."""

    def __init__(self, after: type[tasuki.Task], ws: str, counter: str) -> None:
        self.after, self.ws, self.counter, self.done = after, ws, counter, False

    def on_task_end(self, *, task: tasuki.Task, **kwargs: Any) -> None:
        if isinstance(task, self.after) and not self.done:
            self.done = True
            source = Source(counter=self.counter)
            tasuki.build(
                Left(counter=self.counter),
                workspace=self.ws,
                rerun=[source.unique_id],
                progress="off",
                executor="inline",
            )


@pytest.mark.parametrize(
    ("workers", "where"), [(1, "folder"), (2, "folder"), (1, "memory")]
)  # a folder keeps records in its database; memory:// one file per record
def test_a_requirement_made_from_an_older_run_runs_again_before_the_reader(
    tmp_path: Path, workers: int, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    counter = str(tmp_path / "counter.txt")
    ws = str(tmp_path / "ws") if where == "folder" else f"memory://mixed-{tmp_path.name}"
    assert tasuki.build(Both(counter=counter), workspace=ws, progress="off") == (0, 0)
    store = open_store(ws)
    for gone in (Right(counter=counter), Both(counter=counter)):  # B runs Right, then Both
        store.remove(gone.output().key)
    hook = OtherBuildAfter(Right, ws, counter)
    result = tasuki.run_build(
        Both(counter=counter), workspace=ws, hooks=[hook], workers=workers, progress="off"
    )
    assert hook.done and result.ok, result.summary()
    both = tasuki.load(Both(counter=counter), workspace=ws)
    assert both == (1, 1), both  # not (1, 0): Left of Source's run 1, Right of its run 0
    assert "found the output of Right" in caplog.text and "out of date" in caplog.text
    again = tasuki.run_build(Both(counter=counter), workspace=ws, progress="off")
    assert again.counts() == {"cached": 1, "not_needed": 3}


# While the reader runs: another build reruns what it reads between two of its loads.
BETWEEN: list[Any] = []  # called by ``Reader.run`` between its two loads, while it holds


class Reader(tasuki.Task):
    counter: str

    def requires(self):
        return {"left": Left(counter=self.counter), "right": Right(counter=self.counter)}

    def output(self):
        return self.make_target("reader.pkl")

    def run(self):
        left = self.load("left")[1]
        for call in BETWEEN:
            call()
        self.dump((left, self.load("right")[1]))


OTHER = """
import sys
import tasuki
from tests.unit.core.test_mixed_inputs import Left, Right, Source
ws, counter = sys.argv[1], sys.argv[2]
roots = [Left(counter=counter), Right(counter=counter)]
rerun = [Source(counter=counter).unique_id]
tasuki.run_build(roots, workspace=ws, rerun=rerun, progress="off")
"""


def other_build(ws: str, counter: str, *, fail_left: bool = False, times: int = 1) -> Any:
    """What ``Reader.run`` calls: another build rerunning Source, Left and Right, at most
    ``times`` times; in another process (a thread, with a context of its own, for a
    ``memory://`` workspace, which only this process sees)."""
    calls = []

    def call() -> None:
        if len(calls) >= times:
            return
        calls.append(1)
        if fail_left:
            Path(counter + ".fail").write_text("")
        if ws.startswith("memory://"):
            thread = threading.Thread(target=build_on_a_thread, args=(ws, counter))
            thread.start()
            thread.join()
        else:
            repo = Path(__file__).resolve().parents[3]
            subprocess.run([sys.executable, "-c", OTHER, ws, counter], cwd=repo, check=True)
        Path(counter + ".fail").unlink(missing_ok=True)

    return call


def build_on_a_thread(ws: str, counter: str) -> None:
    roots = [Left(counter=counter), Right(counter=counter)]
    rerun = [Source(counter=counter).unique_id]
    tasuki.run_build(roots, workspace=ws, rerun=rerun, progress="off")


@pytest.fixture
def between() -> Any:
    yield BETWEEN
    BETWEEN.clear()


@pytest.mark.parametrize(("workers", "where"), [(1, "folder"), (2, "folder"), (1, "memory")])
def test_a_requirement_run_again_while_the_reader_runs_makes_the_reader_run_again(
    tmp_path: Path, workers: int, where: str, between: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tasuki")
    counter = str(tmp_path / "counter.txt")
    ws = str(tmp_path / "ws") if where == "folder" else f"memory://moved-{tmp_path.name}"
    tasuki.build([Left(counter=counter), Right(counter=counter)], workspace=ws, progress="off")
    between.append(other_build(ws, counter))
    result = tasuki.run_build(
        Reader(counter=counter), workspace=ws, workers=workers, progress="off"
    )
    assert result.ok, result.summary()
    got = tasuki.load(Reader(counter=counter), workspace=ws)
    assert got == (1, 1), got  # not (0, 1): Left of Source's run 0, Right of its run 1
    if workers == 1:  # (a worker's log stays in its process)
        assert "Left" in caplog.text and "ran again in another build while it ran" in caplog.text
    again = tasuki.run_build(Reader(counter=counter), workspace=ws, progress="off")
    assert again.counts() == {"cached": 1, "not_needed": 3}


def test_a_reader_whose_requirements_keep_moving_fails_and_keeps_nothing(
    tmp_path: Path, between: list[Any]
) -> None:
    counter = str(tmp_path / "counter.txt")
    ws = str(tmp_path / "ws")
    between.append(other_build(ws, counter, times=10))
    result = tasuki.run_build(Reader(counter=counter), workspace=ws, progress="off")
    reader = Reader(counter=counter)
    error = result.results[reader.unique_id].error
    assert not result.ok and error is not None and error.type == "InputsMovedError"
    assert "3 times in a row" in error.message and "Left[" in error.message, error.message
    with pytest.raises(FileNotFoundError):
        tasuki.load(reader, workspace=ws)  # its runs' outputs, without a record, are not taken


def test_a_requirement_that_failed_in_another_build_while_the_reader_ran_is_run_again(
    tmp_path: Path, between: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    counter = str(tmp_path / "counter.txt")
    ws = str(tmp_path / "ws")
    tasuki.build([Left(counter=counter), Right(counter=counter)], workspace=ws, progress="off")
    between.append(other_build(ws, counter, fail_left=True))
    result = tasuki.run_build(Reader(counter=counter), workspace=ws, progress="off")
    assert result.ok, result.summary()
    assert tasuki.load(Reader(counter=counter), workspace=ws) == (1, 1)
    assert "found the output of Left" in caplog.text


class DropRecordAfter:
    """When ``after``'s task ends in this build, Left's record goes, as when another build
    has begun to run Left again (it drops the record first). Reader's worker remembers
    Left's output from the plan: it must not take it without a record."""

    def __init__(self, after: type[tasuki.Task], ws: str, counter: str) -> None:
        self.after, self.ws, self.counter, self.done = after, ws, counter, False

    def on_task_end(self, *, task: tasuki.Task, **kwargs: Any) -> None:
        if isinstance(task, self.after) and not self.done:
            self.done = True
            delete_record(open_store(self.ws), Left(counter=self.counter).unique_id)


def test_a_requirement_without_a_record_when_the_reader_ends_makes_it_run_again(
    tmp_path: Path, between: list[Any]
) -> None:
    counter = str(tmp_path / "counter.txt")
    ws = str(tmp_path / "ws")
    tasuki.build([Left(counter=counter), Right(counter=counter)], workspace=ws, progress="off")
    hook = DropRecordAfter(Right, ws, counter)
    result = tasuki.run_build(
        Reader(counter=counter), workspace=ws, workers=2, hooks=[hook], progress="off"
    )
    assert hook.done and result.ok, result.summary()
    assert tasuki.load(Reader(counter=counter), workspace=ws) == (0, 0)
    ran = {
        type(result.graph.nodes[u].task).__name__
        for u, r in result.results.items()
        if r.status == "ran"
    }
    assert ran == {"Left", "Reader"}, ran


# A requirement run again twice while its reader runs, the second time making its first
# bytes again: the reader read the middle run's, and must not record the first's.
class Flip(tasuki.Task):
    counter: str

    def output(self):
        return self.make_target("flip.pkl")

    def run(self):
        with open(self.counter + ".runs", "a") as f:
            f.write("1")
        self.dump(int(Path(self.counter).read_text()))  # read, not declared: its value
        if Path(self.counter + ".slow").exists():  # its output in place, its record not yet
            Path(self.counter + ".dumped").write_text("")
            time.sleep(1.0)


class FlipReader(tasuki.Task):
    counter: str

    def requires(self):
        return Flip(counter=self.counter)

    def output(self):
        return self.make_target("flip_reader.pkl")

    def run(self):
        for call in BETWEEN[:1]:
            call()
        value = self.load()
        for call in BETWEEN[1:]:
            call()
        self.dump(value)


FLIP = """
import sys
import tasuki
from pathlib import Path
from tests.unit.core.test_mixed_inputs import Flip
ws, counter, value = sys.argv[1], sys.argv[2], sys.argv[3]
Path(counter).write_text(value)
flip = Flip(counter=counter)
tasuki.run_build([flip], workspace=ws, rerun=[flip.unique_id], progress="off")
"""


@pytest.mark.parametrize(
    ("workers", "remembered"), [(1, True), (2, True), (1, False)]
)  # False: the reader's process holds no entry of Flip's output (a big build forgets some)
def test_a_requirement_rerun_twice_back_to_its_first_bytes_is_not_recorded_as_read(
    tmp_path: Path, between: list[Any], workers: int, remembered: bool
) -> None:
    counter = str(tmp_path / "value.txt")
    ws = str(tmp_path / "ws")
    Path(counter).write_text("0")
    tasuki.build(Flip(counter=counter), workspace=ws, progress="off")
    repo = Path(__file__).resolve().parents[3]
    runs = []

    def rerun_flip(value: str) -> Any:
        def call() -> None:
            if len(runs) < 2:  # once each
                runs.append(value)
                if not remembered:
                    forget_outputs(open_store(ws), [Flip(counter=counter).output().key])
                subprocess.run(
                    [sys.executable, "-c", FLIP, ws, counter, value], cwd=repo, check=True
                )

        return call

    between.extend([rerun_flip("1"), rerun_flip("0")])  # before the load, after it
    result = tasuki.run_build(
        FlipReader(counter=counter), workspace=ws, workers=workers, progress="off"
    )
    assert result.ok, result.summary()
    assert runs == ["1", "0"] or workers > 1  # (a worker's list stays in its process)
    assert tasuki.load(Flip(counter=counter), workspace=ws) == 0
    # Its run read Flip's middle run (1); Flip holds 0 again, the same bytes as the run
    # the reader started from: it must run again, not keep 1 as made from 0.
    assert tasuki.load(FlipReader(counter=counter), workspace=ws) == 0
    again = tasuki.run_build(FlipReader(counter=counter), workspace=ws, progress="off")
    assert again.counts() == {"cached": 1, "not_needed": 1}


def test_a_requirement_found_changed_mid_rerun_in_another_build_is_waited_for_not_rerun(
    tmp_path: Path, between: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The reader loads its requirement while another build runs it again: the new output is
    in place, its record not yet written. That is no damage to repair by running the
    requirement once more: the reader waits for that run and runs again."""
    caplog.set_level(logging.INFO, logger="tasuki")
    counter = str(tmp_path / "value.txt")
    ws = str(tmp_path / "ws")
    Path(counter).write_text("0")
    tasuki.build(Flip(counter=counter), workspace=ws, progress="off")
    repo = Path(__file__).resolve().parents[3]
    procs: list[Any] = []

    def rerun_flip_slowly() -> None:
        if procs:
            return
        Path(counter + ".slow").write_text("")
        procs.append(subprocess.Popen([sys.executable, "-c", FLIP, ws, counter, "1"], cwd=repo))
        while not Path(counter + ".dumped").exists():
            time.sleep(0.01)
        Path(counter + ".slow").unlink()

    between.append(rerun_flip_slowly)
    result = tasuki.run_build(FlipReader(counter=counter), workspace=ws, progress="off")
    assert procs[0].wait(timeout=60) == 0
    assert result.ok, result.summary()
    assert tasuki.load(FlipReader(counter=counter), workspace=ws) == 1
    assert Path(counter + ".runs").read_text() == "11"  # the first run, the other build's
    assert "ran again in another build while it ran" in caplog.text


def test_a_load_that_finds_no_record_waits_for_a_rerun_that_began_before_the_run(
    tmp_path: Path,
) -> None:
    """A task that began while another build's rerun of its requirement had dropped the
    requirement's record (so the run began knowing no record of it) and then finds no record
    on load waits for that rerun rather than running the requirement once more; one whose
    requirement's record is the one it began with (the output itself damaged or removed) is
    repaired as before."""
    from tasuki.core._moved import moved_under_load
    from tasuki.core.execute import Completeness
    from tasuki.core.graph import build_graph
    from tasuki.errors import OutputGoneError

    counter = str(tmp_path / "value.txt")
    Path(counter).write_text("0")
    ws = str(tmp_path / "ws")
    tasuki.build(Flip(counter=counter), workspace=ws, progress="off")
    store = open_store(ws)
    reader, flip = FlipReader(counter=counter), Flip(counter=counter)
    node = build_graph([reader]).nodes[reader.unique_id]
    gone = OutputGoneError("no finished run", uid=flip.unique_id)
    delete_record(store, flip.unique_id)  # a rerun under way in another build
    assert moved_under_load(gone, node, {}, Completeness(store)) == [flip.unique_id]
    tasuki.build(flip, workspace=store.url, progress="off", rerun=True)
    state = Completeness(store).reads.states([flip.unique_id], fresh=True)[flip.unique_id]
    assert state is not None
    began = {flip.unique_id: state[0]}
    assert moved_under_load(gone, node, began, Completeness(store)) == []  # damage: repaired
