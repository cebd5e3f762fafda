"""analytics: nullable metrics with their gains and raw fields, and the sync's targets

analytics_snapshots' metric columns were NOT NULL with 0 written for anything a
platform does not report; a metric without a number is now NULL. The table gains
reach, saves and video_views, a `*_gain` column beside each metric (what the day
added to the running total, so reports sum days), `raw` (the platform's own fields
as JSON), an index on `day` for reports over ranges of days, and `captured_at` is
named `fetched_at`. Rows already there keep their numbers.

analytics_daily adds up, per account and day, what its posts gained: reports over
months read it instead of every post's rows.

analytics_targets holds what the sync asks the platforms about: one row per
published post and one per account, each claimed with a lease and a fencing token
like a publish, so that several daemons fetch each once per period.

Revision ID: 0007_analytics
Revises: 0006_ai_usage
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_analytics"
down_revision: str | None = "0006_ai_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_METRICS = ("impressions", "likes", "comments", "shares", "clicks", "followers")
NEW_METRICS = ("reach", "saves", "video_views")
METRICS = (
    "impressions",
    "reach",
    "likes",
    "comments",
    "shares",
    "clicks",
    "saves",
    "video_views",
    "followers",
)
FLOWS = METRICS[:-1]  # all but followers
ACCOUNT_ROWS = "destination_id IS NULL"
DESTINATION_ROWS = "destination_id IS NOT NULL"
SNAPSHOT_KEYS = (
    ("uq_analytics_snapshots_account_id_day", "account_id", ACCOUNT_ROWS),
    ("uq_analytics_snapshots_destination_id_day", "destination_id", DESTINATION_ROWS),
)


def _snapshot_keys(create: bool) -> None:
    # Dropped around the SQLite table copy, which would not carry their WHERE clauses.
    for name, key, rows in SNAPSHOT_KEYS:
        if create:
            op.create_index(
                name,
                "analytics_snapshots",
                [key, "day"],
                unique=True,
                postgresql_where=sa.text(rows),
                sqlite_where=sa.text(rows),
            )
        else:
            op.drop_index(name, table_name="analytics_snapshots")


def upgrade() -> None:
    _snapshot_keys(create=False)
    with op.batch_alter_table("analytics_snapshots") as batch:
        for name in OLD_METRICS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=True)
        batch.alter_column(
            "captured_at",
            new_column_name="fetched_at",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
        )
        for name in NEW_METRICS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        for name in METRICS:
            batch.add_column(sa.Column(f"{name}_gain", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("raw", sa.Text(), nullable=True))
    _snapshot_keys(create=True)
    op.create_index(op.f("ix_analytics_snapshots_day"), "analytics_snapshots", ["day"])

    op.create_table(
        "analytics_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        *(sa.Column(f"{name}_gain", sa.Integer(), nullable=True) for name in FLOWS),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["social_accounts.id"],
            name=op.f("fk_analytics_daily_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_daily")),
        sa.UniqueConstraint("account_id", "day", name=op.f("uq_analytics_daily_account_id_day")),
    )
    op.create_index(op.f("ix_analytics_daily_day"), "analytics_daily", ["day"])

    op.create_table(
        "analytics_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("baseline", sa.Text(), nullable=False),
        sa.Column("latest", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["social_accounts.id"],
            name=op.f("fk_analytics_targets_account_id_social_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["post_destinations.id"],
            name=op.f("fk_analytics_targets_destination_id_post_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_targets")),
    )
    op.create_index(op.f("ix_analytics_targets_account_id"), "analytics_targets", ["account_id"])
    for name, key, rows in (
        ("uq_analytics_targets_account_id", "account_id", ACCOUNT_ROWS),
        ("uq_analytics_targets_destination_id", "destination_id", DESTINATION_ROWS),
    ):
        op.create_index(
            name,
            "analytics_targets",
            [key],
            unique=True,
            postgresql_where=sa.text(rows),
            sqlite_where=sa.text(rows),
        )
    op.create_index(
        "ix_analytics_targets_due_at_asked",
        "analytics_targets",
        ["due_at"],
        postgresql_where=sa.text("gone_at IS NULL"),
        sqlite_where=sa.text("gone_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("analytics_targets")
    op.drop_index(op.f("ix_analytics_daily_day"), table_name="analytics_daily")
    op.drop_table("analytics_daily")
    op.drop_index(op.f("ix_analytics_snapshots_day"), table_name="analytics_snapshots")
    # The old columns take no NULL: a metric nobody reported goes back to 0.
    for name in OLD_METRICS:
        op.execute(f"UPDATE analytics_snapshots SET {name} = 0 WHERE {name} IS NULL")
    _snapshot_keys(create=False)
    with op.batch_alter_table("analytics_snapshots") as batch:
        batch.drop_column("raw")
        for name in METRICS:
            batch.drop_column(f"{name}_gain")
        for name in NEW_METRICS:
            batch.drop_column(name)
        batch.alter_column(
            "fetched_at",
            new_column_name="captured_at",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
        )
        for name in OLD_METRICS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=False)
    _snapshot_keys(create=True)
