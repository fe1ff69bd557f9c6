"""Settings: one typed object, resolved once at the edge and passed down.

Resolution order, first match wins for each key:

1. explicit arguments (``tasuki.build(..., workspace=...)``, CLI flags);
2. ``TASUKI_<KEY>`` / ``TASUKI_<SECTION>__<KEY>`` environment variables;
3. ``tasuki.toml`` (top level) or ``pyproject.toml`` ``[tool.tasuki]``, found in the current
   folder or its parents;
4. the defaults below.

A relative local ``workspace`` (or ``registry``) in a settings file is relative to the folder
of that file (as Kedro resolves paths against the project root), so every sub-folder of a
project shares one cache and one registry; from the environment, an argument or the default
it is relative to the current folder.

Nothing is read at import time: call :func:`load_settings`.

Inside the library settings are never read again: a build makes its settings the ones *in
effect* (:func:`settings_in_effect`, a context variable, so concurrent builds in threads or
tasks each see their own, and forked workers inherit the builder's) for the code that runs
under it and has no other way to be handed them, such as a task's ``output()`` or ``run()``
resolving a warehouse name.
"""

from __future__ import annotations

import contextvars
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tasuki._file_cache import read_entry, stamp, trusted, write_entry
from tasuki._redact import redact
from tasuki._settings_fields import (
    Invalid,
    SettingsModel,
    choice,
    describe,
    mapping,
    number,
    text,
    texts,
)
from tasuki.errors import ConfigError

__all__ = [
    "ArgoServerSettings",
    "NotifySettings",
    "Settings",
    "WebSettings",
    "active_settings",
    "load_settings",
    "settings_in_effect",
    "with_overrides",
    "workspace_origin",
]


@dataclass(frozen=True, init=False)
class NotifySettings(SettingsModel):
    """Where build events go."""

    slack_webhook_url: str | None = field(default=None, metadata=text(optional=True))
    """Slack incoming webhook URL."""
    webhook_url: str | None = field(default=None, metadata=text(optional=True))
    """Any HTTP endpoint that accepts a JSON POST."""
    on: list[Literal["success", "failure"]] = field(
        default_factory=lambda: ["failure"], metadata=choice("success", "failure", many=True)
    )
    """Which build outcomes are sent."""
    timeout: float = field(default=10.0, metadata=number(float))


@dataclass(frozen=True, init=False)
class ArgoServerSettings(SettingsModel):
    """Where ``tasuki argo submit`` posts (``[argo]`` in tasuki.toml, ``TASUKI_ARGO__*``);
    each left unset falls back to the argo CLI's ``ARGO_SERVER``, ``ARGO_NAMESPACE`` and
    ``ARGO_TOKEN``."""

    server: str | None = field(default=None, metadata=text(optional=True))
    """Base URL of the Argo server, e.g. ``https://argo.example.com:2746``."""
    namespace: str | None = field(default=None, metadata=text(optional=True))
    """Namespace the workflows are created in (default ``argo``)."""
    token: str | None = field(default=None, repr=False, metadata=text(optional=True))
    """Bearer token. Keep it out of files in a repository: ``TASUKI_ARGO__TOKEN`` or
    ``ARGO_TOKEN`` in the environment. Never shown in a repr, a log line or an error."""


@dataclass(frozen=True, init=False)
class WebSettings(SettingsModel):
    """The web app (``[web]`` in tasuki.toml, ``TASUKI_WEB__*``): OpenID Connect login and
    who may edit. Without ``oidc_issuer`` the app refuses to start unless run with
    ``--insecure-local`` (then it binds to loopback only)."""

    oidc_issuer: str | None = field(default=None, metadata=text(optional=True))
    """Issuer URL of the OpenID Connect provider (``https://accounts.google.com``); its
    ``/.well-known/openid-configuration`` is read at start."""
    oidc_client_id: str | None = field(default=None, metadata=text(optional=True))
    """Client id registered with the provider."""
    oidc_client_secret: str | None = field(default=None, repr=False, metadata=text(optional=True))
    """Client secret. Keep it out of files in a repository: ``TASUKI_WEB__OIDC_CLIENT_SECRET``.
    Never shown in a repr, a log line or an error."""
    session_secret: str | None = field(default=None, repr=False, metadata=text(optional=True))
    """Key that signs session cookies (32+ random bytes, e.g. ``python -c "import secrets;
    print(secrets.token_urlsafe(32))"``); required with OIDC. Changing it logs everyone out."""
    session_max_age: int = field(default=8 * 3600, metadata=number(int, gt=0))
    """Seconds a login lasts."""
    admins: list[str] = field(default_factory=list, metadata=texts())
    """E-mail addresses (or OIDC subjects) given the admin role at login."""
    editors: list[str] = field(default_factory=list, metadata=texts())
    """E-mail addresses (or OIDC subjects) given the editor role; ``*@example.com`` matches a
    domain. Everyone else who logs in is a viewer (admins can change roles)."""
    base_url: str | None = field(default=None, metadata=text(optional=True))
    """Public URL of the app (``https://tasuki.example.com``), for links in chat and the
    OIDC redirect; default: the URL a request came in on."""


