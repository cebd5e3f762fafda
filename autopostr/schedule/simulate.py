"""`schedule simulate`: the exact instants that queues, series, the evergreen pool,
pauses and DST produce, written nowhere.

It reads the database and runs the same code the daemon runs: the slot walk of
`plan.plan_slots` (what fills each slot, evergreen picks included) and
`series.planned` (each occurrence and its accounts).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from autopostr import accounts as accounts_mod
from autopostr.identity import Actor
from autopostr.models import utcnow
from autopostr.permissions import require
from autopostr.schedule import pool, series
from autopostr.schedule.plan import Planned, last_texts, load_filled, plan_slots
from autopostr.schedule.queueing import team_queues, windows

if TYPE_CHECKING:
    from sqlmodel import Session as DbSession


def simulate(
    db: DbSession,
    actor: Actor,
    start: datetime,
    end: datetime,
    account_name: str | None = None,
    now: datetime | None = None,
) -> list[Planned]:
    """`schedule simulate`: reads, never writes (the session is rolled back by the caller)."""
    team_id = require(actor, "posts.read")
    now = now or utcnow()
    only = accounts_mod.resolve(db, team_id, account_name).id if account_name else None
    pauses = windows(db, team_id)
    queues = team_queues(db, team_id)
    ids = [q.id for q in queues]
    walk_from = min(start, now) if queues else start
    filled = load_filled(db, ids, walk_from, end)
    items = pool.items(db, team_id)
    plan = plan_slots(
        queues,
        pauses,
        filled,
        last_texts(db, ids, walk_from),
        items,
        pool.platforms_of(db, ids),
        walk_from,
        end,
        now,
    )
    plan = [p for p in plan if p.at >= start]
    plan += series.simulate(db, team_id, pauses, start, end, now)
    if only is not None:
        plan = [p for p in plan if p.account_id == only]
    plan.sort(key=lambda p: (p.at, p.account, p.source))
    return plan
