"""luigi's configuration: ``.ini`` / ``.cfg`` files and ``--Task-param`` flags as defaults.

luigi reads ``luigi.cfg`` and ``client.cfg`` from the working folder, the files named by
``LUIGI_CONFIG_PATH``, and files added with ``add_config_path`` (gokart's ``add_config``); a
``[TaskFamily] param = value`` entry is that parameter's default whenever the task is made
without it. Values go through ``%(name)s`` and ``${ENV_VAR}`` interpolation, as in luigi.

Unlike luigi, a value that does not parse and a section or key that names no task or
parameter are errors naming the file, section and key (luigi ignores them, and a typo silently
runs with the class default: a cached output made from the wrong parameters).
"""

from __future__ import annotations

import configparser
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tasuki.errors import ConfigError

__all__ = ["LuigiConfigParser", "get_config"]

_ENV = re.compile(r"\$\{([^}]+)\}")
_GENERATIONS = itertools.count(1)

#: Sections luigi and gokart read for themselves; never taken for an unknown task.
LUIGI_SECTIONS = frozenset(
    {
        "core",
        "worker",
        "scheduler",
        "retcode",
        "email",
        "smtp",
        "sendgrid",
        "batch_email",
        "execution_summary",
        "logging",
        "task_history",
        "resources",
        "cmdline",
        "hdfs",
        "hadoop",
        "spark",
        "TaskOnKart",
        "gokart",
    }
)


class _Interpolation(configparser.BasicInterpolation):
    """``%(other)s`` (configparser's) and ``${ENV_VAR}`` (luigi's environment interpolation)."""

    def before_get(self, parser: Any, section: str, option: str, value: str, defaults: Any) -> str:
        def env(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise ConfigError(
                    f"[{section}] {option} = {value!r} uses ${{{name}}}, which is not set in "
                    "the environment. Set it, or write the value itself.",
                    section=section,
                    key=option,
                )
            return os.environ[name]

        return super().before_get(parser, section, option, _ENV.sub(env, value), defaults)


class LuigiConfigParser(configparser.ConfigParser):
    """luigi's config parser: every file added so far, later files winning, each value
    remembering the file it came from (for error messages)."""

    _instance: LuigiConfigParser | None = None
    _config_paths: list[str] = []

    def __init__(self) -> None:
        super().__init__(interpolation=_Interpolation())
        self.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
        self.origin: dict[tuple[str, str], str] = {}
        # From one counter for every parser and the command line: a cache keyed by it can
        # never mistake a new parser (after reload()) for an old one.
        self.generation = next(_GENERATIONS)
        self._loaded: list[str] = []

    @classmethod
    def instance(cls) -> LuigiConfigParser:
        """The process's parser, reading luigi's default files the first time."""
        if cls._instance is None:
            cls._instance = cls()
            for path in _default_paths():
                if Path(path).is_file():
                    cls._instance._read_one(path)
        return cls._instance

    @classmethod
    def add_config_path(cls, path: str | os.PathLike[str]) -> bool:
        """Read ``path`` on top of what is read so far (luigi's API). False when it is absent."""
        text = os.fspath(path)
        cls._config_paths.append(text)
        if not Path(text).is_file():
            return False
        cls.instance()._read_one(text)
        return True

    @classmethod
    def reload(cls) -> None:
        """Forget everything read (tests, notebooks); the next use reads the files again."""
        cls._instance = None

    def _read_one(self, path: str) -> None:
        if path.endswith(".toml"):
            raise ConfigError(
                f"{path}: luigi's TOML configuration is not read by tasuki.compat. Write it as "
                "an .ini file, or move the defaults to tasuki.toml [tasks] sections "
                "(tasuki upgrade-gokart --ini converts .ini files).",
                path=path,
            )
        one = configparser.ConfigParser(interpolation=None)
        one.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            with open(path, encoding="utf-8") as fh:
                one.read_file(fh, source=path)
        except configparser.Error as exc:
            raise ConfigError(f"{path}: cannot read it as an .ini file: {exc}", path=path) from exc
        for section in one.sections():
            if not self.has_section(section):
                self.add_section(section)
            for key, value in one.items(section, raw=True):
                super().set(section, key, value)
                self.origin[(section, key)] = path
        self._loaded.append(path)
        self.generation = next(_GENERATIONS)

    def set(self, section: str, option: str, value: str | None = None) -> None:
        """Set one value (luigi's ``get_config().set``); it becomes a parameter default."""
        if not self.has_section(section):
            self.add_section(section)
        super().set(section, option, value)
        self.origin[(section, option)] = "<set in code>"
        self.generation = next(_GENERATIONS)

    def where(self, section: str, key: str) -> str:
        """The file a value came from."""
        return self.origin.get((section, key), "<luigi configuration>")

    def entries(self, section: str) -> Iterator[tuple[str, str]]:
        """``(key, interpolated value)`` of a section."""
        if not self.has_section(section):
            return
        for key in self.options(section):
            if key in self.defaults():
                continue
            yield key, self.get(section, key)


def _default_paths() -> list[str]:
    paths = ["/etc/luigi/client.cfg", "/etc/luigi/luigi.cfg", "client.cfg", "luigi.cfg"]
    env = os.environ.get("LUIGI_CONFIG_PATH")
    if env:
        paths.extend(p for p in env.split(os.pathsep) if p)
    return paths


def get_config() -> LuigiConfigParser:
    """luigi's ``luigi.configuration.get_config()``."""
    return LuigiConfigParser.instance()


class CommandLine:
    """``--Task-param value`` flags of ``gokart.run()``: above the files, below code."""

    values: dict[tuple[str, str], str] = {}
    generation = 0

    @classmethod
    def set(cls, values: Mapping[tuple[str, str], str]) -> None:
        """Replace the flags (family, param) -> text."""
        cls.values = dict(values)
        cls.generation = next(_GENERATIONS)
