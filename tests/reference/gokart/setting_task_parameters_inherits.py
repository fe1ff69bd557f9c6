# Source: gokart v1.12.2, docs/setting_task_parameters.rst, "Inherit parameter from other
# task", first snippet (the [MasterConfig] values are in the runner, _run.py). The doc does
# not show where inherits_config_params comes from: gokart.config_params. `# scaffold` lines
# give SomeTask a run().
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
from tests.reference.gokart._imports import from_gokart, gokart, luigi

inherits_config_params = from_gokart('config_params', 'inherits_config_params')


class MasterConfig(luigi.Config):
    param: luigi.Parameter = luigi.Parameter()
    param2: luigi.Parameter = luigi.Parameter()

@inherits_config_params(MasterConfig)
class SomeTask(gokart.TaskOnKart):
    param: luigi.Parameter = luigi.Parameter()

    def run(self):  # scaffold
        self.dump(self.param)  # scaffold
