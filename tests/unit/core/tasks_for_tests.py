"""Task classes the core tests share (module level, so records can rebuild them by name)."""

from __future__ import annotations

import datetime as dt
import enum
import os
from pathlib import Path
from typing import Literal

import tasuki


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class TaskA(tasuki.Task):
    param: str

    def output(self):
        return self.make_target("task_a.pkl")

    def run(self):
        self.dump(f"hello {self.param}")


class TaskB(tasuki.Task):
    param: str
    upstream: tasuki.Task | None = None

    def requires(self):
        return self.upstream or TaskA(param=self.param)

    def output(self):
        return self.make_target("task_b.pkl")

    def run(self):
        self.dump(self.load() + "!!")


class AllTypes(tasuki.Task):
    s: str = "x"
    i: int = 1
    f: float = 0.5
    b: bool = False
    d: dt.date = dt.date(2024, 1, 31)
    t: dt.datetime = dt.datetime(2024, 1, 31, 12, 0)
    td: dt.timedelta = dt.timedelta(hours=1)
    p: Path = Path("data/x.csv")
    c: Colour = Colour.RED
    lit: Literal["a", "b"] = "a"
    opt: int | None = None
    li: list[int] = tasuki.param(default=[1, 2])
    tu: tuple[str, ...] = ("a",)
    di: dict[str, float] = tasuki.param(default={"k": 1.0})
    tasks: list[tasuki.Task] = tasuki.param(default=[])
    quiet: int = tasuki.param(default=0, significant=False, description="not part of the id")

    def run(self):
        self.dump(self.param_values)


class Leaf(tasuki.Task):
    i: int

    def run(self):
        self.dump(self.i)


class FanIn(tasuki.Task):
    n: int

    def requires(self):
        return [Leaf(i=i) for i in range(self.n)]

    def run(self):
        self.dump(sum(self.load()))


class Step(tasuki.Task):
    i: int
    prev: tasuki.Task | None = None

    def requires(self):
        return self.prev

    def run(self):
        self.dump(self.i + (self.load() if self.prev is not None else 0))


class Boom(tasuki.Task):
    """Fails; a marker file tells a retry test how many attempts were made."""

    marker: str = ""
    fail_times: int = 99

    def run(self):
        if self.marker:
            count = int(Path(self.marker).read_text()) if Path(self.marker).exists() else 0
            Path(self.marker).write_text(str(count + 1))
            if count >= self.fail_times:
                self.dump("finally")
                return
            raise ConnectionError(f"flaky attempt {count + 1}")
        raise ValueError("boom on purpose")


class NeedsBoom(tasuki.Task):
    def requires(self):
        return Boom()

    def run(self):
        self.dump("never")


class Sibling(tasuki.Task):
    def run(self):
        self.dump("fine")


class Top(tasuki.Task):
    def requires(self):
        return {"bad": NeedsBoom(), "good": Sibling()}

    def run(self):
        self.dump("never")


class NoDump(tasuki.Task):
    def run(self):
        pass


class Multi(tasuki.Task):
    def output(self):
        return {"a": self.make_target("a.json"), "b": self.make_target("b.txt")}

    def run(self):
        self.dump({"x": 1}, "a")
        self.dump("text", "b")
        self.task_log["note"] = "two outputs"


class UsesMulti(tasuki.Task):
    def requires(self):
        return {"m": Multi(), "a": TaskA(param="z")}

    def run(self):
        m = self.load("m")
        self.dump((m["a"]["x"], m["b"], self.load("a")))


class CycleA(tasuki.Task):
    n: int = 0

    def requires(self):
        return CycleB(n=self.n)


class CycleB(tasuki.Task):
    n: int = 0

    def requires(self):
        return CycleA(n=self.n)


class _PauseWhilePickled:
    """Pickled after a large first part: with ``SLOW_WRITE_SIGNAL`` set, says so and waits.

    pickle writes a large bytes object straight to the file, so when this runs the output's
    temporary already holds ``mb`` MiB: a test that kills the process on the signal kills it in
    the middle of the dump, whatever the machine's speed.
    """

    def __reduce__(self):
        import time

        signal = os.environ.get("SLOW_WRITE_SIGNAL")
        if signal:
            Path(signal).write_text("writing")
            time.sleep(120)  # the test kills or interrupts us here
        return (str, ("end",))


class SlowWrite(tasuki.Task):
    """Stops in the middle of writing its output (see ``_PauseWhilePickled``)."""

    mb: int = 16

    def output(self):
        return self.make_target("big.pkl")

    def run(self):
        self.dump([os.urandom(self.mb * 1024 * 1024), _PauseWhilePickled()])


class Counted(tasuki.Task):
    """Appends a line to a file each time it runs (to count runs across processes)."""

    key: str
    log_file: str = tasuki.param(default="", significant=False)
    sleep: float = tasuki.param(default=0.0, significant=False)

    def run(self):
        import time

        with open(self.log_file, "a") as f:
            f.write(f"{self.key}\n")
        time.sleep(self.sleep)
        self.dump(self.key)


class ModelTask(tasuki.Task):
    def output(self):
        return self.make_model_target(
            "model.zip", save_function=_save_model, load_function=_load_model
        )

    def run(self):
        self.dump({"weights": [1, 2, 3], "name": "m"})


def _save_model(model, directory):
    (directory / "weights.txt").write_text(",".join(map(str, model["weights"])))
    (directory / "meta").mkdir()
    (directory / "meta" / "name.txt").write_text(model["name"])


def _load_model(directory):
    return {
        "weights": [int(x) for x in (directory / "weights.txt").read_text().split(",")],
        "name": (directory / "meta" / "name.txt").read_text(),
    }
