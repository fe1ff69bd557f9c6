# Source: gokart v1.12.2, docs/setting_task_parameters.rst: "Set parameter from command
# line", "Set parameter at config file" (the config texts are in the runner, _run.py) and
# "Set parameter at upstream task". The doc's SomeTask (module `sample`) is not shown; the
# lines marked `# scaffold` write it: a string parameter `param`, dumped by run().
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart, luigi


class SomeTask(gokart.TaskOnKart):  # scaffold
    task_namespace = 'sample'  # scaffold: the doc's family is sample.SomeTask
    param = luigi.Parameter()  # scaffold

    def run(self):  # scaffold
        self.dump(self.param)  # scaffold


class UpstreamTask(gokart.TaskOnKart):
    def requires(self):
        return dict(sometask=SomeTask(param='Hello'))
