"""The reports made of the snapshots, for one team: overview, one post, one account,
best times, export.

A period's number is what the days of the period added to the running totals (the
snapshots' gains), so a post published long ago counts what it gained meanwhile, and a
period compares with the one of the same length before it. Followers are an audience,
not a flow: a period shows how many there were at its end. A metric no post in scope
reports is None, and so is a comparison with a period that has no data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr.errors import NotFound
from autopostr.identity import Actor
from autopostr.models import (
    AnalyticsDaily,
    AnalyticsSnapshot,
    AnalyticsTarget,
    Post,
    PostDestination,
    SocialAccount,
)
from autopostr.permissions import require
from autopostr.platforms.base import METRICS
from autopostr.queue.claims import aware

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

FLOWS = tuple(m for m in METRICS if m != "followers")  # summed over days
ENGAGEMENT = ("likes", "comments", "shares", "saves", "clicks")
TOP_POSTS = 5
MIN_POSTS = 10  # best times: fewer posts with impressions is too little to go on
MIN_SLOT_POSTS = 2  # a slot is named only with this many posts in it
TOP_SLOTS = 3
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Values = dict[str, int | None]


def add(a: int | None, b: int | None) -> int | None:
    """None-aware: a number plus nothing is the number; nothing plus nothing is None."""
    if a is None:
        return b
    return a if b is None else a + b


def change(current: int | None, previous: int | None) -> float | None:
    if current is None or previous is None or previous == 0:
        return None
    return round((current - previous) / previous, 4)


@dataclass
class Scope:
    team_id: int
    account_id: int | None = None
    platform: str | None = None

    def accounts(self, session: DbSession) -> dict[int, str]:
        """The accounts in scope and their platforms: snapshot queries filter on these
        ids rather than join every row to its account."""
        from sqlalchemy import select
        from sqlmodel import col

        rows = session.execute(
            self.where(select(col(SocialAccount.id), col(SocialAccount.platform)))
        ).all()
        return {int(account_id): platform for account_id, platform in rows}

    def where(self, query: Any) -> Any:
        from sqlmodel import col

        query = query.where(col(SocialAccount.team_id) == self.team_id)
        if self.account_id is not None:
            query = query.where(col(SocialAccount.id) == self.account_id)
        if self.platform is not None:
            query = query.where(col(SocialAccount.platform) == self.platform)
        return query


def scope_for(
    session: DbSession, actor: Actor, account: str | None = None, platform: str | None = None
) -> Scope:
    """The team's numbers (viewers may read them), narrowed to an account or platform."""
    from autopostr import accounts

    team_id = require(actor, "analytics.read")
    account_id = accounts.resolve(session, team_id, account).id if account else None
    return Scope(team_id, account_id, platform.lower() if platform else None)


def today() -> date:
    return datetime.now(UTC).date()


# -- overview ---------------------------------------------------------------------------


@dataclass
class TopPost:
    post_id: int
    destination_id: int
    account: str
    url: str | None
    values: Values
    engagement: int


@dataclass
class Overview:
    first: date
    last: date
    fetched_at: datetime | None
    totals: Values
    previous: Values
    change: dict[str, float | None]
    by_platform: dict[str, Values]
    top_posts: list[TopPost]
    daily: dict[str, list[tuple[date, int | None]]]  # per metric, a value per day


