"""The social accounts a team publishes to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import autopostr.models.identity  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import AccountStatus, one_of, utcnow


class SocialAccount(SQLModel, table=True):
    """A connected platform account; its tokens are AES-GCM ciphertexts."""

    __tablename__ = "social_accounts"
    __table_args__ = (
        UniqueConstraint("team_id", "platform", "handle"),
        one_of("status", AccountStatus),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, ondelete="CASCADE")
    platform: str = Field(max_length=32)
    handle: str = Field(max_length=200)
    name: str = Field(default="", max_length=200)
    remote_id: str | None = Field(default=None, max_length=200)
    status: str = Field(default=AccountStatus.ACTIVE.value, max_length=32)
    access_token: str | None = Field(default=None, sa_type=Text)
    refresh_token: str | None = Field(default=None, sa_type=Text)
    expires_at: datetime | None = None
    scopes: str = Field(default="", max_length=1000)
    extra: str = Field(default="{}", sa_type=Text)  # platform-specific JSON
    connected_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
