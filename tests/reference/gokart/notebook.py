# Source: gokart v1.12.2, examples/gokart_notebook_example.ipynb, code cells 1, 4, 6 and 8 in
# order (cell 0, `!pip list | grep gokart`, is a shell command). Run with examples/param.ini
# read first (gokart.add_config). gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied
# verbatim except the import lines (cell 1), which pick the real gokart or tasuki.compat.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart, luigi

class ExampleTaskA(gokart.TaskOnKart):
    param = luigi.Parameter()
    int_param = luigi.IntParameter(default=2)

    def run(self):
        self.dump(f'DONE {self.param}_{self.int_param}')

    
task_a = ExampleTaskA(param='example')
output = gokart.build(task=task_a)
print(output)

class ExampleTaskC(gokart.TaskOnKart):
    def run(self):
        self.dump('TASKC')
    
class ExampleTaskD(gokart.TaskOnKart):
    def run(self):
        self.dump('TASKD')

class ExampleTaskB(gokart.TaskOnKart):
    param = luigi.Parameter()

    def requires(self):
        return dict(task_c=ExampleTaskC(), task_d=ExampleTaskD())

    def run(self):
        task_c = self.load('task_c')
        task_d = self.load('task_d')
        self.dump(f'DONE {self.param}_{task_c}_{task_d}')
    
task_b = ExampleTaskB(param='example')
output = gokart.build(task=task_b)
print(output)

class ExampleTaskC(gokart.TaskOnKart):
    def run(self):
        self.dump('TASKC')
    
class ExampleTaskD(gokart.TaskOnKart):
    def run(self):
        self.dump('TASKD')

class ExampleTaskB(gokart.TaskOnKart):
    param = luigi.Parameter()
    task_1 = gokart.TaskInstanceParameter()
    task_2 = gokart.TaskInstanceParameter()

    def requires(self):
        return dict(task_1=self.task_1, task_2=self.task_2)  # required tasks are decided from the task parameters `task_1` and `task_2`

    def run(self):
        task_1 = self.load('task_1')
        task_2 = self.load('task_2')
        self.dump(f'DONE {self.param}_{task_1}_{task_2}')
    
task_b = ExampleTaskB(param='example', task_1=ExampleTaskC(), task_2=ExampleTaskD())  # Dependent tasks are defined here
output = gokart.build(task=task_b)
print(output)
