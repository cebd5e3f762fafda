"""The evergreen pool in the database: `posts evergreen add|list|rm`, and the daemon's
step that fills empty slots within the lead time (`AUTOPOSTR_EVERGREEN_LEAD`).

The choice is `evergreen.pick`, walked over the slots by `simulate.plan_slots`: the
same walk `schedule simulate` runs. A pick becomes a new post (a copy of the pool's
post for that one account, with the rotated text where needed) in the slot, made as
the pool post's author, so approval and validation apply as to any post.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from autopostr import accounts as accounts_mod
from autopostr import audit
from autopostr.config import Settings
from autopostr.errors import AutopostrError, InvalidInput, NotFound
from autopostr.identity import Actor, actor_in_team
from autopostr.models import EvergreenItem, Post, PostDestination, SocialAccount, utcnow
from autopostr.permissions import require
from autopostr.schedule import evergreen
from autopostr.schedule.queueing import _aware, _try_take, team_queues, windows

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession

log = logging.getLogger(__name__)

DEFAULT_LEAD = timedelta(hours=1)


def lead(settings: Settings) -> timedelta:
    return timedelta(
        seconds=settings.seconds("evergreen_lead", DEFAULT_LEAD.total_seconds(), above=0)
    )


def add(
    db: DbSession,
    actor: Actor,
    post_id: int,
    *,
    category: str = "default",
    min_interval: timedelta = timedelta(days=30),
    max_cycles: int | None = None,
    until: datetime | None = None,
    variants: Sequence[str] = (),
) -> EvergreenItem:
    from sqlmodel import select

    team_id = require(actor, "posts.write")
    post = db.get(Post, post_id)
    if post is None or post.team_id != team_id:
        raise NotFound(f"post {post_id} not found: see `autopostr posts list`")
    if max_cycles is not None and max_cycles <= 0:
        raise InvalidInput("--max-cycles: give a number greater than zero")
    item = db.exec(select(EvergreenItem).where(EvergreenItem.post_id == post_id)).first()
    item = item or EvergreenItem(team_id=team_id, post_id=post_id)
    item.category = category.strip() or "default"
    item.min_interval_seconds = int(min_interval.total_seconds())
    item.max_cycles = max_cycles
    item.until = until
    item.variants = json.dumps([v for v in variants if v.strip()])
    db.add(item)
    db.flush()
    audit.record(db, actor, "evergreen.add", "post", post_id, category=item.category)
    return item


def remove(db: DbSession, actor: Actor, post_id: int) -> EvergreenItem:
    from sqlmodel import select

    team_id = require(actor, "posts.write")
    item = db.exec(
        select(EvergreenItem).where(
            EvergreenItem.post_id == post_id, EvergreenItem.team_id == team_id
        )
    ).first()
    if item is None:
        raise NotFound(f"post {post_id} is not in the evergreen pool: see `posts evergreen list`")
    db.delete(item)
    audit.record(db, actor, "evergreen.remove", "post", post_id)
    return item


def list_items(db: DbSession, actor: Actor) -> list[tuple[EvergreenItem, Post]]:
    from sqlmodel import col, select

    team_id = require(actor, "posts.read")
    rows = db.exec(
        select(EvergreenItem, Post)
        .join(Post, col(Post.id) == col(EvergreenItem.post_id))
        .where(EvergreenItem.team_id == team_id)
        .order_by(col(EvergreenItem.id))
    ).all()
    return [(i, p) for i, p in rows]


def items(db: DbSession, team_id: int) -> list[evergreen.Item]:
    """The pool as `evergreen.pick` reads it."""
    from sqlmodel import col, select

    rows = db.exec(
        select(EvergreenItem, Post)
        .join(Post, col(Post.id) == col(EvergreenItem.post_id))
        .where(EvergreenItem.team_id == team_id)
        .order_by(col(EvergreenItem.id))
    ).all()
    post_ids = [post.id for _item, post in rows]
    dests_of: dict[int, list[PostDestination]] = {i: [] for i in post_ids if i is not None}
    for start in range(0, len(post_ids), 500):
        for dest in db.exec(
            select(PostDestination).where(
                col(PostDestination.post_id).in_(post_ids[start : start + 500])
            )
        ):
            dests_of[dest.post_id].append(dest)
    found = []
    for item, post in rows:
        assert item.id is not None and post.id is not None
        dests = dests_of[post.id]
        found.append(
            evergreen.Item(
                id=item.id,
                post_id=post.id,
                category=item.category,
                accounts=frozenset(d.account_id for d in dests),
                texts={d.account_id: d.text or post.text for d in dests},
                variants=tuple(json.loads(item.variants or "[]")),
                min_interval=timedelta(seconds=item.min_interval_seconds),
                max_cycles=item.max_cycles,
                until=_aware(item.until) if item.until else None,
                cycles=item.cycles,
                last_shared_at=_aware(item.last_shared_at) if item.last_shared_at else None,
                created_at=_aware(item.created_at),
            )
        )
    return found


def platforms_of(db: DbSession, account_ids: Sequence[int]) -> dict[int, str]:
    from sqlmodel import col, select

    if not account_ids:
        return {}
    rows = db.exec(select(SocialAccount).where(col(SocialAccount.id).in_(account_ids))).all()
    return {a.id or 0: a.platform for a in rows}


def fill(db: DbSession, settings: Settings, now: datetime | None = None) -> int:
    """The daemon's step: empty slots within the lead time get their evergreen pick."""
    from sqlmodel import select

    from autopostr.schedule import plan as simulate

    now = now or utcnow()
    end = now + lead(settings)
    placed = 0
    for team_id in db.exec(select(EvergreenItem.team_id).distinct()).all():
        queues = team_queues(db, team_id)
        pool = items(db, team_id)
        if not queues or not pool:
            continue
        ids = [q.id for q in queues]
        skips: list[evergreen.Skip] = []
        plan = simulate.plan_slots(
            queues,
            windows(db, team_id),
            simulate.load_filled(db, ids, now, end),
            simulate.last_texts(db, ids, now),
            pool,
            platforms_of(db, ids),
            now,
            end,
            now,
            skips,
        )
        _record_skips(db, skips)
        for step in plan:
            if step.source != simulate.EVERGREEN or step.item_id is None:
                continue
            if _place(db, settings, step.item_id, step.account_id, step.at, step.text, now):
                placed += 1
    return placed


