"""The answers of `tasuki new`: each bad one is refused with its value, the rule and a fix."""

from __future__ import annotations

import pytest

from tasuki.errors import ConfigError
from tasuki.project._names import (
    check_executor,
    check_package,
    check_warehouse,
    package_from_folder,
)


@pytest.mark.parametrize("name", ["recsys", "my_project", "_private", "ml2"])
def test_good_package_names(name: str) -> None:
    assert check_package(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("my-project", "not a Python identifier"),
        ("2fast", "not starting with a digit"),
        ("", "not a Python identifier"),
        ("RecSys", "upper-case"),
        ("café", "not a Python identifier"),
        ("class", "keyword"),
        ("match", "keyword"),  # a soft keyword: `import match` works, `match` statements break
        ("test", "a library"),  # not in sys.stdlib_module_names, but pytest trips on it
        ("json", "standard library"),
        ("tasuki", "a library"),
        ("pandas", "a library"),
    ],
)
def test_bad_package_names_say_value_rule_and_fix(name: str, rule: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_package(name)
    message = str(err.value)
    assert repr(name) in message
    assert rule in message
    assert "--package" in message


def test_package_from_folder() -> None:
    assert package_from_folder("My-Recsys.v2") == "my_recsys_v2"


def test_executor_choices() -> None:
    assert check_executor("dask") == "dask"
    with pytest.raises(ConfigError, match=r"'argo'.*local, inline, dask"):
        check_executor("argo")


def test_warehouse_url() -> None:
    assert check_warehouse("") == ""
    assert check_warehouse("duckdb:///data/dwh.duckdb") == "duckdb:///data/dwh.duckdb"
    with pytest.raises(ConfigError, match="has no scheme"):
        check_warehouse("localhost:5432")
    with pytest.raises(ConfigError, match="password") as err:
        check_warehouse("postgresql://alice:s3cret@db/dwh")
    assert "s3cret" not in str(err.value)
