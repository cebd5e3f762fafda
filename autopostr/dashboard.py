"""The team at a glance: posts by state, what goes out next, what failed, accounts, engagement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from autopostr import accounts as accounts_mod
from autopostr import posts
from autopostr.calendar import excerpt
from autopostr.identity import Actor
from autopostr.models import SocialAccount
from autopostr.permissions import require
from autopostr.states import PROBLEMS, PostState

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

NEXT_DUE = 10
FAILURES = 10
ENGAGEMENT_METRICS = ("likes", "comments", "shares", "impressions")
ENGAGEMENT_DAYS = 30


@dataclass
class DueItem:
    post_id: int
    scheduled_at: datetime
    overdue: bool  # its time has passed and no daemon has picked it up yet
    accounts: list[str]
    text: str


@dataclass
class FailureItem:
    post_id: int
    destination_id: int
    account: str
    status: str
    error: str | None
    at: datetime
    text: str


@dataclass
class Summary:
    counts: dict[str, int]
    next_due: list[DueItem] = field(default_factory=list)
    failures: list[FailureItem] = field(default_factory=list)
    accounts: list[SocialAccount] = field(default_factory=list)
    engagement: dict[str, int | None] = field(default_factory=dict)
    engagement_from: date | None = None
    engagement_to: date | None = None
    engagement_fetched_at: datetime | None = None


def summary(db: DbSession, actor: Actor, now: datetime) -> Summary:
    team_id = require(actor, "posts.read")
    engagement, period = _engagement(db, team_id)
    return Summary(
        counts=_counts(db, team_id),
        next_due=_next_due(db, actor, now),
        failures=_failures(db, team_id),
        accounts=_accounts(db, team_id),
        engagement=engagement,
        engagement_from=period.first,
        engagement_to=period.last,
        engagement_fetched_at=period.fetched_at,
    )


def _counts(db: DbSession, team_id: int) -> dict[str, int]:
    from sqlalchemy import func
    from sqlmodel import select

    from autopostr.models import Post

    counts: dict[str, int] = {state.value: 0 for state in PostState}
    rows = db.exec(
        select(Post.status, func.count()).where(Post.team_id == team_id).group_by(Post.status)
    ).all()
    for status, number in rows:
        counts[status] = int(number)
    return counts


def _next_due(db: DbSession, actor: Actor, now: datetime) -> list[DueItem]:
    # Overdue posts stay in the list, first: they are the ones a stopped daemon left behind.
    views = posts.list_posts(
        db, actor, posts.PostFilter(status=PostState.SCHEDULED, limit=NEXT_DUE)
    )
    items = []
    for view in views:
        post = view.post
        assert post.id is not None and post.scheduled_at is not None
        items.append(
            DueItem(
                post_id=post.id,
                scheduled_at=post.scheduled_at,
                overdue=post.scheduled_at <= now,
                accounts=[accounts_mod.label(a) for _d, a in view.destinations],
                text=excerpt(post.text),
            )
        )
    return items


def _failures(db: DbSession, team_id: int) -> list[FailureItem]:
    from sqlmodel import col, select

    from autopostr.models import Post, PostDestination

    rows = db.exec(
        select(PostDestination, SocialAccount, Post)
        .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
        .join(Post, col(Post.id) == col(PostDestination.post_id))
        .where(
            Post.team_id == team_id,
            col(PostDestination.status).in_(PROBLEMS),
        )
        .order_by(col(PostDestination.updated_at).desc(), col(PostDestination.id).desc())
        .limit(FAILURES)
    ).all()
    items = []
    for dest, account, post in rows:
        assert dest.id is not None
        items.append(
            FailureItem(
                post_id=dest.post_id,
                destination_id=dest.id,
                account=accounts_mod.label(account),
                status=dest.status,
                error=dest.error,
                at=dest.updated_at,
                text=excerpt(dest.text or post.text),
            )
        )
    return items


def _accounts(db: DbSession, team_id: int) -> list[SocialAccount]:
    from sqlmodel import col, select

    query = select(SocialAccount).where(SocialAccount.team_id == team_id)
    return list(db.exec(query.order_by(col(SocialAccount.platform), col(SocialAccount.handle))))


def _engagement(db: DbSession, team_id: int) -> tuple[dict[str, int | None], Any]:
    """What the team's posts gained over the last ENGAGEMENT_DAYS days, as `analytics
    overview` counts it (None: no platform in scope reports that number), and when
    those numbers were fetched."""
    from autopostr.analytics.reports import Scope, overview

    view = overview(db, Scope(team_id), days=ENGAGEMENT_DAYS)
    return {metric: view.totals[metric] for metric in ENGAGEMENT_METRICS}, view
