from __future__ import annotations

import pickle

import pytest

from tasuki.argo import ImageReferenceError, check_image
from tasuki.argo._names import dns_label_problem, dns_subdomain_problem


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11-slim",
        "ghcr.io/acme/recsys:1.4.2",
        "localhost:5000/recsys",
        "registry.example.com:443/team/sub/recsys:v2_rc.1",
        "acme/recsys@sha256:" + "a" * 64,
        "acme/re-cs__ys.x:latest",
        "[::1]:5000/recsys:1",
    ],
)
def test_valid_image_references(ref: str) -> None:
    assert check_image(ref) == ref


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("", "empty"),
        (" recsys", "spaces"),
        ("acme/RecSys:1", "repository path"),
        ("acme/recsys:", "tag"),
        ("acme/recsys:" + "x" * 129, "tag"),
        ("acme//recsys", "repository path"),
        ("acme/recsys@sha256:abc", "digest"),
        ("bad_host.io:port/recsys", "registry"),
        ("acme/recsys:1.0 --privileged", "tag"),
    ],
)
def test_invalid_image_reference_says_which_part(ref: str, says: str) -> None:
    with pytest.raises(ImageReferenceError) as info:
        check_image(ref)
    assert says in str(info.value)
    assert "REGISTRY" in str(info.value)  # the grammar, as the fix
    assert info.value.value == ref
    again = pickle.loads(pickle.dumps(info.value))
    assert again.value == ref


def test_kubernetes_names() -> None:
    assert dns_label_problem("t1a") is None
    assert "lower-case" in (dns_label_problem("Run_0") or "")
    assert "at most 63" in (dns_label_problem("a" * 64) or "")
    assert dns_subdomain_problem("tasuki-ab12.p0") is None
    assert dns_subdomain_problem("-x") is not None
