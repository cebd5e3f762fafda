"""Stripe's events, each applied once, in whatever order they come.

An event's id goes into `billing_events` in the same transaction that applies it
(`INSERT … ON CONFLICT DO NOTHING`): a second delivery, from `billing sync`, another
daemon or the webhook listener, finds the id and changes nothing. A subscription
event no newer than the last one applied to the team is not trusted: the
subscription is read from Stripe as it is now. Event types autopostr does not handle
are recorded and ignored; so are events about no team of this database.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr.billing import plans as plans_mod
from autopostr.billing.limits import lock_team
from autopostr.config import Settings
from autopostr.errors import PermissionDenied
from autopostr.models import AppMeta, BillingEvent, Subscription, Team, utcnow
from autopostr.models.billing import INSTANCE_META_KEY
from autopostr.states import BillingEventOutcome, SubscriptionState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.db import Database

log = logging.getLogger("autopostr.billing")

HANDLED = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)
CURSOR = "billing_events_cursor"  # app_meta: the newest event time seen by `sync`
LAST_SYNC = "billing_last_sync"  # app_meta: when `sync` last finished
LAST_WEBHOOK = "billing_last_webhook"  # app_meta: when the listener last took an event
INSTANCE = INSTANCE_META_KEY
FIRST_SYNC_LOOKBACK = timedelta(days=30)  # Stripe keeps events 30 days

# Reads a subscription as Stripe has it now (None: Stripe no longer knows it).
Fetch = Callable[[str], "dict[str, Any] | None"]


@dataclass
class Handled:
    event_id: str
    type: str
    outcome: str
    team_id: int | None = None
    detail: str = ""
    duplicate: bool = False  # applied before: nothing was done


@dataclass
class SyncResult:
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    unknown: int = 0
    synced_at: datetime = field(default_factory=utcnow)
    handled: list[Handled] = field(default_factory=list)


# -- small facts in app_meta ----------------------------------------------------------


def meta(db: DbSession, key: str) -> str | None:
    row = db.get(AppMeta, key)
    return row.value if row is not None else None


def set_meta(db: DbSession, key: str, value: str) -> None:
    row = db.get(AppMeta, key) or AppMeta(key=key, value=value)
    row.value, row.updated_at = value, utcnow()
    db.add(row)


def writes_plans(db: DbSession) -> bool:
    """Whether this connection may write a team's plan: on a shared PostgreSQL set up with
    `db setup-roles`, only the daemons' role and the administrator's may."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    from sqlalchemy import text

    return bool(db.execute(text("SELECT has_table_privilege('subscriptions', 'UPDATE')")).scalar())


def require_plan_writer(db: DbSession, what: str) -> None:
    if not writes_plans(db):
        raise PermissionDenied(
            f"{what}: on this shared database Stripe's events are applied by the daemons "
            "(their billing job), or by `autopostr billing sync`/`webhook` run with a "
            "daemon's or the administrative database URL; a member's role reads the plan"
        )


