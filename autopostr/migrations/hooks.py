"""Autogenerate hooks shared by env.py and the schema test."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime


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
