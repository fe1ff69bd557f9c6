"""``DatasetBuilder``: the class a team package subclasses to define a private dataset.

A builder holds the domain knowledge in code: the name, the version and what changed in it,
the named configs, the description and per-column docs, and which tasks produce each split.
It is checked when the class is defined (and again when it is registered or found), so a bad
version or a missing release note fails at import, naming the class and the attribute.

Example:
    >>> class Clicks(DatasetBuilder):
    ...     name = "product_a/clicks"
    ...     VERSION = "1.1.0"
    ...     RELEASE_NOTES = {"1.0.0": "First release.", "1.1.0": "Adds 2026-11."}
    ...     CONFIGS = {"jp": {"country": "jp"}, "all": {"country": None}}
    ...     description = "Clicks on product A's search results."
    ...     columns = {"user_id": "Who clicked (hashed)."}
    ...
    ...     def splits(self):
    ...         where = "" if self.config["country"] is None else "WHERE country = 'jp'"
    ...         return {"train": QueryTask(sql=f"SELECT * FROM clicks {where}", warehouse="dwh")}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tasuki.core.task import Task
from tasuki.datasets._info import check_config_name, check_name
from tasuki.errors import ConfigError

__all__ = ["DEFAULT_CONFIG", "DatasetBuilder", "check_builder", "parse_semver"]

DEFAULT_CONFIG = "default"
"""The config of a builder that declares no ``CONFIGS``."""

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_SPLIT = re.compile(r"^[a-z][a-z0-9_]*$")
DEFAULT_SHARD_ROWS = 1_000_000


def parse_semver(version: object, *, what: str = "version") -> tuple[int, int, int]:
    """``(major, minor, patch)`` of ``"1.2.0"``.

    Raises:
        ConfigError: not ``MAJOR.MINOR.PATCH`` of plain numbers (the message names ``what``).
    """
    found = _SEMVER.match(version) if isinstance(version, str) else None
    if found is None:
        raise ConfigError(
            f"{what} {version!r} is not a semantic version: write MAJOR.MINOR.PATCH with "
            "plain numbers, such as '1.0.0' or '2.3.1' (no 'v' prefix, no pre-release tag)",
            version=repr(version),
        )
    return int(found[1]), int(found[2]), int(found[3])


def _spec(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _bad(cls: type, attr: str, message: str) -> ConfigError:
    return ConfigError(f"{_spec(cls)}.{attr}: {message}", builder=_spec(cls), attribute=attr)


def check_builder(cls: type[DatasetBuilder]) -> None:
    """Check every attribute of a builder class; ConfigError names the class and attribute."""
    name = getattr(cls, "name", None)
    if not name:
        raise _bad(cls, "name", "a dataset builder needs a name such as 'product_a/clicks'")
    try:
        check_name(name)
    except ConfigError as exc:
        raise _bad(cls, "name", str(exc)) from None
    version = str(getattr(cls, "VERSION", None))
    try:
        parse_semver(getattr(cls, "VERSION", None), what="VERSION")
    except ConfigError as exc:
        raise _bad(cls, "VERSION", str(exc)) from None
    notes = cls.RELEASE_NOTES
    if not isinstance(notes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in notes.items()
    ):
        raise _bad(cls, "RELEASE_NOTES", "must be a dict of version -> note (both strings)")
    for noted in notes:
        try:
            parse_semver(noted, what="release note version")
        except ConfigError as exc:
            raise _bad(cls, "RELEASE_NOTES", str(exc)) from None
    if not str(notes.get(version, "")).strip():
        raise _bad(
            cls,
            "RELEASE_NOTES",
            f"has no note for VERSION {version!r}; add {version!r}: 'what changed' "
            "(every published version says what changed in it)",
        )
    configs = cls.CONFIGS
    if configs is not None:
        if not isinstance(configs, Mapping) or not configs:
            raise _bad(cls, "CONFIGS", "must be a non-empty dict of config name -> parameters")
        for config, params in configs.items():
            try:
                check_config_name(config)
            except ConfigError as exc:
                raise _bad(cls, "CONFIGS", str(exc)) from None
            if not isinstance(params, Mapping):
                raise _bad(
                    cls,
                    "CONFIGS",
                    f"config {config!r} maps to {type(params).__name__}; it must be a dict of "
                    "the parameters its splits see",
                )
    if not isinstance(cls.description, str):
        raise _bad(cls, "description", "must be a string (Markdown)")
    columns = cls.columns
    if not isinstance(columns, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise _bad(cls, "columns", "must be a dict of column name -> documentation (strings)")
    rows = cls.SHARD_ROWS
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise _bad(cls, "SHARD_ROWS", f"must be a positive int, got {rows!r}")
    if cls.splits is DatasetBuilder.splits:
        raise _bad(cls, "splits", "define splits(self) returning {split name: task(s)}")


class DatasetBuilder:
    """Base class of dataset builders (see the module docstring for an example).

    Class attributes:
        name: ``product_a/clicks``: lower-case segments separated by ``/``.
        VERSION: The version a build publishes (``MAJOR.MINOR.PATCH``).
        RELEASE_NOTES: Version -> what changed in it; must have ``VERSION``.
        CONFIGS: Config name -> the parameters its splits see (``self.config``); None:
            one config, ``"default"``, with no parameters.
        description: What the dataset is, for people (Markdown).
        columns: Column name -> its documentation.
        SHARD_ROWS: Rows per Parquet shard (shards restart at each task of a split, so
            a partition that did not change keeps its shards).

    A subclass that sets no ``name`` is an abstract base (a team's common parent); it is
    checked once it is registered or built.

    Args:
        config: The config to build (default: ``"default"``, or the only one declared).

    Raises:
        ConfigError: ``config`` is not one of ``CONFIGS``.
    """

    name: ClassVar[str] = ""
    VERSION: ClassVar[str] = ""
    RELEASE_NOTES: ClassVar[Mapping[str, str]] = {}
    CONFIGS: ClassVar[Mapping[str, Mapping[str, Any]] | None] = None
    description: ClassVar[str] = ""
    columns: ClassVar[Mapping[str, str]] = {}
    SHARD_ROWS: ClassVar[int] = DEFAULT_SHARD_ROWS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:  # only concrete builders; a shared parent sets no name
            check_builder(cls)

    def __init__(self, config: str | None = None) -> None:
        check_builder(type(self))
        configs = self.config_names()
        if config is None:
            config = configs[0] if len(configs) == 1 else DEFAULT_CONFIG
        if config not in configs:
            import difflib

            close = difflib.get_close_matches(str(config), configs, n=1)
            raise ConfigError(
                f"dataset {self.name!r} has no config {config!r}; its configs: "
                f"{', '.join(configs)}" + (f". Did you mean {close[0]!r}?" if close else ""),
                dataset=self.name,
                config=str(config),
                known=configs,
            )
        self.config_name: str = config
        """The config being built."""
        self.config: Mapping[str, Any] = dict((self.CONFIGS or {}).get(config, {}))
        """The parameters of that config (empty without ``CONFIGS``)."""

    @classmethod
    def config_names(cls) -> list[str]:
        """The builder's config names, in declaration order (``["default"]`` without any)."""
        return list(cls.CONFIGS) if cls.CONFIGS else [DEFAULT_CONFIG]

    @classmethod
    def spec(cls) -> str:
        """``"package.module:Class"``, as ``dataset_info.json`` records it."""
        return _spec(cls)

    def splits(self) -> Mapping[str, Task | Sequence[Task]]:
        """The tasks producing each split: ``{"train": task or [partition tasks...]}``.

        Each task's output is a table: a folder of Parquet parts (``QueryTask``,
        ``make_directory_target``), a ``.parquet`` / ``.arrow`` file, or any value a
        pyarrow Table can be made from (pandas or polars DataFrame). Several tasks are
        partitions: their rows follow each other in the order given.
        """
        raise NotImplementedError  # check_builder refuses a subclass that does not define it

    def split_tasks(self) -> dict[str, list[Task]]:
        """:meth:`splits`, checked: split names, a non-empty list of tasks each.

        Raises:
            ConfigError: not a mapping, a bad split name, an empty split or a non-task
                (the message names the builder and the split).
        """
        found = self.splits()
        where = f"{self.spec()}.splits() (config {self.config_name!r})"
        if not isinstance(found, Mapping) or not found:
            raise ConfigError(
                f"{where} returned {type(found).__name__}; return a non-empty dict of split "
                "name -> task or list of tasks",
                builder=self.spec(),
            )
        out: dict[str, list[Task]] = {}
        for split, tasks in found.items():
            if not isinstance(split, str) or not _SPLIT.match(split):
                raise ConfigError(
                    f"{where}: {split!r} is not a split name; use lower-case letters, digits "
                    "and '_', starting with a letter ('train', 'test', 'validation')",
                    builder=self.spec(),
                    split=repr(split),
                )
            listed = [tasks] if isinstance(tasks, Task) else list(tasks)
            if not listed:
                raise ConfigError(f"{where}: split {split!r} has no task", split=split)
            for task in listed:
                if not isinstance(task, Task):
                    raise ConfigError(
                        f"{where}: split {split!r} holds a {type(task).__name__}, not a "
                        "tasuki Task; wrap the data in a task whose output is a table",
                        builder=self.spec(),
                        split=split,
                    )
            out[split] = listed
        return out
