"""The team at a glance: posts by state, what goes out next, what failed, accounts, engagement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

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
    engagement: dict[str, int] = field(default_factory=dict)


def summary(db: DbSession, actor: Actor, now: datetime) -> Summary:
    team_id = require(actor, "posts.read")
    return Summary(
        counts=_counts(db, team_id),
        next_due=_next_due(db, actor, now),
        failures=_failures(db, team_id),
        accounts=_accounts(db, team_id),
        engagement=_engagement(db, team_id),
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


def _engagement(db: DbSession, team_id: int) -> dict[str, int]:
    """Totals over the team's posts, from each post destination's latest snapshot.

    Platforms report running totals, and a snapshot is taken every day, so
    adding up every row would count yesterday's likes again today. Account-level
    rows (no destination) hold account figures such as followers, not engagement.
    """
    from sqlalchemy import func
    from sqlmodel import col, select

    from autopostr.models import AnalyticsSnapshot as Snap

    latest = (
        select(
            col(Snap.account_id).label("account_id"),
            col(Snap.destination_id).label("destination_id"),
            func.max(Snap.day).label("day"),
        )
        .join(SocialAccount, col(SocialAccount.id) == col(Snap.account_id))
        .where(SocialAccount.team_id == team_id, col(Snap.destination_id).is_not(None))
        .group_by(col(Snap.account_id), col(Snap.destination_id))
        .subquery()
    )
    sums = [func.coalesce(func.sum(getattr(Snap, metric)), 0) for metric in ENGAGEMENT_METRICS]
    row = db.exec(
        select(*sums).join(
            latest,
            (col(Snap.account_id) == latest.c.account_id)
            & (col(Snap.destination_id) == latest.c.destination_id)
            & (col(Snap.day) == latest.c.day),
        )
    ).one()
    return {metric: int(value or 0) for metric, value in zip(ENGAGEMENT_METRICS, row, strict=True)}
