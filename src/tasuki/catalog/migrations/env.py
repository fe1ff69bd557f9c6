"""Alembic environment of the catalog store.

Run by :func:`tasuki.catalog._migrate.upgrade` with an open connection in
``config.attributes["connection"]``; there is no alembic.ini, and no URL is read here.
"""

from __future__ import annotations

from alembic import context

from tasuki.catalog._schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
