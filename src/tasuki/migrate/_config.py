"""``migrations.toml``: typed configuration for MySQL -> warehouse table copies.

Example::

    [source]
    url = "mysql://root@127.0.0.1:3306/app"
    [target]
    url = "postgresql://postgres@127.0.0.1:5432/dwh"   # or duckdb:///path.db
    schema = "app"

    [[tables]]
    name = "users"
    mode = "incremental"
    cursor = "updated_at"
    lag = "10 minutes"
    on_schema_drift = "add_columns"

``${NAME}`` inside a URL is replaced by the environment variable NAME when the file is loaded,
so passwords need not be written into the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasuki._redact import redact
from tasuki.errors import ConfigError

__all__ = [
    "MigrationConfig",
    "SourceConfig",
    "TableSpec",
    "TargetConfig",
    "load_config",
    "parse_lag",
]

_IDENT = r"^[A-Za-z_][A-Za-z0-9_$]*$"
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_LAG_RE = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")


def parse_lag(value: str | int | timedelta) -> timedelta | int:
    """Parse a lag window: ``"10 minutes"``, ``"2h"``, ``"1 day"`` or an integer.

    A duration applies to a time cursor (``updated_at``); an integer to an integer cursor
    (``id``), where it counts ids re-read below the stored cursor.

    Raises:
        ValueError: the text is not ``<number> <unit>`` with a known unit.
    """
    if isinstance(value, timedelta | int) and not isinstance(value, bool):
        if (value.total_seconds() if isinstance(value, timedelta) else value) < 0:
            raise ValueError("a lag cannot be negative")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as '10 minutes' or an integer, got {value!r}")
    text = value.strip().lower()
    if text.isdigit():
        return int(text)
    match = _LAG_RE.match(text)
    if not match or match.group(2) not in _UNITS:
        raise ValueError(
            f"{value!r} is not a duration; write '<number> <unit>' with unit seconds, minutes, "
            "hours or days (e.g. '10 minutes', '2h'), or an integer for an id cursor"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Model):
    """Where rows come from: ``mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE``."""

    url: str

    @field_validator("url")
    @classmethod
    def _mysql_url(cls, url: str) -> str:
        if not url.startswith(("mysql://", "mariadb://")):
            raise ValueError(
                f"{redact(url)!r} is not a MySQL URL; use mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            )
        return url


class TargetConfig(_Model):
    """Where rows go: a PostgreSQL or DuckDB URL and the schema to write into."""

    url: str
    schema_: str | None = Field(default=None, alias="schema")

    @field_validator("url")
    @classmethod
    def _target_url(cls, url: str) -> str:
        if not url.startswith(("postgresql://", "postgres://", "duckdb://")):
            raise ValueError(
                f"{redact(url)!r} is not a supported target; use postgresql://USER@HOST:PORT/DB or "
                "duckdb:///PATH.db"
            )
        return url

    @field_validator("schema_")
    @classmethod
    def _ident(cls, value: str | None) -> str | None:
        if value is not None and not re.match(_IDENT, value):
            raise ValueError(f"{value!r} is not a plain identifier (letters, digits, _ and $)")
        return value


class TableSpec(_Model):
    """One table to copy.

    Attributes:
        name: source table name in the source database.
        target: target table name; defaults to ``name``.
        mode: ``"full"`` rebuilds the table and swaps it in; ``"incremental"`` merges rows
            whose ``cursor`` is at least the stored cursor minus ``lag``.
        cursor: incremental only: a column that grows when a row changes (``updated_at``)
            or is inserted (``id``).
        lag: incremental only: window re-read below the stored cursor (``"10 minutes"`` for a
            time cursor, an integer for an id cursor), catching rows committed late.
        on_schema_drift: ``"fail"`` raises SchemaDriftError when source and target columns
            differ; ``"add_columns"`` adds new source columns to the target (removed or
            retyped columns still fail).
    """

    name: str
    target: str | None = None
    mode: Literal["full", "incremental"] = "full"
    cursor: str | None = None
    lag: timedelta | int = 0
    on_schema_drift: Literal["fail", "add_columns"] = "fail"

    @field_validator("name", "target")
    @classmethod
    def _ident(cls, value: str | None) -> str | None:
        if value is not None and not re.match(_IDENT, value):
            raise ValueError(f"{value!r} is not a plain table name (letters, digits, _ and $)")
        return value

    @field_validator("lag", mode="before")
    @classmethod
    def _lag(cls, value: Any) -> timedelta | int:
        return parse_lag(value)

    @model_validator(mode="after")
    def _cursor_matches_mode(self) -> TableSpec:
        if self.mode == "incremental" and not self.cursor:
            raise ValueError(
                "mode 'incremental' needs cursor = '<column>' (a column that grows on every "
                "change, such as updated_at or id)"
            )
        if self.mode == "full" and (self.cursor or self.lag):
            raise ValueError(
                "cursor and lag apply only to mode 'incremental'; remove them or set "
                "mode = 'incremental'"
            )
        return self

    @property
    def target_name(self) -> str:
        """The target table name (``target`` or else ``name``)."""
        return self.target or self.name


class MigrationConfig(_Model):
    """A whole ``migrations.toml``: one source, one target, the tables to copy."""

    source: SourceConfig
    target: TargetConfig
    tables: tuple[TableSpec, ...]
    path: str | None = Field(default=None, exclude=True)

    @field_validator("tables")
    @classmethod
    def _not_empty(cls, tables: tuple[TableSpec, ...]) -> tuple[TableSpec, ...]:
        if not tables:
            raise ValueError("no tables to migrate; add at least one [[tables]] entry")
        return tables

    @model_validator(mode="after")
    def _unique_targets(self) -> MigrationConfig:
        seen: dict[str, str] = {}
        for spec in self.tables:
            if spec.target_name in seen:
                raise ValueError(
                    f"tables {seen[spec.target_name]!r} and {spec.name!r} both write target "
                    f"table {spec.target_name!r}; give one of them another target"
                )
            seen[spec.target_name] = spec.name
        return self


_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: str, where: str, path: Path) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{path}: {where} refers to ${{{name}}}, but the environment variable {name} "
                "is not set. Set it, or write the value into the file.",
                path=str(path),
                key=where,
            )
        return os.environ[name]

    return _ENV_RE.sub(sub, value)


def is_migrations_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a readable TOML file with ``[source]`` and ``[[tables]]``.

    ``tasuki migrate --config`` once named the migrations file; it now names the settings
    file, as for every other command, and this tells the old use apart.
    """
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "source" in raw and "tables" in raw


