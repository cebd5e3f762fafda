"""Metrics as the platforms report them, day by day (PRODUCT §9)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import autopostr.models.posts  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import partial_index, utcnow


class AnalyticsSnapshot(SQLModel, table=True):
    """One day's metrics of an account (destination_id NULL) or of one published post.

    The metric columns are running totals as the platform reported them, NULL where it
    reported none (never 0); `raw` keeps its own fields (JSON). The `*_gain` columns say
    how much of each total this day added (the latest figure minus the last one known
    before the day), so a period's totals, trends and charts are sums over days. A
    second sync on the same day rewrites the day's row.
    """

    __tablename__ = "analytics_snapshots"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="social_accounts.id", index=True, ondelete="CASCADE")
    destination_id: int | None = Field(
        default=None, foreign_key="post_destinations.id", ondelete="CASCADE"
    )
    day: date = Field(index=True)  # reports read ranges of days
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    clicks: int | None = None
    saves: int | None = None
    video_views: int | None = None
    followers: int | None = None
    impressions_gain: int | None = None
    reach_gain: int | None = None
    likes_gain: int | None = None
    comments_gain: int | None = None
    shares_gain: int | None = None
    clicks_gain: int | None = None
    saves_gain: int | None = None
    video_views_gain: int | None = None
    followers_gain: int | None = None
    raw: str | None = Field(default=None, sa_type=Text)  # the platform's own fields, JSON
    fetched_at: datetime = Field(default_factory=utcnow)


class AnalyticsDaily(SQLModel, table=True):
    """What an account's posts gained on one day, added up (the posts' snapshot gains):
    kept as they are written, so reports over months read a row per account and day
    instead of one per post and day."""

    __tablename__ = "analytics_daily"
    __table_args__ = (UniqueConstraint("account_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="social_accounts.id", ondelete="CASCADE")
    day: date = Field(index=True)
    posts: int = 0  # post snapshots of the day
    impressions_gain: int | None = None
    reach_gain: int | None = None
    likes_gain: int | None = None
    comments_gain: int | None = None
    shares_gain: int | None = None
    clicks_gain: int | None = None
    saves_gain: int | None = None
    video_views_gain: int | None = None
    fetched_at: datetime = Field(default_factory=utcnow)


class AnalyticsTarget(SQLModel, table=True):
    """What the analytics sync asks a platform about: one published post, or one account
    (destination_id NULL). Claimed like a publish (a lease and a fencing token in
    `claimed_by`/`attempts`), so however many daemons run the sync each target is
    fetched once per period. `day`, `baseline` and `latest` remember the last snapshot
    written, from which the next one's gains are counted."""

    __tablename__ = "analytics_targets"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="social_accounts.id", index=True, ondelete="CASCADE")
    destination_id: int | None = Field(
        default=None, foreign_key="post_destinations.id", ondelete="CASCADE"
    )
    due_at: datetime  # the next period's start, once fetched in this one
    until: datetime | None = None  # the platform keeps no numbers after this
    paused_until: datetime | None = None  # the platform asked to wait (a rate limit)
    claimed_by: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    attempts: int = 0  # the fencing token: every claim bumps it
    fetched_at: datetime | None = None
    gone_at: datetime | None = None  # deleted on the platform: no longer asked
    error: str | None = Field(default=None, sa_type=Text)
    day: date | None = None  # of the last snapshot written
    first_day: date | None = None  # of the first
    baseline: str = Field(default="{}", sa_type=Text)  # totals known before `day`, JSON
    latest: str = Field(default="{}", sa_type=Text)  # the totals of `day`, JSON
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# A unique key over (account_id, destination_id, day) would let account rows repeat, as
# NULLs never collide: each kind of row gets a unique index of its own. The destination
# one also serves the foreign key's cascade.
partial_index(
    "analytics_snapshots",
    "uq_analytics_snapshots_account_id_day",
    "account_id",
    "day",
    where="destination_id IS NULL",
    unique=True,
)
partial_index(
    "analytics_snapshots",
    "uq_analytics_snapshots_destination_id_day",
    "destination_id",
    "day",
    where="destination_id IS NOT NULL",
    unique=True,
)
partial_index(
    "analytics_targets",
    "uq_analytics_targets_account_id",
    "account_id",
    where="destination_id IS NULL",
    unique=True,
)
partial_index(
    "analytics_targets",
    "uq_analytics_targets_destination_id",
    "destination_id",
    where="destination_id IS NOT NULL",
    unique=True,
)
# The sync looks only at targets still asked about.
partial_index(
    "analytics_targets",
    "ix_analytics_targets_due_at_asked",
    "due_at",
    where="gone_at IS NULL",
)
