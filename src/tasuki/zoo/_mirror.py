"""When and how the zoo mirrors into MLflow: on push and alias moves (a failure warns once
and loses nothing), and on demand (``tasuki zoo mirror``: a failure raises). What is sent is
in :mod:`tasuki.zoo._mlflow`; this module keeps the mapping ``models/<name>/mirror/<n>.json``
and the deadlines."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

from tasuki.zoo._aliases import alias_names, alias_state
from tasuki.zoo._errors import MirrorError, MirrorWarning

if TYPE_CHECKING:
    from pathlib import Path

    from tasuki.zoo._store import RegistryStore
    from tasuki.zoo._version import ModelVersion

__all__ = ["mirror_alias", "mirror_aliases", "mirror_on_push", "mirror_one", "mirror_state"]

PROBE_TIMEOUT = 5.0
"""Seconds the tracking server's ``/health`` gets (at most the mirror timeout)."""


def mirror_state(reg: RegistryStore, name: str, number: int) -> dict[str, Any] | None:
    """What ``mirror/<n>.json`` says (the MLflow version of zoo version ``number``)."""
    data = reg.read(f"models/{name}/mirror/{number}.json")
    return None if data is None else dict(json.loads(data))


def _aliases(reg: RegistryStore, name: str) -> dict[str, int]:
    out = {}
    for alias in alias_names(reg, name):
        number = alias_state(reg, name, alias)[1]
        if number is not None:
            out[alias] = number
    return out


def mirror_one(
    reg: RegistryStore, version: ModelVersion, folder: Path, uri: str, timeout: float
) -> dict[str, Any]:
    """Mirror ``version`` (its verified files in ``folder``) and record the mapping; raises
    MirrorError when MLflow refuses or does not answer within ``timeout`` seconds."""
    from tasuki.zoo._mlflow import client_for, mirror_version, probe, within

    client = client_for(uri)
    probe(uri, min(PROBE_TIMEOUT, timeout))
    aliases = _aliases(reg, version.name)
    doc: dict[str, Any] = within(
        timeout,
        f"mirroring {version.ref}",
        uri,
        lambda: mirror_version(client, version, folder, uri, aliases),
    )
    reg.write(
        f"models/{version.name}/mirror/{version.version}.json",
        json.dumps(doc, sort_keys=True).encode(),
    )
    return doc


def mirror_on_push(
    reg: RegistryStore, version: ModelVersion, folder: Path, uri: str, timeout: float
) -> None:
    """``mirror_one``, a failure turned into one MirrorWarning (the version is kept)."""
    try:
        mirror_one(reg, version, folder, uri, timeout)
    except MirrorError as exc:
        warnings.warn(
            MirrorWarning(
                f"{version.ref} is pushed to the registry but not mirrored into MLflow: "
                f"{exc}. Mirror it later with `tasuki zoo mirror {version.name}`."
            ),
            stacklevel=4,  # the caller of Zoo.push
        )


def mirror_alias(
    reg: RegistryStore, name: str, alias: str, version: int | None, uri: str, timeout: float
) -> None:
    """Move the alias in MLflow too (when its version is mirrored); a failure warns once."""
    from tasuki.zoo._mlflow import client_for, probe, set_alias, within

    state = mirror_state(reg, name, version) if version is not None else None
    if version is not None and state is None:
        return  # that version is not mirrored yet: `tasuki zoo mirror` sets its aliases
    mlflow_version = None if state is None else str(state["model_version"])
    try:
        client = client_for(uri)
        probe(uri, min(PROBE_TIMEOUT, timeout))
        within(
            timeout,
            f"setting alias {name}@{alias}",
            uri,
            lambda: set_alias(client, name, alias, mlflow_version),
        )
    except MirrorError as exc:
        warnings.warn(
            MirrorWarning(
                f"alias {name}@{alias} moved in the registry but not in MLflow: {exc}. "
                f"`tasuki zoo mirror {name}` sets it again."
            ),
            stacklevel=5,  # the caller of Zoo.alias
        )


def mirror_aliases(reg: RegistryStore, name: str, uri: str, timeout: float) -> None:
    """Set every alias of ``name`` whose version is mirrored, in MLflow (raises)."""
    from tasuki.zoo._mlflow import client_for, set_alias, within

    client = client_for(uri)
    for alias, number in _aliases(reg, name).items():
        state = mirror_state(reg, name, number)
        if state is not None:
            within(
                timeout,
                f"setting alias {name}@{alias}",
                uri,
                lambda a=alias, s=state: set_alias(client, name, a, str(s["model_version"])),
            )
