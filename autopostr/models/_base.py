"""What every table module shares: the metadata's naming, UTC time, closed sets, and
partial indexes that wait for the whole schema."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, MetaData, text
from sqlmodel import SQLModel

from autopostr.states import sql_in

# Named constraints let Alembic's SQLite batch mode drop and recreate them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class AccountStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"  # a refresh was refused: someone must connect again
    DISCONNECTED = "disconnected"


class Role(StrEnum):
    """A member's role in a team, lowest first (permissions rank them in this order)."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"


class AiFeature(StrEnum):
    """What an AI request was for (`autopostr ai <feature>`)."""

    CAPTION = "caption"
    HASHTAGS = "hashtags"
    IMPROVE = "improve"
    IDEAS = "ideas"
    ALT_TEXT = "alt-text"
    VARIANTS = "variants"


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """A CHECK that keeps a column inside its closed set (named ck_<table>_<column>)."""
    return CheckConstraint(sql_in(column, values), name=column)


_partial: list[tuple[str, str, tuple[str, ...], str, bool]] = []


def partial_index(table: str, name: str, *columns: str, where: str, unique: bool = False) -> None:
    """An index over the rows `where` holds, on SQLite and PostgreSQL alike.

    Its condition is a dialect option, and naming one makes SQLAlchemy import that
    dialect (PostgreSQL's costs ~30 ms, on every SQLite command too). Queries do not need
    the index object, the database uses the index by itself; so it joins its table only
    with the whole schema (`autopostr.models.metadata`), which migrations compare and
    `create_all` builds.
    """
    _partial.append((table, name, columns, where, unique))


def attach_partial_indexes() -> None:
    while _partial:
        table_name, name, columns, where, unique = _partial.pop(0)
        table = metadata.tables[table_name]
        Index(
            name,
            *(table.c[column] for column in columns),
            unique=unique,
            postgresql_where=text(where),
            sqlite_where=text(where),
        )