def overview(
    session: DbSession, scope: Scope, days: int = 30, last: date | None = None
) -> Overview:
    from sqlalchemy import select
    from sqlmodel import col

    last = last or today()
    first = last - timedelta(days=days - 1)
    before = first - timedelta(days=days)  # the previous period's first day
    # Each account's daily sums of its posts' gains: a row per account and day.
    sums = AnalyticsDaily
    platforms = scope.accounts(session)
    rows = session.execute(
        select(
            col(sums.day),
            col(sums.account_id),
            col(sums.fetched_at),
            *(getattr(sums, f"{m}_gain") for m in FLOWS),
        ).where(
            col(sums.account_id).in_(sorted(platforms)),
            col(sums.day) >= before,
            col(sums.day) <= last,
        )
    ).all()
    totals: Values = dict.fromkeys(METRICS)
    previous: Values = dict.fromkeys(METRICS)
    by_platform: dict[str, Values] = {}
    per_day: dict[date, Values] = defaultdict(lambda: dict.fromkeys(FLOWS))
    fetched: list[datetime] = []
    for day, account_id, fetched_at, *gained in rows:
        day = _day(day)
        platform = platforms[int(account_id)]
        values = dict(zip(FLOWS, (_int(v) for v in gained), strict=True))
        if fetched_at is not None:
            fetched.append(aware(fetched_at))
        if day >= first:
            target = by_platform.setdefault(platform, dict.fromkeys(METRICS))
            for metric, value in values.items():
                totals[metric] = add(totals[metric], value)
                target[metric] = add(target[metric], value)
                per_day[day][metric] = add(per_day[day][metric], value)
        else:
            for metric, value in values.items():
                previous[metric] = add(previous[metric], value)
    followers = _followers_by_day(session, scope, before - timedelta(days=1), last)
    if followers.series:
        fetched.append(followers.fetched_at) if followers.fetched_at else None
        totals["followers"] = followers.level(last)
        previous["followers"] = followers.level(first - timedelta(days=1))
        for platform, level in followers.level_by_platform(last).items():
            by_platform.setdefault(platform, dict.fromkeys(METRICS))["followers"] = level
    daily: dict[str, list[tuple[date, int | None]]] = {}
    span = [first + timedelta(days=n) for n in range(days)]
    for metric in FLOWS:
        if totals[metric] is not None:
            daily[metric] = [(d, per_day[d][metric] if d in per_day else None) for d in span]
    if followers.series:
        daily["followers"] = [(d, followers.level(d)) for d in span]
    return Overview(
        first=first,
        last=last,
        fetched_at=max(fetched) if fetched else None,
        totals=totals,
        previous=previous,
        change={m: change(totals[m], previous[m]) for m in METRICS},
        by_platform=dict(sorted(by_platform.items())),
        top_posts=_top_posts(session, scope, first, last),
        daily=daily,
    )


def _top_posts(session: DbSession, scope: Scope, first: date, last: date) -> list[TopPost]:
    from sqlalchemy import func, select
    from sqlmodel import col

    from autopostr import accounts

    snap = AnalyticsSnapshot
    sums = [func.sum(getattr(snap, f"{m}_gain")).label(m) for m in FLOWS]
    engagement = sum(
        (func.coalesce(func.sum(getattr(snap, f"{m}_gain")), 0) for m in ENGAGEMENT[1:]),
        func.coalesce(func.sum(getattr(snap, f"{ENGAGEMENT[0]}_gain")), 0),
    ).label("engagement")
    impressions = func.coalesce(func.sum(snap.impressions_gain), 0)
    ranked = (
        select(col(snap.destination_id), engagement, *sums)
        .where(
            col(snap.account_id).in_(sorted(scope.accounts(session))),
            col(snap.destination_id).is_not(None),
            col(snap.day) >= first,
            col(snap.day) <= last,
        )
        .group_by(col(snap.destination_id))
        .order_by(engagement.desc(), impressions.desc(), col(snap.destination_id))
        .limit(TOP_POSTS)
    )
    rows = session.execute(ranked).all()
    if not rows:
        return []
    ids = [int(r[0]) for r in rows]
    found = {
        dest.id: (dest, account)
        for dest, account in session.execute(
            select(PostDestination, SocialAccount)
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .where(col(PostDestination.id).in_(ids))
        ).all()
    }
    top = []
    for dest_id, total, *values in rows:
        dest, account = found[int(dest_id)]
        top.append(
            TopPost(
                post_id=dest.post_id,
                destination_id=int(dest_id),
                account=accounts.label(account),
                url=dest.url,
                values={
                    **dict(zip(FLOWS, (_int(v) for v in values), strict=True)),
                    "followers": None,
                },
                engagement=int(total or 0),
            )
        )
    return top


@dataclass
class Followers:
    """Each account's followers by day, carried forward over days without a snapshot."""

    series: dict[int, list[tuple[date, int]]] = field(default_factory=dict)
    platform: dict[int, str] = field(default_factory=dict)
    fetched_at: datetime | None = None

    def of(self, account_id: int, day: date) -> int | None:
        known = None
        for when, value in self.series.get(account_id, []):
            if when > day:
                break
            known = value
        return known

    def level(self, day: date) -> int | None:
        total: int | None = None
        for account_id in self.series:
            total = add(total, self.of(account_id, day))
        return total

    def level_by_platform(self, day: date) -> dict[str, int | None]:
        levels: dict[str, int | None] = {}
        for account_id, platform in self.platform.items():
            levels[platform] = add(levels.get(platform), self.of(account_id, day))
        return levels


