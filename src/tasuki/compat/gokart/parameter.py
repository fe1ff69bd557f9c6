"""gokart's ``gokart.parameter``: the parameters gokart adds to luigi's."""

from tasuki.compat._config_class import SerializableParameter
from tasuki.compat._task import (
    ExplicitBoolParameter,
    ListTaskInstanceParameter,
    TaskInstanceParameter,
)

__all__ = [
    "ExplicitBoolParameter",
    "ListTaskInstanceParameter",
    "SerializableParameter",
    "TaskInstanceParameter",
]
