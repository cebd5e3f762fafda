"""Queues in the database: an account's slots, the posts that take them, pauses.

A queued post takes the next free slot: the earliest slot instant free on every
destination's account at once, or with `each` every account's own next slot. A
taken slot is a `queue_slots` row, unique on (account, instant): two processes
queueing at once both try the same instant, one insert wins and the other moves on
to the next free slot, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from autopostr import accounts as accounts_mod
from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import Conflict, InvalidInput, NotFound
from autopostr.identity import Actor
from autopostr.models import (
    Post,
    PostDestination,
    QueuePause,
    QueueSchedule,
    QueueSlot,
    SocialAccount,
    utcnow,
)
from autopostr.permissions import require
from autopostr.schedule import slots as slots_mod
from autopostr.schedule.pauses import Blackouts, Window
from autopostr.timeparse import zone as parse_zone

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

# How far ahead a queued post looks for a free slot before giving up.
SEARCH = timedelta(days=366)
ATTEMPTS = 50  # slots lost to concurrent writers before giving up


@dataclass(frozen=True)
class AccountQueue:
    account: SocialAccount
    schedule: QueueSchedule
    slots: slots_mod.WeeklySlots

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.schedule.timezone)

    @property
    def id(self) -> int:
        assert self.account.id is not None
        return self.account.id


# ---------------------------------------------------------------- slots


def set_slots(
    db: DbSession,
    actor: Actor,
    account_name: str,
    spec: str,
    zone_name: str,
    evergreen: Sequence[str] = (),
) -> AccountQueue:
    team_id = require(actor, "posts.write")
    account = accounts_mod.resolve(db, team_id, account_name)
    parsed = slots_mod.parse(spec)
    parse_zone(zone_name)
    assert account.id is not None
    row = db.get(QueueSchedule, account.id) or QueueSchedule(
        account_id=account.id, spec="", timezone=zone_name
    )
    row.spec, row.timezone, row.updated_at = parsed.spec(), zone_name, utcnow()
    row.evergreen = ",".join(sorted({c.strip() for c in evergreen if c.strip()}))
    db.add(row)
    audit.record(db, actor, "queue.slots", "account", account.id, spec=row.spec, tz=zone_name)
    db.flush()
    return AccountQueue(account, row, parsed)


def queue_of(db: DbSession, account: SocialAccount) -> AccountQueue | None:
    assert account.id is not None
    row = db.get(QueueSchedule, account.id)
    if row is None:
        return None
    return AccountQueue(account, row, slots_mod.parse(row.spec))


def require_queue(db: DbSession, account: SocialAccount) -> AccountQueue:
    queue = queue_of(db, account)
    if queue is None:
        label = accounts_mod.label(account)
        raise InvalidInput(
            f"{label} has no posting slots: set them with "
            f'`autopostr queue slots set {label} "mon-fri 09:00,13:00"`'
        )
    return queue


def show_slots(db: DbSession, actor: Actor, account_name: str) -> AccountQueue:
    team_id = require(actor, "posts.read")
    return require_queue(db, accounts_mod.resolve(db, team_id, account_name))


def team_queues(
    db: DbSession, team_id: int, account_ids: Sequence[int] | None = None
) -> list[AccountQueue]:
    from sqlmodel import col, select

    query = (
        select(QueueSchedule, SocialAccount)
        .join(SocialAccount, col(SocialAccount.id) == col(QueueSchedule.account_id))
        .where(SocialAccount.team_id == team_id)
        .order_by(col(SocialAccount.id))
    )
    if account_ids is not None:
        query = query.where(col(SocialAccount.id).in_(account_ids))
    return [AccountQueue(a, s, slots_mod.parse(s.spec)) for s, a in db.exec(query).all()]


# ---------------------------------------------------------------- pauses


def windows(db: DbSession, team_id: int, end: datetime | None = None) -> list[Window]:
    from sqlmodel import col, select

    query = select(QueuePause).where(QueuePause.team_id == team_id)
    if end is not None:
        query = query.where(col(QueuePause.starts_at) < end)
    return [
        Window(p.starts_at, p.ends_at, p.account_id, p.reason)
        for p in db.exec(query.order_by(col(QueuePause.starts_at)))
    ]


def add_pause(
    db: DbSession,
    actor: Actor,
    account_name: str | None,
    start: datetime,
    end: datetime,
    reason: str = "",
) -> tuple[QueuePause, list[int]]:
    """A blackout window; returns it and the queued posts already inside it (to warn)."""
    from sqlmodel import col, select

    team_id = require(actor, "posts.write")
    if end <= start:
        raise InvalidInput("--until: the pause must end after it starts")
    account = accounts_mod.resolve(db, team_id, account_name) if account_name else None
    pause = QueuePause(
        team_id=team_id,
        account_id=account.id if account else None,
        starts_at=start,
        ends_at=end,
        reason=reason.strip(),
        created_by=actor.user_id,
    )
    db.add(pause)
    db.flush()
    inside = (
        select(PostDestination.post_id)
        .join(Post, col(Post.id) == col(PostDestination.post_id))
        .where(
            Post.team_id == team_id,
            col(PostDestination.due_at) >= start,
            col(PostDestination.due_at) < end,
        )
    )
    if account is not None:
        inside = inside.where(PostDestination.account_id == account.id)
    audit.record(db, actor, "queue.pause", "pause", pause.id, start=start.isoformat())
    return pause, sorted(set(db.exec(inside).all()))


def list_pauses(
    db: DbSession, actor: Actor, now: datetime | None = None
) -> list[tuple[QueuePause, str | None]]:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    now = now or utcnow()
    rows = db.exec(
        select(QueuePause)
        .where(QueuePause.team_id == team_id, col(QueuePause.ends_at) > now)
        .order_by(col(QueuePause.starts_at))
    ).all()
    labels = _labels(db, [p.account_id for p in rows if p.account_id])
    return [(p, labels.get(p.account_id) if p.account_id else None) for p in rows]


def remove_pause(db: DbSession, actor: Actor, pause_id: int) -> QueuePause:
    team_id = require(actor, "posts.write")
    pause = db.get(QueuePause, pause_id)
    if pause is None or pause.team_id != team_id:
        raise NotFound(f"pause {pause_id} not found: see `autopostr queue pauses`")
    db.delete(pause)
    audit.record(db, actor, "queue.unpause", "pause", pause_id)
    return pause


def pauses_covering(
    db: DbSession, team_id: int, account_ids: Sequence[int], at: datetime
) -> list[Window]:
    """The pauses an explicitly scheduled time falls in, for a warning at create time."""
    return [
        w
        for w in windows(db, team_id)
        if w.start <= at < w.end and (w.account_id is None or w.account_id in account_ids)
    ]


def _labels(db: DbSession, account_ids: Sequence[int | None]) -> dict[int | None, str]:
    from sqlmodel import col, select

    ids = [i for i in account_ids if i is not None]
    if not ids:
        return {}
    rows = db.exec(select(SocialAccount).where(col(SocialAccount.id).in_(ids))).all()
    return {a.id: accounts_mod.label(a) for a in rows}


# ---------------------------------------------------------------- taking slots


def open_slots(
    queue: AccountQueue, blackouts: Blackouts, start: datetime, end: datetime
) -> Iterator[datetime]:
    """The account's slot instants in [start, end) outside its pauses."""
    every = slots_mod.instants(queue.slots, queue.tz, start, end)
    if not blackouts:
        yield from every
        return
    for at in every:
        if not blackouts.covers(at):
            yield at


