"""The catalog store: open it, read objects, edit what people write, search.

    from tasuki.catalog import Catalog

    with Catalog.open(settings=settings) as catalog:      # sqlite:///.tasuki/catalog.db
        table = catalog.get("dwh/public/orders")
        catalog.edit(table.path, author="ana@example.com", expected_version=table.version,
                     description="One row per order line. Refunds are negative.")
        hits = catalog.search("売上")

Embedded SQLite by default, PostgreSQL for a team (``postgresql+psycopg://host/db``); the
schema is brought up to date by the shipped Alembic migrations when the store is opened.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import create_engine, event, select, update

from tasuki._redact import redact
from tasuki.catalog import _schema as t
from tasuki.catalog._migrate import upgrade
from tasuki.catalog._objects import CatalogObject, Edit, Event, SearchHit, as_utc, object_from_row
from tasuki.errors import CatalogError, CatalogNotFoundError, ConfigError, EditConflictError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from tasuki.config import Settings

__all__ = ["MAX_DESCRIPTION", "Catalog"]

#: Longest description accepted, in characters (a page of Markdown is ~3,000).
MAX_DESCRIPTION = 100_000
_MAX_TAG = 64
_EDITABLE = ("description", "owner", "tags")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Catalog:
    """A catalog store (see the module docstring). Thread-safe: each call takes its own
    connection from the engine's pool."""

    def __init__(self, engine: Engine, *, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect: str = engine.dialect.name

    @classmethod
    def open(cls, url: str | None = None, *, settings: Settings | None = None) -> Catalog:
        """Open (creating or migrating as needed) the catalog at ``url``, or at the
        ``catalog`` setting.

        Raises:
            ConfigError: The URL is not one SQLAlchemy knows, or names an unsupported
                database (SQLite and PostgreSQL are).
            CatalogError: The database cannot be reached or migrated.
        """
        if url is None:
            if settings is None:
                from tasuki.config import load_settings

                settings = load_settings()
            url = settings.catalog
        engine = _engine(url)
        try:
            upgrade(engine)
        except Exception as exc:
            engine.dispose()
            raise CatalogError(
                f"cannot open the catalog at {redact(url)}: {exc}", url=redact(url)
            ) from exc
        return cls(engine, url=url)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({redact(self.url)!r})"

    # reading

    def get(self, path: str) -> CatalogObject:
        """The object at ``path`` (``wh``, ``wh/schema``, ``wh/schema/table`` or
        ``wh/schema/table/column``), gone or not.

        Raises:
            CatalogNotFoundError: Nothing was ever catalogued there.
        """
        with self.engine.connect() as conn:
            return _get(conn, path)

    def children(self, path: str | None, *, include_gone: bool = False) -> list[CatalogObject]:
        """The objects directly inside ``path`` (the databases when None), columns in
        table order, everything else by name."""
        query = select(t.objects)
        with self.engine.connect() as conn:
            if path is None:
                query = query.where(t.objects.c.kind == "database")
            else:
                query = query.where(t.objects.c.parent_id == _get(conn, path).id)
            if not include_gone:
                query = query.where(t.objects.c.gone_at.is_(None))
            query = query.order_by(t.objects.c.position, t.objects.c.path)
            return [object_from_row(r) for r in conn.execute(query).mappings()]

    def history(self, path: str) -> list[Edit]:
        """Every edit of the object, newest first."""
        with self.engine.connect() as conn:
            obj = _get(conn, path)
            rows = conn.execute(
                select(t.edits).where(t.edits.c.object_id == obj.id).order_by(t.edits.c.id.desc())
            ).mappings()
            return [
                Edit(
                    id=r["id"],
                    path=obj.path,
                    field=r["field"],
                    before=r["before"],
                    after=r["after"],
                    author=r["author"],
                    at=_aware(r["at"]),
                    version=r["version"],
                )
                for r in rows
            ]

    def events(self, path: str) -> list[Event]:
        """What syncs saw happen to the object, newest first."""
        with self.engine.connect() as conn:
            obj = _get(conn, path)
            rows = conn.execute(
                select(t.events)
                .where(t.events.c.object_id == obj.id)
                .order_by(t.events.c.id.desc())
            ).mappings()
            return [
                Event(
                    id=r["id"],
                    path=obj.path,
                    kind=r["kind"],
                    detail=json.loads(r["detail"] or "{}"),
                    at=_aware(r["at"]),
                )
                for r in rows
            ]

    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        kind: str | None = None,
        warehouse: str | None = None,
        include_gone: bool = False,
    ) -> list[SearchHit]:
        """Objects whose name, path, description or warehouse comment contain every word of
        ``query`` (substrings, any script), best first.

        Words of three or more characters use the trigram index; a query made only of
        shorter words (``id``, ``売上``) scans names and descriptions instead.
        """
        from tasuki.catalog._search import search

        if kind is not None and kind not in t.KINDS:
            raise CatalogError(
                f"search kind {kind!r} is not one of {', '.join(t.KINDS)}", kind=kind
            )
        if limit < 1:
            raise CatalogError(f"search limit must be at least 1, got {limit}", limit=limit)
        with self.engine.connect() as conn:
            return search(
                conn,
                query,
                limit=limit,
                kind=kind,
                warehouse=warehouse,
                include_gone=include_gone,
            )

    # writing

    def edit(
        self,
        path: str,
        *,
        author: str,
        expected_version: int,
        description: str | None = None,
        owner: str | None = None,
        tags: list[str] | None = None,
    ) -> CatalogObject:
        """Change what people wrote about an object; fields left None stay as they are.

        The edit applies only if the object is still at ``expected_version`` (the version
        the editor started from); each changed field leaves a row in the history with the
        text before and after. An edit that changes nothing writes nothing.

        Raises:
            EditConflictError: Someone else edited the object since ``expected_version``;
                nothing was written (``current`` holds what is stored now).
            CatalogError: An empty author, a description over :data:`MAX_DESCRIPTION`
                characters, or a bad tag.
            CatalogNotFoundError: No object at ``path``.
        """
        if not author or not author.strip():
            raise CatalogError("an edit needs an author (the person making it)", path=path)
        changes = _check_changes(path, description=description, owner=owner, tags=tags)
        with self.engine.begin() as conn:
            obj = _get(conn, path)
            if obj.version != expected_version:
                raise _conflict(obj, expected_version)
            current = {"description": obj.description, "owner": obj.owner, "tags": obj.tags}
            changed = {k: v for k, v in changes.items() if v != current[k]}
            if not changed:
                return obj
            new_version = obj.version + 1
            stored = {k: json.dumps(v) if k == "tags" else v for k, v in changed.items()}
            result = conn.execute(
                update(t.objects)
                .where(t.objects.c.id == obj.id, t.objects.c.version == expected_version)
                .values(version=new_version, **stored)
            )
            if result.rowcount != 1:  # another writer got in between our read and write
                raise _conflict(_get(conn, path), expected_version)
            now = _now()
            conn.execute(
                t.edits.insert(),
                [
                    {
                        "object_id": obj.id,
                        "field": field,
                        "before": _as_text(field, current[field]),
                        "after": _as_text(field, value),
                        "author": author.strip(),
                        "at": now,
                        "version": new_version,
                    }
                    for field, value in changed.items()
                ],
            )
            return _get(conn, path)


