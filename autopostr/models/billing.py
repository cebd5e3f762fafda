"""A team's plan and the Stripe events applied to it (PRODUCT §10)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

import autopostr.models.identity  # noqa: F401  (the tables its foreign keys name)
from autopostr.models._base import one_of, utcnow
from autopostr.states import BillingEventOutcome, SubscriptionState

FREE_PLAN = "free"  # no row, or a row of this plan: the free plan's limits
INSTANCE_META_KEY = "billing_instance"  # app_meta: this database's name in Stripe metadata


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
    plan: str = Field(default=FREE_PLAN, max_length=32)
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
