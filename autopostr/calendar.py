"""The content calendar: posts laid out on the local days of a week or a month.

Posts are stored in UTC; a calendar is read in a zone, so a post at 23:30 UTC
sits on the next day in Berlin. Weeks run Monday to Sunday, and a month is
shown as the whole weeks that cover it, the way a wall calendar does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from autopostr import accounts as accounts_mod
from autopostr import posts
from autopostr.config import Settings
from autopostr.errors import InvalidInput
from autopostr.identity import Actor
from autopostr.models import Post
from autopostr.states import ON_THE_CALENDAR
from autopostr.timeparse import zone

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

SPANS = ("week", "month")
EXCERPT_CHARS = 40


@dataclass
class Entry:
    post_id: int
    at: datetime  # UTC
    time: str  # HH:MM in the calendar's zone
    status: str
    accounts: list[str]
    text: str  # the start of the text, one line


@dataclass
class Day:
    date: date
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Calendar:
    span: str
    first: date  # a Monday
    last: date  # a Sunday, inclusive
    timezone: str
    days: list[Day]
    month: date | None = None  # the 1st of the month shown, for the month view


def today(zone_name: str, now: datetime) -> date:
    """The date on the wall in `zone_name` at `now`."""
    return now.astimezone(zone(zone_name)).date()


def span_bounds(start: date, span: str) -> tuple[date, date]:
    """First (a Monday) and last (a Sunday) day shown for the week or month holding `start`."""
    if span not in SPANS:
        raise InvalidInput(f"span: {span!r} is not one of {', '.join(SPANS)}")
    if span == "week":
        first = start - timedelta(days=start.weekday())
        return first, first + timedelta(days=6)
    month_start = start.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    month_end = next_month - timedelta(days=1)
    first = month_start - timedelta(days=month_start.weekday())
    last = month_end + timedelta(days=6 - month_end.weekday())
    return first, last


def _local_midnight_utc(day: date, zone_name: str) -> datetime:
    # fold=0 is the earlier reading at a DST change; the local-date filter in
    # build() sorts out the few minutes either side, so the bound need not be exact.
    return datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def build(db: DbSession, actor: Actor, start: date, span: str, zone_name: str) -> Calendar:
    """The posts on the calendar from the week or month holding `start`, by local day."""
    tz = zone(zone_name)
    first, last = span_bounds(start, span)
    filters = posts.PostFilter(
        start=_local_midnight_utc(first, zone_name),
        end=_local_midnight_utc(last + timedelta(days=1), zone_name),
        limit=None,
    )
    days = {
        first + timedelta(days=n): Day(first + timedelta(days=n))
        for n in range((last - first).days + 1)
    }
    for view in posts.list_posts(db, actor, filters):
        post = view.post
        if post.status not in ON_THE_CALENDAR or post.scheduled_at is None:
            continue
        local = post.scheduled_at.astimezone(tz)
        day = days.get(local.date())
        if day is None:
            continue
        assert post.id is not None
        day.entries.append(
            Entry(
                post_id=post.id,
                at=post.scheduled_at.astimezone(UTC),
                time=local.strftime("%H:%M"),
                status=post.status,
                accounts=[accounts_mod.label(account) for _dest, account in view.destinations],
                text=excerpt(post.text),
            )
        )
    return Calendar(
        span=span,
        first=first,
        last=last,
        timezone=zone_name,
        days=list(days.values()),
        month=start.replace(day=1) if span == "month" else None,
    )


def move(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    post_id: int,
    when: datetime,
    now: datetime | None = None,
) -> Post:
    """Reschedule a post: the same checks as `posts schedule` (future time, platform limits)."""
    return posts.schedule(db, actor, settings, post_id, when, now=now)
