"""Dataset references and versions: ``product_a/clicks#jp_only:1.2.*`` -> one published version.

A reference is ``NAME[#CONFIG][:VERSION]``:

- ``NAME``: the dataset (``product_a/clicks``; '/'-separated lower-case segments).
- ``#CONFIG``: one of its named configs (``#jp_only``). A name may hold '/', so the config
  has a separator of its own; ``config=`` (keyword of :func:`resolve`, :func:`load`...) says
  the same. Without either, ``default`` is used, or the only config when there is one.
- ``:VERSION``: ``1.2.0`` (exactly), ``1.2.*`` (the newest ``1.2.x``), ``1.*`` (the newest
  ``1.x.y``), ``*`` or ``latest`` (the newest of all); no version means ``latest``.
  Wildcards pick among releases: a pre-release (``2.0.0-rc.1``) is only chosen by its
  exact name. Versions are semver ``MAJOR.MINOR.PATCH[-PRERELEASE]``, ordered as semver
  orders them.

Resolving lists the config's folder once (one ``listdir``; one ``ls`` on S3) and tests for
the ``dataset_info.json`` of the chosen version only: a version folder without one is a
publish in progress or one that died, and is skipped.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tasuki.datasets._info import (
    INFO_FILE,
    DatasetInfo,
    check_config_name,
    check_name,
    config_dir,
    info_path,
)
from tasuki.datasets._location import RegistryFiles, registry_url
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    import os

__all__ = [
    "DatasetSummary",
    "ResolvedVersion",
    "Version",
    "VersionSpec",
    "dataset_names",
    "info",
    "list_datasets",
    "list_versions",
    "parse_ref",
    "parse_version",
    "resolve",
]

_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-({_IDENT}(?:\.{_IDENT})*))?$",
)
_SHOWN_VERSIONS = 20  # versions an error lists before "and N more"


@dataclass(frozen=True, order=False)
class Version:
    """A semver version; compares as semver orders (``1.0.0-rc.1 < 1.0.0 < 1.0.1``)."""

    major: int
    minor: int
    patch: int
    pre: str = ""

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.pre else "")

    @property
    def key(self) -> tuple[Any, ...]:
        """Sort key: releases after their pre-releases, numeric identifiers before words."""
        if not self.pre:
            return (self.major, self.minor, self.patch, 1, ())
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre.split("."))
        return (self.major, self.minor, self.patch, 0, parts)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key


def _match_version(text: str) -> Version | None:
    m = _SEMVER.match(text)
    if m is None:
        return None
    return Version(int(m[1]), int(m[2]), int(m[3]), m[4] or "")


def parse_version(text: str, *, what: str = "version") -> Version:
    """``text`` as a :class:`Version`.

    Raises:
        ConfigError: ``text`` is not ``MAJOR.MINOR.PATCH[-PRERELEASE]`` (the message says
            what was given and shows the form).

    Example:
        >>> str(parse_version("1.2.0"))
        '1.2.0'
    """
    found = _match_version(text) if isinstance(text, str) else None
    if found is None:
        raise ConfigError(
            f"{what} {text!r} is not a semver version: write MAJOR.MINOR.PATCH with numbers "
            "and no leading zeros (for example '1.2.0', or '2.0.0-rc.1' for a pre-release)",
            version=text,
        )
    return found


@dataclass(frozen=True)
class VersionSpec:
    """What a reference asks for: an exact version, or the newest release under a prefix."""

    text: str
    exact: Version | None = None
    prefix: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> VersionSpec:
        """``1.2.0``, ``1.2.*``, ``1.*``, ``*``, ``latest`` or ``""`` (latest).

        Raises:
            ConfigError: anything else, with the forms allowed.
        """
        if text in ("", "*", "latest"):
            return cls(text or "latest")
        if text.endswith(".*"):
            head = text[:-2].split(".")
            if 1 <= len(head) <= 2 and all(re.fullmatch(r"0|[1-9]\d*", p) for p in head):
                return cls(text, prefix=tuple(int(p) for p in head))
        elif _match_version(text) is not None:
            return cls(text, exact=parse_version(text))
        hint = ""
        if re.fullmatch(r"[a-z][a-z0-9_]*", text):
            hint = f" To choose the config {text!r}, write NAME#{text} (configs follow '#')."
        raise ConfigError(
            f"version {text!r} is neither a semver version nor a wildcard: write '1.2.0' "
            "(exactly that version), '1.2.*' (newest 1.2.x), '1.*' (newest 1.x.y), or '*' / "
            f"'latest' (newest of all).{hint}",
            version=text,
        )

    def matches(self, version: Version) -> bool:
        """Whether ``version`` satisfies this spec (wildcards take releases only)."""
        if self.exact is not None:
            return version == self.exact
        if version.pre:
            return False
        return (version.major, version.minor)[: len(self.prefix)] == self.prefix


def parse_ref(ref: str, config: str | None = None) -> tuple[str, str | None, VersionSpec]:
    """Split ``NAME[#CONFIG][:VERSION]`` into its parts (``config=`` fills in the config).

    Raises:
        ConfigError: a bad name, config or version; a config given twice differently.

    Example:
        >>> parse_ref("product_a/clicks#jp_only:1.2.*")[:2]
        ('product_a/clicks', 'jp_only')
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError(
            f"dataset reference {ref!r} is empty: write NAME[#CONFIG][:VERSION], for example "
            "'product_a/clicks:1.2.0'",
            ref=repr(ref),
        )
    head, _, version = ref.strip().partition(":")
    name, sep, in_ref = head.partition("#")
    check_name(name)
    if sep:
        check_config_name(in_ref)
        if config is not None and config != in_ref:
            raise ConfigError(
                f"dataset reference {ref!r} names config {in_ref!r} but config={config!r} was "
                "given too: name it once",
                ref=ref,
                config=config,
            )
        config = in_ref
    elif config is not None:
        check_config_name(config)
    return name, config, VersionSpec.parse(version)


@dataclass(frozen=True)
class ResolvedVersion:
    """One published version: where it is and what it is called."""

    registry: str
    name: str
    config: str
    version: str

    @property
    def ref(self) -> str:
        """``name:version``, or ``name#config:version`` for a config other than ``default``."""
        config = "" if self.config == "default" else f"#{self.config}"
        return f"{self.name}{config}:{self.version}"

    def __str__(self) -> str:
        return self.ref


def dataset_names(files: RegistryFiles) -> dict[str, list[str]]:
    """Every dataset in the registry -> its configs (a config is a folder holding versions
    or shards), found by walking ``<registry>/datasets``."""
    out: dict[str, list[str]] = {}
    base = f"{files.root}/datasets"
    stack = [""]
    while stack:
        rel = stack.pop()
        folder = f"{base}/{rel}" if rel else base
        configs = []
        for child in sorted(files.listdir(folder)):
            if child.startswith("."):
                continue
            inner = files.listdir(f"{folder}/{child}")
            if "shards" in inner or any(_match_version(i) for i in inner):
                configs.append(child)
            else:
                stack.append(f"{rel}/{child}" if rel else child)
        if configs and rel:
            out[rel] = configs
    return dict(sorted(out.items()))


def _unknown_name(files: RegistryFiles, name: str) -> ConfigError:
    known = sorted(dataset_names(files))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    listed = ", ".join(known[:_SHOWN_VERSIONS]) or "none"
    if len(known) > _SHOWN_VERSIONS:
        listed += f" and {len(known) - _SHOWN_VERSIONS} more"
    return ConfigError(
        f"no dataset {name!r} in the registry {files.url}.{hint} Datasets there: {listed}. "
        "Check the name, or the registry setting (TASUKI_REGISTRY, [tool.tasuki] registry, "
        "--registry).",
        dataset=name,
        registry=files.url,
        close=close,
        missing="dataset",
    )


def _pick_config(files: RegistryFiles, name: str, config: str | None) -> tuple[str, list[str]]:
    """The config to read and the entries of its folder (listed once: resolving reuses
    them)."""
    if config is not None:
        entries = files.listdir(config_dir(files.root, name, config))
        if entries:
            return config, entries
        configs = dataset_names(files).get(name)
        if configs is None:
            raise _unknown_name(files, name)
        close = difflib.get_close_matches(config, configs, n=2, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ConfigError(
            f"dataset {name!r} has no config {config!r} in {files.url}.{hint} Its configs: "
            f"{', '.join(configs)}.",
            dataset=name,
            config=config,
            configs=configs,
        )
    entries = files.listdir(config_dir(files.root, name, "default"))
    if entries:
        return "default", entries
    configs = dataset_names(files).get(name)
    if configs is None:
        raise _unknown_name(files, name)
    if len(configs) == 1:
        return configs[0], files.listdir(config_dir(files.root, name, configs[0]))
    raise ConfigError(
        f"dataset {name!r} has several configs and no 'default': choose one with "
        f"'{name}#CONFIG' or config=... (configs: {', '.join(configs)})",
        dataset=name,
        configs=configs,
    )


def _versions_of(entries: list[str]) -> list[Version]:
    """The entries of a config folder that are versions (``shards`` and strays are not)."""
    out = []
    for entry in entries:
        found = _match_version(entry)
        if found is not None:
            out.append(found)
    return out


def list_versions(
    name: str, *, config: str | None = None, registry: str | os.PathLike[str] | None = None
) -> list[str]:
    """The published versions of a dataset's config, oldest first (semver order).

    Raises:
        ConfigError: unknown dataset or config (close names listed).
    """
    files = RegistryFiles(registry_url(registry))
    config, entries = _pick_config(files, check_name(name), config)
    folder = config_dir(files.root, name, config)
    found = sorted(_versions_of(entries))
    return [str(v) for v in found if files.exists(f"{folder}/{v}/{INFO_FILE}")]


def _no_version(
    files: RegistryFiles, name: str, config: str, spec: VersionSpec, found: list[Version]
) -> ConfigError:
    shown = [str(v) for v in sorted(found, reverse=True)]
    close = difflib.get_close_matches(spec.text, shown, n=3, cutoff=0.5)
    hint = f" Closest: {', '.join(close)}." if close else ""
    listed = ", ".join(shown[:_SHOWN_VERSIONS]) or "none"
    if len(shown) > _SHOWN_VERSIONS:
        listed += f" and {len(shown) - _SHOWN_VERSIONS} older"
    what = f"version {spec.text}" if spec.exact else f"version matching {spec.text!r}"
    ref = ResolvedVersion(files.url, name, config, "").ref.rstrip(":")
    return ConfigError(
        f"dataset {ref} has no published {what} in {files.url}.{hint} Published versions "
        f"(newest first): {listed}.",
        dataset=name,
        config=config,
        version=spec.text,
        close=close,
        missing="version",
    )


def resolve(
    ref: str,
    *,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
) -> ResolvedVersion:
    """The published version a reference names.

    Args:
        ref: ``NAME[#CONFIG][:VERSION]``, for example ``product_a/clicks:1.2.*``.
        config: The config, when not named in ``ref``.
        registry: Folder or URL of the registry; default: the ``registry`` setting.

    Returns:
        The resolved version (name, config, exact version, registry URL).

    Raises:
        ConfigError: a malformed reference, an unknown dataset or config (the close names
            listed), or no published version matching (close ones and those that exist
            listed). Its ``missing`` field says ``"dataset"`` when the registry has no
            dataset of that name, ``"version"`` when no published version matches.

    Example:
        >>> resolve("product_a/clicks:1.*", registry="./registry").version  # doctest: +SKIP
        '1.3.2'
    """
    name, wanted_config, spec = parse_ref(ref, config)
    files = RegistryFiles(registry_url(registry))
    chosen, entries = _pick_config(files, name, wanted_config)
    folder = config_dir(files.root, name, chosen)
    found = _versions_of(entries)
    candidates = sorted((v for v in found if spec.matches(v)), reverse=True)
    for version in candidates:
        if files.exists(f"{folder}/{version}/{INFO_FILE}"):
            return ResolvedVersion(files.url, name, chosen, str(version))
    # Error path: the version folders found, published or not (testing each one's info on
    # a bucket would cost a request per version).
    raise _no_version(files, name, chosen, spec, found)


def read_info(version: ResolvedVersion, files: RegistryFiles | None = None) -> DatasetInfo:
    """The ``dataset_info.json`` of a resolved version.

    Raises:
        ConfigError: the file is missing (deleted since it was resolved) or invalid.
    """
    files = files or RegistryFiles(version.registry)
    path = info_path(files.root, version.name, version.config, version.version)
    try:
        data = files.read_bytes(path)
    except FileNotFoundError:
        raise ConfigError(
            f"dataset {version.ref}: {files.show(path)} is gone (deleted after it was "
            "published?). Published versions are immutable: re-publish it or pick another "
            "version.",
            dataset=version.name,
            version=version.version,
            path=files.show(path),
        ) from None
    return DatasetInfo.from_json(data, where=files.show(path))


def info(
    ref: str,
    *,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
) -> DatasetInfo:
    """The ``dataset_info.json`` of the version ``ref`` resolves to (see :func:`resolve`).

    Example:
        >>> info("product_a/clicks:1.2.0").rows  # doctest: +SKIP
        {'train': 800000, 'test': 200000}
    """
    return read_info(resolve(ref, config=config, registry=registry))


@dataclass(frozen=True)
class DatasetSummary:
    """One config of one dataset in the registry: its versions and its newest version's info."""

    name: str
    config: str
    versions: list[str]
    """Published versions, oldest first."""
    latest: DatasetInfo | None
    """The newest version's info (None when it cannot be read; see ``error``)."""
    error: str = ""


def list_datasets(registry: str | os.PathLike[str] | None = None) -> list[DatasetSummary]:
    """Every dataset and config in the registry, with its published versions.

    Only the newest version's ``dataset_info.json`` is read per config (rows, columns,
    content hash); :func:`info` reads any other.

    Example:
        >>> [(d.name, d.versions) for d in list_datasets("./registry")]  # doctest: +SKIP
        [('product_a/clicks', ['1.0.0', '1.2.0'])]
    """
    files = RegistryFiles(registry_url(registry))
    out = []
    for name, configs in dataset_names(files).items():
        for config in configs:
            folder = config_dir(files.root, name, config)
            versions = [
                v
                for v in sorted(_versions_of(files.listdir(folder)))
                if files.exists(f"{folder}/{v}/{INFO_FILE}")
            ]
            if not versions:
                continue
            shown = [str(v) for v in versions]
            latest: DatasetInfo | None = None
            error = ""
            try:
                latest = read_info(ResolvedVersion(files.url, name, config, shown[-1]), files)
            except ConfigError as exc:
                error = str(exc)
            out.append(DatasetSummary(name, config, shown, latest, error))
    return out
