# Source: gokart v1.12.2, docs/task_on_kart.rst, "TaskOnKart.make_target": the doc's
# `return self.make_target('file_name.pkl')` with each extension the doc lists as supported
# (and .ndjson, which gokart 1.12 also has). `# scaffold` lines make it a task with a value
# of the kind each format holds.
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
import xml.etree.ElementTree as ET  # scaffold

import numpy as np  # scaffold
import pandas as pd  # scaffold

from tests.reference.gokart._imports import gokart, luigi

FRAME = pd.DataFrame(dict(i=[1, 2, 3], f=[0.5, 1.5, 2.5], s=['x', 'y', 'z']))  # scaffold
VALUES = {  # scaffold
    '.pkl': {'a': [1, 2], 'b': 'text'},  # scaffold
    '.txt': ['line one', 'line two'],  # scaffold
    '.csv': FRAME,  # scaffold
    '.tsv': FRAME,  # scaffold
    '.gz': ['zipped one', 'zipped two'],  # scaffold
    '.json': FRAME,  # scaffold
    '.ndjson': FRAME,  # scaffold
    '.xml': ET.ElementTree(ET.fromstring('<root><item n="1">x</item></root>')),  # scaffold
    '.npz': np.arange(6).reshape(2, 3),  # scaffold
    '.parquet': FRAME,  # scaffold
    '.feather': FRAME.set_index('s'),  # scaffold
    '.png': b'\x89PNG\r\n\x1a\n not really an image',  # scaffold
    '.jpg': b'\xff\xd8\xff not really an image',  # scaffold
    '.ini': ['[section]', 'key = value'],  # scaffold
}  # scaffold


class DumpFormat(gokart.TaskOnKart):  # scaffold
    extension = luigi.Parameter()  # scaffold

    def output(self):
        return self.make_target(f'file_name{self.extension}')  # the doc's line, each extension

    def run(self):  # scaffold
        self.dump(VALUES[self.extension])  # scaffold
