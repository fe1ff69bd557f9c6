# Source: gokart v1.12.2, docs/tutorial.rst, "6, Rerun Task", the second way: sample.py of
# "5, Create Task" with Sample given a `version` parameter. (The doc's dump text has no f
# prefix, so it dumps the braces as written: kept verbatim.) `GokartTask` stands for
# cookiecutter-gokart's template, as in tutorial.py.
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from logging import getLogger
from tests.reference.gokart._imports import gokart, luigi


class GokartTask(gokart.TaskOnKart):  # cookiecutter-gokart's template
    task_namespace = 'gokart_example'


logger = getLogger(__name__)


class Sample(GokartTask):
    version: luigi.IntParameter = luigi.IntParameter(default=1)

    def run(self):
        self.dump('sample output version {self.version}')


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
