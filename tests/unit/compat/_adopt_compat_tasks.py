"""A compat task for the adoption tests (imported only where tasuki.compat.gokart exists)."""

from __future__ import annotations

import tasuki.compat.gokart as gokart
import tasuki.compat.luigi as luigi


class Checked(gokart.TaskOnKart):
    n = luigi.IntParameter(default=1)

    def run(self) -> None:
        self.dump(self.n)


class Texts(gokart.TaskOnKart):
    def output(self):  # type: ignore[no-untyped-def]
        return {"t": self.make_target("c/t.txt"), "j": self.make_target("c/f.json")}

    def run(self) -> None:
        import pandas as pd

        self.dump("a\nb", "t")
        self.dump(pd.DataFrame({"a": [1, 2]}), "j")
