"""An upstream task that runs in the same build as a complete task that read it.

Found by the model test (``test_cache_model.py``). ``Mix`` reads ``Plus`` and ``Times``, which
both read ``Noise`` (a run reads a file it does not declare: its own randomness, as a sample
without a seed). With the outputs of ``Mix``, ``Plus`` and ``Noise`` gone and ``Times``
complete, a build ran ``Noise`` again (new bytes) and ``Plus`` from them, took ``Times`` as
complete (it was, when planned) and made ``Mix`` from ``Plus`` of the new ``Noise`` and
``Times`` of the old: an output no run of the pipeline could make. And an output found
damaged while loading had its task run again without what that task needed below it (an
output deleted there): the build failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tasuki
import tasuki.core.loading
from tasuki.core.records import delete_record
from tasuki.report.why import explain_build
from tasuki.storage import open_store
from tests._records import damage_unseen


class Noise(tasuki.Task):
    path: str

    def run(self) -> None:
        self.dump(int(Path(self.path).read_text()))


class Plus(tasuki.Task):
    path: str

    def requires(self) -> tasuki.Task:
        return Noise(path=self.path)

    def run(self) -> None:
        self.dump(self.load() + 1)


class Times(tasuki.Task):
    path: str

    def requires(self) -> tasuki.Task:
        return Noise(path=self.path)

    def run(self) -> None:
        self.dump(self.load() * 10)


class Mix(tasuki.Task):
    path: str

    def requires(self) -> dict[str, tasuki.Task]:
        return {"plus": Plus(path=self.path), "times": Times(path=self.path)}

    def run(self) -> None:
        self.dump((self.load("plus"), self.load("times")))


@pytest.fixture
def noise(tmp_path: Path) -> Path:
    path = tmp_path / "noise.txt"
    path.write_text("1")
    return path


def _statuses(result: tasuki.BuildResult) -> dict[str, str]:
    return {type(result.graph.nodes[u].task).__name__: r.status for u, r in result.results.items()}


def _remove_outputs(ws: Path, *tasks: tasuki.Task) -> None:
    for task in tasks:
        (ws / task.output().key).unlink()


def test_a_complete_task_below_which_an_upstream_runs_is_checked_again(tmp_path, noise):
    ws = tmp_path / "ws"
    mix = Mix(path=str(noise))
    assert tasuki.build(mix, workspace=ws, progress="off") == (2, 10)
    noise.write_text("2")
    _remove_outputs(ws, mix, Plus(path=str(noise)), Noise(path=str(noise)))
    explained = explain_build(mix, open_store(str(ws)))
    maybe = [d.task.rpartition(":")[2] for d in explained.decisions if d.maybe]
    assert maybe == ["Times"]
    assert "Checked again once what runs below them has run" in "\n".join(explained.lines())
    result = tasuki.run_build(mix, workspace=ws, progress="off")
    assert _statuses(result) == {"Noise": "ran", "Plus": "ran", "Times": "ran", "Mix": "ran"}
    assert tasuki.load(mix, workspace=ws) == (3, 20)  # not (3, 10)


def test_it_stays_cached_when_the_upstream_made_the_same_bytes(tmp_path, noise):
    ws = tmp_path / "ws"
    mix = Mix(path=str(noise))
    tasuki.build(mix, workspace=ws, progress="off")
    _remove_outputs(ws, mix, Plus(path=str(noise)), Noise(path=str(noise)))
    result = tasuki.run_build(mix, workspace=ws, progress="off", workers=2)
    assert _statuses(result) == {"Noise": "ran", "Plus": "ran", "Times": "cached", "Mix": "ran"}
    assert tasuki.load(mix, workspace=ws) == (2, 10)


def test_a_requirement_whose_record_is_gone_runs_before_what_read_it(tmp_path, noise):
    """A rerun of Noise killed after its old record was dropped: what Plus and Times read of
    it cannot be checked, and they may have read different runs of it."""
    ws = tmp_path / "ws"
    mix = Mix(path=str(noise))
    tasuki.build(mix, workspace=ws, progress="off")
    noise.write_text("2")
    tasuki.build(Times(path=str(noise)), workspace=ws, progress="off", rerun="Noise")
    delete_record(open_store(str(ws)), Noise(path=str(noise)).unique_id)
    (ws / mix.output().key).unlink()
    result = tasuki.run_build(mix, workspace=ws, progress="off")
    assert result.ok
    assert tasuki.load(mix, workspace=ws) == (3, 20)  # not Plus of 1 and Times of 2


def test_a_damaged_output_reruns_its_task_with_what_that_needs_below_it(tmp_path, noise):
    ws = tmp_path / "ws"
    mix = Mix(path=str(noise))
    tasuki.build(mix, workspace=ws, progress="off")
    for workers in (1, 2):
        damage_unseen(open_store(str(ws)), Times(path=str(noise)), at=-2)
        _remove_outputs(ws, mix, Noise(path=str(noise)))  # below Times: the plan stops above
        result = tasuki.run_build(mix, workspace=ws, progress="off", workers=workers)
        assert result.ok, result.summary()
        # Plus read Noise, which ran again with the same bytes: checked again, cached.
        assert _statuses(result) == {"Noise": "ran", "Plus": "cached", "Times": "ran", "Mix": "ran"}
        assert tasuki.load(mix, workspace=ws) == (2, 10)


def _damage(ws: Path, task: tasuki.Task) -> None:
    """Same size, and a stamp the build's check takes as unchanged: only a load finds it."""
    damage_unseen(open_store(str(ws)), task, at=-2)