def taken(db: DbSession, account_ids: Sequence[int], since: datetime) -> dict[int, set[datetime]]:
    from sqlmodel import col, select

    found: dict[int, set[datetime]] = {a: set() for a in account_ids}
    rows = db.execute(
        select(QueueSlot.account_id, QueueSlot.at).where(
            col(QueueSlot.account_id).in_(account_ids), col(QueueSlot.at) >= since
        )
    ).all()
    for account_id, at in rows:
        found[account_id].add(_aware(at))
    return found


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def candidates(
    queues: Sequence[AccountQueue],
    windows_: Sequence[Window],
    busy: dict[int, set[datetime]],
    now: datetime,
) -> Iterator[datetime]:
    """Instants that are an open slot of every queue and free on all of them, in order."""
    end = now + SEARCH
    first, others = queues[0], queues[1:]
    blackouts = {q.id: Blackouts(windows_, q.id) for q in queues}

    def is_slot(q: AccountQueue, at: datetime) -> bool:
        return next(open_slots(q, blackouts[q.id], at, at + timedelta(seconds=1)), None) == at

    for at in open_slots(first, blackouts[first.id], now, end):
        if at in busy[first.id]:
            continue
        if all(at not in busy[q.id] and is_slot(q, at) for q in others):
            yield at


