# Source: gokart v1.12.2, docs/task_settings.rst, "Fix random seed". torch is installed on
# neither side, so its import and its `z` line are left out (`torch.random.manual_seed` stays
# in the list: gokart skips a method whose module is missing); `# scaffold` lines add the
# imports the doc uses but does not write (Any, np). The runner also builds Task() with
# gokart's default seed (derived from the task's gokart unique id).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from typing import Any  # scaffold
import numpy as np  # scaffold

from tests.reference.gokart._imports import gokart
import random
import numpy

class Task(gokart.TaskOnKart[dict[str, Any]]):
    def run(self):
        x = [random.randint(0, 100) for _ in range(0, 10)]
        y = [np.random.randint(0, 100) for _ in range(0, 10)]
        self.dump({'random': x, 'numpy': y})

gokart.build(
    Task(
        fix_random_seed_methods=[
            "random.seed",
            "numpy.random.seed",
            "torch.random.manual_seed"],
        fix_random_seed_value=57))
