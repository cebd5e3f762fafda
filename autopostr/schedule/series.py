"""Recurring series in the database: created by `posts create --every/--rrule/--cron`,
carried forward by the daemon.

The first occurrence is made at once; the daemon's schedule job makes each further
occurrence within a horizon ahead (`AUTOPOSTR_SERIES_HORIZON`), as an ordinary post
made as the series' author, so it is validated, approved and published like any
other. An occurrence is one `series_posts` row (key: series, instant): however many
daemons run the job, it is made once. An occurrence inside a pause is not made for
the paused accounts, and nothing is made for instants already past.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from autopostr import accounts as accounts_mod
from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import AutopostrError, InvalidInput, NotFound
from autopostr.identity import Actor, actor_in_team
from autopostr.models import Post, PostSeries, SeriesPost, SocialAccount, utcnow
from autopostr.permissions import require
from autopostr.schedule import recurrence
from autopostr.schedule.pauses import Window
from autopostr.schedule.queueing import _aware, windows

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

    from autopostr.schedule.plan import Planned

log = logging.getLogger(__name__)

DEFAULT_HORIZON = timedelta(days=14)


def horizon(settings: Settings) -> timedelta:
    return timedelta(
        seconds=settings.seconds("series_horizon", DEFAULT_HORIZON.total_seconds(), above=0)
    )


def rule_of(series: PostSeries) -> recurrence.Rule:
    return recurrence.Rule(
        kind=series.kind,
        expr=series.rule,
        zone=series.timezone,
        start=datetime.fromisoformat(series.start_local),
        until=_aware(series.until) if series.until else None,
        count=series.count,
    )


@dataclass(frozen=True)
class Template:
    """What each occurrence copies from the series' first post."""

    text: str
    accounts: tuple[tuple[int, str, str | None], ...]  # (account id, label, own text)
    first_comment: str | None
    media_ids: tuple[str, ...]
    timezone: str | None


def template_of(db: DbSession, series: PostSeries) -> Template | None:
    from autopostr import posts

    if series.template_post_id is None:
        return None
    post = db.get(Post, series.template_post_id)
    if post is None:
        return None
    assert post.id is not None
    return Template(
        text=post.text,
        accounts=tuple(
            (a.id or 0, accounts_mod.label(a), d.text)
            for d, a in posts.destinations_of(db, post.id)
        ),
        first_comment=post.first_comment,
        media_ids=tuple(str(m.id) for m in posts.media_of(db, post.id)),
        timezone=post.timezone,
    )


def unpaused(
    accounts: Sequence[tuple[int, str, str | None]], pauses: Sequence[Window], at: datetime
) -> list[tuple[int, str, str | None]]:
    return [
        a
        for a in accounts
        if not any(w.start <= at < w.end and w.account_id in (None, a[0]) for w in pauses)
    ]