def _try_take(
    db: DbSession,
    post_id: int,
    account_ids: Sequence[int],
    at: datetime,
    evergreen_id: int | None = None,
) -> bool:
    """Insert the slot rows in a savepoint: False when another writer has one of them."""
    from sqlalchemy.exc import IntegrityError

    try:
        with db.begin_nested():
            for account_id in account_ids:
                db.add(
                    QueueSlot(
                        account_id=account_id, at=at, post_id=post_id, evergreen_id=evergreen_id
                    )
                )
            db.flush()
        return True
    except IntegrityError:
        return False


def take_slots(
    db: DbSession,
    team_id: int,
    post_id: int,
    accounts: Sequence[SocialAccount],
    *,
    each: bool = False,
    now: datetime | None = None,
) -> dict[int, datetime]:
    """Reserve the post's slot(s); returns the instant for each account id."""
    now = now or utcnow()
    queues = [require_queue(db, a) for a in accounts]
    groups = [[q] for q in queues] if each else [queues]
    chosen: dict[int, datetime] = {}
    pauses = windows(db, team_id)
    for group in groups:
        ids = [q.id for q in group]
        for _attempt in range(ATTEMPTS):
            busy = taken(db, ids, now)
            at = next(candidates(group, pauses, busy, now), None)
            if at is None:
                names = ", ".join(accounts_mod.label(q.account) for q in group)
                hint = (
                    ""
                    if each or len(group) == 1
                    else "; use --queue-each for each account's own next slot"
                )
                raise Conflict(
                    f"--queue: no free slot shared by {names} in the next {SEARCH.days} days{hint}"
                )
            if _try_take(db, post_id, ids, at):
                for account_id in ids:
                    chosen[account_id] = at
                break
        else:
            raise Conflict("--queue: other writers kept taking the free slots; try again")
    _apply(db, post_id, chosen)
    return chosen


def _apply(db: DbSession, post_id: int, when: dict[int, datetime]) -> None:
    """Set the post's time and, once it is scheduled, its destinations' due times."""
    from sqlmodel import select

    from autopostr.states import PostState

    post = db.get(Post, post_id)
    assert post is not None
    post.scheduled_at = min(when.values())
    post.updated_at = utcnow()
    db.add(post)
    for dest in db.exec(select(PostDestination).where(PostDestination.post_id == post_id)):
        if dest.account_id in when and post.status == PostState.SCHEDULED:
            dest.due_at = when[dest.account_id]
            db.add(dest)
    db.flush()


