"""Who may do what: users, their sessions and API tokens, teams and members."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from autopostr.models._base import Role, one_of, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(max_length=200)
    password_hash: str | None = Field(default=None, max_length=300)
    timezone: str | None = Field(default=None, max_length=64)
    current_team_id: int | None = Field(
        default=None, foreign_key="teams.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)


class Session(SQLModel, table=True):
    """A signed-in CLI; only the SHA-256 of its token is stored."""

    __tablename__ = "sessions"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class ApiToken(SQLModel, table=True):
    """A personal access token for CI and cron; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class Team(SQLModel, table=True):
    __tablename__ = "teams"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    personal: bool = False
    approval_required: bool = False
    # Who approves an editor's post: None, an owner in autopostr; "git", a merged pull
    # request of the team's content folder (`apply --as-approved` by an owner).
    approval_by: str | None = Field(default=None, max_length=16)
    # `<key id>.<base64 X25519 public key>` once the team has a sealing key of its own
    # (`keys migrate --team`): its accounts' secrets are sealed to it, not the database's.
    sealing_public_key: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"
    __table_args__ = (one_of("role", Role),)
    team_id: int = Field(foreign_key="teams.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class TeamInvite(SQLModel, table=True):
    __tablename__ = "team_invites"
    __table_args__ = (one_of("role", Role),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=320)
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    used_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
