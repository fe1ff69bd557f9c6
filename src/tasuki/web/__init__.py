"""The web app: catalog, runs, datasets, models and ranking comparison, behind OpenID Connect."""

from __future__ import annotations
