"""What the runner reports, and what it leaves alone: start events when a task really starts,
explicit arguments over a settings object, no handler on the host's root logger, a dead
worker process reported as a failure (never raised), plain progress lines off a terminal."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

import tasuki
from tasuki.core.progress import Progress, _PlainProgress
from tasuki.core.records import RunRecord
from tasuki.storage import open_store


class Nap(tasuki.Task):
    i: int
    seconds: float = 0.4

    def output(self):
        return self.make_target("nap.pkl")

    def run(self):
        time.sleep(self.seconds)
        self.dump(self.i)


class Naps(tasuki.Task):
    n: int = 4

    def requires(self):
        return [Nap(i=i) for i in range(self.n)]

    def output(self):
        return self.make_target("naps.pkl")

    def run(self):
        self.dump(sum(self.load()))


class StartTimes:
    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def on_task_start(self, task: tasuki.Task) -> None:
        self.started[task.unique_id] = time.monotonic()


@pytest.mark.parametrize("workers", [1, 2])
def test_start_events_come_when_a_task_really_starts(tmp_path, workers, caplog):
    caplog.set_level(logging.INFO, logger="tasuki")
    hook = StartTimes()
    result = tasuki.run_build(
        Naps(), workspace=str(tmp_path / "ws"), workers=workers, hooks=[hook], progress="off"
    )
    assert result.ok
    naps = sorted(hook.started[Nap(i=i).unique_id] for i in range(4))
    # Two workers run two naps at a time: the last two start one nap (0.4 s) after the first
    # two; one worker starts each nap after the previous one. Events sent when the tasks are
    # handed out would all come at once (~0 s apart); half a nap per slot tells the two apart
    # with room for a loaded machine, where the first event can come late (0.35 of a nap
    # failed once: 0.346 s, under CI's other Python).
    per_slot = 4 // workers
    assert naps[-1] - naps[0] >= 0.2 * (per_slot - 1), naps
    store = open_store(str(tmp_path / "ws"))
    for i in range(4):
        record = RunRecord.read(store, Nap(i=i).unique_id)
        logged = hook.started[Nap(i=i).unique_id]
        assert logged is not None and record.started_at
    running = [r for r in caplog.records if r.getMessage().startswith("running Nap(")]
    assert len(running) == 4
    # Each "running" line is logged when the task starts, so they are spread in time too.
    stamps = sorted(r.created for r in running)
    assert stamps[-1] - stamps[0] >= 0.2 * (per_slot - 1), stamps


def test_explicit_arguments_win_over_a_settings_object(tmp_path):
    settings = tasuki.load_settings({"workspace": str(tmp_path / "from-settings")})
    explicit = tmp_path / "explicit"
    result = tasuki.build(
        Nap(i=1, seconds=0), settings=settings, workspace=str(explicit), return_value=False
    )
    assert result.workspace.endswith("explicit")
    assert explicit.exists() and not (tmp_path / "from-settings").exists()
    assert tasuki.build(Nap(i=1, seconds=0), settings=settings, workspace=str(explicit)) == 1


def test_a_bad_explicit_argument_on_top_of_settings_is_a_config_error(tmp_path):
    settings = tasuki.load_settings({"workspace": str(tmp_path / "ws")})
    with pytest.raises(tasuki.errors.ConfigError, match="workers"):
        tasuki.build(Nap(i=1), settings=settings, workers=0)


class RootHandlers(tasuki.Task):
    def output(self):
        return self.make_target("handlers.pkl")

    def run(self):
        logging.getLogger(__name__).warning("inside the task")
        self.dump([type(h).__name__ for h in logging.getLogger().handlers])


def test_the_root_logger_is_left_alone(tmp_path):
    before = list(logging.getLogger().handlers)
    during = tasuki.build(RootHandlers(), workspace=str(tmp_path / "ws"))
    assert logging.getLogger().handlers == before
    assert during == [type(h).__name__ for h in before]


def test_a_task_log_handler_keeps_the_tail_in_the_record(tmp_path):
    from tasuki.core.execute import TaskLogHandler

    handler = TaskLogHandler()
    logging.getLogger().addHandler(handler)
    try:
        tasuki.build(RootHandlers(), workspace=str(tmp_path / "ws"))
    finally:
        logging.getLogger().removeHandler(handler)
    record = RunRecord.read(open_store(str(tmp_path / "ws")), RootHandlers().unique_id)
    assert any("inside the task" in line for line in record.log_tail)


class Dies(tasuki.Task):
    i: int

    def output(self):
        return self.make_target("dies.pkl")

    def run(self):
        if self.i == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.2)
        self.dump(self.i)


class AllDie(tasuki.Task):
    def requires(self):
        return [Dies(i=i) for i in range(4)]

    def run(self):
        self.dump(sum(self.load()))


def test_a_worker_that_dies_is_a_failed_task_not_an_exception(tmp_path):
    result = tasuki.run_build(AllDie(), workspace=str(tmp_path / "ws"), workers=2, progress="off")
    assert not result.ok
    failed = {r.uid: r for r in result.by_status("failed")}
    assert Dies(i=0).unique_id in failed
    assert failed[Dies(i=0).unique_id].error.type == "WorkerDiedError"
    assert "died" in failed[Dies(i=0).unique_id].error.message
    # Only the task it was running failed; the tasks queued behind it and the rest went to
    # the other worker.
    assert len(failed) == 1
    assert {Dies(i=i).unique_id for i in (1, 2, 3)} <= {r.uid for r in result.by_status("ran")}
    assert result.results[AllDie().unique_id].status == "upstream_failed"


def test_auto_progress_off_a_terminal_prints_plain_lines(capsys):
    progress = Progress.create("auto", total=2, cached=0)
    assert isinstance(progress, _PlainProgress)  # pytest's stderr is not a terminal
    with progress:
        progress.started("a")
        progress.finished("a", "ran")
    assert "tasuki: done 1" in capsys.readouterr().err


def test_plain_progress_is_used_by_builds_off_a_terminal(tmp_path: Path, capsys):
    tasuki.build(Nap(i=3, seconds=0), workspace=str(tmp_path / "ws"))
    lines = capsys.readouterr().err.splitlines()
    # once: the only refresh of a short build is already its last line
    assert lines.count("tasuki: done 1 | cached 0 | running 0 | failed 0 | 1/1") == 1


def test_a_batch_sent_to_a_worker_that_already_died_is_given_back(tmp_path):
    """The pipe of a dead worker breaks on send (BrokenPipeError escaped run_build)."""
    from tasuki.config import load_settings
    from tasuki.core.execute import Completeness
    from tasuki.core.graph import build_graph
    from tasuki.core.pool import ProcessPool
    from tasuki.storage import open_store

    store = open_store(str(tmp_path / "ws"))
    graph = build_graph([Nap(i=1, seconds=0)])
    settings = load_settings({"workspace": str(tmp_path / "ws")})
    pool = ProcessPool(2, graph, store, settings, Completeness(store))
    try:
        dead = pool._procs[0]
        dead.kill()
        dead.join()
        uid = Nap(i=1, seconds=0).unique_id
        sent = [
            pool.submit(0, [(uid, False, False)]) for _ in range(50)
        ]  # the buffer fills, then breaks
        assert False in sent
        assert 0 not in pool.workers() and 1 in pool.workers()
        requeued: list[str] = []
        pool.results(lambda uid: None, lambda result: None, requeued.extend)
        assert pool.size == 1
    finally:
        pool.close()
