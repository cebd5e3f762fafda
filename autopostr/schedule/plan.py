"""The walk over the slots that the daemon and the simulator share.

`plan_slots` walks every account's slots in time order and says what fills each: the
post already queued there, or the evergreen pick for an empty one. The daemon's
evergreen step (`pool.fill`) runs this same walk over the next lead time and stores
its picks; `schedule simulate` runs it over any range and stores nothing. Series
occurrences come from `series.planned`, the same function the daemon makes posts
from, so the simulator and the daemon agree by construction.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from autopostr import accounts as accounts_mod
from autopostr.models import Post, QueueSlot
from autopostr.schedule import evergreen
from autopostr.schedule.pauses import Blackouts, Window
from autopostr.schedule.queueing import AccountQueue, _aware

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

SLOT = "slot"
SERIES = "series"
EVERGREEN = "evergreen"
FEED = "feed"
SOURCES = (SLOT, SERIES, EVERGREEN, FEED)


@dataclass(slots=True)
class Planned:
    at: datetime  # UTC
    tz: ZoneInfo  # the account's zone
    account_id: int
    account: str  # platform:handle
    source: str  # one of SOURCES
    post_id: int | None  # None: made later by the daemon
    text: str = ""
    item_id: int | None = None  # the evergreen item, for a pick

    @property
    def local(self) -> datetime:
        return self.at.astimezone(self.tz)


@dataclass(frozen=True)
class Filled:
    """A queue row as the walk sees it."""

    post_id: int
    text: str
    source: str
    going_out: bool  # False: a draft or waiting for approval, so nothing goes out


def _merged(
    queues: Sequence[AccountQueue], pauses: Sequence[Window], start: datetime, end: datetime
) -> Iterator[tuple[datetime, int, AccountQueue]]:
    from autopostr.schedule.queueing import open_slots

    def stream(q: AccountQueue) -> Iterator[tuple[datetime, int, AccountQueue]]:
        account_id = q.id
        for at in open_slots(q, Blackouts(pauses, account_id), start, end):
            yield at, account_id, q

    # (instant, account id) never repeats, so the tuples order without the queue.
    yield from heapq.merge(*(stream(q) for q in queues))


def plan_slots(
    queues: Sequence[AccountQueue],
    pauses: Sequence[Window],
    filled: dict[tuple[int, datetime], Filled],
    last_text: dict[int, str | None],
    items: Sequence[evergreen.Item],
    platforms: dict[int, str],
    start: datetime,
    end: datetime,
    now: datetime,
    skips: list[evergreen.Skip] | None = None,
) -> list[Planned]:
    """Every open slot in [start, end), in time order, with what fills it. Evergreen
    picks go into empty slots after `now` and change `items` as they are placed."""
    plan: list[Planned] = []
    states = {
        q.id: evergreen.AccountState(
            platform=platforms.get(q.id, ""),
            categories=frozenset(c for c in q.schedule.evergreen.split(",") if c),
            last_text=last_text.get(q.id),
        )
        for q in queues
    }
    label = {q.id: accounts_mod.label(q.account) for q in queues}
    zones = {q.id: q.tz for q in queues}
    # Each account asks only about the pool posts that go to it.
    mine = {q.id: [item for item in items if q.id in item.accounts] for q in queues}
    for at, account_id, _queue in _merged(queues, pauses, start, end):
        state = states[account_id]
        row = filled.get((account_id, at))
        if row is not None:
            state.last_text = evergreen.text_key(row.text)
            if row.going_out:
                plan.append(
                    Planned(
                        at,
                        zones[account_id],
                        account_id,
                        label[account_id],
                        row.source,
                        row.post_id,
                        row.text,
                    )
                )
            continue
        if at <= now or not mine[account_id]:
            continue
        choice = evergreen.pick(mine[account_id], account_id, at, state)
        if choice is None:
            continue
        evergreen.shared(choice, at, state)
        plan.append(
            Planned(
                at,
                zones[account_id],
                account_id,
                label[account_id],
                EVERGREEN,
                None,
                choice.text,
                choice.item.id,
            )
        )
    if skips is not None:
        skips.extend(skip for state in states.values() for skip in state.skips)
    return plan


# ---------------------------------------------------------------- from the database


def load_filled(
    db: DbSession, account_ids: Sequence[int], start: datetime, end: datetime
) -> dict[tuple[int, datetime], Filled]:
    from sqlmodel import col, select

    from autopostr.models import FeedEntry
    from autopostr.states import PostState

    rows = db.exec(
        select(QueueSlot, Post)
        .join(Post, col(Post.id) == col(QueueSlot.post_id))
        .where(
            col(QueueSlot.account_id).in_(account_ids),
            col(QueueSlot.at) >= start,
            col(QueueSlot.at) < end,
        )
    ).all()
    post_ids = [p.id for _s, p in rows]
    from_feeds = set(
        db.exec(select(FeedEntry.post_id).where(col(FeedEntry.post_id).in_(post_ids))).all()
        if post_ids
        else []
    )
    waiting = {PostState.DRAFT, PostState.PENDING_APPROVAL, PostState.APPROVED}
    found = {}
    for slot, post in rows:
        source = EVERGREEN if slot.evergreen_id else FEED if post.id in from_feeds else SLOT
        found[(slot.account_id, _aware(slot.at))] = Filled(
            post.id or 0, post.text, source, post.status not in waiting
        )
    return found


def last_texts(
    db: DbSession, account_ids: Sequence[int], before: datetime
) -> dict[int, str | None]:
    """Each account's queued post just before `before`: its text, for the evergreen rule."""
    from sqlmodel import col, select

    found: dict[int, str | None] = {}
    for account_id in account_ids:
        row = db.exec(
            select(Post.text)
            .join(QueueSlot, col(QueueSlot.post_id) == col(Post.id))
            .where(QueueSlot.account_id == account_id, col(QueueSlot.at) < before)
            .order_by(col(QueueSlot.at).desc())
            .limit(1)
        ).first()
        found[account_id] = evergreen.text_key(row) if row is not None else None
    return found
