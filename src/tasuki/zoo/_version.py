"""What a model version is: its ``version.json``, its name rules and how it is referred to.

The layout inside the registry (``registry`` setting; any fsspec URL)::

    <registry>/models/<name>/versions/<n>/version.json   the version exists once this does
    <registry>/models/<name>/versions/<n>/claim.json     number <n> taken (conditional create)
    <registry>/models/<name>/versions/<n>/artifacts/...  the model's files
    <registry>/models/<name>/hashes/<content hash>.json  content hash -> version number
    <registry>/models/<name>/aliases/<alias>.json        where the alias points (a hint)
    <registry>/models/<name>/aliases/<alias>/<seq>.json  each move of the alias, never rewritten
    <registry>/models/<name>/mirror/<n>.json             its MLflow version, once mirrored
    <registry>/models/_index.json                        summaries for ``find`` (a cache)

A version's ``content_hash`` is the sha256 of its file list (path, size, xxh3-128 of the
bytes of each file, in path order): the same files give the same hash, whatever their
description, owner or push time, and it is what a :class:`~tasuki.zoo.ZooModel` task's
unique id is made of.

References: ``bert-ja`` (the latest version), ``bert-ja/3`` (version 3), ``bert-ja@champion``
(an alias; ``@latest`` is the latest version).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from tasuki.errors import ConfigError

__all__ = [
    "FORMAT",
    "FileEntry",
    "ModelVersion",
    "Ref",
    "check_alias",
    "check_name",
    "content_hash_of",
    "parse_ref",
]

FORMAT = "tasuki-zoo-version/1"
"""Layout version of ``version.json``; a reader refuses a newer one by name."""

_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,127}$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
LATEST = "latest"


def check_name(name: str) -> str:
    """``name`` when it is a valid model name (``bert-ja``), else a ConfigError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a model name: use lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter, at most 128 characters (for example 'bert-ja')",
            model=name,
        )
    return name


def check_alias(alias: str) -> str:
    """``alias`` when it is a valid alias (``champion``), else a ConfigError."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == LATEST:
        why = (
            "'latest' always means the newest version and cannot be moved; "
            if (alias == LATEST)
            else ""
        )
        raise ConfigError(
            f"{alias!r} is not an alias: {why}use lower-case letters, digits, '_' and '-', "
            "starting with a letter (for example 'champion' or 'staging')",
            alias=alias,
        )
    return alias


@dataclass(frozen=True)
class Ref:
    """A parsed model reference: a name and at most one of a version number or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def parse_ref(ref: str) -> Ref:
    """``bert-ja``, ``bert-ja/3`` or ``bert-ja@champion`` as a :class:`Ref`."""
    if not isinstance(ref, str):
        raise ConfigError(f"a model reference is a string such as 'bert-ja@champion', got {ref!r}")
    text = ref.strip()
    if "@" in text:
        name, _, alias = text.partition("@")
        check_name(name)
        if alias == LATEST:
            return Ref(name)
        return Ref(name, alias=check_alias(alias))
    if "/" in text:
        name, _, number = text.partition("/")
        check_name(name)
        if not number.isdigit() or int(number) < 1:
            raise ConfigError(
                f"{ref!r}: the version after '/' must be a number from 1 (for example "
                f"'{name}/3'); for an alias write '{name}@{number or 'champion'}'",
                ref=ref,
            )
        return Ref(name, version=int(number))
    return Ref(check_name(text))


@dataclass(frozen=True)
class FileEntry:
    """One artifact file of a version: its path under ``artifacts/``, size and xxh3-128."""

    path: str
    size: int
    xxh3_128: str


def content_hash_of(files: list[FileEntry]) -> str:
    """The sha256 of the file list (see the module docstring)."""
    doc = [[f.path, f.size, f.xxh3_128] for f in sorted(files, key=lambda f: f.path)]
    text = json.dumps(["tasuki-zoo-content/1", doc], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ModelVersion:
    """One immutable model version, as its ``version.json`` says.

    Attributes:
        name: The model (``bert-ja``).
        version: Its number (1, 2, 3... in push order; a push that died leaves a gap).
        content_hash: sha256 over the artifact files (see the module docstring).
        size: Bytes of all its artifact files.
        files: The artifact files.
        loader: How :func:`tasuki.zoo.load` turns the files into a model:
            ``{"kind": "format", "format": ".pkl"}`` (a tasuki format, by extension),
            ``{"kind": "function", "function": "module:qualname"}`` (called with the folder),
            ``{"kind": "mlflow", "flavor": "sklearn"}`` (an MLflow flavour), or
            ``{"kind": "path"}`` (the local path of the files is the value).
        description: What the model is, for people.
        owner: Who is responsible for it.
        task: The producing task, when pushed from one: ``unique_id``, ``name`` (the task
            family, ``module:Class``), ``params``, ``requires`` (upstream ids),
            ``code_fingerprint``; None otherwise.
        datasets: The dataset versions it was trained on
            (``product_a/clicks#default:1.2.0@<content hash>``).
        metrics: Numbers measured on it (``{"ndcg": 0.41}``).
        created_at: UTC ISO time of the push.
        tasuki_version: The tasuki that pushed it.
    """

    name: str
    version: int
    content_hash: str
    size: int
    files: tuple[FileEntry, ...]
    loader: dict[str, Any]
    description: str = ""
    owner: str = ""
    task: dict[str, Any] | None = None
    datasets: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: str = ""
    tasuki_version: str = ""

    @property
    def ref(self) -> str:
        """``name/version``: the reference that always means this version."""
        return f"{self.name}/{self.version}"

    def describe_loader(self) -> str:
        """The loader in words (``format .pkl``, ``function mypkg.models:load``...)."""
        kind = self.loader.get("kind")
        if kind == "format":
            return f"format {self.loader.get('format')}"
        if kind == "function":
            return f"load function {self.loader.get('function')}"
        if kind == "mlflow":
            return f"MLflow {self.loader.get('flavor')} flavour"
        return "path (the files themselves)"

    def to_json(self) -> dict[str, Any]:
        """The ``version.json`` document (types kept: numbers stay numbers)."""
        doc = asdict(self)
        doc["files"] = [asdict(f) for f in self.files]
        doc["datasets"] = list(self.datasets)
        return {"format": FORMAT, **doc}

    def to_bytes(self) -> bytes:
        """``version.json`` as written."""
        return json.dumps(self.to_json(), indent=1, sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, doc: dict[str, Any], *, where: str) -> ModelVersion:
        """Parse a ``version.json`` document; ``where`` names it in errors."""
        fmt = doc.get("format")
        if fmt != FORMAT:
            raise ConfigError(
                f"{where} has format {fmt!r}; this tasuki reads {FORMAT!r}. Upgrade tasuki "
                "to read versions pushed by a newer one.",
                path=where,
            )
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        known["files"] = tuple(FileEntry(**f) for f in doc.get("files", []))
        known["datasets"] = tuple(doc.get("datasets", []))
        return cls(**known)


def close_matches(word: str, options: list[str]) -> str:
    """``" (did you mean 'x'?)"`` or nothing."""
    hint = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""