def _engine(url: str) -> Engine:
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"catalog {url!r}: cannot create the folder {path.parent}: {exc}", url=url
            ) from exc
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"catalog URL {redact(url)!r} is not usable ({exc}); use sqlite:///path/catalog.db "
            "or postgresql+psycopg://user@host/database",
            url=redact(url),
        ) from exc
    if engine.dialect.name not in ("sqlite", "postgresql"):
        engine.dispose()
        raise ConfigError(
            f"catalog URL {redact(url)!r}: {engine.dialect.name} is not supported; the "
            "catalog runs on SQLite or PostgreSQL",
            url=redact(url),
        )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers (the web app) never wait for a sync's long write transaction.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _get(conn: Connection, path: str) -> CatalogObject:
    row = conn.execute(select(t.objects).where(t.objects.c.path == path)).mappings().first()
    if row is None:
        raise CatalogNotFoundError(
            f"nothing in the catalog at {path!r}; paths look like warehouse/schema/table"
            "[/column] (run `tasuki catalog sync` to import a warehouse, `tasuki catalog "
            "search` to find a name)",
            path=path,
        )
    return object_from_row(row)


def _aware(value: Any) -> dt.datetime:
    out = as_utc(value)
    assert out is not None  # NOT NULL columns
    return out


def _check_changes(
    path: str, *, description: str | None, owner: str | None, tags: list[str] | None
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise CatalogError(
                f"description of {path!r} has {len(description):,} characters; at most "
                f"{MAX_DESCRIPTION:,} are kept (link to a longer document instead)",
                path=path,
            )
        changes["description"] = description.replace("\r\n", "\n")
    if owner is not None:
        changes["owner"] = owner.strip() or None
    if tags is not None:
        clean: list[str] = []
        for tag in tags:
            tag = tag.strip()
            if not tag or len(tag) > _MAX_TAG or "," in tag:
                raise CatalogError(
                    f"tag {tag!r} of {path!r}: tags are 1 to {_MAX_TAG} characters without commas",
                    path=path,
                    tag=tag,
                )
            if tag not in clean:
                clean.append(tag)
        changes["tags"] = clean
    return changes


def _as_text(field: str, value: Any) -> str | None:
    if field == "tags":
        return ", ".join(value)
    return None if value is None else str(value)


def _conflict(obj: CatalogObject, expected: int) -> EditConflictError:
    return EditConflictError(
        f"{obj.path!r} was edited by someone else: it is at version {obj.version}, the edit "
        f"started from version {expected}. Nothing was written; merge your text with the "
        "current one and save again",
        path=obj.path,
        expected_version=expected,
        current_version=obj.version,
        current=obj,
    )
