# Source: gokart v1.12.2, docs/intro_to_gokart.rst, "gokart.build" (both snippets; the second
# uses `logging`, whose import the doc leaves out).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
import logging

from tests.reference.gokart._imports import gokart, luigi

class SampleTask(gokart.TaskOnKart[str]):
    param: luigi.Parameter = luigi.Parameter()

    def run(self):
        self.dump(self.param)

gokart.build(SampleTask(param='hello'), return_value=False)

gokart.build(SampleTask(param='hello'), return_value=False, log_level=logging.DEBUG)
