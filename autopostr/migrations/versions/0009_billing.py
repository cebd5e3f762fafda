"""billing: subscription periods and grace, and every Stripe event seen by its id

subscriptions gains the current period's start (the team's billing month is
counted from it), `past_due_since` (the grace period of a failed payment runs from
there), `event_at` (the newest event applied: an older one is checked against Stripe
instead of trusted), a CHECK on its status and a unique Stripe customer id.

billing_events keeps each Stripe event's id, type, time and what was done with it,
so an event delivered twice (by `billing sync`, the daemon and the webhook listener)
is applied once.

posts: the index on team_id becomes one on (team_id, scheduled_at, status), which a
plan's monthly count of a team's posts reads as a range without touching the table (the
team's foreign key still has its index in it).

Revision ID: 0009_billing
Revises: 0008_ascode
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_billing"
down_revision: str | None = "0008_ascode"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "status IN ('active', 'canceled', 'incomplete', 'incomplete_expired', 'past_due', "
    "'paused', 'trialing', 'unpaid')"
)
OUTCOMES = "outcome IN ('applied', 'ignored', 'unknown')"


def upgrade() -> None:
    op.create_index(
        op.f("ix_posts_team_id_scheduled_at_status"),
        "posts",
        ["team_id", "scheduled_at", "status"],
        unique=False,
    )
    op.drop_index(op.f("ix_posts_team_id"), table_name="posts")
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(
            sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("past_due_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("event_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_subscriptions_status"), STATUSES)
        batch.create_unique_constraint(
            op.f("uq_subscriptions_stripe_customer_id"), ["stripe_customer_id"]
        )
    op.create_table(
        "billing_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(OUTCOMES, name=op.f("ck_billing_events_outcome")),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_billing_events_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_events")),
    )
    op.create_index(op.f("ix_billing_events_created"), "billing_events", ["created"], unique=False)
    op.create_index(op.f("ix_billing_events_team_id"), "billing_events", ["team_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_billing_events_team_id"), table_name="billing_events")
    op.drop_index(op.f("ix_billing_events_created"), table_name="billing_events")
    op.drop_table("billing_events")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_constraint(op.f("uq_subscriptions_stripe_customer_id"), type_="unique")
        batch.drop_constraint(op.f("ck_subscriptions_status"), type_="check")
        batch.drop_column("event_at")
        batch.drop_column("past_due_since")
        batch.drop_column("current_period_start")
    op.create_index(op.f("ix_posts_team_id"), "posts", ["team_id"], unique=False)
    op.drop_index(op.f("ix_posts_team_id_scheduled_at_status"), table_name="posts")
