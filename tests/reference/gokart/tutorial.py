# Source: gokart v1.12.2, docs/tutorial.rst, "5, Create Task" (gokart_example/model/sample.py),
# run as in the tutorial: `python main.py gokart_example.Sample --local-scheduler`, then
# `python main.py gokart_example.Main --local-scheduler` (gokart.run with those words).
# `GokartTask` comes from the cookiecutter-gokart project the tutorial starts from
# (gokart_example/utils/template.py: a TaskOnKart with the package's task_namespace); it is
# written out below since that project is not part of gokart's repository.
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from logging import getLogger
from tests.reference.gokart._imports import gokart


class GokartTask(gokart.TaskOnKart):  # cookiecutter-gokart's template (see above)
    task_namespace = 'gokart_example'


logger = getLogger(__name__)


class Sample(GokartTask):
    def run(self):
        self.dump('sample output')


class StringToSplit(GokartTask):
    """Like the function to divide received data by spaces."""
    task: gokart.TaskInstanceParameter = gokart.TaskInstanceParameter()

    def run(self):
        sample = self.load('task')
        self.dump(sample.split(' '))


class Main(GokartTask):
    """Endpoint task."""
    def requires(self):
        return StringToSplit(task=Sample())
