"""The tables of PRODUCT §11 as SQLModel classes.

Every datetime is timezone-aware UTC (sqlmodel stores aware values and refuses
naive ones). Schema changes go through Alembic migrations in
`autopostr/migrations`; a test fails when these classes and the migrations
disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, LargeBinary, MetaData, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from autopostr.states import (
    DUE_STATES,
    BillingEventOutcome,
    DestinationState,
    PostState,
    SubscriptionState,
    sql_in,
)

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


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """A CHECK that keeps a column inside its closed set (named ck_<table>_<column>)."""
    return CheckConstraint(sql_in(column, values), name=column)


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
    # The claim, the next-wake query and lease recovery look only at unsent rows:
    # partial indexes keep them fast however many published rows pile up.
    __table_args__ = (
        Index(
            "ix_post_destinations_due_unsent",
            "due_at",
            postgresql_where=text(sql_in("status", DUE_STATES)),
            sqlite_where=text(sql_in("status", DUE_STATES)),
        ),
        # Unsent rows waiting for a retry time, for the next-wake query.
        Index(
            "ix_post_destinations_retry_unsent",
            "next_attempt_at",
            postgresql_where=text(RETRY_WAITING),
            sqlite_where=text(RETRY_WAITING),
        ),
        Index(
            "ix_post_destinations_lease_claimed",
            "lease_expires_at",
            postgresql_where=text(sql_in("status", [DestinationState.CLAIMED])),
            sqlite_where=text(sql_in("status", [DestinationState.CLAIMED])),
        ),
        one_of("status", DestinationState),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="social_accounts.id", index=True, ondelete="CASCADE")
    status: str = Field(default=DestinationState.PENDING.value, max_length=32)
    text: str | None = Field(default=None, sa_type=Text)  # per-destination override
    due_at: datetime | None = None  # indexed only where unsent (see __table_args__)
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


class AnalyticsSnapshot(SQLModel, table=True):
    """One day's metrics of an account (destination_id NULL) or of one published post.

    The metric columns are running totals as the platform reported them, NULL where it
    reported none (never 0); `raw` keeps its own fields (JSON). The `*_gain` columns say
    how much of each total this day added (the latest figure minus the last one known
    before the day), so a period's totals, trends and charts are sums over days. A
    second sync on the same day rewrites the day's row.
    """

    __tablename__ = "analytics_snapshots"
    # A unique key over (account_id, destination_id, day) lets account rows repeat, as
    # NULLs never collide: each kind of row gets a unique index of its own. The
    # destination one also serves the foreign key's cascade.
    __table_args__ = (
        Index(
            "uq_analytics_snapshots_account_id_day",
            "account_id",
            "day",
            unique=True,
            postgresql_where=text("destination_id IS NULL"),
            sqlite_where=text("destination_id IS NULL"),
        ),
        Index(
            "uq_analytics_snapshots_destination_id_day",
            "destination_id",
            "day",
            unique=True,
            postgresql_where=text("destination_id IS NOT NULL"),
            sqlite_where=text("destination_id IS NOT NULL"),
        ),
    )
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
    __table_args__ = (
        Index(
            "uq_analytics_targets_account_id",
            "account_id",
            unique=True,
            postgresql_where=text("destination_id IS NULL"),
            sqlite_where=text("destination_id IS NULL"),
        ),
        Index(
            "uq_analytics_targets_destination_id",
            "destination_id",
            unique=True,
            postgresql_where=text("destination_id IS NOT NULL"),
            sqlite_where=text("destination_id IS NOT NULL"),
        ),
        # The sync looks only at targets still asked about.
        Index(
            "ix_analytics_targets_due_at_asked",
            "due_at",
            postgresql_where=text("gone_at IS NULL"),
            sqlite_where=text("gone_at IS NULL"),
        ),
    )
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


class AiFeature(StrEnum):
    """What an AI request was for (`autopostr ai <feature>`)."""

    CAPTION = "caption"
    HASHTAGS = "hashtags"
    IMPROVE = "improve"
    IDEAS = "ideas"
    ALT_TEXT = "alt-text"
    VARIANTS = "variants"


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


class Subscription(SQLModel, table=True):
    """A team's plan and Stripe subscription, as the billing events last left it.

    No row, or billing off: the team is on the free plan (or unlimited, billing off).
    `event_at` is the creation time of the newest event applied: an older event is not
    trusted, the subscription is read from Stripe instead (events arrive in any order).
    """

    __tablename__ = "subscriptions"
    __table_args__ = (one_of("status", SubscriptionState),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", unique=True, ondelete="CASCADE")
    plan: str = Field(default="free", max_length=32)
    status: str = Field(default=SubscriptionState.ACTIVE.value, max_length=32)
    stripe_customer_id: str | None = Field(default=None, max_length=100, unique=True)
    stripe_subscription_id: str | None = Field(default=None, max_length=100)
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    past_due_since: datetime | None = None  # the grace period runs from here
    event_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class BillingEvent(SQLModel, table=True):
    """Every Stripe event seen, by its id: the key that applies each event once, whether
    it came through `billing sync`, the daemon or the webhook listener."""

    __tablename__ = "billing_events"
    __table_args__ = (one_of("outcome", BillingEventOutcome),)
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    created: datetime = Field(index=True)  # Stripe's creation time of the event
    team_id: int | None = Field(
        default=None, foreign_key="teams.id", index=True, ondelete="SET NULL"
    )
    outcome: str = Field(max_length=16)
    source: str = Field(default="", max_length=16)  # sync | webhook
    detail: str = Field(default="", sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)


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


# ---------------------------------------------------------------- scheduling modes (§12)


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
