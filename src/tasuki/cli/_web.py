"""``tasuki web``: serve the web app (catalog, runs, ranking, datasets, models) under uvicorn.

Without ``[web] oidc_issuer`` it refuses to start: the app shows warehouse metadata and lets
people edit it, so it needs to know who they are. ``--insecure-local`` serves it with no
login (everyone is the admin ``local``) and only on 127.0.0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tasuki.cli._app import ConfigFile, LogLevel, _errors_exit_2, _settings, _setup_logging, app
from tasuki.errors import ConfigError

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = ["LOCAL_HOST", "check_web_settings", "web"]

#: The only interface ``--insecure-local`` listens on.
LOCAL_HOST = "127.0.0.1"


def check_web_settings(settings: Settings, *, host: str | None, insecure_local: bool) -> str:
    """The host to listen on, after refusing what must not start.

    Raises:
        ConfigError: ``--insecure-local`` with a host other than 127.0.0.1; or no
            ``[web] oidc_issuer`` (or client id, or session secret) without it.
    """
    if insecure_local:
        if host not in (None, LOCAL_HOST):
            raise ConfigError(
                f"--insecure-local serves with no login, so it listens on {LOCAL_HOST} only; "
                f"--host {host} is refused. To serve other machines configure OpenID Connect "
                "under [web] (oidc_issuer, oidc_client_id, oidc_client_secret, session_secret) "
                "and drop --insecure-local"
            )
        return LOCAL_HOST
    if not settings.web.oidc_issuer:
        raise ConfigError(
            "tasuki web needs an OpenID Connect provider to log people in: set [web] "
            "oidc_issuer (e.g. https://accounts.google.com), oidc_client_id, "
            "oidc_client_secret and session_secret in tasuki.toml (or TASUKI_WEB__OIDC_ISSUER "
            "and the like). To try it alone on this machine, run "
            "`tasuki web --insecure-local` (no login, 127.0.0.1 only)"
        )
    return host or LOCAL_HOST


def _check_provider(settings: Settings) -> None:
    """Read the provider's discovery document once: a wrong issuer fails now, not at login."""
    import httpx

    from tasuki.web._auth import discovery_url

    url = discovery_url(settings.web.oidc_issuer or "")
    try:
        response = httpx.get(url, timeout=10.0, follow_redirects=True)
        response.raise_for_status()
        doc = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(
            f"web.oidc_issuer {settings.web.oidc_issuer!r}: could not read its OpenID "
            f"configuration at {url} ({type(exc).__name__}: {exc}). Check the issuer URL "
            "(no trailing path) and that this machine can reach it"
        ) from None
    if not isinstance(doc, dict) or "authorization_endpoint" not in doc:
        raise ConfigError(
            f"web.oidc_issuer {settings.web.oidc_issuer!r}: {url} is not an OpenID "
            "configuration (no authorization_endpoint)"
        )


@app.command(name="web")
@_errors_exit_2
def web(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on (default 127.0.0.1; 0.0.0.0 for all)."),
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    insecure_local: Annotated[
        bool,
        typer.Option(
            "--insecure-local",
            help="No login: everyone is the admin 'local'. Listens on 127.0.0.1 only.",
        ),
    ] = False,
    config: ConfigFile = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Serve the web app: catalog, runs, ranking comparison, datasets and models."""
    settings = _settings(config)
    listen = check_web_settings(settings, host=host, insecure_local=insecure_local)
    _setup_logging(log_level)
    if not insecure_local:
        _check_provider(settings)
    import uvicorn

    from tasuki.web._app import create_app

    application = create_app(settings, insecure_local=insecure_local)
    typer.echo(f"tasuki web: http://{listen}:{port}/", err=True)
    uvicorn.run(application, host=listen, port=port, log_config=None, timeout_graceful_shutdown=5)
