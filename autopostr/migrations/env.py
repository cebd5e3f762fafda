"""Alembic environment: runs on the connection autopostr hands it."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import autopostr.models  # noqa: F401  (registers every table on the metadata)
from autopostr.models import metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render sqlmodel's column types as plain SQLAlchemy ones in migrations."""
    if type_ == "type" and isinstance(obj, AutoString):
        length = getattr(obj.impl, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def compare_type(
    _context: Any, _column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    """Treat sqlmodel's wrappers as the types they render to."""
    if isinstance(metadata_type, AutoString):
        return None if isinstance(inspected_type, sa.String) else True
    if isinstance(metadata_type, UTCDateTime):
        return not isinstance(inspected_type, sa.DateTime)
    return None


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("autopostr runs its migrations through `autopostr db upgrade`")
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