def instance_id(db: DbSession) -> str:
    """This database's name in Stripe metadata: team ids of two databases sharing one
    Stripe account must not meet."""
    from sqlalchemy.dialects import postgresql, sqlite

    value = meta(db, INSTANCE)
    if value:
        return value
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = AppMeta.__table__  # type: ignore[attr-defined]
    db.execute(
        insert(table)
        .values(key=INSTANCE, value=uuid.uuid4().hex[:16], updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return meta(db, INSTANCE) or ""


# -- one event ------------------------------------------------------------------------


def _when(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), UTC) if seconds else None


def _claim(db: DbSession, event: dict[str, Any], source: str) -> bool:
    """Record the event's id; False when it was recorded before (applied already)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = BillingEvent.__table__  # type: ignore[attr-defined]
    inserted = db.execute(
        insert(table)
        .values(
            id=str(event["id"])[:255],
            type=str(event.get("type") or "")[:100],
            created=_when(event.get("created")) or utcnow(),
            outcome=BillingEventOutcome.UNKNOWN.value,
            source=source,
            detail="",
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table.c.id)
    ).first()
    return inserted is not None


def apply(
    db: DbSession,
    settings: Settings,
    event: dict[str, Any],
    *,
    source: str,
    fetch: Fetch | None,
) -> Handled:
    """Apply one event in the caller's transaction, unless its id was applied before."""
    event_id, kind = str(event["id"]), str(event.get("type") or "")
    if not _claim(db, event, source):
        return Handled(event_id, kind, "", duplicate=True)
    if kind not in HANDLED:
        handled = Handled(event_id, kind, BillingEventOutcome.UNKNOWN, detail="not handled")
    else:
        handled = _handle(db, settings, event, fetch)
    row = db.get(BillingEvent, event_id)
    assert row is not None
    row.outcome, row.team_id, row.detail = handled.outcome, handled.team_id, handled.detail
    db.add(row)
    return handled


def apply_one(
    database: Database,
    settings: Settings,
    event: dict[str, Any],
    *,
    source: str,
    fetch: Fetch | None,
) -> Handled:
    """One event in a transaction of its own: a failure (Stripe unreachable) leaves its id
    unrecorded, so the next sync tries again."""
    with database.session() as db:
        return apply(db, settings, event, source=source, fetch=fetch)


def _object(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    obj: dict[str, Any] = data.get("object") or {}
    return obj


def _team_of(db: DbSession, obj: dict[str, Any]) -> Subscription | None:
    """The subscription row of the team an object is about: by Stripe customer, else by
    the team named in its metadata (when the metadata names this database)."""
    from sqlmodel import select

    customer = obj.get("customer")
    if customer:
        row = db.exec(
            select(Subscription).where(Subscription.stripe_customer_id == str(customer))
        ).first()
        if row is not None:
            lock_team(db, row.team_id)
            return row
    metadata = obj.get("metadata") or {}
    team = str(metadata.get("autopostr_team") or obj.get("client_reference_id") or "")
    if not team.isdigit() or metadata.get("autopostr_instance") != meta(db, INSTANCE):
        return None
    if db.get(Team, int(team)) is None:
        return None
    lock_team(db, int(team))
    row = db.exec(select(Subscription).where(Subscription.team_id == int(team))).first()
    if row is None:
        row = Subscription(team_id=int(team))
    if customer and not row.stripe_customer_id:
        row.stripe_customer_id = str(customer)
    return row


def _handle(
    db: DbSession, settings: Settings, event: dict[str, Any], fetch: Fetch | None
) -> Handled:
    kind, obj = str(event["type"]), _object(event)
    created = _when(event.get("created")) or utcnow()
    handled = Handled(str(event["id"]), kind, BillingEventOutcome.IGNORED)
    row = _team_of(db, obj)
    if row is None:
        handled.detail = "about no team of this database"
        return handled
    handled.team_id = row.team_id
    newer = row.event_at is None or created > _aware(row.event_at)
    subscription: dict[str, Any] | None = None
    if kind == "checkout.session.completed":
        sub_id = obj.get("subscription")
        if sub_id and fetch is not None:
            subscription = fetch(str(sub_id))
        if subscription is None and sub_id:
            row.stripe_subscription_id = str(sub_id)
    elif kind.startswith("customer.subscription."):
        subscription = obj
        if not newer and fetch is not None:
            # Older than what is applied: what Stripe has now decides, not this event.
            subscription = fetch(str(obj["id"])) or {**obj, "status": "canceled"}
        elif kind.endswith(".deleted"):
            subscription = {**obj, "status": SubscriptionState.CANCELED.value}
    else:  # invoice.paid, invoice.payment_failed
        sub_id = _invoice_subscription(obj)
        if sub_id and row.stripe_subscription_id and sub_id != row.stripe_subscription_id:
            handled.detail = f"an invoice of another subscription ({sub_id})"
            db.add(row)
            return handled
        # An invoice of the same second as the last event applied still counts: Stripe
        # sends a first payment's failure with the subscription's creation.
        older = row.event_at is not None and created < _aware(row.event_at)
        if older and fetch is not None and sub_id:
            subscription = fetch(sub_id)
        elif kind == "invoice.payment_failed":
            _set_status(row, SubscriptionState.PAST_DUE, created)
        elif row.status == SubscriptionState.PAST_DUE:
            _set_status(row, SubscriptionState.ACTIVE, created)
    if subscription is not None:
        if not _take(settings, row, subscription, created):
            handled.detail = f"an earlier subscription ({subscription.get('id')})"
            db.add(row)
            return handled
    if newer:
        row.event_at = created
    row.updated_at = utcnow()
    db.add(row)
    handled.outcome = BillingEventOutcome.APPLIED
    handled.detail = f"{row.plan} {row.status}"
    return handled


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    sub = invoice.get("subscription")
    if not sub:  # newer API versions nest it
        parent = invoice.get("parent") or {}
        sub = (parent.get("subscription_details") or {}).get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    return str(sub) if sub else None


def _set_status(row: Subscription, status: str, at: datetime) -> None:
    if status == SubscriptionState.PAST_DUE and row.status != SubscriptionState.PAST_DUE:
        row.past_due_since = at
    elif status != SubscriptionState.PAST_DUE:
        row.past_due_since = None
    row.status = status


LIVE = frozenset({SubscriptionState.TRIALING, SubscriptionState.ACTIVE, SubscriptionState.PAST_DUE})


def _take(settings: Settings, row: Subscription, sub: dict[str, Any], at: datetime) -> bool:
    """Copy a subscription's state into the team's row; False for an ended subscription
    that is not the team's current one (the team has a newer one)."""
    status = str(sub.get("status") or SubscriptionState.CANCELED)
    if status not in set(SubscriptionState):
        status = SubscriptionState.CANCELED.value
    current = row.stripe_subscription_id
    if current and current != sub.get("id") and status not in LIVE and row.status in LIVE:
        return False
    row.stripe_subscription_id = str(sub.get("id") or "") or current
    if sub.get("customer") and not row.stripe_customer_id:
        row.stripe_customer_id = str(sub["customer"])
    item = ((sub.get("items") or {}).get("data") or [{}])[0]
    price = (item.get("price") or {}).get("id") or (item.get("plan") or {}).get("id")
    plan = plans_mod.plan_for_price(settings, price) or (sub.get("metadata") or {}).get("plan")
    if plan and plan in plans_mod.all_plans(settings):
        row.plan = plan
    start = sub.get("current_period_start") or item.get("current_period_start")
    end = sub.get("current_period_end") or item.get("current_period_end")
    row.current_period_start = _when(start) or row.current_period_start
    row.current_period_end = _when(end) or row.current_period_end
    _set_status(row, status, at)
    return True


# -- sync: every event since the last one seen ------------------------------------------


def sync(
    database: Database,
    settings: Settings,
    *,
    list_events: Callable[[int], list[dict[str, Any]]] | None = None,
    fetch: Fetch | None = None,
    now: datetime | None = None,
) -> SyncResult:
    """Apply every Stripe event since the newest one seen (the Events API), oldest first,
    each once; the cursor moves only past what was applied."""
    from autopostr.billing import stripe_api

    now = now or utcnow()
    with database.session() as db:
        require_plan_writer(db, "billing sync")
        cursor = meta(db, CURSOR)
    # Events of the cursor's own second are read again (their ids say which are new).
    since = int(cursor) if cursor else int((now - FIRST_SYNC_LOOKBACK).timestamp())
    if list_events is None:
        list_events = lambda start: stripe_api.list_events(settings, start)  # noqa: E731
    if fetch is None:
        fetch = lambda sub_id: stripe_api.retrieve_subscription(settings, sub_id)  # noqa: E731
    result = SyncResult(synced_at=now)
    newest = since
    for event in list_events(since):
        handled = apply_one(database, settings, event, source="sync", fetch=fetch)
        result.events += 1
        result.handled.append(handled)
        if handled.duplicate:
            result.duplicates += 1
        elif handled.outcome == BillingEventOutcome.APPLIED:
            result.applied += 1
        elif handled.outcome == BillingEventOutcome.UNKNOWN:
            result.unknown += 1
        else:
            result.ignored += 1
        newest = max(newest, int(event.get("created") or 0))
        with database.session() as db:
            set_meta(db, CURSOR, str(newest))
    with database.session() as db:
        set_meta(db, CURSOR, str(newest))
        set_meta(db, LAST_SYNC, now.isoformat())
    log.info(
        "billing sync: %d events, %d applied, %d seen before",
        result.events,
        result.applied,
        result.duplicates,
    )
    return result


def run_job(database: Database, settings: Settings) -> SyncResult | None:
    """The daemon's job: a sync when billing is on; nothing at all when it is off."""
    if not plans_mod.enabled(settings):
        return None
    return sync(database, settings)


def detail_json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)
