"""What an owner does from the terminal: see the plans and where the team stands, open
Checkout or the billing portal, sync. Each returns data the CLI renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from autopostr.billing import limits
from autopostr.billing import plans as plans_mod
from autopostr.billing.events import LAST_SYNC, LIVE, instance_id, meta, writes_plans
from autopostr.billing.plans import LIMITS, Plan
from autopostr.config import Settings
from autopostr.errors import ConfigError, Conflict, InvalidInput
from autopostr.identity import Actor
from autopostr.models import Subscription, Team, User, utcnow
from autopostr.permissions import require

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


@dataclass
class Status:
    enabled: bool
    team: str | None
    plan: str | None  # whose limits apply; None when billing is off
    subscribed: str | None  # the plan the subscription names
    status: str | None
    period_start: datetime | None
    period_end: datetime | None
    grace_until: datetime | None
    window: tuple[datetime, datetime] | None
    limits: dict[str, int | None] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    last_sync: str | None = None


def list_plans(actor: Actor, settings: Settings) -> list[Plan]:
    require(actor, "billing.manage")
    return list(plans_mod.all_plans(settings).values())


def status(db: DbSession, actor: Actor, settings: Settings, now: datetime | None = None) -> Status:
    team_id = require(actor, "billing.manage")
    now = now or utcnow()
    where = limits.standing(db, settings, team_id, now)
    used = limits.usage(db, team_id, where, now)
    if not plans_mod.enabled(settings):
        return Status(
            False,
            actor.team_name,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            dict.fromkeys(LIMITS),
            used,
        )
    return Status(
        True,
        actor.team_name,
        where.plan.name,
        where.subscribed,
        where.status,
        where.period_start,
        where.period_end,
        where.grace_until,
        where.window(now),
        limits.limits_of(where.plan),
        used,
        meta(db, LAST_SYNC),
    )


def _require_on(settings: Settings) -> None:
    if not plans_mod.enabled(settings):
        from autopostr.billing.stripe_api import NO_KEY

        raise ConfigError(NO_KEY)


def _customer(db: DbSession, actor: Actor, settings: Settings, team_id: int) -> str:
    """The team's Stripe customer, created once (under the team's lock) and kept."""
    from sqlmodel import select

    from autopostr.billing import stripe_api

    limits.lock_team(db, team_id)
    row = db.exec(select(Subscription).where(Subscription.team_id == team_id)).first()
    if row is not None and row.stripe_customer_id:
        return row.stripe_customer_id
    team, user = db.get(Team, team_id), db.get(User, actor.user_id)
    customer = stripe_api.create_customer(
        settings,
        team_id=team_id,
        team_name=team.name if team else "",
        email=user.email if user else "",
        instance=instance_id(db),
    )
    if not writes_plans(db):
        # A member's role reads the plan's row; the customer is kept through the one
        # function that writes it (and keeps the first customer of a race).
        from sqlalchemy import text

        kept = db.execute(
            text("SELECT autopostr_keep_customer(:team, :customer)"),
            {"team": team_id, "customer": customer},
        ).scalar()
        return str(kept)
    row = row or Subscription(team_id=team_id)
    row.stripe_customer_id = customer
    row.updated_at = utcnow()
    db.add(row)
    return customer


@dataclass
class Session:
    url: str
    id: str
    plan: str | None = None
    yearly: bool = False


def checkout(
    db: DbSession, actor: Actor, settings: Settings, plan_name: str, *, yearly: bool = False
) -> Session:
    team_id = require(actor, "billing.manage")
    _require_on(settings)
    plan = plans_mod.get_plan(settings, plan_name)
    price = plan.price(yearly)
    if price is None:
        key = "stripe_price_yearly" if yearly else "stripe_price_monthly"
        raise InvalidInput(
            f"PLAN: the {plan.name} plan has no {'yearly' if yearly else 'monthly'} Stripe price; "
            f"set [plans.{plan.name}] {key} (AUTOPOSTR_PLANS_{plan.name.upper()}_{key.upper()})"
        )
    where = limits.standing(db, settings, team_id)
    if where.status in LIVE:
        raise Conflict(
            f"the team already has a {where.status} {where.subscribed} subscription: change "
            "or cancel it in Stripe's billing portal, `autopostr billing portal`"
        )
    customer = _customer(db, actor, settings, team_id)
    db.commit()  # the customer is kept even if Checkout fails below
    from autopostr.billing import stripe_api

    session = stripe_api.create_checkout(
        settings,
        customer=customer,
        price=price,
        team_id=team_id,
        plan=plan.name,
        instance=instance_id(db),
    )
    if not session.get("url"):
        raise InvalidInput("Stripe returned a Checkout Session without a URL; try again")
    return Session(str(session["url"]), str(session.get("id")), plan.name, yearly)


def portal(db: DbSession, actor: Actor, settings: Settings) -> Session:
    team_id = require(actor, "billing.manage")
    _require_on(settings)
    from autopostr.billing import stripe_api

    customer = _customer(db, actor, settings, team_id)
    db.commit()
    session = stripe_api.create_portal(settings, customer)
    return Session(str(session["url"]), str(session.get("id")))


def require_owner(actor: Actor) -> int:
    return require(actor, "billing.manage")