def fill_many(
    db: DbSession,
    team_id: int,
    wanted: Sequence[tuple[int, Sequence[int]]],
    now: datetime | None = None,
) -> dict[int, datetime]:
    """Queue many posts at once (an import with `at` = queue), in order: each post
    (id, its account ids) takes the next slot free on all its accounts. One read of the
    taken slots, one insert and one update for them all; should another writer take
    one of these slots meanwhile, the posts are queued one by one instead."""
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import col, select

    from autopostr.states import PostState

    now = now or utcnow()
    if not wanted:
        return {}
    account_ids = sorted({a for _p, ids in wanted for a in ids})
    accounts = {
        a.id: a
        for a in db.exec(select(SocialAccount).where(col(SocialAccount.id).in_(account_ids)))
    }
    queues = {a: require_queue(db, accounts[a]) for a in account_ids}
    pauses = windows(db, team_id)
    busy = taken(db, account_ids, now)
    streams: dict[tuple[int, ...], Iterator[datetime]] = {}
    rows: list[dict[str, Any]] = []
    chosen: dict[int, datetime] = {}
    for post_id, ids in wanted:
        key = tuple(sorted(set(ids)))
        stream = streams.get(key)
        if stream is None:
            stream = streams[key] = candidates([queues[a] for a in key], pauses, busy, now)
        at = next(stream, None)
        if at is None:
            names = ", ".join(accounts_mod.label(accounts[a]) for a in key)
            raise Conflict(f"at: no free slot shared by {names} in the next {SEARCH.days} days")
        for account_id in key:
            busy[account_id].add(at)
            rows.append({"account_id": account_id, "at": at, "post_id": post_id, "created_at": now})
        chosen[post_id] = at
    try:
        with db.begin_nested():
            db.execute(insert(QueueSlot), rows)
    except IntegrityError:
        for post_id, ids in wanted:
            found = take_slots(db, team_id, post_id, [accounts[a] for a in ids], now=now)
            chosen[post_id] = min(found.values())
        return chosen
    # An executemany on PostgreSQL would be a round trip per post (see below).
    posts_table: Any = Post.__table__  # type: ignore[attr-defined]
    dests_table: Any = PostDestination.__table__  # type: ignore[attr-defined]
    connection = db.connection()
    ids = list(chosen)
    scheduled: set[int] = set()
    for start in range(0, len(ids), 500):
        scheduled.update(
            i
            for i in db.exec(
                select(Post.id).where(
                    col(Post.id).in_(ids[start : start + 500]), Post.status == PostState.SCHEDULED
                )
            ).all()
            if i is not None
        )
    items = list(chosen.items())
    if connection.dialect.name != "postgresql":
        # SQLite: an executemany of one prepared statement runs in-process, fast.
        from sqlalchemy import bindparam

        connection.execute(
            update(posts_table)
            .where(posts_table.c.id == bindparam("pid"))
            .values(scheduled_at=bindparam("at"), updated_at=now),
            [{"pid": pid, "at": at} for pid, at in items],
        )
        due_rows = [{"pid": pid, "at": at} for pid, at in items if pid in scheduled]
        if due_rows:
            connection.execute(
                update(dests_table)
                .where(dests_table.c.post_id == bindparam("pid"))
                .values(due_at=bindparam("at")),
                due_rows,
            )
        return chosen
    # PostgreSQL: one UPDATE … FROM unnest(ids, times) per table, whatever the count.
    from sqlalchemy import text

    due = [(pid, at) for pid, at in items if pid in scheduled]
    for sql, pairs in (
        (
            "UPDATE posts SET scheduled_at = given.at, updated_at = :now "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:ats AS timestamptz[])) "
            "AS given(pid, at) WHERE posts.id = given.pid",
            items,
        ),
        (
            "UPDATE post_destinations SET due_at = given.at "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:ats AS timestamptz[])) "
            "AS given(pid, at) WHERE post_destinations.post_id = given.pid",
            due,
        ),
    ):
        if pairs:
            connection.execute(
                text(sql),
                {"ids": [p for p, _a in pairs], "ats": [a for _p, a in pairs], "now": now},
            )
    return chosen


# ---------------------------------------------------------------- what fills the slots


@dataclass(frozen=True)
class SlotView:
    number: int  # 1-based, as `queue move --to-slot` takes it
    at: datetime
    account: SocialAccount
    tz: ZoneInfo
    post: Post | None
    evergreen: bool
    paused: str | None  # the pause's reason ("" when none given), None: not paused


def upcoming(
    db: DbSession, actor: Actor, account_name: str | None, days: int, now: datetime | None = None
) -> list[SlotView]:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    now = now or utcnow()
    end = now + timedelta(days=days)
    if account_name:
        queues = [require_queue(db, accounts_mod.resolve(db, team_id, account_name))]
    else:
        queues = team_queues(db, team_id)
    pauses = windows(db, team_id, end)
    rows: list[SlotView] = []
    for queue in queues:
        fills = {
            _aware(slot.at): (slot, post)
            for slot, post in db.exec(
                select(QueueSlot, Post)
                .join(Post, col(Post.id) == col(QueueSlot.post_id))
                .where(
                    QueueSlot.account_id == queue.id,
                    col(QueueSlot.at) >= now,
                    col(QueueSlot.at) < end,
                )
            ).all()
        }
        number = 0
        for at in slots_mod.instants(queue.slots, queue.tz, now, end):
            pause = next(
                (w for w in pauses if w.start <= at < w.end and w.account_id in (None, queue.id)),
                None,
            )
            if pause is None:
                number += 1
            slot_post = fills.get(at)
            rows.append(
                SlotView(
                    number=number if pause is None else 0,
                    at=at,
                    account=queue.account,
                    tz=queue.tz,
                    post=slot_post[1] if slot_post else None,
                    evergreen=bool(slot_post and slot_post[0].evergreen_id),
                    paused=pause.reason if pause is not None else None,
                )
            )
    rows.sort(key=lambda r: (r.at, r.account.id or 0))
    return rows


def _future_rows(db: DbSession, account_id: int, now: datetime) -> list[QueueSlot]:
    from sqlmodel import col, select

    return list(
        db.exec(
            select(QueueSlot)
            .where(QueueSlot.account_id == account_id, col(QueueSlot.at) > now)
            .order_by(col(QueueSlot.at))
        )
    )


