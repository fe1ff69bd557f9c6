"""Task classes of the Argo tests (module level: replayed steps import them by name)."""

from __future__ import annotations

from typing import ClassVar

import tasuki


class Leaf(tasuki.Task):
    i: int

    def run(self):
        self.dump(self.i * 2)


class Sum(tasuki.Task):
    n: int

    def requires(self):
        return [Leaf(i=i) for i in range(self.n)]

    def run(self):
        self.dump(sum(self.load()))


class Link(tasuki.Task):
    """One link of a chain; cheap links may share a pod."""

    i: int
    prev: tasuki.Task | None = None
    cheap: ClassVar[bool] = True

    def requires(self):
        return self.prev

    def run(self):
        self.dump(self.i + (self.load() if self.prev is not None else 0))


class Heavy(tasuki.Task):
    """Needs a GPU; depends on a chain."""

    n: int = 3
    # No annotation: Task.__init_subclass__ turns an annotated dict default into a parameter
    # default, even under ClassVar.
    resources = {"cpu": 2, "memory": "8GiB", "gpu": 1}

    def requires(self):
        link = None
        for i in range(self.n):
            link = Link(i=i, prev=link)
        return link

    def run(self):
        self.dump(self.load() * 10)


class BadResources(tasuki.Task):
    resources = {"memory": ["8Gi"]}

    def run(self):
        self.dump(1)


def chain(n: int) -> Link:
    link = None
    for i in range(n):
        link = Link(i=i, prev=link)
    assert link is not None
    return link


class Report(tasuki.Task):
    """A fan-in and a cheap chain joined: one plain step per leaf, one packed chain."""

    n: int = 3
    links: int = 4

    def requires(self):
        return {"sum": Sum(n=self.n), "chain": chain(self.links)}

    def output(self):
        return self.make_target("report.json")

    def run(self):
        got = self.load()
        self.dump({"sum": got["sum"], "chain": got["chain"]})


class Hop(tasuki.Task):
    """One link of a chain of tasks that are not cheap: one pod each."""

    i: int
    prev: tasuki.Task | None = None

    def requires(self):
        return self.prev

    def run(self):
        self.dump([*(self.load() if self.prev is not None else []), self.i])


class Hops(tasuki.Task):
    """A chain of ``n`` hops and the task at its end."""

    n: int = 5

    def requires(self):
        hop = None
        for i in range(self.n):
            hop = Hop(i=i, prev=hop)
        return hop

    def run(self):
        self.dump(self.load())
