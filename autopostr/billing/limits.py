"""The plan's limits, enforced where the action happens.

Each check runs in the caller's transaction, before its insert, and holds the team's
row first (`SELECT … FOR NO KEY UPDATE` on PostgreSQL, which does not wait for the
key-share locks the inserts' foreign keys take; on SQLite every transaction is
`BEGIN IMMEDIATE`, one writer at a time). Two processes racing for the last slot are
counted one after the other: one wins, the other exits 5. With billing off nothing is
counted and nothing is locked.

Only new work is limited: posts already scheduled publish whatever the plan becomes,
and billing never deletes anything.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from autopostr.billing import plans as plans_mod
from autopostr.billing.plans import FREE, LIMITS, Plan
from autopostr.config import Settings
from autopostr.errors import LimitReached
from autopostr.models import (
    AccountStatus,
    AiUsage,
    Post,
    SocialAccount,
    Subscription,
    Team,
    TeamInvite,
    TeamMember,
    utcnow,
)
from autopostr.states import ON_THE_CALENDAR, PAYING, SubscriptionState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

# An AI request reserved but not yet answered holds its slot this long (then it is
# taken for failed): two processes cannot both be given the month's last request.
IN_FLIGHT = timedelta(minutes=10)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Standing:
    """Where a team stands: the plan whose limits apply now and why."""

    plan: Plan  # the limits that apply (free once a grace period ran out or on cancel)
    subscribed: str  # the plan the subscription names
    status: str | None  # the subscription's state; None without one
    period_start: datetime | None
    period_end: datetime | None
    grace_until: datetime | None  # a past_due subscription keeps its plan until then
    customer: str | None = None
    anchor: datetime = EPOCH  # billing months start on this day of the month

    def window(self, moment: datetime) -> tuple[datetime, datetime]:
        """The billing month holding `moment`: from the subscription period's day of the
        month, else the calendar month (UTC)."""
        return month_window(self.anchor, moment)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def month_window(anchor: datetime, moment: datetime) -> tuple[datetime, datetime]:
    anchor, moment = _aware(anchor).astimezone(UTC), _aware(moment).astimezone(UTC)
    months = (moment.year - anchor.year) * 12 + moment.month - anchor.month
    start = add_months(anchor, months)
    if start > moment:
        months -= 1
        start = add_months(anchor, months)
    return start, add_months(anchor, months + 1)


def standing(
    db: DbSession, settings: Settings, team_id: int, now: datetime | None = None
) -> Standing:
    from sqlmodel import select

    now = now or utcnow()
    every = plans_mod.all_plans(settings)
    free = every[FREE]
    row = db.exec(select(Subscription).where(Subscription.team_id == team_id)).first()
    if row is None or row.stripe_subscription_id is None:
        # No subscription yet (a customer may exist: Checkout was opened, not paid).
        return Standing(free, FREE, None, None, None, None, row.stripe_customer_id if row else None)
    subscribed = every.get(row.plan, free)
    grace_until = None
    applies = free
    if row.status in PAYING:
        applies = subscribed
    elif row.status == SubscriptionState.PAST_DUE:
        since = _aware(row.past_due_since or row.updated_at)
        grace_until = since + timedelta(days=plans_mod.grace_days(settings))
        applies = subscribed if now < grace_until else free
    start = _aware(row.current_period_start) if row.current_period_start else None
    end = _aware(row.current_period_end) if row.current_period_end else None
    anchor = start if start is not None and applies is subscribed else EPOCH
    return Standing(
        applies, row.plan, row.status, start, end, grace_until, row.stripe_customer_id, anchor
    )


def lock_team(db: DbSession, team_id: int) -> None:
    """Hold the team's row to the end of the transaction: counts and inserts of two
    processes happen one after the other."""
    from sqlmodel import select

    db.exec(select(Team.id).where(Team.id == team_id).with_for_update(key_share=True)).first()


# -- counting ------------------------------------------------------------------------


def count_accounts(db: DbSession, team_id: int) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    query = select(func.count()).where(
        SocialAccount.team_id == team_id, SocialAccount.status != AccountStatus.DISCONNECTED
    )
    return int(db.exec(query).one())


def count_posts(
    db: DbSession, team_id: int, start: datetime, end: datetime, exclude: int | None = None
) -> int:
    """Posts scheduled or published in [start, end): committed to going out then."""
    from sqlalchemy import func
    from sqlmodel import col, select

    query = select(func.count()).where(
        Post.team_id == team_id,
        col(Post.status).in_([str(state) for state in ON_THE_CALENDAR]),
        col(Post.scheduled_at) >= start,
        col(Post.scheduled_at) < end,
    )
    if exclude is not None:
        query = query.where(Post.id != exclude)
    return int(db.exec(query).one())


def count_ai(db: DbSession, team_id: int, start: datetime, end: datetime) -> int:
    """Answered AI requests of the team in [start, end)."""
    from sqlalchemy import func
    from sqlmodel import col, select

    query = select(func.count()).where(
        AiUsage.team_id == team_id,
        col(AiUsage.ok).is_(True),
        col(AiUsage.created_at) >= start,
        col(AiUsage.created_at) < end,
    )
    return int(db.exec(query).one())


def _ai_in_flight(db: DbSession, team_id: int, now: datetime) -> int:
    from sqlalchemy import func
    from sqlmodel import col, select

    query = select(func.count()).where(
        AiUsage.team_id == team_id,
        col(AiUsage.ok).is_(False),
        AiUsage.duration_ms == 0,
        col(AiUsage.created_at) > now - IN_FLIGHT,
    )
    return int(db.exec(query).one())


def count_seats(db: DbSession, team_id: int, now: datetime) -> int:
    """Members plus invitations still open."""
    from sqlalchemy import func
    from sqlmodel import col, select

    members = db.exec(select(func.count()).where(TeamMember.team_id == team_id)).one()
    invites = db.exec(
        select(func.count()).where(
            TeamInvite.team_id == team_id,
            col(TeamInvite.used_at).is_(None),
            col(TeamInvite.expires_at) > now,
        )
    ).one()
    return int(members) + int(invites)


def usage(db: DbSession, team_id: int, where: Standing, now: datetime) -> dict[str, int]:
    start, end = where.window(now)
    return {
        "accounts": count_accounts(db, team_id),
        "posts_per_month": count_posts(db, team_id, start, end),
        "ai_requests_per_month": count_ai(db, team_id, start, end),
        "seats": count_seats(db, team_id, now),
    }


# -- the checks ----------------------------------------------------------------------

_WHAT = {
    "accounts": "connected accounts",
    "posts_per_month": "posts scheduled or published in a billing month",
    "ai_requests_per_month": "answered AI requests in a billing month",
    "seats": "seats (members and open invitations)",
}


def _refuse(
    settings: Settings,
    where: Standing,
    limit_name: str,
    used: int,
    *,
    period: tuple[datetime, datetime] | None = None,
    detail: str = "",
) -> LimitReached:
    limit = where.plan.limit(limit_name)
    upgrade = plans_mod.upgrade_for(settings, limit_name, where.plan.name)
    month = ""
    if period is not None:
        month = f" in the billing month {period[0]:%Y-%m-%d} to {period[1]:%Y-%m-%d}"
    lapsed = ""
    if where.plan.name != where.subscribed:
        lapsed = f" (the {where.subscribed} subscription is {where.status})"
    return LimitReached(
        f"{limit_name}: the {where.plan.name} plan{lapsed} allows {limit} {_WHAT[limit_name]} "
        f"and {used} are used{month}{detail}; nothing was changed. "
        f"Upgrade with `autopostr billing checkout {upgrade}`"
    )


def _applies(settings: Settings) -> bool:
    return plans_mod.enabled(settings)


def check_accounts(
    db: DbSession, settings: Settings, team_id: int, now: datetime | None = None
) -> None:
    """Before connecting a new account (or one disconnected before)."""
    if not _applies(settings):
        return
    lock_team(db, team_id)
    where = standing(db, settings, team_id, now)
    limit = where.plan.limit("accounts")
    if limit is None:
        return
    used = count_accounts(db, team_id)
    if used + 1 > limit:
        raise _refuse(settings, where, "accounts", used)


def check_seats(
    db: DbSession, settings: Settings, team_id: int, now: datetime | None = None
) -> None:
    """Before an invitation (it holds a seat until used or expired)."""
    if not _applies(settings):
        return
    now = now or utcnow()
    lock_team(db, team_id)
    where = standing(db, settings, team_id, now)
    limit = where.plan.limit("seats")
    if limit is None:
        return
    used = count_seats(db, team_id, now)
    if used + 1 > limit:
        raise _refuse(settings, where, "seats", used)


def check_ai(db: DbSession, settings: Settings, team_id: int, now: datetime | None = None) -> None:
    """Before an AI request is recorded: the answered ones of the billing month count, and
    those in flight hold their slot."""
    if not _applies(settings):
        return
    now = now or utcnow()
    lock_team(db, team_id)
    where = standing(db, settings, team_id, now)
    limit = where.plan.limit("ai_requests_per_month")
    if limit is None:
        return
    period = where.window(now)
    used = count_ai(db, team_id, *period)
    if used + _ai_in_flight(db, team_id, now) + 1 > limit:
        raise _refuse(settings, where, "ai_requests_per_month", used, period=period)


def _monthly_posts(
    db: DbSession, settings: Settings, team_id: int, now: datetime | None
) -> tuple[Standing, int] | None:
    """Where the team stands and its monthly post limit, the team's row held until the
    caller's transaction ends; None when nothing limits its posts (billing off, or a
    plan without that limit)."""
    if not _applies(settings):
        return None
    lock_team(db, team_id)
    where = standing(db, settings, team_id, now or utcnow())
    limit = where.plan.limit("posts_per_month")
    return None if limit is None else (where, limit)


def check_posts(
    db: DbSession,
    settings: Settings,
    team_id: int,
    times: Sequence[datetime],
    *,
    exclude: int | None = None,
    now: datetime | None = None,
    importing: bool = False,
) -> None:
    """Before posts become scheduled at `times` (`exclude`: the post being rescheduled,
    already counted). Each billing month is counted on its own; an import over the
    limit is refused whole, saying how many of its posts would fit."""
    held = _monthly_posts(db, settings, team_id, now) if times else None
    if held is None:
        return
    where, limit = held
    wanted = _per_window(where, times)
    over: tuple[tuple[datetime, datetime], int] | None = None
    fit = 0
    for period, count in sorted(wanted.items()):
        used = count_posts(db, team_id, *period, exclude=exclude)
        fit += max(0, min(count, limit - used))
        if used + count > limit and over is None:
            over = (period, used)
    if over is None:
        return
    period, used = over
    detail = ""
    if importing:
        detail = f"; this import would schedule {len(times)} posts and {fit} fit"
    raise _refuse(settings, where, "posts_per_month", used, period=period, detail=detail)


def check_written(
    db: DbSession,
    settings: Settings,
    team_id: int,
    post_ids: Sequence[int],
    *,
    now: datetime | None = None,
    what: str = "",
) -> None:
    """After posts were written whose time was known only then (queued rows given a slot,
    `apply DIR`'s creations and changes): each billing month they fall in must still be
    within the plan, or the whole write is refused and the caller's transaction rolls
    back. `what` names the write in the refusal ("this import")."""
    from sqlmodel import col, select

    held = _monthly_posts(db, settings, team_id, now) if post_ids else None
    if held is None:
        return
    where, limit = held
    times: list[datetime] = []
    for start in range(0, len(post_ids), 1000):
        chunk = list(post_ids[start : start + 1000])
        times += [
            at
            for at in db.exec(
                select(col(Post.scheduled_at)).where(
                    col(Post.id).in_(chunk),
                    col(Post.status).in_([str(state) for state in ON_THE_CALENDAR]),
                )
            )
            if at is not None
        ]
    for period, count in sorted(_per_window(where, times).items()):
        used = count_posts(db, team_id, *period)
        if used > limit:
            detail = f"; {what} would schedule {count} posts there" if what else ""
            raise _refuse(
                settings, where, "posts_per_month", used - count, period=period, detail=detail
            )


def _per_window(where: Standing, times: Sequence[datetime]) -> Counter[tuple[datetime, datetime]]:
    """How many of `times` fall in each billing month: sorted once, each month computed
    once (an import of 100k rows spans a few months)."""
    wanted: Counter[tuple[datetime, datetime]] = Counter()
    period: tuple[datetime, datetime] | None = None
    low = high = 0.0
    # Sorted as numbers: comparing aware datetimes costs ten times as much.
    for stamp in sorted(_aware(moment).timestamp() for moment in times):
        if period is None or not low <= stamp < high:
            period = where.window(datetime.fromtimestamp(stamp, UTC))
            low, high = period[0].timestamp(), period[1].timestamp()
        wanted[period] += 1
    return wanted


def limits_of(plan: Plan) -> dict[str, int | None]:
    return {name: plan.limit(name) for name in LIMITS}
