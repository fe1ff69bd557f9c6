# Source: gokart v1.12.2, docs/tutorial.rst, "6, Rerun Task", the first way (the `rerun`
# parameter). Sample and StringToSplit are the tutorial's ("5, Create Task": tutorial.py).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart.tutorial import GokartTask, Sample, StringToSplit

class Main(GokartTask):
    rerun=True

    def requires(self):
        return StringToSplit(task=Sample(rerun=True), rerun=True)
