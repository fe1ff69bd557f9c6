"""Shared pieces of the web app's tests: a real OpenID Connect provider, the app under uvicorn,
signed session cookies, the login through the provider's form, and the browser harness.

Servers run as subprocesses on free loopback ports (``start_new_session``, stopped by process
group). Test modules import the fixtures they use::

    from tests._web import oidc_issuer  # noqa: F401  (fixture)
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._services import stop_process_group

#: A key long enough for the app's check; it signs the tests' session cookies.
SESSION_SECRET = "test-session-secret-0123456789abcdef-0123456789"
CLIENT_ID = "tasuki-test"
CLIENT_SECRET = "tasuki-test-secret"
ADMIN = "admin@example.com"
EDITOR = "eve@editors.example.com"
VIEWER = "viola@example.com"
#: ``[web]`` roles of the tests: one admin by address, editors by domain.
ROLES = {"admins": [ADMIN], "editors": ["*@editors.example.com"]}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited ({proc.returncode}):\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: no answer in {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def run_server(
    args: list[str], ready_url: str, log: Path, *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``args`` in a session of its own, wait until ``ready_url`` answers, and stop the
    whole process group afterwards (its output goes to ``log``)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    try:
        _wait_http(ready_url, proc, log, timeout=60.0)
        yield proc
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="module")
def oidc_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Issuer URL of a real OpenID Connect provider (``oidc-provider-mock``) on loopback.

    Its authorization page is a form where the test types the subject; ``ADMIN`` and
    ``EDITOR`` are predefined with verified addresses and names.
    """
    if importlib.util.find_spec("oidc_provider_mock") is None:
        reason = "oidc-provider-mock is not installed (pip install oidc-provider-mock)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this fails")
        pytest.skip(reason)
    port = free_port()
    users = [
        {"sub": "admin-sub", "email": ADMIN, "email_verified": True, "name": "Ada Admin"},
        {"sub": "eve-sub", "email": EDITOR, "email_verified": True, "name": "Eve Editor"},
        {"sub": "viola-sub", "email": VIEWER, "email_verified": True, "name": "Viola Viewer"},
    ]
    args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for user in users:
        args += ["--user-claims", json.dumps(user)]
    issuer = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with run_server(args, f"{issuer}/.well-known/openid-configuration", log):
        yield issuer


def write_settings(
    folder: Path,
    *,
    issuer: str | None,
    base_url: str | None = None,
    warehouses: dict[str, str] | None = None,
    catalog: str | None = None,
    **web: Any,
) -> Path:
    """A tasuki.toml in ``folder``: catalog (default SQLite) and workspace there, ``[web]``
    for ``issuer``."""
    catalog = catalog or f"sqlite:///{folder / 'catalog.db'}"
    lines = [
        f"catalog = {json.dumps(catalog)}",
        f'workspace = "{folder / "workspace"}"',
        "[warehouses]",
        *(f"{name} = {json.dumps(url)}" for name, url in (warehouses or {}).items()),
        "[web]",
    ]
    values: dict[str, Any] = {**ROLES, **web}
    if issuer is not None:
        values.update(
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
            session_secret=SESSION_SECRET,
        )
    if base_url is not None:
        values["base_url"] = base_url
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = folder / "tasuki.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def server_env() -> dict[str, str]:
    """The environment of a server subprocess: this one without TASUKI_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASUKI_")}


@contextlib.contextmanager
def tasuki_web(
    config: Path,
    *,
    insecure_local: bool = False,
    log: Path | None = None,
    pythonpath: Sequence[Path] = (),
) -> Iterator[str]:
    """``tasuki web`` (the real command) under uvicorn on a free port; yields its base URL.

    ``pythonpath``: folders the server imports task code from (run pages, rankings)."""
    port = free_port()
    args = [sys.executable, "-m", "tasuki", "web", "--port", str(port), "--config", str(config)]
    if insecure_local:
        args.append("--insecure-local")
    base = f"http://127.0.0.1:{port}"
    env = server_env()
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [*map(str, pythonpath), *filter(None, [env.get("PYTHONPATH")])]
        )
    with run_server(args, f"{base}/static/tasuki.css", log or config.with_name("web.log"), env=env):
        yield base


def signed_session(
    data: dict[str, Any], *, secret: str = SESSION_SECRET, at: float | None = None
) -> str:
    """A session cookie value as Starlette's SessionMiddleware signs it (itsdangerous),
    optionally signed as if at time ``at`` (to make an expired one)."""
    import itsdangerous

    class _At(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() if at is None else at)

    payload = base64.b64encode(json.dumps(data).encode())
    return _At(secret).sign(payload).decode()


_FORM_ACTION = re.compile(r'<form[^>]*method="post"', re.I)


def oidc_login(
    client: httpx.Client, base: str, sub: str, *, next_path: str = "/"
) -> httpx.Response:
    """Log ``client`` in through the provider's form as ``sub``; returns the page reached.

    Follows the real code flow: the app's ``/login`` redirects to the provider's authorize
    page, the form is submitted with the subject, the provider redirects to the app's
    callback, which redirects to ``next_path``.
    """
    page = client.get(f"{base}{next_path}", follow_redirects=True)
    assert "/oauth2/authorize" in str(page.url), f"not at the provider: {page.url}"
    assert _FORM_ACTION.search(page.text), "the provider's page has no form"
    return client.post(str(page.url), data={"sub": sub}, follow_redirects=True)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


# --- the browser harness ----------------------------------------------------------------------
# Debian's headless Chromium (never a browser Playwright downloads). Without it or the
# playwright package the tests are skipped with the reason, except when the CI environment
# variable is set: there a missing browser fails them. Screenshots go to a folder under the
# tmp path and, when TASUKI_TEST_ARTIFACTS is set, are copied to test-artifacts/screenshots/
# at the repository root (what CI uploads).

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "screenshots"
# Read once at collection: the autouse isolation fixture removes TASUKI_* from each test.
_COPY_ARTIFACTS = bool(os.environ.get("TASUKI_TEST_ARTIFACTS"))


def _missing_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install playwright; no browser download needed)"  # noqa: E501
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (``/usr/bin/chromium``) for one test module.

    Module scope, not session: Playwright's sync API keeps an event loop running in this
    thread while it is open, so a session-wide browser breaks every later test in the same
    xdist worker that calls ``asyncio.run`` (and a second module's own browser)."""
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {reason} (CI is set, so this fails)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Screenshots:
    """Where a test's screenshots go; ``take(page, name)`` saves the full page."""

    folder: Path
    copy_to: Path | None
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Any, name: str) -> Path:
        """Save a full-page PNG of ``page`` as ``<name>.png`` (and copy it for CI)."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        if self.copy_to is not None:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, self.copy_to / path.name)
        return path


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    """Screenshots of the module's pages (tmp folder; also test-artifacts/ when asked)."""
    return Screenshots(
        folder=tmp_path_factory.mktemp("screenshots"),
        copy_to=ARTIFACTS if _COPY_ARTIFACTS else None,
    )