def load_config(path: str | os.PathLike[str]) -> MigrationConfig:
    """Read and validate a ``migrations.toml``.

    Args:
        path: the file.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: the file is missing, is not TOML, or an entry is invalid. The message
            names the file, the ``[[tables]]`` entry (number and name) and the key.

    Example:
        >>> config = load_config("migrations.toml")  # doctest: +SKIP
        >>> [t.name for t in config.tables]  # doctest: +SKIP
        ['users', 'orders']
    """
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"migration config {file} does not exist (looked in {file.resolve().parent}). "
            "Pass the path of a migrations.toml.",
            path=str(file),
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read migration config {file}: {exc}", path=str(file)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}", path=str(file)) from exc
    for section in ("source", "target"):
        block = raw.get(section)
        if isinstance(block, dict) and isinstance(block.get("url"), str):
            block["url"] = _expand_env(block["url"], f"[{section}] url", file)
    try:
        return MigrationConfig.model_validate({**raw, "path": str(file)})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, raw, file), path=str(file)) from exc


def _describe(exc: ValidationError, raw: dict[str, Any], file: Path) -> str:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = _where(loc, raw)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key; check its spelling"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif "input" in err and err["type"] not in ("value_error", "model_type", "dict_type"):
            message = f"{message} (got {redact(repr(err['input']))})"
        lines.append(f"  {where}: {redact(message)}")
    count = len(lines)
    return f"{file}: {count} problem{'s' if count > 1 else ''} in the migration config\n" + (
        "\n".join(lines)
    )


def _where(loc: list[Any], raw: dict[str, Any]) -> str:
    if not loc:
        return "top level"
    head = loc[0]
    if head == "tables" and len(loc) >= 2 and isinstance(loc[1], int):
        index = loc[1]
        tables = raw.get("tables")
        name = None
        if isinstance(tables, list) and index < len(tables) and isinstance(tables[index], dict):
            name = tables[index].get("name")
        entry = f"[[tables]] #{index + 1}" + (f" (name = {name!r})" if name else "")
        keys = [str(k) for k in loc[2:] if not str(k).startswith(("function-", "literal["))]
        return entry + (f", key {'.'.join(keys)!r}" if keys else "")
    if head in ("source", "target") and len(loc) >= 2:
        key = "schema" if loc[1] == "schema_" else str(loc[1])
        return f"[{head}] key {key!r}"
    return f"key {head!r}" if len(loc) == 1 else ".".join(str(x) for x in loc)
