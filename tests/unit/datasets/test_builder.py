"""DatasetBuilder: checked when defined (naming class and attribute), configs, discovery."""

from __future__ import annotations

import sys
import textwrap

import pytest

import tasuki
from tasuki.datasets import DatasetBuilder, builder_names, find_builder, register_builder
from tasuki.datasets._builder import parse_semver
from tasuki.datasets._discover import builders
from tasuki.errors import ConfigError


class Rows(tasuki.Task):
    n: int = 3

    def output(self):
        return self.make_target("rows.pkl")

    def run(self):
        self.dump([{"x": i} for i in range(self.n)])


def _define(cls_name="Things", **attrs):
    body = {
        "name": "team/things",
        "VERSION": "1.0.0",
        "RELEASE_NOTES": {"1.0.0": "first"},
        "splits": lambda self: {"train": Rows()},
        **attrs,
    }
    return type(cls_name, (DatasetBuilder,), body)


@pytest.mark.parametrize(
    ("attrs", "attribute", "words"),
    [
        ({"VERSION": "1.0"}, "VERSION", "MAJOR.MINOR.PATCH"),
        ({"VERSION": "v1.0.0"}, "VERSION", "'v1.0.0'"),
        ({"VERSION": "1.02.0"}, "VERSION", "not a semantic version"),
        ({"RELEASE_NOTES": {}}, "RELEASE_NOTES", "no note for VERSION '1.0.0'"),
        ({"RELEASE_NOTES": {"1.0.0": "  "}}, "RELEASE_NOTES", "no note"),
        ({"RELEASE_NOTES": {"1.0.0": "a", "one": "b"}}, "RELEASE_NOTES", "'one'"),
        ({"name": "Team/Things"}, "name", "'Team/Things' is not a dataset name"),
        ({"name": "team things"}, "name", "lower-case"),
        ({"CONFIGS": {"Big": {}}}, "CONFIGS", "'Big' is not a dataset config name"),
        ({"CONFIGS": {"jp": ["country"]}}, "CONFIGS", "config 'jp' maps to list"),
        ({"CONFIGS": {}}, "CONFIGS", "non-empty dict"),
        ({"columns": {"x": 1}}, "columns", "column name -> documentation"),
        ({"description": None}, "description", "string"),
        ({"SHARD_ROWS": 0}, "SHARD_ROWS", "positive int"),
    ],
)
def test_a_bad_builder_fails_when_defined_naming_class_and_attribute(attrs, attribute, words):
    with pytest.raises(ConfigError) as err:
        _define(**attrs)
    message = str(err.value)
    assert f"{__name__}:Things.{attribute}:" in message
    assert words in message
    assert err.value.attribute == attribute


def test_splits_must_be_defined():
    with pytest.raises(ConfigError, match=r"Things\.splits: define splits"):
        type(
            "Things",
            (DatasetBuilder,),
            {"name": "a/b", "VERSION": "1.0.0", "RELEASE_NOTES": {"1.0.0": "x"}},
        )


def test_a_parent_without_name_is_abstract_and_checked_when_used():
    base = type("TeamBase", (DatasetBuilder,), {"description": "shared"})
    with pytest.raises(ConfigError, match="needs a name"):
        base()
    with pytest.raises(ConfigError, match="needs a name"):
        register_builder(base)


def test_semver_parse():
    assert parse_semver("10.2.3") == (10, 2, 3)
    for bad in ("1.2", "1.2.3-rc1", "01.2.3", "", None, 1):
        with pytest.raises(ConfigError, match="not a semantic version"):
            parse_semver(bad)


def test_configs_default_and_named():
    plain = _define()()
    assert plain.config_name == "default" and plain.config == {}
    named = _define(CONFIGS={"jp": {"country": "jp"}, "all": {"country": None}})
    assert named.config_names() == ["jp", "all"]
    assert named("jp").config == {"country": "jp"}
    with pytest.raises(ConfigError, match=r"no config 'jpp'.*jp, all.*Did you mean 'jp'"):
        named("jpp")
    only = _define(CONFIGS={"jp": {"country": "jp"}})
    assert only().config_name == "jp"  # the only config is the default one


def test_split_tasks_are_checked():
    def splits_of(value):
        return _define(splits=lambda self: value)().split_tasks()

    assert list(splits_of({"train": Rows(), "test": [Rows(n=1), Rows(n=2)]})) == ["train", "test"]
    with pytest.raises(ConfigError, match="non-empty dict"):
        splits_of({})
    with pytest.raises(ConfigError, match="'Train' is not a split name"):
        splits_of({"Train": Rows()})
    with pytest.raises(ConfigError, match="split 'train' has no task"):
        splits_of({"train": []})
    with pytest.raises(ConfigError, match="holds a str, not a tasuki Task"):
        splits_of({"train": ["SELECT 1"]})


@pytest.fixture
def clean_registry():
    saved = dict(builders._registered)
    yield
    builders._registered.clear()
    builders._registered.update(saved)


def test_register_find_and_close_names(clean_registry):
    cls = register_builder(_define(name="product_a/clicks"))
    assert find_builder("product_a/clicks") is cls
    assert find_builder("product_a.clicks") is cls  # the entry-point spelling
    assert "product_a/clicks" in builder_names()
    register_builder(cls)  # the same class again: a no-op
    with pytest.raises(ConfigError, match="already registered"):
        register_builder(_define("OtherClicks", name="product_a/clicks"))
    with pytest.raises(ConfigError) as err:
        find_builder("product_a/click")
    assert "unknown dataset builder 'product_a/click'" in str(err.value)
    assert "Did you mean 'product_a/clicks'?" in str(err.value)
    assert "tasuki.datasets" in str(err.value)
    with pytest.raises(ConfigError, match="DatasetBuilder subclass"):
        register_builder(Rows)  # type: ignore[arg-type]


def test_builders_come_from_entry_points(tmp_path, monkeypatch, clean_registry):
    pkg = tmp_path / "team_ds_pkg.py"
    pkg.write_text(
        textwrap.dedent(
            """
            from tasuki.datasets import DatasetBuilder

            class Views(DatasetBuilder):
                name = "product_b/views"
                VERSION = "2.1.0"
                RELEASE_NOTES = {"2.1.0": "views"}

                def splits(self):
                    return {}

            class Misnamed(Views):
                name = "product_b/other"
            """
        )
    )
    dist = tmp_path / "team_ds-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: team-ds\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[tasuki.datasets]\nproduct_b.views = team_ds_pkg:Views\n"
        "product_b.wrong = team_ds_pkg:Misnamed\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(builders, "_entry_points", None)  # read the group again
    monkeypatch.delitem(sys.modules, "team_ds_pkg", raising=False)
    found = find_builder("product_b/views")
    assert found.__name__ == "Views" and found.VERSION == "2.1.0"
    assert "product_b/views" in builder_names()
    assert "team-ds" in builders.origin("product_b/views")
    with pytest.raises(ConfigError, match="declares name 'product_b/other'"):
        find_builder("product_b/wrong")
    monkeypatch.setattr(builders, "_entry_points", None)
