"""Scheduling modes (PRODUCT §12): queues, series, evergreen posts and feeds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import autopostr.models.posts  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import utcnow


class QueueSchedule(SQLModel, table=True):
    """An account's weekly posting slots, as wall-clock times in its own zone."""

    __tablename__ = "queue_schedules"
    account_id: int = Field(foreign_key="social_accounts.id", primary_key=True, ondelete="CASCADE")
    spec: str = Field(sa_type=Text)  # "mon-fri 09:00,13:00; sat 10:30"
    timezone: str = Field(max_length=64)
    evergreen: str = Field(default="", max_length=500)  # categories that fill it; "" any
    updated_at: datetime = Field(default_factory=utcnow)


class QueueSlot(SQLModel, table=True):
    """A slot instant of an account taken by a post. The unique key is what keeps two
    processes queueing at once out of the same slot."""

    __tablename__ = "queue_slots"
    __table_args__ = (UniqueConstraint("account_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="social_accounts.id", ondelete="CASCADE")
    at: datetime
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    evergreen_id: int | None = Field(
        default=None, foreign_key="evergreen_items.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)


class QueuePause(SQLModel, table=True):
    """A blackout window [starts_at, ends_at) for one account, or (account NULL) all."""

    __tablename__ = "queue_pauses"
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, ondelete="CASCADE")
    account_id: int | None = Field(
        default=None, foreign_key="social_accounts.id", index=True, ondelete="CASCADE"
    )
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(default="", max_length=500)
    created_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)


class PostSeries(SQLModel, table=True):
    """A recurring post: a rule in a zone, and the post each occurrence copies."""

    __tablename__ = "post_series"
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, ondelete="CASCADE")
    template_post_id: int | None = Field(
        default=None, foreign_key="posts.id", index=True, ondelete="SET NULL"
    )
    kind: str = Field(max_length=16)  # every | rrule | cron
    rule: str = Field(max_length=500)
    timezone: str = Field(max_length=64)
    start_local: str = Field(max_length=32)  # the wall-clock time the rule counts from
    until: datetime | None = None
    count: int | None = None
    created_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    stopped_at: datetime | None = None
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SeriesPost(SQLModel, table=True):
    """One occurrence of a series and the post made for it; the key lets any number of
    daemons create it once."""

    __tablename__ = "series_posts"
    series_id: int = Field(foreign_key="post_series.id", primary_key=True, ondelete="CASCADE")
    at: datetime = Field(primary_key=True)
    post_id: int | None = Field(
        default=None, foreign_key="posts.id", index=True, ondelete="SET NULL"
    )


class EvergreenItem(SQLModel, table=True):
    """A post in the evergreen pool, re-queued into empty slots."""

    __tablename__ = "evergreen_items"
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, ondelete="CASCADE")
    post_id: int = Field(foreign_key="posts.id", unique=True, ondelete="CASCADE")
    category: str = Field(default="default", max_length=64)
    min_interval_seconds: int = 30 * 86400
    max_cycles: int | None = None
    until: datetime | None = None
    cycles: int = 0
    last_shared_at: datetime | None = None
    variants: str = Field(default="[]", sa_type=Text)  # JSON list of alternative texts
    skipped: str | None = Field(default=None, sa_type=Text)  # why an account was skipped
    created_at: datetime = Field(default_factory=utcnow)


class Feed(SQLModel, table=True):
    """An RSS or Atom feed whose new entries become posts."""

    __tablename__ = "feeds"
    __table_args__ = (UniqueConstraint("team_id", "url"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", ondelete="CASCADE")
    url: str = Field(max_length=2000)
    accounts: str = Field(default="[]", sa_type=Text)  # JSON list of account ids
    template: str = Field(default="{title} {link}", sa_type=Text)
    mode: str = Field(default="queue", max_length=16)  # queue | now | draft
    every_seconds: int = 1800
    backfill: int = 0
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    next_check_at: datetime = Field(default_factory=utcnow, index=True)
    checked_at: datetime | None = None
    error: str | None = Field(default=None, sa_type=Text)
    created_by: int | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow)


class FeedEntry(SQLModel, table=True):
    """A feed entry seen (keyed by its id/guid, else its link), and the post made of it."""

    __tablename__ = "feed_entries"
    __table_args__ = (Index("ix_feed_entries_feed_id_link_key", "feed_id", "link_key"),)
    feed_id: int = Field(foreign_key="feeds.id", primary_key=True, ondelete="CASCADE")
    key: str = Field(primary_key=True, max_length=64)
    link_key: str | None = Field(default=None, max_length=64)
    post_id: int | None = Field(
        default=None, foreign_key="posts.id", index=True, ondelete="SET NULL"
    )
    seen_at: datetime = Field(default_factory=utcnow)