def _followers_by_day(session: DbSession, scope: Scope, first: date, last: date) -> Followers:
    """Account rows up to `last`: those of the span, and each account's last one before."""
    from sqlalchemy import func, or_, select
    from sqlmodel import col

    snap = AnalyticsSnapshot
    latest_before = (
        select(func.max(snap.day))
        .where(
            col(snap.account_id) == col(SocialAccount.id),
            col(snap.destination_id).is_(None),
            col(snap.followers).is_not(None),
            col(snap.day) < first,
        )
        .correlate(SocialAccount)
        .scalar_subquery()
    )
    rows = session.execute(
        scope.where(
            select(
                col(snap.account_id),
                col(SocialAccount.platform),
                col(snap.day),
                col(snap.followers),
                col(snap.fetched_at),
            )
            .join(SocialAccount, col(SocialAccount.id) == col(snap.account_id))
            .where(
                col(snap.destination_id).is_(None),
                col(snap.followers).is_not(None),
                col(snap.day) <= last,
                or_(col(snap.day) >= first, col(snap.day) == latest_before),
            )
            .order_by(col(snap.account_id), col(snap.day))
        )
    ).all()
    found = Followers()
    for account_id, platform, day, followers, fetched_at in rows:
        found.series.setdefault(int(account_id), []).append((_day(day), int(followers)))
        found.platform[int(account_id)] = platform
        moment = aware(fetched_at)
        if found.fetched_at is None or moment > found.fetched_at:
            found.fetched_at = moment
    return found


# -- one post ---------------------------------------------------------------------------


@dataclass
class DestinationReport:
    id: int
    account: str
    platform: str
    status: str
    url: str | None
    metrics: Values
    history: list[tuple[date, Values]]
    fetched_at: datetime | None
    gone_at: datetime | None


@dataclass
class PostReport:
    post_id: int
    destinations: list[DestinationReport]

    @property
    def fetched_at(self) -> datetime | None:
        moments = [d.fetched_at for d in self.destinations if d.fetched_at is not None]
        return max(moments) if moments else None


def post_report(
    session: DbSession, actor: Actor, post_id: int, days: int | None = None
) -> PostReport:
    """Each destination's latest totals and their history, day by day."""
    from sqlalchemy import select
    from sqlmodel import col

    from autopostr import accounts

    team_id = require(actor, "analytics.read")
    post = session.get(Post, post_id)
    if post is None or post.team_id != team_id:
        raise NotFound(f"post {post_id} not found in team {actor.team_name!r}")
    rows = session.execute(
        select(PostDestination, SocialAccount, col(AnalyticsTarget.gone_at))
        .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
        .outerjoin(AnalyticsTarget, col(AnalyticsTarget.destination_id) == col(PostDestination.id))
        .where(col(PostDestination.post_id) == post_id)
        .order_by(col(PostDestination.id))
    ).all()
    snap = AnalyticsSnapshot
    query = select(snap).where(col(snap.destination_id).in_([d.id for d, _a, _g in rows]))
    if days is not None:
        query = query.where(col(snap.day) > today() - timedelta(days=days))
    history: dict[int, list[AnalyticsSnapshot]] = defaultdict(list)
    for item in session.execute(query.order_by(col(snap.day))).scalars():
        history[item.destination_id or 0].append(item)
    reports = []
    for dest, account, gone_at in rows:
        days_of = history.get(dest.id or 0, [])
        reports.append(
            DestinationReport(
                id=dest.id or 0,
                account=accounts.label(account),
                platform=account.platform,
                status=dest.status,
                url=dest.url,
                metrics=_values(days_of[-1]) if days_of else dict.fromkeys(FLOWS),
                history=[(_day(s.day), _values(s)) for s in days_of],
                fetched_at=aware(days_of[-1].fetched_at) if days_of else None,
                gone_at=aware(gone_at) if gone_at is not None else None,
            )
        )
    return PostReport(post_id, reports)


# -- one account ------------------------------------------------------------------------


