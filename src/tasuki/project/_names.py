"""The answers of ``tasuki new``, checked before anything is written.

A package name must be importable (a lowercase identifier, not a keyword) and must not
shadow a module the project itself imports: ``import pandas`` inside a package named
``pandas`` finds the project, not the library, and a package named ``test`` hides the
standard library's test suite from pytest.
"""

from __future__ import annotations

import keyword
import re
import sys
from urllib.parse import urlsplit

from tasuki.errors import ConfigError

__all__ = ["EXECUTORS", "check_executor", "check_package", "check_warehouse", "package_from_folder"]

#: What runs the tasks of a new project (the ``executor`` setting).
EXECUTORS = ("local", "inline", "dask")

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

# Distributions a tasuki project imports, or that pytest and notebooks load: a package of the
# same name would be imported in their place.
_POPULAR = frozenset(
    {
        "tasuki", "test", "tests", "src", "data", "models", "notebooks", "setup",
        "numpy", "pandas", "pyarrow", "polars", "scipy", "sklearn", "torch", "tensorflow",
        "jax", "lightgbm", "xgboost", "implicit", "gensim", "matplotlib", "seaborn",
        "fsspec", "s3fs", "gcsfs", "duckdb", "sqlglot", "pydantic", "typer", "rich",
        "requests", "httpx", "yaml", "pytest", "copier", "jupyter", "ipython", "mlflow",
        "dask", "distributed", "redis", "boto3", "google",
    }
)  # fmt: skip


def check_package(name: str) -> str:
    """Return ``name`` when it can be the project's Python package, else raise.

    Raises:
        ConfigError: naming the value and the rule it breaks (identifier, keyword, a module
            it would shadow), with a name that would do.

    Example:
        >>> check_package("recsys")
        'recsys'
    """
    fix = "pass --package NAME with another name, e.g. --package my_project"
    if not _IDENTIFIER.fullmatch(name):
        why = (
            "it has upper-case letters"
            if name.lower() != name and _IDENTIFIER.fullmatch(name.lower())
            else "a package name is lowercase letters, digits and underscores, not starting "
            "with a digit"
        )
        raise ConfigError(
            f"package name {name!r} is not a Python identifier usable as a package: {why}; {fix}",
            key="package",
            value=name,
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ConfigError(
            f"package name {name!r} is a Python keyword and cannot be imported; {fix}",
            key="package",
            value=name,
        )
    if name in sys.stdlib_module_names or name in _POPULAR:
        where = "the standard library" if name in sys.stdlib_module_names else "a library"
        raise ConfigError(
            f"package name {name!r} would shadow {where} module of the same name "
            f"(`import {name}` would find the project instead); {fix}",
            key="package",
            value=name,
        )
    return name


def package_from_folder(folder: str) -> str:
    """The package name a project folder suggests: lowercase, ``-``, ``.`` and spaces as ``_``.

    Example:
        >>> package_from_folder("My-Recsys")
        'my_recsys'
    """
    return re.sub(r"[-.\s]+", "_", folder.strip().lower())


def check_executor(executor: str) -> str:
    """Return ``executor`` when a new project may use it, else raise ConfigError."""
    if executor not in EXECUTORS:
        raise ConfigError(
            f"executor {executor!r} is not one the template knows; choose one of "
            f"{', '.join(EXECUTORS)} (--executor local)",
            key="executor",
            value=executor,
        )
    return executor


def check_warehouse(url: str) -> str:
    """Return ``url`` (``""``: none) when it looks like a warehouse URL, else raise ConfigError."""
    if url and "://" not in url:
        raise ConfigError(
            f"warehouse URL {url!r} has no scheme; pass e.g. --warehouse duckdb:///data/dwh.duckdb "
            "or --warehouse postgresql://user@host:5432/db (or leave it empty for none)",
            key="warehouse",
            value=url,
        )
    if urlsplit(url).password:
        # tasuki.toml and .copier-answers.yml are committed: a password there is leaked.
        raise ConfigError(
            "warehouse URL has a password; it would be written to tasuki.toml and git. Pass "
            "the URL without it, and give the password through the environment "
            "(PGPASSWORD, or TASUKI_WAREHOUSES__MAIN=postgresql://user:...@host/db)",
            key="warehouse",
        )
    return url
