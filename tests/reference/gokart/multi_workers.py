# Source: gokart v1.12.2, docs/efficient_run_on_multi_workers.rst: `should_lock_run = True`
# and `complete_check_at_run = False` set on a task class. `# scaffold` lines give the
# classes a run().
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import gokart


class SampleTask2(gokart.TaskOnKart):
    should_lock_run = True

    def run(self):  # scaffold
        self.dump('locked run')  # scaffold


class SampleTask1(gokart.TaskOnKart):
    complete_check_at_run = False

    def run(self):  # scaffold
        self.dump('no complete check at run')  # scaffold
