# Source: gokart v1.12.2, docs/for_pandas.rst, "Easy to Load DataFrame" and "Fail on empty
# DataFrame" (run as `python main.py EmptyTask --fail-on-empty-dump true`, then without the
# flag). `# scaffold` lines make the load fragment a task and add the pandas import the doc
# leaves out.
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
import pandas as pd  # scaffold

from tests.reference.gokart._imports import gokart


class MakeDataFrameTask(gokart.TaskOnKart):  # scaffold
    def run(self):  # scaffold
        self.dump(pd.DataFrame(dict(a=[1, 2, 3], b=['x', 'y', 'z'])))  # scaffold


class LoadDataFrameTask(gokart.TaskOnKart):  # scaffold
    def requires(self):
        return MakeDataFrameTask()

    def run(self):
        df = self.load()
        self.dump(df[df['a'] > 1])  # scaffold


class EmptyTask(gokart.TaskOnKart):
    def run(self):
        df = pd.DataFrame()
        self.dump(df)
