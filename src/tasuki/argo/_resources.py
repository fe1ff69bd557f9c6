"""A task class's ``resources`` as Kubernetes container resources.

A task declares what one run needs on its class (the same declaration the Dask executor maps
to worker resources): ``resources = {"cpu": 2, "memory": "8GiB", "gpu": 1}``. Kubernetes
wants quantities: ``"8GiB"`` becomes ``"8Gi"``, ``gpu`` becomes the ``nvidia.com/gpu``
limit. Anything else is refused here, at export, not by the cluster an hour later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tasuki.argo._errors import ResourcesError

__all__ = ["k8s_resources"]

_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P|E|Ei)?")
_BYTE_UNITS = {"KiB": "Ki", "MiB": "Mi", "GiB": "Gi", "TiB": "Ti", "KB": "k", "MB": "M", "GB": "G"}
_KNOWN = ("cpu", "memory", "gpu", "ephemeral_storage")


def _quantity(task: str, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ResourcesError(
            f"{task}: resources[{key!r}] = {value!r} is a {type(value).__name__}; expected a "
            "number or a Kubernetes quantity string such as '500m', '8GiB' or '8Gi'",
            task=task,
            key=key,
            value=repr(value),
        )
    text = str(value).strip()
    for unit, k8s in _BYTE_UNITS.items():
        if text.endswith(unit):
            text = text[: -len(unit)].strip() + k8s
            break
    if not _QUANTITY.fullmatch(text) or (isinstance(value, int | float) and value <= 0):
        raise ResourcesError(
            f"{task}: resources[{key!r}] = {value!r} is not a Kubernetes quantity; expected "
            "e.g. 2, 0.5, '500m', '8GiB' or '8Gi'",
            task=task,
            key=key,
            value=repr(value),
        )
    return text


def k8s_resources(task: str, resources: Any) -> dict[str, dict[str, str]]:
    """Kubernetes ``requests``/``limits`` for a task class's ``resources`` declaration.

    Args:
        task: The task's name, for messages.
        resources: ``None`` or a mapping of ``cpu``, ``memory``, ``gpu``, ``ephemeral_storage``.

    Raises:
        ResourcesError: not a mapping, an unknown key, or a value of the wrong type.

    Example:
        >>> k8s_resources("T", {"cpu": 2, "memory": "8GiB", "gpu": 1})["limits"]
        {'memory': '8Gi', 'nvidia.com/gpu': '1'}
    """
    if resources is None:
        return {}
    if not isinstance(resources, Mapping):
        raise ResourcesError(
            f"{task}: resources = {resources!r} is a {type(resources).__name__}; expected a "
            'mapping such as {"cpu": 2, "memory": "8GiB", "gpu": 1}',
            task=task,
            value=repr(resources),
        )
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    for key, value in resources.items():
        if key not in _KNOWN:
            raise ResourcesError(
                f"{task}: unknown resource {key!r}; known: {', '.join(_KNOWN)}",
                task=task,
                key=key,
            )
        if key == "gpu":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ResourcesError(
                    f"{task}: resources['gpu'] = {value!r} must be a whole number of GPUs",
                    task=task,
                    key=key,
                    value=repr(value),
                )
            if value:
                limits["nvidia.com/gpu"] = str(value)
            continue
        quantity = _quantity(task, key, value)
        name = "ephemeral-storage" if key == "ephemeral_storage" else key
        requests[name] = quantity
        if key == "memory":  # memory over the request gets the pod OOM-killed anyway
            limits[name] = quantity
    out: dict[str, dict[str, str]] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out
