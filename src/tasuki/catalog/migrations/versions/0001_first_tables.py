"""The catalog's first tables and its full-text index

Revision ID: 0001
Revises:
Create Date: 2026-12-06 00:15:37.751568
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("warehouse", sa.Text(), nullable=False),
        sa.Column("schema_name", sa.Text(), nullable=True),
        sa.Column("table_name", sa.Text(), nullable=True),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("table_type", sa.String(length=32), nullable=True),
        sa.Column("data_type", sa.Text(), nullable=True),
        sa.Column("nullable", sa.Boolean(), nullable=True),
        sa.Column("row_estimate", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), server_default="[]", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["catalog_objects.id"],
            name=op.f("fk_catalog_objects_parent_id_catalog_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_objects")),
        sa.UniqueConstraint("path", name=op.f("uq_catalog_objects_path")),
    )
    with op.batch_alter_table("catalog_objects", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_objects_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_catalog_objects_wh_kind", ["warehouse", "kind"], unique=False)

    op.create_table(
        "catalog_syncs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.Text(), server_default="{}", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_syncs")),
    )
    op.create_table(
        "lineage_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_nodes")),
        sa.UniqueConstraint("key", name=op.f("uq_lineage_nodes_key")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=16), server_default="viewer", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("subject", name=op.f("uq_users_subject")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("sha256", name=op.f("uq_api_tokens_sha256")),
    )
    op.create_table(
        "catalog_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["catalog_objects.id"],
            name=op.f("fk_catalog_edits_object_id_catalog_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_edits")),
    )
    with op.batch_alter_table("catalog_edits", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_edits_object", ["object_id", "id"], unique=False)

    op.create_table(
        "catalog_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sync_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["catalog_objects.id"],
            name=op.f("fk_catalog_events_object_id_catalog_objects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sync_id"],
            ["catalog_syncs.id"],
            name=op.f("fk_catalog_events_sync_id_catalog_syncs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_events")),
    )
    with op.batch_alter_table("catalog_events", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_events_object", ["object_id", "id"], unique=False)

    op.create_table(
        "lineage_edges",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["lineage_nodes.id"],
            name=op.f("fk_lineage_edges_source_id_lineage_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["lineage_nodes.id"],
            name=op.f("fk_lineage_edges_target_id_lineage_nodes"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "source_id",
            "target_id",
            "relation",
            name=op.f("uq_lineage_edges_source_id_target_id_relation"),
        ),
    )
    with op.batch_alter_table("lineage_edges", schema=None) as batch_op:
        batch_op.create_index("ix_lineage_edges_target", ["target_id"], unique=False)

    _create_search()


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("lineage_edges", schema=None) as batch_op:
        batch_op.drop_index("ix_lineage_edges_target")

    op.drop_table("lineage_edges")
    with op.batch_alter_table("catalog_events", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_events_object")

    op.drop_table("catalog_events")
    with op.batch_alter_table("catalog_edits", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_edits_object")

    op.drop_table("catalog_edits")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("lineage_nodes")
    op.drop_table("catalog_syncs")
    with op.batch_alter_table("catalog_objects", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_objects_wh_kind")
        batch_op.drop_index("ix_catalog_objects_parent")

    op.drop_table("catalog_objects")


# What search matches: an object's own name, its path, its description and the warehouse's
# comment. The name is the last part of the path.
_NAME = "coalesce({p}column_name, {p}table_name, {p}schema_name, {p}warehouse)"
# The FTS rowid of an object: its id plus a tier above bit 40. Index hits come back in rowid
# order, so a search can stop after the first few hundred and still have seen the objects
# people look for first: documented tables (tier 0), other tables (1), documented columns
# (2), other columns (3). Ranking a few hundred is cheap; ranking every hit of a common
# word among a million columns is not (BM25 reads each hit's column sizes).
TIER_SHIFT = 40
_TIER = (
    "(CASE WHEN {p}kind = 'column' THEN 2 ELSE 0 END "
    "+ CASE WHEN {p}description = '' THEN 1 ELSE 0 END)"
)


def _create_search() -> None:
    """SQLite: a contentless FTS5 table with the trigram tokenizer (substrings of 3+
    characters match in any script: FTS5's default tokenizer finds no Japanese word inside
    a longer run of kana and kanji), kept by triggers, and an index of lower-cased names for
    exact-name hits. PostgreSQL: pg_trgm GIN indexes."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE catalog_search USING fts5("
            "name, path, description, comment, content='', tokenize='trigram')"
        )
        op.execute(
            f"CREATE INDEX ix_catalog_objects_name ON catalog_objects (lower({_NAME.format(p='')}))"
        )
        values = ", ".join(
            (_NAME.format(p="{r}."), "{r}.path", "{r}.description", "coalesce({r}.comment, '')")
        )
        rowid = f"{{r}}.id + ({_TIER.format(p='{r}.')} << {TIER_SHIFT})"
        insert = (
            "INSERT INTO catalog_search(rowid, name, path, description, comment) "
            f"VALUES ({rowid.format(r='new')}, {values.format(r='new')});"
        )
        delete = (
            "INSERT INTO catalog_search(catalog_search, rowid, name, path, description, "
            f"comment) VALUES ('delete', {rowid.format(r='old')}, {values.format(r='old')});"
        )
        op.execute(
            f"CREATE TRIGGER catalog_search_ai AFTER INSERT ON catalog_objects BEGIN {insert} END"
        )
        op.execute(
            f"CREATE TRIGGER catalog_search_ad AFTER DELETE ON catalog_objects BEGIN {delete} END"
        )
        # Only the searched columns: a sync touching last_seen or row counts reindexes nothing.
        op.execute(
            "CREATE TRIGGER catalog_search_au AFTER UPDATE OF path, description, comment, "
            "column_name, table_name, schema_name, kind ON catalog_objects "
            f"BEGIN {delete} {insert} END"
        )
    elif bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_catalog_objects_search_path ON catalog_objects "
            "USING gin (path gin_trgm_ops)"
        )
        op.execute(
            "CREATE INDEX ix_catalog_objects_search_text ON catalog_objects "
            "USING gin ((description || ' ' || coalesce(comment, '')) gin_trgm_ops)"
        )


def _drop_search() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("catalog_search_ai", "catalog_search_ad", "catalog_search_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS catalog_search")
        op.execute("DROP INDEX IF EXISTS ix_catalog_objects_name")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_catalog_objects_search_path")
        op.execute("DROP INDEX IF EXISTS ix_catalog_objects_search_text")
