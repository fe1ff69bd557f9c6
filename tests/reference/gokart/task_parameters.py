# Source: gokart v1.12.2, docs/task_parameters.rst, "Luigi Parameter" and
# "gokart.TaskInstanceParameter".
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart, luigi


class Task(gokart.TaskOnKart):
    param_a: luigi.Parameter = luigi.Parameter()
    param_c: luigi.ListParameter = luigi.ListParameter()
    param_d: luigi.IntParameter = luigi.IntParameter(default=1)


class TaskA(gokart.TaskOnKart[str]):
    def run(self):
        self.dump('Hello')


class TaskB(gokart.TaskOnKart[str]):
    require_task: gokart.TaskInstanceParameter = gokart.TaskInstanceParameter()

    def requires(self):
        return self.require_task

    def run(self):
        task_a = self.load()
        self.dump(','.join([task_a, 'world']))

task = TaskB(require_task=TaskA())
print(gokart.build(task))  # Hello,world
