"""Alembic environment: runs on the connection autopostr hands it."""

from __future__ import annotations

from alembic import context

import autopostr.models  # noqa: F401  (registers every table on the metadata)
from autopostr.migrations.hooks import compare_type, render_item
from autopostr.models import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("autopostr runs its migrations through `autopostr db upgrade`")
    if connection.dialect.name == "sqlite":
        (foreign_keys,) = connection.exec_driver_sql("PRAGMA foreign_keys").one()
        if foreign_keys:
            # A batch-mode table copy would cascade its DROP into the child tables.
            raise RuntimeError(
                "SQLite migrations run with foreign keys off: use autopostr.migrate.migrating()"
            )
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=compare_type,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