def _retime(db: DbSession, post_id: int, account_id: int, at: datetime) -> None:
    from sqlmodel import select

    post = db.get(Post, post_id)
    assert post is not None
    dests = list(db.exec(select(PostDestination).where(PostDestination.post_id == post_id)))
    for dest in dests:
        if dest.account_id == account_id and dest.due_at is not None:
            dest.due_at = at
            dest.updated_at = utcnow()
            db.add(dest)
    times = [d.due_at for d in dests if d.due_at is not None]
    post.scheduled_at = min(times) if times else at
    post.updated_at = utcnow()
    db.add(post)


def _move_rows(db: DbSession, moves: list[tuple[QueueSlot, datetime]]) -> None:
    """Give rows new instants without ever holding two on one instant (the unique key)."""
    far = datetime(9000, 1, 1, tzinfo=UTC)
    for offset, (row, _at) in enumerate(moves):
        row.at = far + timedelta(minutes=offset)
        db.add(row)
    db.flush()
    for row, at in moves:
        row.at = at
        db.add(row)
        _retime(db, row.post_id, row.account_id, at)
    db.flush()


def shuffle(
    db: DbSession,
    actor: Actor,
    account_name: str,
    seed: int | None = None,
    now: datetime | None = None,
) -> list[SlotView]:
    team_id = require(actor, "posts.write")
    now = now or utcnow()
    account = accounts_mod.resolve(db, team_id, account_name)
    assert account.id is not None
    rows = _future_rows(db, account.id, now)
    instants_ = [_aware(r.at) for r in rows]
    order = list(rows)
    random.Random(seed).shuffle(order)
    _move_rows(db, list(zip(order, instants_, strict=True)))
    audit.record(db, actor, "queue.shuffle", "account", account.id, posts=len(rows))
    return upcoming(db, actor, account_name, 14, now)


def move(
    db: DbSession, actor: Actor, post_id: int, number: int, now: datetime | None = None
) -> SlotView:
    """Move a queued post to the account's Nth upcoming open slot; a post already
    there swaps places with it."""
    from sqlmodel import select

    team_id = require(actor, "posts.write")
    now = now or utcnow()
    if number < 1:
        raise InvalidInput(
            "--to-slot: slots are numbered from 1, as `autopostr queue show` lists them"
        )
    post = db.get(Post, post_id)
    if post is None or post.team_id != team_id:
        raise NotFound(f"post {post_id} not found: see `autopostr posts list`")
    mine = list(db.exec(select(QueueSlot).where(QueueSlot.post_id == post_id)))
    if not mine:
        raise Conflict(f"post {post_id} is not in a queue; queue it with `posts create --queue`")
    row = mine[0]
    account = db.get(SocialAccount, row.account_id)
    assert account is not None
    queue = require_queue(db, account)
    blackouts = Blackouts(windows(db, team_id), queue.id)
    target = None
    for index, at in enumerate(open_slots(queue, blackouts, now, now + SEARCH), start=1):
        if index == number:
            target = at
            break
    if target is None:
        raise InvalidInput(f"--to-slot: {accounts_mod.label(account)} has no slot {number}")
    other = next((r for r in _future_rows(db, queue.id, now) if _aware(r.at) == target), None)
    moves = [(row, target)]
    if other is not None and other.id != row.id:
        moves.append((other, _aware(row.at)))
    _move_rows(db, moves)
    audit.record(db, actor, "queue.move", "post", post_id, slot=number)
    return SlotView(number, target, account, queue.tz, post, bool(row.evergreen_id), None)


def create_queued(
    db: DbSession,
    actor: Actor,
    settings: Settings,
    *,
    each: bool = False,
    now: datetime | None = None,
    **fields: Any,
) -> Post:
    """`posts create --queue`: the post, in the next free slot of its accounts."""
    from autopostr import posts

    team_id = require(actor, "posts.write")
    now = now or utcnow()
    accounts = [accounts_mod.resolve(db, team_id, name) for name in fields.get("to", ())]
    if not accounts:
        raise InvalidInput("--to: name at least one account, e.g. --to sandbox:demo")
    for account in accounts:
        require_queue(db, account)  # refuse before anything is written
    # A placeholder time: take_slots reserves the real slot(s) and retimes the post.
    guess = now + timedelta(minutes=1)
    post = posts.create(db, actor, settings, at=guess, now=now, **fields)
    assert post.id is not None
    unique = {a.id: a for a in accounts}
    take_slots(db, team_id, post.id, list(unique.values()), each=each, now=now)
    return post
