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

from pathlib import Path
from typing import Any

import pytest

import tasuki
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
