"""A compat task for the adoption tests (imported only where tasuki.compat.gokart exists)."""

from __future__ import annotations

import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi


class Checked(gokart.TaskOnKart):
    n = luigi.IntParameter(default=1)

    def run(self) -> None:
        self.dump(self.n)