def _record_skips(db: DbSession, skips: Sequence[evergreen.Skip]) -> None:
    """Why an item was left out on an account, for `posts evergreen list`."""
    for skip in skips:
        item = db.get(EvergreenItem, skip.item_id)
        account = db.get(SocialAccount, skip.account_id)
        if item is None or account is None:
            continue
        item.skipped = f"{accounts_mod.label(account)}: {skip.reason}"
        db.add(item)


def _place(
    db: DbSession,
    settings: Settings,
    item_id: int,
    account_id: int,
    at: datetime,
    text: str,
    now: datetime,
) -> bool:
    from sqlalchemy.exc import IntegrityError

    from autopostr import posts

    item = db.get(EvergreenItem, item_id)
    account = db.get(SocialAccount, account_id)
    source = db.get(Post, item.post_id) if item is not None else None
    if item is None or source is None or account is None:
        return False
    actor = actor_in_team(db, source.author_id, source.team_id, "evergreen")
    if actor is None:
        log.warning("evergreen post %s: its author left the team; not re-queued", item.post_id)
        return False
    try:
        with db.begin_nested():
            post = posts.create(
                db,
                actor,
                settings,
                text=text,
                to=[accounts_mod.label(account)],
                first_comment=source.first_comment,
                media_ids=[str(m.id) for m in posts.media_of(db, item.post_id)],
                at=at,
                timezone=source.timezone,
                now=now,
            )
            assert post.id is not None
            if not _try_take(db, post.id, [account_id], at, evergreen_id=item.id):
                raise IntegrityError("slot taken", None, Exception("slot taken"))
            item.cycles += 1
            item.last_shared_at = at
            db.add(item)
            db.flush()
        return True
    except IntegrityError:
        return False
    except AutopostrError as exc:
        log.warning("evergreen post %s on %s: %s", item.post_id, accounts_mod.label(account), exc)
        return False
