"""AI requests, counted for the rate limit and the plan (PRODUCT §8)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

import autopostr.models.identity  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import utcnow


class AiUsage(SQLModel, table=True):
    """One row per AI request, written before the request is sent: the rate limit counts
    a user's rows of the last minute, and billing a team's rows of the month."""

    __tablename__ = "ai_usage"
    __table_args__ = (
        Index("ix_ai_usage_user_id_created_at", "user_id", "created_at"),
        Index("ix_ai_usage_team_id_created_at", "team_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    team_id: int | None = Field(default=None, foreign_key="teams.id", ondelete="CASCADE")
    feature: str = Field(max_length=32)
    model: str = Field(default="", max_length=100)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_ms: int = 0
    ok: bool = False  # the server answered; False while in flight or after a failure
    created_at: datetime = Field(default_factory=utcnow, index=True)
