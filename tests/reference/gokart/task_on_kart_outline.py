# Source: gokart v1.12.2, docs/task_on_kart.rst, "Outline". The runner runs the
# `if __name__ == '__main__':` line itself (the module is imported, not run as a script).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart, luigi


class TaskA(gokart.TaskOnKart[str]):
    param: luigi.Parameter = luigi.Parameter()

    def output(self):
        return self.make_target('output_of_task_a.pkl')

    def run(self):
        results = f'param={self.param}'
        self.dump(results)


class TaskB(gokart.TaskOnKart[str]):
    param: luigi.Parameter = luigi.Parameter()

    def requires(self):
        return TaskA(param='world')

    def output(self):
        # `make_target` makes an instance of `luigi.Target`.
        # This infers the output format and the destination of an output objects.
        # The target file path is
        #     '{self.workspace_directory}/output_of_task_b_{self.make_unique_id()}.pkl'.
        return self.make_target('output_of_task_b.pkl')

    def run(self):
        # `load` loads input data. In this case, this loads the output of `TaskA`.
        output_of_task_a = self.load()
        results = f'Task A: {output_of_task_a}\nTaskB: param={self.param}'
        # `dump` writes `results` to the file path of `self.output()`.
        self.dump(results)


if __name__ == '__main__':
    print(gokart.build([TaskB(param='Hello')]))
