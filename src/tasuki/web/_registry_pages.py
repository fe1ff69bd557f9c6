"""The registry pages: published datasets and the model zoo, read from the ``registry`` setting.

URLs:

- ``/datasets``: every dataset and config with its versions and newest version's rows;
- ``/datasets/{name}?config=&version=``: a version's description, release notes, schema
  with column docs, splits (rows, shards, bytes, the tasks that produced them), sources and
  the line that loads it (``name`` may hold ``/``: ``product_a/clicks``);
- ``/models``: every model with its number of versions, latest version and aliases;
- ``/models/{name}?version=``: its versions (newest first, with metrics and the task that
  made each), its aliases with their audit log (who moved them, when, from where, why), and
  one version's files, loader, datasets and parameters.

Everything is read through the public APIs of :mod:`tasuki.datasets` and :mod:`tasuki.zoo`
(nothing is written); a registry that does not exist yet shows an empty list.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from tasuki.config import Settings
from tasuki.errors import ConfigError, TasukiError
from tasuki.web._deps import get_settings, render
from tasuki.web._markdown import render_markdown, summary

__all__ = ["MAX_VERSIONS", "router"]

router = APIRouter()

MAX_VERSIONS = 100
"""Most model versions one page lists (the newest)."""

SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request, settings: SettingsDep) -> Response:
    """Every published dataset and config."""
    from tasuki.datasets import list_datasets

    try:
        found = list_datasets(settings.registry)
    except (FileNotFoundError, ConfigError):
        found = []
    rows = [
        {
            "name": d.name,
            "config": d.config,
            "versions": d.versions,
            "latest": d.latest,
            "error": d.error,
            "summary": summary(d.latest.description, limit=160) if d.latest else "",
        }
        for d in found
    ]
    return render(
        request, "registry/datasets.html", {"datasets": rows, "registry": settings.registry}
    )


@router.get("/datasets/{name:path}", response_class=HTMLResponse)
def dataset_page(
    request: Request, name: str, settings: SettingsDep, config: str = "", version: str = ""
) -> Response:
    """One dataset version: documentation, schema, splits and where its rows came from."""
    from tasuki.datasets import info, list_versions

    try:
        versions = list_versions(name, config=config or None, registry=settings.registry)
        if not versions:
            raise ConfigError(f"dataset {name!r} has no published version yet")
        chosen = version or versions[-1]
        ref = f"{name}:{chosen}"
        found = info(ref, config=config or None, registry=settings.registry)
    except (TasukiError, FileNotFoundError) as exc:
        raise HTTPException(404, f"{exc} (the published datasets are listed at /datasets)") from exc
    load_ref = (
        f"{found.name}#{found.config}:{found.version}"
        if config
        else f"{found.name}:{found.version}"
    )
    return render(
        request,
        "registry/dataset.html",
        {
            "info": found,
            "versions": list(reversed(versions)),
            "config": config,
            "description": render_markdown(found.description),
            "release_notes": render_markdown(found.release_notes),
            "load_line": f"tasuki.datasets.load({load_ref!r})",
            "content_hash": found.content_hash,
        },
    )


def _zoo(settings: Settings) -> Any:
    from tasuki.zoo import Zoo

    # tracking_uri="": the pages only read; nothing is mirrored from here.
    return Zoo(settings.registry, tracking_uri="", settings=settings)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, settings: SettingsDep) -> Response:
    """Every model in the zoo with its versions and aliases."""
    try:
        rows = _zoo(settings).ls()
    except FileNotFoundError:
        rows = []
    return render(request, "registry/models.html", {"models": rows, "registry": settings.registry})


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(
    request: Request, name: str, settings: SettingsDep, version: int | None = None
) -> Response:
    """One model: its versions, its aliases and their audit log, one version in full."""
    zoo = _zoo(settings)
    try:
        numbers = zoo.versions(name)
        if not numbers:
            raise ConfigError(f"no model {name!r} in the zoo")
        aliases = zoo.aliases(name)
        history = {alias: list(reversed(zoo.history(name, alias))) for alias in sorted(aliases)}
        chosen = zoo.show(f"{name}/{version if version is not None else numbers[-1]}")
    except (TasukiError, FileNotFoundError) as exc:
        raise HTTPException(404, f"{exc} (the models are listed at /models)") from exc
    listed = []
    for number in reversed(numbers[-MAX_VERSIONS:]):
        v = zoo.read_version(name, number)
        if v is not None:
            listed.append(
                {
                    "version": v,
                    "aliases": sorted(a for a, n in aliases.items() if n == number),
                }
            )
    return render(
        request,
        "registry/model.html",
        {
            "name": name,
            "versions": listed,
            "older": max(0, len(numbers) - MAX_VERSIONS),
            "aliases": aliases,
            "history": history,
            "chosen": chosen,
            "description": render_markdown(chosen.get("description")),
        },
    )
