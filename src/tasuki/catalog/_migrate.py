"""Bringing a catalog database to the current schema with the Alembic migrations shipped in
``tasuki/catalog/migrations`` (no alembic.ini: the script folder is found next to this file).

Opening a catalog that is already current costs one query: Alembic itself (~100 ms to
import) is loaded only when a migration has to run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from tasuki.errors import CatalogError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = ["HEAD", "current_revision", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^revision = ['\"](\w+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision = (?:['\"](\w+)['\"]|None)", re.M)


def _head() -> str:
    """The newest revision, read from the migration files (revision ids chain linearly)."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = _REVISION.search(text)
        down = _DOWN.search(text)
        if rev and down:
            revisions[rev.group(1)] = down.group(1)
    parents = {down for down in revisions.values() if down}
    heads = [rev for rev in revisions if rev not in parents]
    if len(heads) != 1:
        raise CatalogError(f"catalog migrations have {len(heads)} heads, expected one: {heads}")
    return heads[0]


HEAD = _head()


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def upgrade(engine: Engine) -> None:
    """Run every migration the database lacks, in one transaction per call."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
