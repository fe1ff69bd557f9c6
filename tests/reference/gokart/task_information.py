# Source: gokart v1.12.2, docs/task_information.rst, "3. make_task_info_as_tree_str()":
# the example's tasks and its tree (printed with abbreviated repeats and with abbr=False).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import from_gokart, gokart, luigi

make_task_info_as_tree_str = from_gokart('tree.task_info', 'make_task_info_as_tree_str')

class TaskA(gokart.TaskOnKart[str]):
    param = luigi.Parameter()
    def run(self):
        self.dump(f'{self.param}')

class TaskB(gokart.TaskOnKart[str]):
    task: gokart.TaskOnKart[str] = gokart.TaskInstanceParameter()
    def run(self):
        task = self.load('task')
        self.dump(task + ' taskB')

class TaskC(gokart.TaskOnKart[str]):
    task: gokart.TaskOnKart[str] = gokart.TaskInstanceParameter()
    def run(self):
        task = self.load('task')
        self.dump(task + ' taskC')

class TaskD(gokart.TaskOnKart):
    task1: gokart.TaskOnKart[str] = gokart.TaskInstanceParameter()
    task2: gokart.TaskOnKart[str] = gokart.TaskInstanceParameter()
    def run(self):
        task = [self.load('task1'), self.load('task2')]
        self.dump(','.join(task))

task = TaskD(
    task1=TaskD(
        task1=TaskD(task1=TaskC(task=TaskA(param='foo')), task2=TaskC(task=TaskB(task=TaskA(param='bar')))),  # same task
        task2=TaskD(task1=TaskC(task=TaskA(param='foo')), task2=TaskC(task=TaskB(task=TaskA(param='bar'))))   # same task
    ),
    task2=TaskD(
        task1=TaskD(task1=TaskC(task=TaskA(param='foo')), task2=TaskC(task=TaskB(task=TaskA(param='bar')))),  # same task
        task2=TaskD(task1=TaskC(task=TaskA(param='foo')), task2=TaskC(task=TaskB(task=TaskA(param='bar'))))   # same task
    )
)
print(gokart.make_task_info_as_tree_str(task))

print(make_task_info_as_tree_str(task, abbr=False))
