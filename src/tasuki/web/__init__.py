"""The web app: catalog, runs, datasets, models and ranking comparison, behind OpenID Connect.

    from tasuki.web import create_app
    app = create_app(settings)            # serve with uvicorn; `tasuki web` does it

See docs/web.md.
"""

from __future__ import annotations

from tasuki.web._app import create_app

__all__ = ["create_app"]
