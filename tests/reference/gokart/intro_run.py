# Source: gokart v1.12.2, docs/intro_to_gokart.rst, "gokart.run". The runner imports it with
# sys.argv = ['sample.py', 'SampleTask', '--local-scheduler', '--param=hello'] (the doc's
# `python sample.py SampleTask --local-scheduler --param=hello`).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart, luigi

class SampleTask(gokart.TaskOnKart[str]):
    param = luigi.Parameter()

    def run(self):
        self.dump(self.param)

gokart.run()
