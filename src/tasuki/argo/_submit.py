"""Post exported manifests to an Argo server (its REST API, ``/api/v1``).

The server, namespace and token come from :class:`ArgoSettings`: arguments, then tasuki's
settings (``[argo]`` in tasuki.toml, ``TASUKI_ARGO__SERVER``...), then the argo CLI's own
``ARGO_SERVER``, ``ARGO_NAMESPACE`` and ``ARGO_TOKEN`` variables. The token is a
:class:`pydantic.SecretStr`: it is sent in the ``Authorization`` header and nowhere else; no
message, log line or error repr holds it (each is passed through :func:`redact` and the token
itself is masked in any text the server sends back).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, SecretStr

from tasuki._redact import MASK, redact
from tasuki.argo._errors import ArgoError, SubmitError

if TYPE_CHECKING:
    from tasuki.config import ArgoServerSettings

__all__ = ["ArgoSettings", "submit"]

logger = logging.getLogger(__name__)

_ENDPOINTS = {
    "Workflow": ("workflows", "workflow"),
    "WorkflowTemplate": ("workflow-templates", "template"),
    "CronWorkflow": ("cron-workflows", "cronWorkflow"),
}


class ArgoSettings(BaseModel):
    """Where ``tasuki argo submit`` posts, and with which token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: str | None = None
    """Base URL of the Argo server, e.g. ``https://argo.example.com:2746``."""
    namespace: str = "argo"
    token: SecretStr | None = None
    """Bearer token (``ARGO_TOKEN``); with or without the ``Bearer `` prefix."""
    timeout: float = 30.0

    @classmethod
    def resolve(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        configured: ArgoServerSettings | None = None,
        **explicit: Any,
    ) -> ArgoSettings:
        """Explicit values first, then ``configured`` (tasuki's ``[argo]`` settings), then
        ``ARGO_SERVER``, ``ARGO_NAMESPACE``, ``ARGO_TOKEN``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "server": env.get("ARGO_SERVER"),
            "namespace": env.get("ARGO_NAMESPACE"),
            "token": env.get("ARGO_TOKEN"),
        }
        if configured is not None:
            values.update(
                {
                    k: v
                    for k, v in (
                        ("server", configured.server),
                        ("namespace", configured.namespace),
                        ("token", configured.token),
                    )
                    if v is not None
                }
            )
        values.update({k: v for k, v in explicit.items() if v is not None})
        return cls(**{k: v for k, v in values.items() if v is not None})


def _masked(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, MASK)
        bare = token.removeprefix("Bearer ").strip()
        if bare:
            text = text.replace(bare, MASK)
    return redact(text)


def submit(documents: Sequence[Mapping[str, Any]], settings: ArgoSettings) -> list[str]:
    """Create each document on the Argo server, in order (a split export's parts first).

    Returns:
        The names the server gave the created objects.

    Raises:
        ArgoError: no server configured.
        SubmitError: the server refused a document or could not be reached (its status and
            message, the token masked).
    """
    if not settings.server:
        raise ArgoError(
            "no Argo server: pass --server URL or set ARGO_SERVER (e.g. https://argo:2746)"
        )
    token = settings.token.get_secret_value() if settings.token else None
    names: list[str] = []
    for doc in documents:
        kind = str(doc.get("kind"))
        if kind not in _ENDPOINTS:
            raise ArgoError(f"cannot submit a {kind!r}; known: {', '.join(_ENDPOINTS)}")
        path, field = _ENDPOINTS[kind]
        url = f"{settings.server.rstrip('/')}/api/v1/{path}/{settings.namespace}"
        body = json.dumps({"namespace": settings.namespace, field: doc}).encode()
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        if token:
            value = token if token.startswith("Bearer ") else f"Bearer {token}"
            request.add_header("Authorization", value)
        logger.info("posting %s to %s", kind, redact(url))
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:2000]
            raise SubmitError(
                f"the Argo server at {redact(url)} refused the {kind} ({exc.code}): "
                f"{_masked(detail, token)}",
                status=exc.code,
                url=redact(url),
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise SubmitError(
                f"cannot reach the Argo server at {redact(url)}: {_masked(str(exc), token)}",
                status=None,
                url=redact(url),
            ) from None
        meta = answer.get("metadata") or {}
        names.append(str(meta.get("name") or (doc.get("metadata") or {}).get("name") or ""))
    return names
