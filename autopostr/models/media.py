"""Uploaded media, stored in chunks, and the posts that carry them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import autopostr.models.posts  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import utcnow


class Media(SQLModel, table=True):
    __tablename__ = "media"
    __table_args__ = (UniqueConstraint("team_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, ondelete="CASCADE")
    uploaded_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    filename: str = Field(max_length=500)
    mime_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    alt_text: str | None = Field(default=None, sa_type=Text)
    storage: str = Field(default="local", max_length=16)  # local | database
    storage_key: str = Field(default="", max_length=500)
    frames: int | None = None  # images: 1 for a still, more when animated
    created_at: datetime = Field(default_factory=utcnow)
    # Uploading the same bytes again touches it: the orphan grace period starts anew.
    # Nullable only so migration 0002 could add it to existing rows without a table copy.
    updated_at: datetime | None = Field(default_factory=utcnow)


class MediaChunk(SQLModel, table=True):
    """The bytes of a media item kept in the database (`database` storage), in order."""

    __tablename__ = "media_chunks"
    media_id: int = Field(foreign_key="media.id", primary_key=True, ondelete="CASCADE")
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=LargeBinary)


class PostMedia(SQLModel, table=True):
    __tablename__ = "post_media"
    post_id: int = Field(foreign_key="posts.id", primary_key=True, ondelete="CASCADE")
    media_id: int = Field(foreign_key="media.id", primary_key=True, index=True, ondelete="CASCADE")
    position: int = 0
