"""The catalog's tables (SQLAlchemy Core), the one description of the store's shape.

Alembic migrations (``tasuki/catalog/migrations``) create and change these tables; this
module is what the code reads and writes through. A change here comes with a new migration.

One row per catalogued thing in ``catalog_objects``, whatever its level (database, schema,
table, column), addressed by ``path``: ``warehouse/schema/table/column``, the same string the
web app puts in its URLs. Edits never overwrite silently: each one bumps ``version`` (a
stale editor gets a conflict) and leaves a row in ``catalog_edits`` with the text before and
after. Sync leaves ``catalog_events`` (appeared, gone, returned, type changed, renamed).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "KINDS",
    "ROLES",
    "api_tokens",
    "edits",
    "events",
    "lineage_edges",
    "lineage_nodes",
    "metadata",
    "objects",
    "syncs",
    "users",
]

#: Levels of ``catalog_objects.kind``, outermost first.
KINDS = ("database", "schema", "table", "column")
#: Web app roles, weakest first: a viewer reads, an editor edits descriptions, an admin
#: also manages users, roles and tokens.
ROLES = ("viewer", "editor", "admin")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_TS = DateTime(timezone=True)

objects = Table(
    "catalog_objects",
    metadata,
    Column("id", Integer, primary_key=True),
    # ``warehouse/schema/table/column``: the object's address, in URLs too.
    Column("path", Text, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("warehouse", Text, nullable=False),
    Column("schema_name", Text),
    Column("table_name", Text),
    Column("column_name", Text),
    Column("parent_id", Integer, ForeignKey("catalog_objects.id", ondelete="CASCADE")),
    # A column's ordinal in its table (1-based).
    Column("position", Integer),
    # ``table``, ``view``, ``materialized view``, ``external``.
    Column("table_type", String(32)),
    Column("data_type", Text),
    Column("nullable", Boolean),
    Column("row_estimate", BigInteger),
    Column("size_bytes", BigInteger),
    Column("last_modified", _TS),
    # The warehouse's own ``COMMENT`` as last synced.
    Column("comment", Text),
    # Markdown written by people (rendered without raw HTML).
    Column("description", Text, nullable=False, server_default=""),
    Column("owner", Text),
    # JSON list of strings.
    Column("tags", Text, nullable=False, server_default="[]"),
    # Bumped by every edit; an edit names the version it started from.
    Column("version", Integer, nullable=False, server_default="1"),
    # Hash of what sync read for this object: unchanged objects are skipped cheaply.
    Column("fingerprint", String(32)),
    Column("first_seen", _TS, nullable=False),
    Column("last_seen", _TS, nullable=False),
    # Set when a sync no longer finds the object; it keeps its text and history.
    Column("gone_at", _TS),
    Index("ix_catalog_objects_parent", "parent_id"),
    Index("ix_catalog_objects_wh_kind", "warehouse", "kind"),
)

edits = Table(
    "catalog_edits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "object_id", Integer, ForeignKey("catalog_objects.id", ondelete="CASCADE"), nullable=False
    ),
    # ``description``, ``owner`` or ``tags``.
    Column("field", String(32), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("author", Text, nullable=False),
    Column("at", _TS, nullable=False),
    # The object's version this edit made.
    Column("version", Integer, nullable=False),
    Index("ix_catalog_edits_object", "object_id", "id"),
)

events = Table(
    "catalog_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "object_id", Integer, ForeignKey("catalog_objects.id", ondelete="CASCADE"), nullable=False
    ),
    # ``appeared``, ``gone``, ``returned``, ``type_changed``, ``renamed``, ``comment_changed``.
    Column("kind", String(32), nullable=False),
    # JSON: ``{"before": ..., "after": ...}`` and the like.
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("at", _TS, nullable=False),
    Column("sync_id", Integer, ForeignKey("catalog_syncs.id", ondelete="SET NULL")),
    Index("ix_catalog_events_object", "object_id", "id"),
)

syncs = Table(
    "catalog_syncs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("warehouse", Text, nullable=False),
    Column("started_at", _TS, nullable=False),
    Column("finished_at", _TS),
    # ``running``, ``ok`` or ``failed``.
    Column("status", String(16), nullable=False),
    Column("counts", Text, nullable=False, server_default="{}"),
    Column("error", Text),
)

lineage_nodes = Table(
    "lineage_nodes",
    metadata,
    Column("id", Integer, primary_key=True),
    # ``table:<warehouse>/<schema>/<table>``, ``task:<unique id>``,
    # ``dataset:<name#config:version>``, ``model:<name>/<n>``, ``query:<sha256>``: the keys
    # :mod:`tasuki.lineage` uses.
    Column("key", Text, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("label", Text, nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
    Column("updated_at", _TS, nullable=False),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column(
        "source_id", Integer, ForeignKey("lineage_nodes.id", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "target_id", Integer, ForeignKey("lineage_nodes.id", ondelete="CASCADE"), nullable=False
    ),
    # ``source`` went into ``target``: requires, wrote, read, trained on, produced by.
    Column("relation", String(32), nullable=False),
    Column("seen_at", _TS, nullable=False),
    UniqueConstraint("source_id", "target_id", "relation"),
    Index("ix_lineage_edges_target", "target_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    # ``<issuer>#<sub>`` from the ID token; ``local`` for ``--insecure-local``.
    Column("subject", Text, nullable=False, unique=True),
    Column("email", Text),
    Column("name", Text),
    Column("role", String(16), nullable=False, server_default="viewer"),
    Column("created_at", _TS, nullable=False),
    Column("last_login", _TS),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    # Only the token's sha256 is stored (tokens are 256 random bits).
    Column("sha256", String(64), nullable=False, unique=True),
    Column("created_at", _TS, nullable=False),
    Column("last_used", _TS),
    Column("revoked_at", _TS),
)
