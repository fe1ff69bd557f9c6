# Source: gokart v1.12.2, docs/intro_to_gokart.rst, "Quickstart".
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import line.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart

class Example(gokart.TaskOnKart[str]):
    def run(self):
        self.dump('Hello, world!')

task = Example()
output = gokart.build(task)
print(output)
