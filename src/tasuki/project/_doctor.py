"""``tasuki doctor [PATH]``: is this project ready to run here, and if not, what to fix.

Each check is independent and reports ``ok``, ``problem`` (with how to fix it) or ``note``
(worth knowing, not blocking): the settings file, the workspace (opened and written), each
warehouse (connected, ``SELECT 1``, short timeouts), the Python and tasuki versions against
the project's ``pyproject.toml``, the template version, and the packages the settings need.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tasuki._redact import redact
from tasuki.errors import ConfigError, TasukiError, WarehouseConnectionError

if TYPE_CHECKING:
    from tasuki.config import Settings

__all__ = ["Check", "doctor"]

Status = Literal["ok", "problem", "note"]

#: Seconds to wait for a warehouse: doctor answers quickly or says it cannot reach it.
CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        """The check as a JSON object."""
        return asdict(self)


def _settings(project: Path) -> tuple[Check, Settings | None]:
    from tasuki.config import load_settings

    found = project / "tasuki.toml"
    try:
        settings = load_settings(cwd=project)
    except ConfigError as exc:
        return Check("settings", "problem", redact(exc.message), "correct the value named"), None
    if not found.is_file():
        return (
            Check(
                "settings",
                "problem",
                f"no tasuki.toml in {project}",
                "run doctor in the project's root folder (tasuki doctor PATH), or create "
                'tasuki.toml with at least workspace = "./data/workspace"',
            ),
            settings,
        )
    return Check("settings", "ok", f"{found} is valid"), settings


def _workspace(settings: Settings) -> Check:
    from tasuki.core.runner import open_workspace

    try:
        store = open_workspace(settings)
    except (TasukiError, OSError) as exc:
        return Check(
            "workspace",
            "problem",
            redact(str(exc)),
            "make the folder writable or set workspace in tasuki.toml (TASUKI_WORKSPACE for "
            "one shell) to a folder or URL you can write",
        )
    return Check("workspace", "ok", f"{redact(store.url)} is reachable and writable")


def _warehouse(name: str, url: str) -> Check:
    from tasuki.warehouse import connect

    label = f"warehouse {name}"
    scheme = url.split("://", 1)[0].lower()
    options: dict[str, Any] = {}
    if scheme in ("postgresql", "postgres"):
        options["connect_timeout"] = CONNECT_TIMEOUT
    try:
        with connect(url, **options) as wh:
            wh.query("SELECT 1 AS ok", timeout=CONNECT_TIMEOUT * 2)
    except Exception as exc:  # any driver's failure is this check's answer, not a crash
        message = exc.message if isinstance(exc, TasukiError) else f"{type(exc).__name__}: {exc}"
        unreachable = isinstance(exc, WarehouseConnectionError | OSError | TimeoutError)
        fix = (
            f"start the warehouse or correct [warehouses] {name} in tasuki.toml; check the "
            "host, port, user and network from this machine"
            if unreachable
            else f"do what the message says, or correct [warehouses] {name} in tasuki.toml"
        )
        return Check(label, "problem", f"{redact(url)}: {redact(message)}", fix)
    return Check(label, "ok", f"{redact(url)} answered SELECT 1")


def _pyproject(project: Path) -> dict[str, Any]:
    import tomllib

    path = project / "pyproject.toml"
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _versions(project: Path) -> list[Check]:
    from tasuki import __version__

    doc = _pyproject(project).get("project", {})
    if not doc:
        return [Check("versions", "note", "no [project] in pyproject.toml: versions not checked")]
    try:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:
        return [Check("versions", "note", "not checked: pip install packaging")]
    checks = []
    python = ".".join(map(str, sys.version_info[:3]))
    try:
        wanted = SpecifierSet(str(doc.get("requires-python", "")))
    except InvalidSpecifier:
        wanted = SpecifierSet()
    if python in wanted:
        checks.append(Check("python", "ok", f"{python} (project: {wanted or 'any'})"))
    else:
        checks.append(
            Check(
                "python",
                "problem",
                f"{python} here, the project requires {wanted}",
                f"use a Python {wanted} (e.g. `uv venv --python {str(wanted).strip('>=<~')}`)",
            )
        )
    pins = []
    for text in doc.get("dependencies", []):
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.name.lower() == "tasuki":
            pins.append(req.specifier)
    if not pins:
        checks.append(Check("tasuki", "note", f"{__version__}; the project does not pin tasuki"))
    elif all(__version__ in spec for spec in pins):
        checks.append(Check("tasuki", "ok", f"{__version__} (project: {pins[0]})"))
    else:
        checks.append(
            Check(
                "tasuki",
                "problem",
                f"{__version__} here, the project pins {pins[0]}",
                f"install the pinned version: pip install 'tasuki{pins[0]}' (make init), or "
                "`tasuki update` the project to this tasuki's template",
            )
        )
    return checks


def _template(project: Path) -> Check | None:
    from tasuki.project._templates import template_versions, version_key
    from tasuki.project._update import ANSWERS_FILE, read_answers

    if not (project / ANSWERS_FILE).is_file():
        return None
    if importlib.util.find_spec("yaml") is None:  # PyYAML comes with copier
        return Check("template", "note", "not checked: pip install 'tasuki[template]'")
    try:
        recorded = str(read_answers(project).get("_commit", ""))
        latest = max(template_versions(), key=version_key)
        if version_key(recorded) < version_key(latest):
            return Check(
                "template",
                "note",
                f"made from the template of tasuki {recorded}; this tasuki has {latest}",
                "tasuki update (with a clean git tree), then review `git diff`",
            )
    except ConfigError as exc:
        return Check("template", "note", exc.message)
    return Check("template", "ok", f"the template of tasuki {recorded}")


def _needed_modules(settings: Settings) -> dict[str, str]:
    """Module to import -> the extra that installs it, for what the settings use."""
    needed: dict[str, str] = {}
    schemes = {url.split("://", 1)[0].lower() for url in settings.warehouses.values()}
    if "duckdb" in schemes:
        needed["duckdb"] = "warehouse"
    if schemes & {"postgresql", "postgres", "redshift"}:
        needed["adbc_driver_postgresql"] = "warehouse"
        needed["psycopg"] = "warehouse"
    if "bigquery" in schemes:
        needed["google.cloud.bigquery"] = "bigquery"
    workspace = settings.workspace.lower()
    if workspace.startswith(("s3://", "s3a://")) or "redshift" in schemes:
        needed["s3fs"] = "s3"
    if workspace.startswith(("gs://", "gcs://")):
        needed["gcsfs"] = "gcs"
    if settings.executor == "dask" or settings.dask_scheduler:
        needed["distributed"] = "dask"
    if settings.redis_url:
        needed["redis"] = "redis"
    if settings.tracking == "mlflow":
        needed["mlflow"] = "mlflow"
    if settings.notify.slack_webhook_url:
        needed["slack_sdk"] = "slack"
    return needed


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


def _packages(settings: Settings) -> Check:
    needed = _needed_modules(settings)
    missing = {m: extra for m, extra in needed.items() if not _importable(m)}
    if missing:
        extras = ",".join(sorted(set(missing.values())))
        return Check(
            "packages",
            "problem",
            f"not importable: {', '.join(sorted(missing))} (the settings use them)",
            f"pip install 'tasuki[{extras}]' (and add the extra to pyproject.toml)",
        )
    return Check(
        "packages", "ok", f"importable: {', '.join(sorted(needed))}" if needed else "no extras"
    )


def doctor(path: str | Path = ".") -> list[Check]:
    """Check the project in ``path`` and this machine; one :class:`Check` per line.

    Example:
        >>> [c.name for c in doctor("recsys") if c.status == "problem"]
        []
    """
    project = Path(path).expanduser().absolute()
    checks: list[Check] = []
    first, settings = _settings(project)
    checks.append(first)
    if settings is None:
        checks.append(Check("workspace", "note", "not checked: the settings are not valid"))
    else:
        checks.append(_workspace(settings))
        checks.extend(_warehouse(name, url) for name, url in sorted(settings.warehouses.items()))
        checks.append(_packages(settings))
    checks.extend(_versions(project))
    template = _template(project)
    if template is not None:
        checks.append(template)
    return checks
