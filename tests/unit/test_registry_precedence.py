"""One precedence rule for every kind of plug-in, tested the same way for each.

Formats (by extension), warehouses (by URL scheme) and executors (by name) are found through
the same :class:`tasuki._registry.Registry` shape, and these tests hold all three to the same
rule, through their public functions:

- a built-in wins over an entry point of the same name, and the skipped entry point is
  reported with a warning naming its distribution;
- an entry point adds a name that no built-in has;
- ``register(..., clobber=True)`` replaces a built-in; without it, registering a taken name
  fails (and registering the same target again is a no-op);
- an unknown name fails with the known names and a "did you mean".

The plug-in is a real distribution on ``sys.path`` (a ``.dist-info`` folder with an
``entry_points.txt``), so both ways of reading entry points are exercised: the quick scan of
the formats and warehouses registries and ``importlib.metadata``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tasuki.core.executors as executors_module
import tasuki.formats.registry as formats_module
import tasuki.warehouse.registry as warehouses_module
from tasuki.errors import ConfigError, FormatError, UnknownFormatError

DIST = "tasuki-precedence-plugin"
MODULE = "tasuki_precedence_plugin"

_PLUGIN = '''
class Plugin:
    """Enough of a format, an executor and a warehouse backend for lookups."""

    name = "plugin"
    extensions = (".plug",)

    def dump(self, obj, file):
        file.write(b"plugin")

    def load(self, file):
        return file.read()

    def is_empty(self, obj):
        return False

    def run(self, schedule):
        pass
'''


@dataclass(frozen=True)
class Kind:
    """How to reach one registry through its public functions."""

    id: str
    group: str
    builtin: str  # a name tasuki ships
    builtin_spec: str  # what it is
    new: str  # a name no built-in has
    typo: str  # close to a built-in's name
    suggestion: str  # ... and the built-in it is close to
    lookup: Callable[[str], type[Any]]  # name -> the class it resolves to
    register: Callable[..., None]
    known: Callable[[], Any]
    unknown_error: type[Exception]
    taken_error: type[Exception]


def _format_class(ext: str) -> type[Any]:
    return type(formats_module.format_for(f"out/data_0123{ext}"))


def _executor_class(name: str) -> type[Any]:
    return type(executors_module.get_executor(name))


KINDS = [
    Kind(
        id="formats",
        group="tasuki.formats",
        builtin=".csv",
        builtin_spec="tasuki.formats._csv:CsvFormat",
        new=".plug",
        typo=".parq",
        suggestion=".parquet",
        lookup=_format_class,
        register=lambda name, obj, **kw: formats_module.register(name, obj, **kw),
        known=lambda: formats_module.known_formats(),
        unknown_error=UnknownFormatError,
        taken_error=FormatError,
    ),
    Kind(
        id="warehouses",
        group="tasuki.warehouses",
        builtin="duckdb",
        builtin_spec="tasuki.warehouse.duckdb:DuckDBWarehouse",
        new="plugwh",
        typo="postgresq",
        suggestion="postgresql",
        lookup=warehouses_module.get_warehouse_class,
        register=warehouses_module.register,
        known=lambda: warehouses_module.registry,
        unknown_error=ConfigError,
        taken_error=ConfigError,
    ),
    Kind(
        id="executors",
        group="tasuki.executors",
        builtin="local",
        builtin_spec="tasuki.core.executors.local:LocalExecutor",
        new="plugex",
        typo="inlin",
        suggestion="inline",
        lookup=_executor_class,
        register=executors_module.register_executor,
        known=lambda: executors_module.executors.known,
        unknown_error=ConfigError,
        taken_error=ConfigError,
    ),
]


@pytest.fixture(params=KINDS, ids=[k.id for k in KINDS])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kind]:
    """One kind, with no runtime registrations and its entry points read afresh."""
    k: Kind = request.param
    if k.id == "formats":
        # A fresh default registry: its format instances are cached, and the real one must
        # not keep a test's registrations.
        monkeypatch.setattr(formats_module, "default_registry", formats_module.FormatRegistry())
    else:
        reg = warehouses_module.warehouses if k.id == "warehouses" else executors_module.executors
        monkeypatch.setattr(reg, "_registered", {})
        monkeypatch.setattr(reg, "_entry_points", None)
    yield k


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: Kind) -> str:
    """An installed distribution whose entry points name a built-in and a new name."""
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{MODULE}.py").write_text(_PLUGIN)
    info = site / f"{MODULE}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{kind.group}]\n{kind.builtin} = {MODULE}:Plugin\n{kind.new} = {MODULE}:Plugin\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return f"{MODULE}:Plugin"


def test_a_built_in_wins_over_an_entry_point_with_a_warning(
    kind: Kind, plugin: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tasuki._registry"):
        known = dict(kind.known())  # reads the entry points
    assert known[kind.builtin] == kind.builtin_spec
    assert kind.lookup(kind.builtin).__name__ != "Plugin"
    warning = next(r.getMessage() for r in caplog.records if plugin in r.getMessage())
    assert DIST in warning  # names the distribution to uninstall or fix
    assert f"{kind.builtin!r} is a built-in" in warning
    assert "clobber=True" in warning  # and how to replace the built-in on purpose


def test_an_entry_point_adds_a_new_name(kind: Kind, plugin: str) -> None:
    assert kind.known()[kind.new] == plugin
    assert MODULE not in sys.modules  # listed without being imported
    assert kind.lookup(kind.new).__name__ == "Plugin"


def test_clobber_true_replaces_and_nothing_else_does(kind: Kind, plugin: str) -> None:
    with pytest.raises(kind.taken_error, match="already registered; pass clobber=True"):
        kind.register(kind.builtin, plugin)
    with pytest.raises(kind.taken_error, match="already registered; pass clobber=True"):
        kind.register(kind.new, kind.builtin_spec)  # an entry point's name is taken too
    assert kind.lookup(kind.builtin).__name__ != "Plugin"
    kind.register(kind.builtin, kind.builtin_spec)  # the same target again: a no-op
    kind.register(kind.builtin, plugin, clobber=True)
    assert kind.known()[kind.builtin] == plugin
    assert kind.lookup(kind.builtin).__name__ == "Plugin"


def test_an_unknown_name_lists_the_known_names(kind: Kind, plugin: str) -> None:
    with pytest.raises(kind.unknown_error) as info:
        kind.lookup(kind.typo)
    message = str(info.value)
    for name in (kind.builtin, kind.suggestion, kind.new):
        assert name in message
    assert f"Did you mean {kind.suggestion!r}?" in message
    assert kind.group in message  # how to add one
