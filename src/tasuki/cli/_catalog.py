"""``tasuki catalog ...``: the catalog of warehouse tables (sync, search, show, describe, lineage).

The group is defined here; its commands live in ``_catalog_sync`` (sync, search, show,
describe, push-comments) and ``_catalog_lineage`` (lineage, OpenLineage export and import).
"""

from __future__ import annotations

import typer

from tasuki.cli._app import app

__all__ = ["catalog_app"]

catalog_app = typer.Typer(
    help="The catalog of warehouse tables: sync metadata, search, describe, lineage.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(catalog_app, name="catalog")