@dataclass(frozen=True, init=False)
class Settings(SettingsModel):
    """Everything that is about *where and how* tasks run, never *what* they compute.

    Built by :func:`load_settings` (or directly, ``Settings(workspace=...)``); every value is
    checked when it is made and a bad one raises :class:`~tasuki.errors.ConfigError`. A plain
    frozen dataclass, not a pydantic model: making one costs microseconds, and importing
    tasuki does not import pydantic (it cost ~60 ms of every ``import tasuki`` and ~25 ms of
    the first build). ``model_dump``, ``model_copy`` and ``model_fields`` work as they did.
    """

    workspace: str = field(default="./workspace", metadata=text())
    """Folder or URL (``s3://bucket/prefix``, ``gs://``, ``memory://``) for outputs and records."""
    workers: int = field(default=1, metadata=number(int, ge=1))
    """Local worker processes."""
    executor: str = field(default="local", metadata=text())
    """What runs the tasks: ``local`` (worker processes), ``inline`` (one process), or an
    executor registered in the ``tasuki.executors`` entry-point group."""
    dask_scheduler: str | None = field(default=None, metadata=text(optional=True))
    """Address of the Dask scheduler the ``dask`` executor submits to
    (``tcp://host:8786``); none: a ``LocalCluster`` of ``workers`` processes per build."""
    on_code_change: Literal["rerun", "warn", "ignore"] = field(
        default="rerun", metadata=choice("rerun", "warn", "ignore")
    )
    """What a change in the code of a task or of anything upstream of it does to its cached
    output: ``rerun`` (default: the output is out of date), ``warn`` (use it, say so once per
    task class) or ``ignore``."""
    fail_fast: bool = field(default=False, metadata=number(bool))
    """Stop scheduling new tasks after the first failure."""
    retries: int = field(default=0, metadata=number(int, ge=0))
    """Extra attempts for errors marked retryable."""
    retry_backoff: float = field(default=1.0, metadata=number(float, ge=0))
    """Seconds before the first retry; doubles each time."""
    lock_timeout: float = field(default=3600.0, metadata=number(float, gt=0))
    """Seconds to wait for another process computing the same task."""
    redis_url: str | None = field(default=None, metadata=text(optional=True))
    """Redis for per-task leases shared between machines."""
    lease: Literal["auto", "range", "disk"] = field(
        default="auto", metadata=choice("auto", "range", "disk")
    )
    """Leases on a local folder: a byte-range lock (``range``), lease files (``disk``, for
    network file systems), or ``auto`` (lease files on NFS, SMB and FUSE mounts)."""
    lease_ttl: float = field(default=60.0, metadata=number(float, gt=0))
    """Seconds a lease outlives a holder that stopped renewing it (killed, or cut off):
    how long another runner waits before it takes the task over."""
    fail_on_empty_dump: bool = field(default=False, metadata=number(bool))
    """Refuse to dump empty data (per task: ``fail_on_empty_dump = True``)."""
    progress: Literal["auto", "rich", "plain", "off"] = field(
        default="auto", metadata=choice("auto", "rich", "plain", "off", yes="auto", no="off")
    )
    """Progress display: rich on a terminal, plain lines otherwise (``False``: ``off``,
    ``True``: ``auto``)."""
    check_threads: int = field(default=16, metadata=number(int, ge=1))
    """Threads checking completeness on remote workspaces."""
    notify: NotifySettings = field(
        default_factory=NotifySettings, metadata={"model": NotifySettings}
    )
    argo: ArgoServerSettings = field(
        default_factory=ArgoServerSettings, metadata={"model": ArgoServerSettings}
    )
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict, metadata=mapping(dict))
    """Parameter defaults per task: ``[tasks."mypkg.tasks:TaskB"] param = "x"``."""
    warehouses: dict[str, str] = field(default_factory=dict, metadata=mapping(str))
    """Named warehouse URLs: ``[warehouses] dwh = "postgresql://..."``."""
    registry: str = field(default="./registry", metadata=text())
    """Folder or URL (``s3://bucket/registry``, ``gs://``) of the team's dataset registry and
    model zoo: published dataset versions and model versions, immutable once written."""
    tracking: str = field(default="off", metadata=text())
    """Experiment tracking: ``mlflow`` makes each build an MLflow run and each task a nested
    run (needs ``tracking_uri``); ``off`` logs nothing; another name picks a tracker from the
    ``tasuki.trackers`` entry-point group (checked when a build starts)."""
    tracking_uri: str | None = field(default=None, metadata=text(optional=True))
    """MLflow tracking server (``http://mlflow:5000``) or store URI; with it, zoo pushes are
    mirrored into the MLflow Model Registry."""
    catalog: str = field(default="sqlite:///.tasuki/catalog.db", metadata=text())
    """SQLAlchemy URL of the catalog store: embedded SQLite by default (a relative path is
    taken from the settings file's folder), ``postgresql+psycopg://host/db`` for a team."""
    catalog_lineage: bool = field(default=False, metadata=number(bool))
    """After each build, merge its tasks' run records (and the tables its write-back tasks
    wrote) into the catalog's lineage, so table pages are current without
    ``tasuki catalog lineage-refresh``. Costs one catalog write per build; a failure is
    logged, never fails the build."""
    web: WebSettings = field(default_factory=WebSettings, metadata={"model": WebSettings})
    source: dict[str, str] = field(default_factory=dict, metadata={**mapping(str), "exclude": True})
    """Where each key came from (for error messages and ``tasuki config``)."""


