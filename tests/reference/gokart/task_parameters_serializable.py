# Source: gokart v1.12.2, docs/task_parameters.rst, "gokart.SerializableParameter / Example".
# The runner builds DummyTask(config=Config(foo=1, bar='b')).
# gokart: MIT License, Copyright (c) 2018 M3, Inc. Copied verbatim except the import lines.
# ruff: noqa
# fmt: off
import json
from dataclasses import dataclass

from tests.reference.gokart._imports import gokart

@dataclass(frozen=True)
class Config:
    foo: int
    # The `bar` field does not affect the result of the task.
    # Similar to `luigi.Parameter(significant=False)`.
    bar: str

    def gokart_serialize(self) -> str:
        # Serialize only the `foo` field since `bar` is irrelevant for caching.
        return json.dumps({'foo': self.foo})

    @classmethod
    def gokart_deserialize(cls, s: str) -> 'Config':
        # Deserialize the object from the provided string.
        return cls(**json.loads(s))

class DummyTask(gokart.TaskOnKart):
    config: gokart.SerializableParameter[Config] = gokart.SerializableParameter(object_type=Config)

    def run(self):
        # Save the `config` object as part of the task result.
        self.dump(self.config)
