# Source: gokart v1.12.2, docs/task_settings.rst, "Rerun task": the doc's Task (run as
# `python main.py Task --local-scheduler --rerun` and `gokart.build(Task(rerun=True))`) and
# its TaskA with an arbitrary parameter. The doc describes the TaskA -> TaskB -> TaskC
# pipeline in words; `# scaffold` lines write it (B and C take the task before them).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart, luigi


# main.py
class Task(gokart.TaskOnKart[str]):
    def run(self):
        self.dump('hello')


class TaskA(gokart.TaskOnKart):
    __version: luigi.IntParameter = luigi.IntParameter(default=1)

    def run(self):  # scaffold
        self.dump(f'A{self.__version}')  # scaffold


class TaskB(gokart.TaskOnKart):  # scaffold
    task = gokart.TaskInstanceParameter()  # scaffold

    def run(self):  # scaffold
        self.dump(self.load('task') + ' B')  # scaffold


class TaskC(gokart.TaskOnKart):  # scaffold
    task = gokart.TaskInstanceParameter()  # scaffold

    def run(self):  # scaffold
        self.dump(self.load('task') + ' C')  # scaffold