def create(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    *,
    kind: str,
    expr: str,
    zone: str,
    start: datetime,
    until: datetime | None = None,
    count: int | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> tuple[PostSeries, Post]:
    """A series and its first post (at the rule's first instant from `start`)."""
    from autopostr import posts

    team_id = require(actor, "posts.write")
    now = now or utcnow()
    field = {"every": "--every", "rrule": "--rrule", "cron": "--cron"}[kind]
    local = recurrence.local_start(start, recurrence.Rule(kind, expr, zone, start).tz)
    rule = recurrence.Rule(kind, expr, zone, local, until, count)
    recurrence.validate(rule, field)
    first = next(recurrence.occurrences(rule, now, now + timedelta(days=3660)), None)
    if first is None:
        raise InvalidInput(f"{field}: the rule has no occurrence after now (check --until/--count)")
    post = posts.create(db, actor, settings, at=first, timezone=zone, now=now, **fields)
    series = PostSeries(
        team_id=team_id,
        template_post_id=post.id,
        kind=kind,
        rule=expr.strip(),
        timezone=zone,
        start_local=local.isoformat(),
        until=until,
        count=count,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    db.add(series)
    db.flush()
    assert series.id is not None
    db.add(SeriesPost(series_id=series.id, at=first, post_id=post.id))
    audit.record(db, actor, "series.create", "series", series.id, rule=expr, kind=kind)
    db.flush()
    materialize_one(db, settings, series, now, horizon(settings))
    return series, post


def planned(
    series: PostSeries, template: Template, pauses: Sequence[Window], start: datetime, end: datetime
) -> list[tuple[datetime, list[tuple[int, str, str | None]]]]:
    """The occurrences in [start, end) and the accounts each goes to (pauses left out)."""
    found = []
    for at in recurrence.occurrences(rule_of(series), start, end):
        accounts = unpaused(template.accounts, pauses, at)
        if accounts:
            found.append((at, accounts))
    return found


def materialize_one(
    db: DbSession, settings: Settings, series: PostSeries, now: datetime, ahead: timedelta
) -> int:
    """Make the series' posts due in [now, now + ahead) that are not made yet."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import col, select

    from autopostr import posts

    assert series.id is not None
    template = template_of(db, series)
    if template is None:
        _stop(db, series, now, "its first post was deleted, so there is nothing to copy")
        return 0
    actor = actor_in_team(db, series.created_by, series.team_id, "series")
    if actor is None:
        _stop(db, series, now, "its author left the team")
        return 0
    made = set(
        _aware(at)
        for at in db.exec(
            select(SeriesPost.at).where(
                SeriesPost.series_id == series.id, col(SeriesPost.at) >= now
            )
        ).all()
    )
    count = 0
    for at, accounts in planned(series, template, windows(db, series.team_id), now, now + ahead):
        if at in made or at <= now:
            continue
        try:
            with db.begin_nested():
                db.add(SeriesPost(series_id=series.id, at=at))
                db.flush()
                post = posts.create(
                    db,
                    actor,
                    settings,
                    text=template.text,
                    to=[label for _id, label, _text in accounts],
                    variants={label: text for _id, label, text in accounts if text},
                    first_comment=template.first_comment,
                    media_ids=template.media_ids,
                    at=at,
                    timezone=template.timezone,
                    now=now,
                )
                row = db.get(SeriesPost, (series.id, at))
                assert row is not None
                row.post_id = post.id
                db.add(row)
                db.flush()
            count += 1
        except IntegrityError:
            continue  # another daemon made this one
        except AutopostrError as exc:
            series.error = f"{at.isoformat()}: {exc}"
            series.updated_at = now
            db.add(series)
            log.warning("series %s: %s", series.id, exc)
    return count


def _stop(db: DbSession, series: PostSeries, now: datetime, why: str) -> None:
    series.stopped_at = now
    series.error = why
    series.updated_at = now
    db.add(series)
    log.warning("series %s stopped: %s", series.id, why)


def active(db: DbSession, team_id: int | None = None) -> list[PostSeries]:
    from sqlmodel import col, select

    query = select(PostSeries).where(col(PostSeries.stopped_at).is_(None))
    if team_id is not None:
        query = query.where(PostSeries.team_id == team_id)
    return list(db.exec(query.order_by(col(PostSeries.id))))


def materialize(db: DbSession, settings: Settings, now: datetime | None = None) -> int:
    """The daemon's step: every active series, every team."""
    now = now or utcnow()
    ahead = horizon(settings)
    return sum(materialize_one(db, settings, s, now, ahead) for s in active(db))


# ---------------------------------------------------------------- listing, stopping


@dataclass(frozen=True)
class SeriesView:
    series: PostSeries
    accounts: list[str]
    text: str
    posts: list[tuple[datetime, int | None]]  # occurrences made
    next_at: datetime | None


def _view(db: DbSession, series: PostSeries, now: datetime) -> SeriesView:
    from sqlmodel import col, select

    template = template_of(db, series)
    rows = db.exec(
        select(SeriesPost.at, SeriesPost.post_id)
        .where(SeriesPost.series_id == series.id)
        .order_by(col(SeriesPost.at))
    ).all()
    upcoming = None
    if series.stopped_at is None:
        upcoming = recurrence.first_after(rule_of(series), now)
    return SeriesView(
        series=series,
        accounts=[label for _i, label, _t in template.accounts] if template else [],
        text=template.text if template else "",
        posts=[(_aware(at), post_id) for at, post_id in rows],
        next_at=upcoming,
    )


def list_series(db: DbSession, actor: Actor, now: datetime | None = None) -> list[SeriesView]:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    now = now or utcnow()
    rows = db.exec(
        select(PostSeries).where(PostSeries.team_id == team_id).order_by(col(PostSeries.id))
    )
    return [_view(db, s, now) for s in rows]


def get(db: DbSession, team_id: int, series_id: int) -> PostSeries:
    series = db.get(PostSeries, series_id)
    if series is None or series.team_id != team_id:
        raise NotFound(f"series {series_id} not found: see `autopostr posts series`")
    return series


def stop(db: DbSession, actor: Actor, series_id: int, now: datetime | None = None) -> SeriesView:
    """End a series: no further posts are made; the ones already made stay as they are."""
    team_id = require(actor, "posts.write")
    now = now or utcnow()
    series = get(db, team_id, series_id)
    if series.stopped_at is None:
        series.stopped_at = now
        series.updated_at = now
        db.add(series)
        audit.record(db, actor, "series.stop", "series", series_id)
    return _view(db, series, now)


def accounts_json(accounts: Sequence[SocialAccount]) -> str:
    return json.dumps([a.id for a in accounts])


def simulate(
    db: DbSession,
    team_id: int,
    pauses: Sequence[Window],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Planned]:
    """The series' posts in [start, end): those made, and those the daemon will make."""
    from zoneinfo import ZoneInfo

    from sqlmodel import col, select

    from autopostr import posts
    from autopostr.models import QueueSchedule
    from autopostr.schedule.plan import SERIES, Planned
    from autopostr.states import PostState

    waiting = {PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.APPROVED}
    zones = {row.account_id: ZoneInfo(row.timezone) for row in db.exec(select(QueueSchedule)).all()}
    plan: list[Planned] = []
    for series in db.exec(select(PostSeries).where(PostSeries.team_id == team_id)).all():
        assert series.id is not None
        fallback = ZoneInfo(series.timezone)
        made = {}
        for at, post_id in db.exec(
            select(SeriesPost.at, SeriesPost.post_id).where(
                SeriesPost.series_id == series.id,
                col(SeriesPost.at) >= min(start, now),
                col(SeriesPost.at) < end,
            )
        ).all():
            made[_aware(at)] = post_id
        for at, post_id in made.items():
            post = db.get(Post, post_id) if post_id else None
            if post is None or post.status in waiting or at < start:
                continue
            for dest, account in posts.destinations_of(db, post_id or 0):
                plan.append(
                    Planned(
                        at,
                        zones.get(account.id or 0, fallback),
                        account.id or 0,
                        accounts_mod.label(account),
                        SERIES,
                        post_id,
                        dest.text or post.text,
                    )
                )
        template = template_of(db, series)
        if series.stopped_at is not None or template is None:
            continue
        for at, accounts in planned(series, template, pauses, max(start, now), end):
            if at in made or at <= now:
                continue
            for account_id, label, text in accounts:
                plan.append(
                    Planned(
                        at,
                        zones.get(account_id, fallback),
                        account_id,
                        label,
                        SERIES,
                        None,
                        text or template.text,
                    )
                )
    return plan
