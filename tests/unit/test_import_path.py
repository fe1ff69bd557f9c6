"""The one ``package.module:attr`` importer: registries, lazy package attributes, enum
parameters in task definitions, code dependencies and task paths all resolve through it."""

from __future__ import annotations

import collections
import os.path

import pytest

import tasuki.service
import tasuki.warehouse
from tasuki._registry import import_path, lazy_attribute, split_path


def test_a_path_names_an_attribute_of_a_module() -> None:
    assert import_path("os.path:join") is os.path.join
    assert import_path("collections:OrderedDict.fromkeys") == collections.OrderedDict.fromkeys


@pytest.mark.parametrize(
    ("path", "options", "parts"),
    [
        ("pkg.mod:Cls", {}, ("pkg.mod", "Cls")),
        ("pkg.mod:Cls.inner", {}, ("pkg.mod", "Cls.inner")),
        ("pkg.mod.Cls", {"dotted": True}, ("pkg.mod", "Cls")),
        ("pkg.mod:Cls", {"dotted": True}, ("pkg.mod", "Cls")),
        ("pkg.mod", {"bare_module": True}, ("pkg.mod", "")),
        ("pkg.mod:", {"bare_module": True}, ("pkg.mod", "")),
    ],
)
def test_the_forms(path: str, options: dict[str, bool], parts: tuple[str, str]) -> None:
    assert split_path(path, **options) == parts


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("pkg.mod", {}),
        ("pkg.mod:", {}),
        (":Cls", {}),
        ("", {}),
        ("pkg mod:Cls", {}),
        ("pkg.mod:Cls:x", {}),
        ("pkg..mod:Cls", {}),
        ("Cls", {"dotted": True}),
        (":Cls", {"bare_module": True}),
    ],
)
def test_a_malformed_path_is_named_with_the_expected_form(
    path: str, options: dict[str, bool]
) -> None:
    with pytest.raises(ImportError, match=r"is not of the form 'package\.module:attr'") as info:
        import_path(path, **options)
    assert repr(path) in str(info.value)


def test_a_bare_module_is_the_module_when_asked() -> None:
    assert import_path("os.path", bare_module=True) is os.path


def test_a_missing_module_or_attribute_says_which() -> None:
    with pytest.raises(ModuleNotFoundError) as missing:
        import_path("tasuki_no_such_module.x:Y")
    assert missing.value.name == "tasuki_no_such_module"
    with pytest.raises(AttributeError, match=r"'os\.path:nope\.x' names nothing: os\.path has no"):
        import_path("os.path:nope.x")
    with pytest.raises(AttributeError, match=r"collections\.OrderedDict has no attribute 'nope'"):
        import_path("collections:OrderedDict.nope")


def test_lazy_package_attributes() -> None:
    lazy = {"join": "os.path"}
    assert lazy_attribute("pkg", lazy, "join") is os.path.join
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'other'"):
        lazy_attribute("pkg", lazy, "other")
    # The packages that use it.
    from tasuki.warehouse._client import QueryClient

    assert tasuki.warehouse.QueryClient is QueryClient is tasuki.service.QueryClient
    with pytest.raises(AttributeError, match=r"module 'tasuki\.service' has no attribute"):
        _ = tasuki.service.NoSuchThing