_IN_EFFECT: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "tasuki_settings_in_effect", default=None
)


def active_settings() -> Settings | None:
    """The settings of the build running in this context, or None outside a build.

    Library code that needs a setting and was not handed the Settings object (a task's
    ``output()`` or ``run()``) asks this before it reads settings itself: inside a build that
    read would be a second, possibly different, resolution of what the edge resolved once.
    """
    return _IN_EFFECT.get()


@contextmanager
def settings_in_effect(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` what :func:`active_settings` returns inside the ``with`` block.

    The edge (``run_build``, a CLI command) wraps the work it does with the settings it
    resolved; blocks nest, and the previous settings come back on exit.
    """
    token = _IN_EFFECT.set(settings)
    try:
        yield settings
    finally:
        _IN_EFFECT.reset(token)


def _current_folder() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError as exc:
        raise ConfigError(
            "the current folder no longer exists (it was removed under this process), so no "
            "tasuki.toml can be looked up from it and a relative workspace has no folder to be "
            "in. Change to an existing folder (os.chdir, or cd in a shell) and build again"
        ) from exc


def _find_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    for folder in (start, *start.parents):
        candidate = folder / "tasuki.toml"
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            doc = _read_toml(pyproject)
            section = doc.get("tool", {}).get("tasuki")
            if section is not None:
                return pyproject, section
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings file parsed, from the file cache while the file is unchanged
    (:mod:`tasuki._file_cache`): importing tomllib compiles its regular expressions, 5 ms of
    every command and every first build in a project."""
    import json

    where = str(path.absolute())
    entry = _toml_entry(where)
    file_stamp = stamp(where)
    cached = read_entry(entry) if file_stamp is not None else None
    if cached is not None:
        try:
            doc = json.loads(cached)
            if doc.get("path") == where and doc.get("stamp") == list(file_stamp or ()):
                return dict(doc["toml"])
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # unreadable: parsed again below, and replaced
    parsed = _parse_toml(path)
    if file_stamp is not None and trusted(file_stamp, time.time_ns()):
        try:
            text = json.dumps({"path": where, "stamp": list(file_stamp), "toml": parsed})
        except (TypeError, ValueError):  # dates and times: not JSON, parsed every time
            return parsed
        if json.loads(text)["toml"] == parsed and stamp(where) == file_stamp:
            write_entry(entry, text)
    return parsed


def _toml_entry(path: str) -> str:
    import hashlib

    return "toml/" + hashlib.sha256(f"{path}\0{sys.version}".encode()).hexdigest()[:32] + ".json"


def _parse_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", file=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc}", file=str(path)) from exc


def _anchor_workspace(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``doc`` with a relative local ``workspace`` and ``registry`` made absolute against
    ``folder``."""
    out = doc
    for key in _ANCHORED:
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        head, sep, _ = value.partition("://")
        if sep and head and "/" not in head and len(head) > 1:  # a URL (a drive letter is not)
            continue
        path = Path(value).expanduser()
        if path.is_absolute():
            if path != Path(value):
                out = {**out, key: str(path)}
            continue
        out = {**out, key: str(folder / path)}
    catalog = doc.get("catalog")
    if isinstance(catalog, str) and catalog.startswith("sqlite:///"):
        path = Path(catalog.removeprefix("sqlite:///")).expanduser()
        if not path.is_absolute() and str(path) != ":memory:":
            out = {**out, "catalog": "sqlite:///" + str(folder / path)}
    return out


#: Settings holding a folder, read from a settings file relative to that file's folder.
_ANCHORED = ("workspace", "registry")


def workspace_origin(settings: Settings) -> str:
    """Which setting chose the workspace: a settings file's path, ``TASUKI_WORKSPACE``,
    ``arguments`` or ``default``.

    Example:
        >>> workspace_origin(load_settings({"workspace": "memory://x"}))
        'arguments'
    """
    where = settings.source.get("workspace")
    if where is None:
        return "default"
    if where == _ENV_SOURCE:
        return "TASUKI_WORKSPACE"
    return where


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith("TASUKI_") or key in _NOT_SETTINGS:
            continue
        path = key[len("TASUKI_") :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(value)
    return out


_ENV_SOURCE = "environment (TASUKI_*)"

# Variables with the prefix that are not settings: the test-suite switches, and the query
# service token (a secret, kept out of the Settings object on purpose).
_NOT_SETTINGS = {
    "TASUKI_REQUIRE_SERVICES",
    "TASUKI_ALL_PYTHONS",
    "TASUKI_BENCH_POSTGRES",
    "TASUKI_TEST_POSTGRES",
    "TASUKI_TEST_REDIS",
    "TASUKI_QUERY_TOKEN",
    # The container image a step runs in (set by `tasuki argo export`), kept in run records.
    "TASUKI_IMAGE",
    # Where code fingerprints keep what they parsed (tasuki.core._source), or "off".
    "TASUKI_CODE_CACHE",
    # Where decoded dataset shards are kept (tasuki.datasets._arrow_cache), or "off".
    "TASUKI_DATASET_CACHE",
}


def _env_value(value: str) -> Any:
    text = value.strip()
    if text.startswith(("[", "{")):
        import json

        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def _merge(
    base: dict[str, Any], top: Mapping[str, Any], source: dict[str, str], where: str
) -> None:
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, source, where)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
        source.setdefault(key, where)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings from arguments, environment, settings file and defaults.

    Args:
        overrides: Explicit values; ``None`` values are ignored.
        cwd: Where to start looking for ``tasuki.toml`` / ``pyproject.toml``.
        environ: Environment to read (default ``os.environ``).
        config_file: A settings file to use instead of searching.

    Raises:
        ConfigError: naming each bad key, its value, where it came from and what is allowed.
    """
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if config_file is not None:
        path = Path(config_file).resolve()
        doc = _read_toml(path)
        if path.name == "pyproject.toml":
            doc = doc.get("tool", {}).get("tasuki", {})
        layers.append((str(path), _anchor_workspace(doc, path.parent)))
    else:
        found = _find_file(Path(cwd or _current_folder()).resolve())
        if found is not None:
            layers.append((str(found[0]), _anchor_workspace(found[1], found[0].parent)))
    layers.append((_ENV_SOURCE, _from_env(environ)))
    layers.append(("arguments", _explicit(overrides or {})))
    merged: dict[str, Any] = {}
    source: dict[str, str] = {}
    for where, layer in layers:
        # later layers win: record the winning source per key
        for key in layer:
            source[key] = where
        _merge(merged, layer, {}, where)
    if "source" in merged:  # the name of Settings' own bookkeeping field, not a setting
        where = source.get("source", "defaults")
        raise ConfigError(
            f"invalid tasuki settings: unknown key 'source' (from {where}). A [source] table "
            "belongs in a migrations file: pass that to `tasuki migrate --migrations FILE`, "
            "not as the settings file.",
            key="source",
            file=where,
        )
    try:
        return Settings(**merged, source=source)
    except Invalid as exc:
        errors = [{**e, "input": _redacted(e["input"])} if "input" in e else e for e in exc.errors]
        raise ConfigError(_describe(exc.errors, source), errors=errors) from None


def with_overrides(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` with explicit arguments on top (``None`` values ignored): they win over
    any settings object, and ``source`` says they came from arguments.

    Raises:
        ConfigError: an argument is not a valid value (the message names it).
    """
    explicit = _explicit(overrides)
    if not explicit:
        return settings
    source = {**settings.source, **dict.fromkeys(explicit, "arguments")}
    try:
        return Settings(**{**settings.model_dump(), **explicit}, source=source)
    except ConfigError as exc:
        raise ConfigError(
            f"invalid arguments {explicit!r} on top of the given settings: {exc}",
            arguments=sorted(explicit),
        ) from None


def _explicit(overrides: Mapping[str, Any]) -> dict[str, Any]:
    # A path object is a folder given as an argument (workspace=tmp_path): take its text.
    return {
        k: os.fspath(v) if isinstance(v, os.PathLike) else v
        for k, v in overrides.items()
        if v is not None
    }


def _redacted(value: Any) -> Any:
    """``value`` as is, or as its redacted repr when it holds a secret."""
    if isinstance(value, str):
        return redact(value)
    shown = repr(value)
    masked = redact(shown)
    return value if masked == shown else masked


def _describe(errors: list[dict[str, Any]], source: dict[str, str]) -> str:
    return describe(errors, source, list(Settings.model_fields))
