"""Task classes the Dask tests run (module level: workers import them by name)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import tasuki


def _note(log: str, line: str) -> None:
    if log:
        with open(log, "a") as f:
            f.write(line + "\n")


class Step(tasuki.Task):
    """One link of a chain: ``n`` steps deep, each appending its number to the list."""

    n: int
    log: str = tasuki.param(default="", significant=False)

    def requires(self):
        return Step(n=self.n - 1, log=self.log) if self.n > 0 else None

    def output(self):
        return self.make_target("step.pkl")

    def run(self):
        before = self.load() if self.n > 0 else []
        _note(self.log, f"ran {self.n} pid {os.getpid()}")
        self.dump([*before, self.n])


class Fails(tasuki.Task):
    """Always fails, with a non-retryable error."""

    n: int = 0

    def requires(self):
        return Step(n=self.n)

    def run(self):
        logging.getLogger(__name__).warning("about to fail on purpose")
        raise ValueError("this task always fails")


class AfterFails(tasuki.Task):
    def requires(self):
        return Fails()

    def run(self):
        self.dump(1)


class Flaky(tasuki.Task):
    """Fails with a retryable error until it has been tried ``failures`` times."""

    marker: str
    failures: int = 1

    def run(self):
        path = Path(self.marker)
        tries = len(path.read_text().splitlines()) if path.exists() else 0
        with path.open("a") as f:
            f.write(f"{os.getpid()}\n")
        if tries < self.failures:
            raise ConnectionError(f"flaky: try {tries + 1}")
        self.dump(tries + 1)


class OnGpu(tasuki.Task):
    """Asks for one GPU and a size of memory."""

    resources = {"gpu": 1, "memory": "1KiB"}
    n: int = 0

    def run(self):
        self.dump(self.n)


class BadResources(tasuki.Task):
    resources = {"gpu": [1]}

    def run(self):
        self.dump(0)


class TooMuchGpu(tasuki.Task):
    resources = {"gpu": 64}

    def run(self):
        self.dump(0)


class KilledOnce(tasuki.Task):
    """SIGKILLs its own worker on its first try, mid-task; the rerun writes the output."""

    marker: str

    def run(self):
        path = Path(self.marker)
        first = not path.exists()
        with path.open("a") as f:
            f.write(f"start {os.getpid()}\n")
        if first:
            os.kill(os.getpid(), signal.SIGKILL)
        self.dump("survived")
        with path.open("a") as f:
            f.write("finished\n")


class TakesTask(tasuki.Task):
    """Holds another task as a parameter (rebuilt from its own definition on a worker)."""

    upstream: tasuki.Task
    factor: float = 0.1

    def requires(self):
        return self.upstream

    def run(self):
        self.dump([x * self.factor for x in self.load()])


class Nap(tasuki.Task):
    """Sleeps a little and says which process ran it."""

    i: int

    def run(self):
        import time

        time.sleep(0.3)
        self.dump(os.getpid())


class Fan(tasuki.Task):
    n: int

    def requires(self):
        return [Nap(i=i) for i in range(self.n)]

    def run(self):
        self.dump(sorted(set(self.load())))


class GpuAfter(tasuki.Task):
    """Asks for a GPU and needs a task that asks for none."""

    resources = {"gpu": 1}
    n: int = 1

    def requires(self):
        return Step(n=self.n)

    def run(self):
        self.dump(sum(self.load()))


class CpuAfterGpu(tasuki.Task):
    n: int = 1

    def requires(self):
        return GpuAfter(n=self.n)

    def run(self):
        self.dump(self.load() * 10)


class FileText(tasuki.Task):
    """What a file says when it runs."""

    path: str

    def output(self):
        return self.make_target("text.pkl")

    def run(self):
        self.dump(Path(self.path).read_text())


class Shout(tasuki.Task):
    path: str

    def requires(self):
        return FileText(path=self.path)

    def output(self):
        return self.make_target("shout.pkl")

    def run(self):
        self.dump(self.load().upper())
