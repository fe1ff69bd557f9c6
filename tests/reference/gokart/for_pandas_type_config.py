# Source: gokart v1.12.2, docs/for_pandas.rst, "Pandas Type Config" (SampleTask's dump fails
# with a PandasTypeError: the expected way).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from typing import Any, Dict
import pandas as pd
from tests.reference.gokart._imports import gokart


# Please define a class which inherits `gokart.PandasTypeConfig`.
class SamplePandasTypeConfig(gokart.PandasTypeConfig):

    @classmethod
    def type_dict(cls) -> Dict[str, Any]:
        return {'int_column': int}


class SampleTask(gokart.TaskOnKart[pd.DataFrame]):

    def run(self):
        # [PandasTypeError] because expected type is `int`, but `str` is passed.
        df = pd.DataFrame(dict(int_column=['a']))
        self.dump(df)
