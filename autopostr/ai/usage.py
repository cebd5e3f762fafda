"""The per-user AI rate limit and the record of every AI request (`ai_usage`).

A request is recorded before it is sent, and the limit counts the user's rows of
the last 60 seconds, so every process on every machine shares one count. The count
and the insert run in one transaction that holds the user's row first (`SELECT …
FOR UPDATE` on PostgreSQL; on SQLite every transaction is `BEGIN IMMEDIATE`, one
writer at a time): two processes asking at once are counted one after the other,
never both given the last slot. Once answered (or failed) the row gets its tokens,
duration and outcome; one row per request however many times it was retried.
With billing on, the team's plan also limits its answered requests a billing month
(`billing.limits.check_ai`, in the same transaction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr.config import Settings
from autopostr.errors import InvalidInput
from autopostr.identity import Actor
from autopostr.models import AiUsage, User, utcnow
from autopostr.permissions import require

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

WINDOW = timedelta(seconds=60)
DEFAULT_PER_MINUTE = 10


def per_minute(settings: Settings) -> int:
    return settings.integer("ai_requests_per_minute", DEFAULT_PER_MINUTE, minimum=1)


def reserve(
    db: DbSession,
    actor: Actor,
    feature: str,
    model: str,
    limit: int,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> int:
    """Record a request about to be sent, or exit 5 saying how long to wait. The caller
    commits at once, so the other processes count it."""
    from sqlmodel import col, select

    now = now or utcnow()
    if actor.team_id is not None and settings is not None:
        # The plan's monthly count first: it holds the team's row, and every transaction
        # that holds both takes the team's before the user's (no deadlock with a post
        # being written, whose author key needs the user's row).
        from autopostr.billing.limits import check_ai

        check_ai(db, settings, actor.team_id, now)
    db.exec(select(User.id).where(User.id == actor.user_id).with_for_update()).first()
    recent = list(
        db.exec(
            select(AiUsage.created_at)
            .where(AiUsage.user_id == actor.user_id, col(AiUsage.created_at) > now - WINDOW)
            .order_by(col(AiUsage.created_at))
        )
    )
    if len(recent) >= limit:
        # A slot frees when the request that filled the window leaves it.
        frees = _aware(recent[len(recent) - limit]) + WINDOW
        wait = max(1, math.ceil((frees - now).total_seconds()))
        raise InvalidInput(f"AI limit: {limit} requests a minute; try again in {wait} s")
    row = AiUsage(
        user_id=actor.user_id,
        team_id=actor.team_id,
        feature=feature,
        model=model[:100],
        created_at=now,
    )
    db.add(row)
    db.flush()
    assert row.id is not None
    return row.id


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def finish(
    db: DbSession,
    usage_id: int,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    duration: timedelta,
    ok: bool,
) -> None:
    row = db.get(AiUsage, usage_id)
    if row is None:  # the user or team was deleted meanwhile
        return
    row.prompt_tokens = prompt_tokens
    row.completion_tokens = completion_tokens
    row.duration_ms = round(duration.total_seconds() * 1000)
    row.ok = ok
    db.add(row)


# -- `ai usage` -----------------------------------------------------------------------


@dataclass
class Totals:
    requests: int = 0  # answered
    failed: int = 0  # refused, failed, or never finished
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Summary:
    since: datetime
    team: str | None  # the team summed, or None for the user's own requests
    user: str | None
    total: Totals = field(default_factory=Totals)
    by_feature: dict[str, Totals] = field(default_factory=dict)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def summary(
    db: DbSession, actor: Actor, *, team: bool = False, since: datetime | None = None
) -> Summary:
    """Requests and tokens since `since` (default: the start of this month, UTC): the
    actor's own in every team, or with `team` everyone's in the current team."""
    from sqlalchemy import func
    from sqlmodel import col, select

    since = since or month_start(utcnow())
    columns: list[Any] = [
        col(AiUsage.feature),
        col(AiUsage.ok),
        func.count(),
        func.coalesce(func.sum(AiUsage.prompt_tokens), 0),
        func.coalesce(func.sum(AiUsage.completion_tokens), 0),
    ]
    query = select(*columns).where(col(AiUsage.created_at) >= since)
    if team:
        query = query.where(AiUsage.team_id == require(actor, "analytics.read"))
        result = Summary(since, actor.team_name, None)
    else:
        query = query.where(AiUsage.user_id == actor.user_id)
        result = Summary(since, None, actor.email)
    rows: Any = db.exec(query.group_by(*columns[:2]).order_by(columns[0]))
    for feature, ok, count, prompt, completion in rows:
        for totals in (result.total, result.by_feature.setdefault(str(feature), Totals())):
            if ok:
                totals.requests += int(count)
            else:
                totals.failed += int(count)
            totals.prompt_tokens += int(prompt)
            totals.completion_tokens += int(completion)
    return result
