"""Daemons' heartbeats, the audit log and small facts about the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

import autopostr.models.identity  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import utcnow


class Daemon(SQLModel, table=True):
    """A running daemon's heartbeat; leases of daemons that stop beating are recovered."""

    __tablename__ = "daemons"
    id: str = Field(primary_key=True, max_length=100)
    host: str = Field(max_length=255)
    pid: int
    version: str = Field(default="", max_length=32)
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow, index=True)
    in_flight: int = 0
    stopped_at: datetime | None = None
    # The advisory-lock key a long-running daemon holds on PostgreSQL while it lives (0 on
    # SQLite: the file lock); NULL for runs that hold none (`--once`).
    lock_key: int | None = None


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    team_id: int | None = Field(
        default=None, foreign_key="teams.id", index=True, ondelete="CASCADE"
    )
    user_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    action: str = Field(max_length=64)
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64)
    details: str = Field(default="{}", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AppMeta(SQLModel, table=True):
    """Small facts about this database, such as the encryption-key probe."""

    __tablename__ = "app_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow)
