from __future__ import annotations

import pytest

from tasuki.argo import ResourcesError, k8s_resources


def test_resources_become_kubernetes_quantities() -> None:
    assert k8s_resources("T", {"cpu": 0.5, "memory": "512MiB", "ephemeral_storage": "10Gi"}) == {
        "requests": {"cpu": "0.5", "memory": "512Mi", "ephemeral-storage": "10Gi"},
        "limits": {"memory": "512Mi"},
    }
    assert k8s_resources("T", {"gpu": 2})["limits"] == {"nvidia.com/gpu": "2"}
    assert k8s_resources("T", None) == {}


@pytest.mark.parametrize(
    ("resources", "says"),
    [
        (["cpu", 2], "expected a mapping"),
        ({"memory": ["8Gi"]}, "is a list"),
        ({"cpu": True}, "is a bool"),
        ({"cpu": "two"}, "not a Kubernetes quantity"),
        ({"cpu": -1}, "not a Kubernetes quantity"),
        ({"gpu": 0.5}, "whole number"),
        ({"disk": "1Gi"}, "unknown resource"),
    ],
)
def test_wrong_resources_are_refused(resources: object, says: str) -> None:
    with pytest.raises(ResourcesError) as info:
        k8s_resources("mypkg:Train", resources)
    assert says in str(info.value)
    assert "mypkg:Train" in str(info.value)
