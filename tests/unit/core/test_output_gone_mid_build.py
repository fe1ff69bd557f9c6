"""An upstream output removed while a build runs is made again, not a failed build.

The build plans a requirement as complete (its output there, its record done); before the
task that reads it starts, the output goes (``tasuki gc`` keeping other runs, a person
clearing disk space). The reader's load raised FileNotFoundError, "Build the task again",
and the build failed with it: the build can do that itself, as it does for an output found
damaged (the producer runs again, then the reader).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.core.records import RunRecord
from tasuki.report.inventory import collect_garbage


class Source(tasuki.Task):
    def output(self):
        return self.make_target("source.pkl")

    def run(self):
        self.dump(list(range(10)))


class Middle(tasuki.Task):
    def requires(self):
        return Source()

    def output(self):
        return self.make_target("middle.pkl")

    def run(self):
        self.dump([v * 2 for v in self.load()])


class Reader(tasuki.Task):
    tag: str = ""

    def requires(self):
        return Middle()

    def output(self):
        return self.make_target("reader.json")

    def run(self):
        self.dump({"total": sum(self.load())})


class RemoveAtStart:
    """A hook that removes ``victims``' outputs when ``when``'s task starts, as a ``gc`` or a
    person does while the build runs."""

    def __init__(self, when: type[tasuki.Task], remove: Any) -> None:
        self.when, self.remove, self.done = when, remove, False

    def on_task_start(self, *, task: tasuki.Task, store: Any, **kwargs: Any) -> None:
        if isinstance(task, self.when) and not self.done:
            self.done = True
            self.remove(store)


def _ran(result: tasuki.BuildResult) -> list[str]:
    return sorted(r.name.rpartition(":")[2] for r in result.by_status("ran"))


@pytest.mark.parametrize("workers", [1, 2])
def test_an_upstream_output_removed_before_its_reader_loads_it_is_made_again(
    tmp_path: Path, workers: int, caplog: pytest.LogCaptureFixture
) -> None:
    ws = str(tmp_path / "ws")
    tasuki.build(Reader(), workspace=ws)

    def remove_middle(store: Any) -> None:
        store.remove(Middle().output().key)

    hook = RemoveAtStart(Reader, remove_middle)
    result = tasuki.run_build(
        Reader(tag="new"), workspace=ws, hooks=[hook], workers=workers, progress="off"
    )
    assert hook.done
    assert result.ok, result.summary()
    assert _ran(result) == ["Middle", "Reader"]  # Source, still there, is not run
    assert tasuki.load(Reader(tag="new"), workspace=ws) == {"total": 90}
    assert "found the output of Middle() gone" in caplog.text, caplog.text


@pytest.mark.parametrize("workers", [1, 2])
def test_gc_removing_a_run_the_build_reads_leaves_a_build_that_finishes(
    tmp_path: Path, workers: int
) -> None:
    """``tasuki gc --keep-newer-than 0`` keeping only another root, while a build reads the
    runs it removes: their records and outputs go, and the build makes them again."""
    ws = str(tmp_path / "ws")
    tasuki.build([Reader(), Source()], workspace=ws)

    def gc(store: Any) -> None:
        collect_garbage(store, [Source().unique_id], delete=True, keep_newer_than=0)

    hook = RemoveAtStart(Reader, gc)
    result = tasuki.run_build(
        Reader(tag="new"), workspace=ws, hooks=[hook], workers=workers, progress="off"
    )
    assert hook.done
    assert result.ok, result.summary()
    assert _ran(result) == ["Middle", "Reader"]
    assert RunRecord.read(tasuki.storage.open_store(ws), Middle().unique_id).done
    assert tasuki.load(Reader(tag="new"), workspace=ws) == {"total": 90}


def test_an_output_gone_again_after_it_was_made_again_fails_the_build(tmp_path: Path) -> None:
    """Removed on every start of the reader: one repair, then the failure is real."""
    ws = str(tmp_path / "ws")
    tasuki.build(Reader(), workspace=ws)

    class Always(RemoveAtStart):
        def on_task_start(self, *, task: tasuki.Task, store: Any, **kwargs: Any) -> None:
            if isinstance(task, Reader):
                self.done = True
                store.remove(Middle().output().key)

    result = tasuki.run_build(
        Reader(tag="new"), workspace=ws, hooks=[Always(Reader, None)], progress="off"
    )
    assert not result.ok
    (failed,) = result.by_status("failed")
    assert failed.error is not None and "not in workspace" in failed.error.message
    assert _ran(result) == ["Middle"]