@dataclass
class AccountReport:
    account: str
    platform: str
    first: date
    last: date
    fetched_at: datetime | None
    followers: int | None
    followers_history: list[tuple[date, int | None]]
    posts: int  # published posts with numbers
    totals: Values  # the latest totals of its posts, added up
    gained: Values  # what its posts gained in the period


def account_report(session: DbSession, actor: Actor, name: str, days: int = 30) -> AccountReport:
    from sqlalchemy import func, select
    from sqlmodel import col

    from autopostr import accounts

    scope = scope_for(session, actor, account=name)
    account = session.get(SocialAccount, scope.account_id)
    assert account is not None
    view = overview(session, scope, days=days)
    snap = AnalyticsSnapshot
    latest = (
        select(func.max(snap.day))
        .where(col(snap.destination_id) == col(PostDestination.id))
        .correlate(PostDestination)
        .scalar_subquery()
    )
    sums = [func.sum(getattr(snap, m)) for m in FLOWS]
    row = session.execute(
        select(func.count(), func.max(snap.fetched_at), *sums)
        .select_from(PostDestination)
        .join(snap, col(snap.destination_id) == col(PostDestination.id))
        .where(col(PostDestination.account_id) == account.id, col(snap.day) == latest)
    ).one()
    posts, fetched_at, *totals = row
    followers = view.daily.get("followers", [])
    moments = [m for m in (view.fetched_at, aware(fetched_at) if fetched_at else None) if m]
    return AccountReport(
        account=accounts.label(account),
        platform=account.platform,
        first=view.first,
        last=view.last,
        fetched_at=max(moments) if moments else None,
        followers=view.totals["followers"],
        followers_history=followers,
        posts=int(posts or 0),
        totals={**dict(zip(FLOWS, (_int(v) for v in totals), strict=True)), "followers": None},
        gained={m: view.totals[m] for m in FLOWS},
    )


# -- best times -------------------------------------------------------------------------


@dataclass
class Slot:
    weekday: int  # 0 Monday
    hour: int
    posts: int = 0
    impressions: int = 0
    engagement: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.engagement / self.impressions, 6) if self.impressions else None

    @property
    def day_name(self) -> str:
        return WEEKDAYS[self.weekday]

    @property
    def name(self) -> str:
        return f"{self.day_name} {self.hour:02d}:00–{(self.hour + 1) % 24:02d}:00"


@dataclass
class BestTimes:
    first: date
    last: date
    timezone: str
    fetched_at: datetime | None
    posts: int  # posts with impressions
    slots: dict[tuple[int, int], Slot]
    top: list[Slot]
    note: str | None
    weekdays: tuple[str, ...] = WEEKDAYS


