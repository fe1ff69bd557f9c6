"""The zoo itself: push, resolve, load, aliases and their history, listing and find.

See :mod:`tasuki.zoo._version` for the layout in the registry. The rules that keep it safe
for a team writing at once:

* **A version exists only whole.** Its files are uploaded first, its ``version.json`` last,
  by conditional create; readers look only at versions with a ``version.json``.
* **Numbers are allocated by conditional create** of ``versions/<n>/claim.json``: of two
  concurrent pushes exactly one gets each number; the other takes the next. A push that dies
  after its claim leaves a gap, never a half version.
* **Same content, same version.** The content hash is looked up (``hashes/<hash>.json``)
  before a number is claimed: pushing identical files again returns the existing version.
* **Alias moves are appended, never rewritten**: each move is a new object
  ``aliases/<alias>/<seq>.json`` made by conditional create at the next sequence number, so
  concurrent moves are ordered and none is lost; ``aliases/<alias>.json`` is only a hint of
  the latest sequence number, checked forward on every read.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki._redact import redact
from tasuki.errors import ConfigError
from tasuki.zoo._aliases import (
    AliasMove,
    alias_names,
    alias_state,
    append_move,
    now,
    read_moves,
    user,
)
from tasuki.zoo._artifacts import stage, verify_files
from tasuki.zoo._errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    VersionNotFoundError,
)
from tasuki.zoo._fetch import download, load_version, pull_into
from tasuki.zoo._mirror import (
    mirror_alias,
    mirror_aliases,
    mirror_on_push,
    mirror_one,
    mirror_state,
)
from tasuki.zoo._store import RegistryStore
from tasuki.zoo._version import (
    ModelVersion,
    Ref,
    check_alias,
    check_name,
    close_matches,
    content_hash_of,
    parse_ref,
)

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = ["Zoo"]

logger = logging.getLogger(__name__)

DEFAULT_MIRROR_TIMEOUT = 30.0


def _tasuki_version() -> str:
    from tasuki import __version__

    return __version__


class Zoo:
    """The model zoo in one registry (the ``registry`` setting: a folder or any fsspec URL).

    Args:
        registry: Folder or URL of the registry; default the ``registry`` setting.
        tracking_uri: MLflow tracking server to mirror pushes into; default the
            ``tracking_uri`` setting; ``""`` turns mirroring off.
        settings: Resolved settings; by default the ones in effect, else read once here.
        mirror_timeout: Seconds a push waits for MLflow before it warns and goes on.
        storage_options: Options for the registry's fsspec file system.
    """

    def __init__(
        self,
        registry: str | None = None,
        *,
        tracking_uri: str | None = None,
        settings: Settings | None = None,
        mirror_timeout: float = DEFAULT_MIRROR_TIMEOUT,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if settings is None:
            from tasuki.config import active_settings, load_settings

            settings = active_settings() or load_settings()
        self.settings = settings
        self.registry = RegistryStore(
            registry or settings.registry, storage_options=storage_options
        )
        uri = settings.tracking_uri if tracking_uri is None else tracking_uri
        self.tracking_uri = uri or None
        self.mirror_timeout = mirror_timeout

    def __repr__(self) -> str:
        return f"Zoo({redact(self.registry.url)!r})"

    # ---------------------------------------------------------------- keys

    @staticmethod
    def _version_key(name: str, number: int) -> str:
        return f"models/{name}/versions/{number}/version.json"

    # ---------------------------------------------------------------- reading

    def models(self) -> list[str]:
        """Names of the models in the registry, sorted."""
        return sorted(m for m in self.registry.children("models") if not m.startswith("_"))

    def versions(self, name: str) -> list[int]:
        """Numbers of the complete versions of ``name``, ascending (none if unknown)."""
        check_name(name)
        numbers = [int(n) for n in self.registry.children(f"models/{name}/versions") if n.isdigit()]
        return sorted(n for n in numbers if self.registry.exists(self._version_key(name, n)))

    def read_version(self, name: str, number: int) -> ModelVersion | None:
        """Version ``number`` of ``name``, or None when it does not exist (yet)."""
        key = self._version_key(name, number)
        data = self.registry.read(key)
        if data is None:
            return None
        return ModelVersion.from_json(json.loads(data), where=self.registry.full_path(key))

    def _require_model(self, name: str) -> list[int]:
        numbers = self.versions(name)
        if not numbers:
            known = self.models()
            raise ModelNotFoundError(
                f"no model {name!r} in the zoo at {redact(self.registry.url)}; models there: "
                f"{', '.join(known) or 'none'}{close_matches(name, known)}. Push one with "
                f"zoo.push({name!r}, model) or `tasuki zoo push {name} PATH`.",
                model=name,
                registry=redact(self.registry.url),
                known=known,
            )
        return numbers

    def resolve(self, ref: str | Ref) -> ModelVersion:
        """The version ``ref`` names: ``name``, ``name/3`` or ``name@alias``.

        Raises:
            ModelNotFoundError: no model of that name (the close names are listed).
            VersionNotFoundError: no such version (the existing versions are listed).
            AliasNotFoundError: no such alias (the model's aliases are listed).
        """
        parsed = ref if isinstance(ref, Ref) else parse_ref(ref)
        name = parsed.name
        if parsed.version is not None:
            found = self.read_version(name, parsed.version)
            if found is not None:
                return found
            numbers = self._require_model(name)
            raise VersionNotFoundError(
                f"model {name!r} has no version {parsed.version}; its versions: "
                f"{', '.join(map(str, numbers))} (latest {numbers[-1]}). Write "
                f"'{name}/{numbers[-1]}', or '{name}' for the latest.",
                model=name,
                version=parsed.version,
                versions=numbers,
            )
        if parsed.alias is not None:
            state = alias_state(self.registry, name, parsed.alias)
            if state[1] is None:
                self._require_model(name)
                known = self.aliases(name)
                listed = ", ".join(f"{a} -> {v}" for a, v in sorted(known.items())) or "none"
                raise AliasNotFoundError(
                    f"model {name!r} has no alias {parsed.alias!r}; its aliases: {listed}"
                    f"{close_matches(parsed.alias, list(known))}. Set one with "
                    f"zoo.alias({name!r}, {parsed.alias!r}, VERSION, reason=...) or "
                    f"`tasuki zoo alias {name} {parsed.alias} VERSION`.",
                    model=name,
                    alias=parsed.alias,
                    aliases=known,
                )
            version = self.read_version(name, state[1])
            if version is None:  # an alias only ever points at complete versions
                raise VersionNotFoundError(
                    f"alias {name}@{parsed.alias} points at version {state[1]}, which is "
                    "missing from the registry (deleted by hand?)",
                    model=name,
                    version=state[1],
                    versions=self.versions(name),
                )
            return version
        numbers = self._require_model(name)
        latest = self.read_version(name, numbers[-1])
        assert latest is not None  # listed as complete a moment ago; versions are never removed
        return latest

    def by_hash(self, name: str, content_hash: str) -> ModelVersion | None:
        """The version of ``name`` with ``content_hash``, or None."""
        data = self.registry.read(f"models/{name}/hashes/{content_hash}.json")
        if data is not None:
            found = self.read_version(name, int(json.loads(data)["version"]))
            if found is not None and found.content_hash == content_hash:
                return found
        # The hash file is written after version.json: a pusher that died between the two
        # leaves a version only a scan finds.
        for number in reversed(self.versions(name)):
            found = self.read_version(name, number)
            if found is not None and found.content_hash == content_hash:
                return found
        return None

    # ---------------------------------------------------------------- loading

    def load(self, ref: str) -> Any:
        """The model ``ref`` names, through its recorded loader, every file verified first.

        Raises:
            CorruptModelError: an artifact differs from its version.json.
            ModelLoadError: the loader raised (the error names the version and the loader).
        """
        return self.load_version(self.resolve(ref))

    def load_version(self, version: ModelVersion) -> Any:
        """``load`` for an already resolved version."""
        return load_version(self.registry, version)

    def pull(self, ref: str, dest: str | os.PathLike[str]) -> ModelVersion:
        """Copy the files of ``ref`` into the folder ``dest`` (each verified; nothing lands
        there when one is damaged); the version."""
        version = self.resolve(ref)
        pull_into(self.registry, version, dest)
        return version

    # ---------------------------------------------------------------- pushing

    def push(
        self,
        name: str,
        model: Any,
        *,
        alias: str | None = None,
        description: str = "",
        owner: str | None = None,
        metrics: dict[str, float] | None = None,
        datasets: list[str] | None = None,
        format: str | None = None,
        flavor: str | None = None,
        save_function: Callable[[Any, Path], Any] | None = None,
        load_function: Callable[[Path], Any] | str | None = None,
        output: str | None = None,
        reason: str = "",
    ) -> ModelVersion:
        """Register ``model`` as a new immutable version of ``name`` (or return the version
        that already holds the same files).

        Args:
            name: The model (``bert-ja``).
            model: A Python object (saved through ``format``, ``.pkl`` by default, or an
                MLflow ``flavor``, or ``save_function``), a file or folder path, or a
                finished tasuki Task whose output is the model (its unique id, parameters,
                upstream ids, dataset inputs and run-record metrics are recorded).
            alias: Move this alias (``champion``) to the version.
            description: What the model is.
            owner: Who is responsible for it (default: the user name).
            metrics: Numbers measured on it; added to those the task's run record has.
            datasets: Dataset versions it was trained on, beside those found among the
                task's dataset inputs.
            format: Extension of the tasuki format a Python object is saved in (``.pkl``).
            flavor: Save a Python object as an MLflow model (``sklearn`` or ``pyfunc``).
            save_function: ``save_function(model, folder)`` writes the model's files.
            load_function: ``load_function(folder)`` reads them back (a module-level
                function or its ``module:name``); for paths and save functions.
            output: The model's entry when the task's ``output()`` is a dict.
            reason: Why the alias moves (kept in its audit log).

        Raises:
            ConfigError: a bad name, a task not built, a path that does not exist, a dataset
                named by a wildcard version (``1.*`` would mean another version later).
        """
        check_name(name)
        vague = [d for d in datasets or () if "*" in d.partition("@")[0].partition(":")[2]]
        if vague:
            raise ConfigError(
                f"zoo.push({name!r}): datasets={vague!r} names no version: a model is trained "
                "on one version, and a wildcard would mean another one once it is published. "
                "Give the exact version (tasuki.datasets.resolve(ref).ref), or pass the task "
                "that read it (its DatasetInput is found with its content hash).",
                model=name,
                datasets=vague,
            )
        if alias is not None:
            check_alias(alias)
        with tempfile.TemporaryDirectory(prefix="tasuki-zoo-push-") as tmp:
            staged = stage(
                model,
                Path(tmp) / "artifacts",
                format=format,
                flavor=flavor,
                save_function=save_function,
                load_function=load_function,
                output=output,
                settings=self.settings,
            )
            files = staged.files()
            if not files:
                raise ConfigError(f"zoo.push({name!r}): the model has no files to push", model=name)
            content_hash = content_hash_of(files)
            existing = self.by_hash(name, content_hash)
            if existing is not None:
                unrecorded = _not_recorded(
                    existing,
                    description=description,
                    owner=owner,
                    metrics={**staged.metrics, **(metrics or {})},
                    datasets=[*staged.datasets, *(datasets or ())],
                )
                if unrecorded:
                    # Versions are immutable: the push that made it keeps its word.
                    logger.warning(
                        "%s: these files are %s already, which is kept as it is (versions are "
                        "immutable); not recorded: %s. Push other files for a new version, "
                        "or say it in the description of the next one.",
                        name,
                        existing.ref,
                        "; ".join(unrecorded),
                    )
                else:
                    logger.info("%s: same content as %s; no new version", name, existing.ref)
                if alias is not None and self.aliases(name).get(alias) != existing.version:
                    self.alias(name, alias, existing.version, reason=reason or "push")
                return existing
            number = self._claim(name)
            base = f"models/{name}/versions/{number}"
            for entry in files:
                self.registry.upload(
                    str(staged.folder / entry.path), f"{base}/artifacts/{entry.path}"
                )
            version = ModelVersion(
                name=name,
                version=number,
                content_hash=content_hash,
                size=sum(f.size for f in files),
                files=tuple(files),
                loader=staged.loader,
                description=description,
                owner=user() if owner is None else owner,
                task=staged.task,
                datasets=tuple(sorted(set(staged.datasets) | set(datasets or ()))),
                metrics={**staged.metrics, **{k: float(v) for k, v in (metrics or {}).items()}},
                created_at=now(),
                tasuki_version=_tasuki_version(),
            )
            if not self.registry.create(f"{base}/version.json", version.to_bytes()):
                raise ConfigError(  # only a hand-made file can be there: the number was ours
                    f"{self.registry.full_path(base)}/version.json appeared while this push "
                    "held the number; nothing was overwritten. Push again.",
                    model=name,
                )
            self.registry.create(
                f"models/{name}/hashes/{content_hash}.json",
                json.dumps({"version": number}).encode(),
            )
            logger.info("pushed %s (%s, %d bytes)", version.ref, content_hash[:12], version.size)
            if alias is not None:
                self._move_alias(name, alias, number, reason=reason or "push", mirror=False)
            if self.tracking_uri:
                mirror_on_push(
                    self.registry, version, staged.folder, self.tracking_uri, self.mirror_timeout
                )
        return version

    def _claim(self, name: str) -> int:
        """The next free version number of ``name``, taken by conditional create."""
        taken = [int(n) for n in self.registry.children(f"models/{name}/versions") if n.isdigit()]
        number = max(taken, default=0) + 1
        body = json.dumps({"by": user(), "pid": os.getpid(), "at": now()}).encode()
        while not self.registry.create(f"models/{name}/versions/{number}/claim.json", body):
            number += 1
        return number

    # ---------------------------------------------------------------- aliases

    def aliases(self, name: str) -> dict[str, int]:
        """Where each alias of ``name`` points now."""
        out = {}
        for alias in alias_names(self.registry, name):
            _, number = alias_state(self.registry, name, alias)
            if number is not None:
                out[alias] = number
        return out

    def alias(
        self, name: str, alias: str, version: int | None, *, reason: str = "", by: str | None = None
    ) -> AliasMove:
        """Point ``alias`` of ``name`` at ``version`` (None removes it); the move is appended
        to the alias's audit log, with who, when, from which version and why.

        Raises:
            ModelNotFoundError / VersionNotFoundError: the target does not exist.
        """
        check_name(name)
        check_alias(alias)
        if version is not None:
            self.resolve(Ref(name, version=int(version)))
        else:
            self._require_model(name)
        return self._move_alias(name, alias, version, reason=reason, by=by, mirror=True)

    def _move_alias(
        self,
        name: str,
        alias: str,
        version: int | None,
        *,
        reason: str,
        by: str | None = None,
        mirror: bool,
    ) -> AliasMove:
        move = append_move(self.registry, name, alias, version, reason=reason, by=by)
        if mirror and self.tracking_uri:
            mirror_alias(
                self.registry, name, alias, version, self.tracking_uri, self.mirror_timeout
            )
        return move

    def history(self, name: str, alias: str) -> list[AliasMove]:
        """Every move of ``alias``, oldest first.

        Raises:
            AliasNotFoundError: the alias was never set (the model's aliases are listed).
        """
        check_name(name)
        check_alias(alias)
        moves = read_moves(self.registry, name, alias)
        if not moves:
            self._require_model(name)
            known = self.aliases(name)
            raise AliasNotFoundError(
                f"model {name!r} has no alias {alias!r} (never set); its aliases: "
                f"{', '.join(sorted(known)) or 'none'}{close_matches(alias, list(known))}",
                model=name,
                alias=alias,
                aliases=known,
            )
        return moves

    # ---------------------------------------------------------------- listing

    def ls(self, name: str | None = None) -> list[dict[str, Any]]:
        """Without ``name``: one row per model (``name``, ``versions``, ``latest``,
        ``aliases``). With it: one row per version (``version``, ``content_hash``, ``size``,
        ``created_at``, ``owner``, ``description``, ``aliases``)."""
        if name is None:
            rows = []
            for model in self.models():
                numbers = self.versions(model)
                if numbers:
                    rows.append(
                        {
                            "name": model,
                            "versions": len(numbers),
                            "latest": numbers[-1],
                            "aliases": self.aliases(model),
                        }
                    )
            return rows
        numbers = self._require_model(name)
        aliases = self.aliases(name)
        rows = []
        for number in numbers:
            v = self.read_version(name, number)
            if v is None:
                continue
            rows.append(
                {
                    "name": name,
                    "version": number,
                    "content_hash": v.content_hash,
                    "size": v.size,
                    "created_at": v.created_at,
                    "owner": v.owner,
                    "description": v.description,
                    "aliases": sorted(a for a, n in aliases.items() if n == number),
                }
            )
        return rows

    def show(self, ref: str) -> dict[str, Any]:
        """Everything about the version ``ref`` names: its version.json, the aliases that
        point at it and its MLflow mirror (None when not mirrored)."""
        version = self.resolve(ref)
        doc = version.to_json()
        doc["aliases"] = sorted(
            a for a, n in self.aliases(version.name).items() if n == version.version
        )
        doc["mirror"] = self.mirror_state(version.name, version.version)
        doc["location"] = redact(
            self.registry.full_path(f"models/{version.name}/versions/{version.version}")
        )
        return doc

    def find(
        self,
        *,
        dataset: str | None = None,
        task: str | None = None,
        metric: tuple[str, str, float] | None = None,
        name: str | None = None,
        owner: str | None = None,
    ) -> list[ModelVersion]:
        """The versions that match every filter given, newest first.

        Args:
            dataset: Trained on this dataset: ``product_a/clicks`` (any version),
                ``product_a/clicks:1.2.0``, ``product_a/clicks:1.*`` or a content hash.
            task: Made by this task family (``mypkg.train:Train`` or ``Train``) or by the
                task whose unique id starts with this (6 characters at least).
            metric: ``(name, operator, value)``, operator one of ``> >= < <= == !=``.
            name: Only versions of this model.
            owner: Only versions of this owner.

        The answers carry no file list (``zoo.show(v.ref)`` has it).
        """
        from tasuki.zoo._index import Query, scan

        query = Query(dataset=dataset, task=task, metric=metric, name=name, owner=owner)
        docs = [d for d in scan(self.registry, self.read_version) if query.matches(d)]
        docs.sort(
            key=lambda d: (str(d.get("created_at", "")), d["name"], d["version"]), reverse=True
        )
        return [ModelVersion.from_json(d, where="models/_index.json") for d in docs]

    # ---------------------------------------------------------------- MLflow mirror

    def mirror_state(self, name: str, number: int) -> dict[str, Any] | None:
        """The MLflow version that mirrors zoo version ``number`` (None: not mirrored)."""
        return mirror_state(self.registry, name, number)

    def mirror(self, name: str, version: int | None = None) -> list[dict[str, Any]]:
        """Mirror the versions of ``name`` (or just ``version``) that MLflow lacks, and set
        every alias there again; returns what each mirrored version maps to.

        Raises:
            ConfigError: no tracking URI is configured.
            MirrorError: MLflow refused or did not answer in time.
        """
        uri = self.tracking_uri
        if not uri:
            raise ConfigError(
                "zoo mirror needs an MLflow tracking server: set tracking_uri in tasuki.toml, "
                "TASUKI_TRACKING_URI, or pass --tracking-uri",
                key="tracking_uri",
            )
        numbers = (
            self._require_model(name)
            if version is None
            else [self.resolve(Ref(name, version=version)).version]
        )
        done = []
        for number in numbers:
            state = self.mirror_state(name, number)
            if state is None:
                v = self.read_version(name, number)
                assert v is not None  # listed as complete: versions are never removed
                with tempfile.TemporaryDirectory(prefix="tasuki-zoo-mirror-") as tmp:
                    download(self.registry, v, Path(tmp))
                    verify_files(v, Path(tmp))
                    state = mirror_one(self.registry, v, Path(tmp), uri, self.mirror_timeout)
            done.append({"version": number, **state})
        mirror_aliases(self.registry, name, uri, self.mirror_timeout)
        return done


def _not_recorded(
    version: ModelVersion,
    *,
    description: str,
    owner: str | None,
    metrics: dict[str, float],
    datasets: list[str],
) -> list[str]:
    """What a push of ``version``'s files says that ``version`` does not (so it is lost)."""
    out = []
    if description and description != version.description:
        out.append(f"description {description!r}")
    if owner is not None and owner != version.owner:
        out.append(f"owner {owner!r} (it says {version.owner!r})")
    other = {k: v for k, v in metrics.items() if version.metrics.get(k) != float(v)}
    if other:
        out.append("metrics " + ", ".join(f"{k}={v:g}" for k, v in sorted(other.items())))
    # A dataset named with its content hash or without it is the same claim.
    known = {d for d in version.datasets} | {d.rpartition("@")[0] for d in version.datasets}
    missing = sorted(
        d for d in set(datasets) if d not in known and d.rpartition("@")[0] not in known
    )
    if missing:
        out.append("datasets " + ", ".join(missing))
    return out
