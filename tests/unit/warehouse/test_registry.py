"""URL schemes -> backends: built-ins, runtime registration, entry points, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tasuki.warehouse as warehouse
from tasuki.errors import ConfigError
from tasuki.warehouse import registry as reg
from tasuki.warehouse.base import Warehouse


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it, and entry points are read afresh."""
    monkeypatch.setattr(reg.warehouses, "_registered", {})
    monkeypatch.setattr(reg.warehouses, "_entry_points", None)


class EchoWarehouse:
    """A tiny third-party backend: remembers how it was built."""

    backend = "echo"
    dialect = "postgres"

    def __init__(self, url: str, parts_dir: str | None, options: dict[str, Any]) -> None:
        self.url, self.parts_dir, self.options = url, parts_dir, options

    @classmethod
    def from_url(cls, url: str, *, parts_dir: str | None = None, **options: Any) -> EchoWarehouse:
        return cls(url, parts_dir, options)


def test_unknown_scheme_lists_known_ones_and_suggests(clean_registry: None) -> None:
    with pytest.raises(ConfigError) as info:
        warehouse.connect("postgresq://host/db")
    message = str(info.value)
    assert "'postgresq'" in message and "Did you mean 'postgresql'?" in message
    assert "duckdb" in message and "bigquery" in message
    assert info.value.scheme == "postgresq"


def test_a_url_without_scheme_is_explained() -> None:
    with pytest.raises(ConfigError, match=r"has no scheme; expected e\.g\. duckdb:///"):
        warehouse.connect("/tmp/warehouse.db")


def test_register_a_class_at_runtime(clean_registry: None, tmp_path: Path) -> None:
    warehouse.register("echo", EchoWarehouse)
    wh = warehouse.connect("echo://x", parts_dir=tmp_path, answer=42)
    assert isinstance(wh, EchoWarehouse)
    assert wh.url == "echo://x" and wh.parts_dir == str(tmp_path) and wh.options == {"answer": 42}
    assert reg.registry["echo"].endswith(":EchoWarehouse")
    with pytest.raises(TypeError):
        reg.registry["other"] = "x"  # type: ignore[index]


def test_register_refuses_to_clobber_unless_asked(clean_registry: None) -> None:
    with pytest.raises(ConfigError, match="already registered"):
        warehouse.register("duckdb", EchoWarehouse)
    warehouse.register("duckdb", EchoWarehouse, clobber=True)
    assert isinstance(warehouse.connect("duckdb://"), EchoWarehouse)


def test_a_lazy_path_that_cannot_be_imported_says_what_to_install(clean_registry: None) -> None:
    warehouse.register("ghost", "tasuki_no_such_module.backend:GhostWarehouse")
    with pytest.raises(
        ConfigError, match="cannot be loaded: its module cannot be imported"
    ) as info:
        warehouse.connect("ghost://x")
    assert info.value.missing == "tasuki_no_such_module"
    warehouse.register("ghost2", "tasuki.warehouse.registry:NoSuchClass")
    with pytest.raises(ConfigError, match="names nothing"):
        warehouse.connect("ghost2://x")


def test_entry_points_add_backends(
    clean_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real installed distribution on sys.path, found through importlib.metadata.
    pkg = tmp_path / "tasuki_echo_backend.py"
    pkg.write_text(
        textwrap.dedent(
            """
            class PluginWarehouse:
                backend = "plugin"
                dialect = "postgres"

                @classmethod
                def from_url(cls, url, *, parts_dir=None, **options):
                    obj = cls()
                    obj.url = url
                    return obj
            """
        )
    )
    info = tmp_path / "tasuki_echo_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tasuki-echo-backend\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[tasuki.warehouses]\nplugin = tasuki_echo_backend:PluginWarehouse\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    wh = warehouse.connect("plugin://somewhere")
    assert type(wh).__name__ == "PluginWarehouse" and wh.url == "plugin://somewhere"


def test_built_in_classes_satisfy_the_protocol() -> None:
    assert isinstance(warehouse.DuckDBWarehouse(), Warehouse)
    for name in ("PostgresWarehouse", "RedshiftWarehouse", "BigQueryWarehouse"):
        cls = getattr(warehouse, name)
        for member in ("from_url", "query", "write_table", "close", "__enter__", "__exit__"):
            assert callable(getattr(cls, member)), (name, member)
    with pytest.raises(AttributeError):
        warehouse.NoSuchWarehouse


def test_importing_the_package_loads_no_driver() -> None:
    code = (
        "import sys, tasuki.warehouse as w; "
        "heavy = [m for m in ('duckdb', 'adbc_driver_postgresql', 'psycopg', 'google.cloud', "
        "'redshift_connector', 'polars', 's3fs') if m in sys.modules]; "
        "print(heavy); w.DuckDBWarehouse; w.PostgresWarehouse; print('duckdb' in sys.modules); "
        "w.connect('duckdb://').query('SELECT 1'); print('duckdb' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "False"  # even the backend class imports its SDK only when used
    assert out[2] == "True"
