"""schedule: queues of weekly slots, blackout windows, recurring series, the evergreen
pool and feeds

    queue_schedules  an account's weekly slots (wall-clock times) and its zone
    queue_slots      a slot instant taken by a post; unique (account_id, at), so two
                     processes queueing at once never share a slot
    queue_pauses     blackout windows, for one account or all of a team's
    post_series      a recurring rule and the post each occurrence copies
    series_posts     one row per occurrence made (key: series, instant)
    evergreen_items  posts re-queued into empty slots
    feeds            RSS/Atom feeds, with their ETag and Last-Modified
    feed_entries     entries seen, keyed by id/guid (then link)

Revision ID: 0012_schedule
Revises: 0011_processing
Create Date: 2026-12-14
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012_schedule"
down_revision: str | None = "0011_processing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(
    table: str, name: str, target: str, ondelete: str, nullable: bool = False
) -> sa.Column[Any]:
    key = sa.ForeignKey(target, ondelete=ondelete, name=f"fk_{table}_{name}_{target.split('.')[0]}")
    return sa.Column(name, sa.Integer(), key, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "queue_schedules",
        _fk("queue_schedules", "account_id", "social_accounts.id", "CASCADE"),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("evergreen", sa.String(500), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("account_id", name="pk_queue_schedules"),
    )
    op.create_table(
        "post_series",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("post_series", "team_id", "teams.id", "CASCADE"),
        _fk("post_series", "template_post_id", "posts.id", "SET NULL", nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(500), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("start_local", sa.String(32), nullable=False),
        _when("until", nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        _fk("post_series", "created_by", "users.id", "SET NULL", nullable=True),
        _when("stopped_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_post_series"),
    )
    op.create_index("ix_post_series_team_id", "post_series", ["team_id"])
    op.create_index("ix_post_series_template_post_id", "post_series", ["template_post_id"])
    op.create_index("ix_post_series_created_by", "post_series", ["created_by"])
    op.create_table(
        "series_posts",
        _fk("series_posts", "series_id", "post_series.id", "CASCADE"),
        _when("at"),
        _fk("series_posts", "post_id", "posts.id", "SET NULL", nullable=True),
        sa.PrimaryKeyConstraint("series_id", "at", name="pk_series_posts"),
    )
    op.create_index("ix_series_posts_post_id", "series_posts", ["post_id"])
    op.create_table(
        "evergreen_items",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("evergreen_items", "team_id", "teams.id", "CASCADE"),
        _fk("evergreen_items", "post_id", "posts.id", "CASCADE"),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("min_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("max_cycles", sa.Integer(), nullable=True),
        _when("until", nullable=True),
        sa.Column("cycles", sa.Integer(), nullable=False),
        _when("last_shared_at", nullable=True),
        sa.Column("variants", sa.Text(), nullable=False),
        sa.Column("skipped", sa.Text(), nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_evergreen_items"),
        sa.UniqueConstraint("post_id", name="uq_evergreen_items_post_id"),
    )
    op.create_index("ix_evergreen_items_team_id", "evergreen_items", ["team_id"])
    op.create_table(
        "queue_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("queue_slots", "account_id", "social_accounts.id", "CASCADE"),
        _when("at"),
        _fk("queue_slots", "post_id", "posts.id", "CASCADE"),
        _fk("queue_slots", "evergreen_id", "evergreen_items.id", "SET NULL", nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_queue_slots"),
        sa.UniqueConstraint("account_id", "at", name="uq_queue_slots_account_id_at"),
    )
    op.create_index("ix_queue_slots_post_id", "queue_slots", ["post_id"])
    op.create_index("ix_queue_slots_evergreen_id", "queue_slots", ["evergreen_id"])
    op.create_table(
        "queue_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("queue_pauses", "team_id", "teams.id", "CASCADE"),
        _fk("queue_pauses", "account_id", "social_accounts.id", "CASCADE", nullable=True),
        _when("starts_at"),
        _when("ends_at"),
        sa.Column("reason", sa.String(500), nullable=False),
        _fk("queue_pauses", "created_by", "users.id", "SET NULL", nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_queue_pauses"),
    )
    op.create_index("ix_queue_pauses_team_id", "queue_pauses", ["team_id"])
    op.create_index("ix_queue_pauses_account_id", "queue_pauses", ["account_id"])
    op.create_index("ix_queue_pauses_created_by", "queue_pauses", ["created_by"])
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("feeds", "team_id", "teams.id", "CASCADE"),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("backfill", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(500), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        _when("next_check_at"),
        _when("checked_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _fk("feeds", "created_by", "users.id", "SET NULL", nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("team_id", "url", name="uq_feeds_team_id_url"),
    )
    op.create_index("ix_feeds_next_check_at", "feeds", ["next_check_at"])
    op.create_index("ix_feeds_created_by", "feeds", ["created_by"])
    op.create_table(
        "feed_entries",
        _fk("feed_entries", "feed_id", "feeds.id", "CASCADE"),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("link_key", sa.String(64), nullable=True),
        _fk("feed_entries", "post_id", "posts.id", "SET NULL", nullable=True),
        _when("seen_at"),
        sa.PrimaryKeyConstraint("feed_id", "key", name="pk_feed_entries"),
    )
    op.create_index("ix_feed_entries_feed_id_link_key", "feed_entries", ["feed_id", "link_key"])
    op.create_index("ix_feed_entries_post_id", "feed_entries", ["post_id"])


def downgrade() -> None:
    for table in (
        "feed_entries",
        "feeds",
        "queue_pauses",
        "queue_slots",
        "evergreen_items",
        "series_posts",
        "post_series",
        "queue_schedules",
    ):
        op.drop_table(table)
