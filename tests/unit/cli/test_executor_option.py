"""``tasuki run --executor``: which executor runs the tasks, chosen on the command line."""

from __future__ import annotations

import os

import tasuki


class Pid(tasuki.Task):
    i: int

    def run(self):
        self.dump(os.getpid())


class Pids(tasuki.Task):
    n: int

    def requires(self):
        return [Pid(i=i) for i in range(self.n)]

    def run(self):
        self.dump(sorted(set(self.load())))


M = __name__


def test_executor_inline_runs_every_task_in_this_process(cli, tmp_path):
    out = cli("run", f"{M}:Pids", "--n", "4", "--workers", "2", "--executor", "inline")
    assert out.exit_code == 0, out.output
    assert tasuki.load(Pids(n=4), workspace=str(tmp_path / "ws")) == [os.getpid()]


def test_executor_local_uses_worker_processes(cli, tmp_path):
    out = cli("run", f"{M}:Pids", "--n", "4", "--workers", "2", "--executor", "local")
    assert out.exit_code == 0, out.output
    pids = tasuki.load(Pids(n=4), workspace=str(tmp_path / "ws"))
    assert os.getpid() not in pids


def test_an_unknown_executor_exits_2_with_the_known_ones(cli):
    out = cli("run", f"{M}:Pids", "--n", "1", "--executor", "dask-ish")
    assert out.exit_code == 2
    assert "unknown executor 'dask-ish'" in out.output
    assert "inline, local" in out.output and "tasuki.executors" in out.output


def test_rerun_takes_the_executor_too(cli, tmp_path):
    assert cli("run", f"{M}:Pids", "--n", "2", "--workers", "2").exit_code == 0
    uid = Pids(n=2).unique_id
    out = cli("rerun", uid, "--workers", "2", "--executor", "inline")
    assert out.exit_code == 0, out.output
    assert uid in out.output
    # The name reaches the settings: an unknown one is refused, listing the known ones.
    out = cli("rerun", uid, "--executor", "dask-ish")
    assert out.exit_code == 2 and "unknown executor 'dask-ish'" in out.output