def test_a_damaged_producer_rerun_rechecks_what_read_its_old_output(tmp_path, noise):
    """Times (deleted) runs and finds Noise damaged: Noise runs again, with new bytes. Plus,
    complete, was made from Noise's old bytes: Mix would mix the two."""
    ws = tmp_path / "ws"
    mix = Mix(path=str(noise))
    tasuki.build(mix, workspace=ws, progress="off")
    noise.write_text("2")
    _damage(ws, Noise(path=str(noise)))
    _remove_outputs(ws, mix, Times(path=str(noise)))
    result = tasuki.run_build(mix, workspace=ws, progress="off")
    assert result.ok, result.summary()
    assert _statuses(result) == {"Noise": "ran", "Plus": "ran", "Times": "ran", "Mix": "ran"}
    assert tasuki.load(mix, workspace=ws) == (3, 20)  # not (2, 20)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_that_finds_two_inputs_damaged_has_both_repaired(tmp_path, noise, workers):
    """Each consumer was retried once after a repair: the second damaged input it found
    failed the build."""
    ws = tmp_path / "ws"
    mix = Mix(path=str(noise))
    tasuki.build(mix, workspace=ws, progress="off")
    for task in (Plus(path=str(noise)), Times(path=str(noise))):
        _damage(ws, task)
    _remove_outputs(ws, mix)
    result = tasuki.run_build(mix, workspace=ws, progress="off", workers=workers)
    assert result.ok, result.summary()
    assert tasuki.load(mix, workspace=ws) == (2, 10)


def test_a_load_after_another_process_ran_the_task_again_reads_its_new_record(tmp_path, noise):
    """A process remembers what a record said of its outputs (a worker forked after the plan
    read them); the task ran again elsewhere since (a damaged output's producer, rerun by
    another worker): the new bytes were called damaged, and the build failed."""
    ws = tmp_path / "ws"
    times = Times(path=str(noise))
    tasuki.build(times, workspace=ws, progress="off")
    store = open_store(str(ws))
    assert tasuki.core.loading.load_task_outputs(Noise(path=str(noise)), store) == 1
    noise.write_text("2")
    code = (
        "import tasuki\n"
        f"from {__name__} import Noise\n"
        f"tasuki.build(Noise(path={str(noise)!r}), workspace={str(ws)!r}, progress='off',"
        " rerun=True)\n"
    )
    repo = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo)
    assert tasuki.core.loading.load_task_outputs(Noise(path=str(noise)), store) == 2


def test_a_record_written_after_a_repair_says_what_its_run_read_now(tmp_path, noise):
    """Worker processes remember the states of records they read. Once a task ran again in
    the build (a damaged output's producer, in any worker), a run's record takes what it read
    from the records: its own process may remember the producer as it was (the next build
    then found what read it out of date, and ran it again)."""
    from tasuki.core.code import code_keys
    from tasuki.core.execute import Completeness
    from tasuki.core.graph import build_graph

    ws = tmp_path / "ws"
    times = Times(path=str(noise))
    tasuki.build(times, workspace=ws, progress="off")
    store = open_store(str(ws))
    graph = build_graph([times])
    node = graph.nodes[times.unique_id]
    completeness = Completeness(store, "rerun", code_keys(graph))
    before = completeness.inputs_of(node)  # remembered by this process
    noise.write_text("2")
    tasuki.build(Noise(path=str(noise)), workspace=ws, progress="off", rerun=True)  # elsewhere
    assert completeness.inputs_of(node) == before  # what this process remembers
    assert completeness.inputs_of(node, fresh=True) != before  # what a record must say
