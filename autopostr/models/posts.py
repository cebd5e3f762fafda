"""Posts and their destinations: the queue the daemons claim, publish and retry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

import autopostr.models.accounts  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import one_of, partial_index, utcnow
from autopostr.states import DUE_STATES, DestinationState, PostState, sql_in


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        one_of("status", PostState),
        # A team's posts of a period (billing's monthly count reads only this index, no
        # table row); it serves the team's foreign key too.
        Index("ix_posts_team_id_scheduled_at_status", "team_id", "scheduled_at", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    author_id: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    status: str = Field(default=PostState.DRAFT.value, max_length=32, index=True)
    text: str = Field(default="", sa_type=Text)
    scheduled_at: datetime | None = Field(default=None, index=True)
    timezone: str | None = Field(default=None, max_length=64)
    first_comment: str | None = Field(default=None, sa_type=Text)
    external_id: str | None = Field(default=None, max_length=200)
    import_key: str | None = Field(default=None, max_length=64, index=True)
    origin: str | None = Field(default=None, max_length=16)  # import; None: written by hand
    review_comment: str | None = Field(default=None, sa_type=Text)
    labels: str | None = Field(default=None, sa_type=Text)  # a JSON array of strings
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CodePost(SQLModel, table=True):
    """A post that came from the team's content folder (`autopostr apply DIR`): its file's
    key (the path in the folder, or the file's `id:`) and a hash of the content the last
    apply gave it, so a later change by hand is told from a change of the file."""

    __tablename__ = "code_posts"
    team_id: int = Field(foreign_key="teams.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(primary_key=True, max_length=500)
    post_id: int = Field(foreign_key="posts.id", unique=True, ondelete="CASCADE")
    content_hash: str = Field(max_length=64)
    applied_at: datetime = Field(default_factory=utcnow)
    commit_id: str | None = Field(default=None, max_length=64)  # GITHUB_SHA, CI_COMMIT_SHA


class ImportTombstone(SQLModel, table=True):
    """The import key of an imported post someone deleted: the hourly re-import of the
    same file must not bring it back."""

    __tablename__ = "import_tombstones"
    team_id: int = Field(foreign_key="teams.id", primary_key=True, ondelete="CASCADE")
    import_key: str = Field(primary_key=True, max_length=64)
    post_id: int | None = None  # the deleted post's id, for the record
    deleted_at: datetime = Field(default_factory=utcnow)


RETRY_WAITING = f"{sql_in('status', DUE_STATES)} AND next_attempt_at IS NOT NULL"


class PostDestination(SQLModel, table=True):
    """One post on one account: the unit the daemons claim, publish and retry."""

    __tablename__ = "post_destinations"
    __table_args__ = (one_of("status", DestinationState),)
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="social_accounts.id", index=True, ondelete="CASCADE")
    status: str = Field(default=DestinationState.PENDING.value, max_length=32)
    text: str | None = Field(default=None, sa_type=Text)  # per-destination override
    due_at: datetime | None = None  # indexed only where unsent (see below)
    remote_id: str | None = Field(default=None, max_length=300)
    url: str | None = Field(default=None, max_length=1000)
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    idempotency_key: str = Field(default="", max_length=64)
    published_at: datetime | None = None
    # Media the platform is still processing: where the publish is (JSON the adapter
    # gave), so the next check resumes it and nothing is uploaded twice.
    resume: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# The claim, the next-wake query and lease recovery look only at unsent rows: partial
# indexes keep them fast however many published rows pile up.
partial_index(
    "post_destinations",
    "ix_post_destinations_due_unsent",
    "due_at",
    where=sql_in("status", DUE_STATES),
)
# A daemon's claim on PostgreSQL: each account's earliest due rows (queue/claims.py).
partial_index(
    "post_destinations",
    "ix_post_destinations_due_by_account",
    "account_id",
    "due_at",
    "id",
    where=sql_in("status", DUE_STATES),
)
# Unsent rows waiting for a retry time, for the next-wake query.
partial_index(
    "post_destinations",
    "ix_post_destinations_retry_unsent",
    "next_attempt_at",
    where=RETRY_WAITING,
)
partial_index(
    "post_destinations",
    "ix_post_destinations_lease_claimed",
    "lease_expires_at",
    where=sql_in("status", [DestinationState.CLAIMED]),
)
# A claim's count of each account's claimed rows, read in account order by a scan
# that marks the entries of rows no longer claimed as dead (a bitmap scan does not).
partial_index(
    "post_destinations",
    "ix_post_destinations_claimed_by_account",
    "account_id",
    where=sql_in("status", [DestinationState.CLAIMED]),
)


class PublishLog(SQLModel, table=True):
    __tablename__ = "publish_logs"
    id: int | None = Field(default=None, primary_key=True)
    post_id: int | None = Field(
        default=None, foreign_key="posts.id", index=True, ondelete="SET NULL"
    )
    # Indexed: deleting a post's destination or an account sets these NULL, which
    # would otherwise scan the whole log.
    destination_id: int | None = Field(
        default=None, foreign_key="post_destinations.id", index=True, ondelete="SET NULL"
    )
    account_id: int | None = Field(
        default=None, foreign_key="social_accounts.id", index=True, ondelete="SET NULL"
    )
    team_id: int | None = Field(
        default=None, foreign_key="teams.id", index=True, ondelete="CASCADE"
    )
    daemon_id: str | None = Field(default=None, max_length=100)
    event: str = Field(max_length=32)  # claimed | published | retrying | failed | needs_review …
    attempt: int = 0
    message: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, index=True)
