"""The publish log: what the publishers did with each destination, as the team sees it.

Rows come from `publish_logs`. The claim and recovery rows are written before
the publisher has loaded the post, so their `team_id` and `account_id` are
NULL: visibility goes through the post's team, and the account through the
destination, with the row's own columns as the fallback for rows whose post
was deleted.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autopostr.db import Database
from autopostr.identity import Actor
from autopostr.models import Post, PostDestination, PublishLog, SocialAccount
from autopostr.permissions import require
from autopostr.states import LogEvent

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

# What the publisher writes today; a filter on another name only earns a warning,
# so events added later work before this list learns them.
KNOWN_EVENTS = tuple(LogEvent)
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class LogFilter:
    post_id: int | None = None
    account_id: int | None = None
    events: tuple[str, ...] = ()
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: datetime
    event: str
    post_id: int | None
    destination_id: int | None
    account: str | None  # platform:handle
    attempt: int
    daemon: str | None
    message: str


def since_moment(text: str, zone_name: str, now: datetime) -> datetime:
    """`--since`: a duration back from now (`2h`, `1d`) or a moment (ISO 8601, local time)."""
    from autopostr.errors import InvalidInput
    from autopostr.timeparse import parse_duration, parse_when

    try:
        return now - parse_duration(text, "--since")
    except InvalidInput:
        pass
    try:
        return parse_when(text, zone_name, now, "--since")
    except InvalidInput:
        raise InvalidInput(
            f"--since: {text!r} is neither a duration (30m, 2h, 1d) nor a time "
            "(2026-12-01T09:00, '2026-12-01 09:00')"
        ) from None


@dataclass(frozen=True)
class LogView:
    team_id: int
    filters: LogFilter
    entries: list[LogEntry]  # the newest `filters.limit`, oldest first


def read(
    session: DbSession,
    actor: Actor,
    *,
    post_id: int | None = None,
    account: str | None = None,
    events: tuple[str, ...] = (),
    since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> LogView:
    """The team's log; the post and account must be the team's (exit 3 otherwise)."""
    from autopostr import accounts as accounts_mod
    from autopostr import posts as posts_mod

    team_id = require(actor, "posts.read")
    if post_id is not None:
        posts_mod.get(session, team_id, post_id)
    account_id = accounts_mod.resolve(session, team_id, account).id if account else None
    filters = LogFilter(post_id, account_id, events, since, limit)
    return LogView(team_id, filters, query(session, team_id, filters))


def _matching(team_id: int, filters: LogFilter) -> Any:
    """The log rows of a team that `filters` select, with each row's account."""
    from sqlalchemy import func, or_, select
    from sqlmodel import col

    account_id = func.coalesce(col(PublishLog.account_id), col(PostDestination.account_id))
    statement = (
        select(PublishLog, col(SocialAccount.platform), col(SocialAccount.handle))
        .select_from(PublishLog)
        .outerjoin(Post, col(Post.id) == col(PublishLog.post_id))
        .outerjoin(PostDestination, col(PostDestination.id) == col(PublishLog.destination_id))
        .outerjoin(SocialAccount, col(SocialAccount.id) == account_id)
        .where(or_(col(Post.team_id) == team_id, col(PublishLog.team_id) == team_id))
    )
    if filters.post_id is not None:
        statement = statement.where(col(PublishLog.post_id) == filters.post_id)
    if filters.account_id is not None:
        statement = statement.where(account_id == filters.account_id)
    if filters.events:
        statement = statement.where(col(PublishLog.event).in_(filters.events))
    if filters.since is not None:
        statement = statement.where(col(PublishLog.created_at) >= filters.since)
    return statement


def count(session: DbSession, team_id: int, filters: LogFilter) -> int:
    """How many entries match `filters` whatever the limit: `50 of 1,234 entries shown`."""
    from sqlalchemy import func, select
    from sqlmodel import col

    inner = _matching(team_id, filters).with_only_columns(col(PublishLog.id)).subquery()
    return int(session.execute(select(func.count()).select_from(inner)).scalar_one())


def query(
    session: DbSession, team_id: int, filters: LogFilter, after_id: int | None = None
) -> list[LogEntry]:
    """Matching rows, oldest first: the newest `limit`, or every row after `after_id`."""
    from sqlmodel import col

    statement = _matching(team_id, filters)
    if after_id is None:
        statement = statement.order_by(col(PublishLog.id).desc()).limit(filters.limit)
    else:
        statement = statement.where(col(PublishLog.id) > after_id).order_by(col(PublishLog.id))
    entries = [
        LogEntry(
            id=row.id or 0,
            at=row.created_at,
            event=row.event,
            post_id=row.post_id,
            destination_id=row.destination_id,
            account=f"{platform}:{handle}" if platform is not None else None,
            attempt=row.attempt,
            daemon=row.daemon_id,
            message=row.message,
        )
        for row, platform, handle in session.execute(statement).all()
    ]
    return entries if after_id is not None else entries[::-1]


class Follower:
    """New entries as they are committed, polled by id.

    On PostgreSQL ids are handed out at INSERT but become visible at COMMIT, so
    a row can appear after a higher id was already shown. The follower keeps
    re-reading ids above what it had seen `settle` seconds ago and skips the
    ones it returned, so such late rows are shown instead of silently lost.
    """

    def __init__(
        self,
        db: Database,
        team_id: int,
        filters: LogFilter,
        shown: list[LogEntry] | None = None,
        settle: float = 5.0,
    ) -> None:
        self.db = db
        self.team_id = team_id
        self.filters = filters
        self.settle = settle
        shown = shown or []
        # Start just below what was shown: older rows beyond --limit stay hidden.
        self.floor = min((e.id for e in shown), default=1) - 1
        self.seen = {e.id for e in shown}
        self._marks: deque[tuple[float, int]] = deque()
        if shown:
            self._marks.append((time.monotonic(), max(self.seen)))

    def poll(self) -> list[LogEntry]:
        """Entries committed since the last poll, oldest first."""
        now = time.monotonic()
        with self.db.session() as session:
            rows = query(session, self.team_id, self.filters, after_id=self.floor)
        fresh = [e for e in rows if e.id not in self.seen]
        self.seen.update(e.id for e in fresh)
        self._marks.append((now, max(self.seen, default=self.floor)))
        while self._marks and now - self._marks[0][0] >= self.settle:
            self.floor = max(self.floor, self._marks.popleft()[1])
        self.seen = {i for i in self.seen if i > self.floor}
        return fresh
