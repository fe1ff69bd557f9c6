# Source: gokart v1.12.2, README.md, "Quickstart / Minimal Example".
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import line.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart

class Example(gokart.TaskOnKart):
    def run(self):
        self.dump('Hello, world!')

task = Example()
output = gokart.build(task)
print(output)