def best_times(
    session: DbSession, scope: Scope, zone_name: str, days: int = 90, now: datetime | None = None
) -> BestTimes:
    """Engagement per impression of the team's own posts by the hour and weekday they
    went out (in `zone_name`), from each post's latest totals; slots ranked by their
    ratio of sums, a slot named only with MIN_SLOT_POSTS posts or more."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from autopostr.timeparse import zone

    tz = zone(zone_name)
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    snap = AnalyticsSnapshot
    latest = (
        select(func.max(snap.day))
        .where(col(snap.destination_id) == col(PostDestination.id))
        .correlate(PostDestination)
        .scalar_subquery()
    )
    rows = session.execute(
        scope.where(
            select(
                col(PostDestination.published_at),
                col(snap.impressions),
                col(snap.fetched_at),
                *(getattr(snap, m) for m in ENGAGEMENT),
            )
            .select_from(PostDestination)
            .join(SocialAccount, col(SocialAccount.id) == col(PostDestination.account_id))
            .join(snap, col(snap.destination_id) == col(PostDestination.id))
            .where(
                col(PostDestination.published_at) >= since,
                col(snap.day) == latest,
                col(snap.impressions) > 0,
            )
        )
    ).all()
    slots: dict[tuple[int, int], Slot] = {}
    fetched: datetime | None = None
    for published, impressions, fetched_at, *engaged in rows:
        local = aware(published).astimezone(tz)
        key = (local.weekday(), local.hour)
        slot = slots.setdefault(key, Slot(*key))
        slot.posts += 1
        slot.impressions += int(impressions)
        slot.engagement += sum(int(v) for v in engaged if v is not None)
        moment = aware(fetched_at)
        fetched = moment if fetched is None or moment > fetched else fetched
    total = sum(s.posts for s in slots.values())
    ranked = sorted(
        (s for s in slots.values() if s.posts >= MIN_SLOT_POSTS and s.rate is not None),
        key=lambda s: (-(s.rate or 0.0), -s.posts, s.weekday, s.hour),
    )
    note = None
    if total < MIN_POSTS:
        note = (
            f"too little data: {total} post(s) with impressions in the last {days} days; "
            f"best times need at least {MIN_POSTS}"
        )
    elif not ranked:
        note = f"no hour has {MIN_SLOT_POSTS} or more posts with impressions yet"
    return BestTimes(
        first=since.date(),
        last=now.date(),
        timezone=zone_name,
        fetched_at=fetched,
        posts=total,
        slots=slots,
        top=ranked[:TOP_SLOTS],
        note=note,
    )


# -- export -----------------------------------------------------------------------------

EXPORT_BY = ("post", "account", "day")


def export_rows(
    session: DbSession,
    scope: Scope,
    by: str = "post",
    first: date | None = None,
    last: date | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows in day order, streamed from the database. `post`: one row per post
    destination and day with its running totals; `account` and `day`: what the posts
    gained that day, added up, with the followers of that day."""
    from sqlalchemy import func, select
    from sqlmodel import col

    snap = AnalyticsSnapshot
    bounds = []
    if first is not None:
        bounds.append(col(snap.day) >= first)
    if last is not None:
        bounds.append(col(snap.day) <= last)
    if by == "post":
        query = scope.where(
            select(
                col(snap.day),
                col(PostDestination.post_id),
                col(snap.destination_id),
                col(SocialAccount.platform),
                col(SocialAccount.handle),
                col(snap.fetched_at),
                *(getattr(snap, m) for m in FLOWS),
            )
            .join(PostDestination, col(PostDestination.id) == col(snap.destination_id))
            .join(SocialAccount, col(SocialAccount.id) == col(snap.account_id))
            .where(*bounds)
            .order_by(col(snap.day), col(snap.destination_id))
        )
        stream = session.execute(query.execution_options(yield_per=1000))
        for day, post_id, dest_id, platform, handle, fetched_at, *values in stream:
            yield {
                "day": _day(day).isoformat(),
                "post": str(post_id),
                "destination": str(dest_id),
                "account": f"{platform}:{handle}",
                "platform": platform,
                **dict(zip(FLOWS, (_int(v) for v in values), strict=True)),
                "fetched_at": aware(fetched_at).isoformat(),
            }
        return
    per_account = by == "account"
    keys: list[Any] = [col(snap.day)]
    if per_account:
        keys += [col(SocialAccount.platform), col(SocialAccount.handle)]
    query = scope.where(
        select(
            *keys,
            func.max(snap.fetched_at),
            *(func.sum(getattr(snap, f"{m}_gain")) for m in FLOWS),
            func.sum(snap.followers),
        )
        .join(SocialAccount, col(SocialAccount.id) == col(snap.account_id))
        .where(*bounds)
        .group_by(*keys)
        .order_by(*keys)
    )
    for row in session.execute(query):
        day = _day(row[0])
        rest = list(row[3:] if per_account else row[1:])
        fetched_at, *values = rest
        followers = values.pop()
        record: dict[str, Any] = {"day": day.isoformat()}
        if per_account:
            record["account"] = f"{row[1]}:{row[2]}"
            record["platform"] = row[1]
        record.update(dict(zip(FLOWS, (_int(v) for v in values), strict=True)))
        record["followers"] = _int(followers)
        record["fetched_at"] = aware(fetched_at).isoformat() if fetched_at else None
        yield record


def export_columns(by: str) -> list[str]:
    if by == "post":
        return ["day", "post", "destination", "account", "platform", *FLOWS, "fetched_at"]
    keys = ["day", "account", "platform"] if by == "account" else ["day"]
    return [*keys, *FLOWS, "followers", "fetched_at"]


# -- helpers ----------------------------------------------------------------------------


def _values(item: AnalyticsSnapshot) -> Values:
    return {m: getattr(item, m) for m in METRICS}


def raw_of(item: AnalyticsSnapshot) -> dict[str, Any]:
    try:
        loaded = json.loads(item.raw or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def parse_days(values: Sequence[str]) -> list[date]:
    return [date.fromisoformat(v) for v in values]
